package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cli is the whole command line. Each verb is a struct in its own file with a
// Run(context.Context, *env) error method.
type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`
	JSON    bool             `help:"Print the result as JSON on stdout and progress as JSON lines on stderr." name:"json"`
	Quiet   bool             `help:"No progress output." short:"q"`

	Check   checkCmd   `cmd:"" help:"Analyse the installation before a migration."`
	Isolate isolateCmd `cmd:"" help:"Deactivate every external source, recording original values first."`
	Restore restoreCmd `cmd:"" help:"Put back exactly what isolate changed."`
	Drain   drainCmd   `cmd:"" help:"Wait until no background job is pending."`
	Dump    dumpCmd    `cmd:"" help:"Write one consistent, compressed, verifiable dump."`
	Verify  verifyCmd  `cmd:"" help:"Prove an archive is whole, or that a database matches it."`
	Push    pushCmd    `cmd:"" help:"Send a file (and its manifest) over SFTP, resumably."`
	Pull    pullCmd    `cmd:"" help:"Fetch a file (and its manifest) over SFTP, resumably."`
	Import  importCmd  `cmd:"" help:"Load a dump into a database, in parallel and resumably."`
	Adjust  adjustCmd  `cmd:"" help:"Apply a reviewed rules file of cloud-specific changes."`
	Run     runCmd     `cmd:"" help:"Run a whole side of the migration as one resumable plan."`
}

// env is what every verb's Run receives after the context: the output and
// the process environment (library code never reads it itself). The
// context is Run's first argument, not a field: kong binds it
// (Context.BindTo), so each function that needs it is passed it.
type env struct {
	ui     *ui
	stdin  io.Reader
	getenv func(string) string
}

// exitPanic carries kong's exit code out of Parse (help, --version).
type exitPanic int

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("lamigrate"),
		kong.Description("Move a self-hosted LiveAgent help desk into LiveAgent's cloud: safely, fast, verifiably."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Vars{"version": version},
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "lamigrate: %v\n", err)
		return exitFailure
	}
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(exitPanic); ok {
				code = int(e)
				return
			}
			panic(p)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "lamigrate: %v (see lamigrate --help)\n", err)
		return exitUsage
	}
	u := newUI(stdout, stderr, c.JSON, c.Quiet)
	e := &env{ui: u, stdin: stdin, getenv: getenv}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(e)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil && !errors.Is(err, errAlreadyReported) {
		err = &interruptedError{err: err, verb: kctx.Command()}
	}
	return u.fail(kctx.Command(), err)
}

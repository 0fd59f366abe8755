package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/qualityunit/lamigrate/transfer"
)

type pullCmd struct {
	Source  string `arg:"" help:"sftp://USER@HOST[:PORT]/PATH (PATH absolute; /~/PATH for the login folder) or a local path (a path with a colon: ./PATH or /PATH)."`
	File    string `arg:"" help:"Where to write it (a folder, or a path ending in /, keeps the remote name)."`
	State   string `name:"state" help:"Where to write the isolation state file when isolate-state.json lies beside the remote file (default: isolate-state.json beside FILE). A different file already there is never replaced." placeholder:"FILE" type:"path"`
	NoState bool   `name:"no-state" help:"Do not fetch the isolation state file."`
	Mkdir   bool   `name:"mkdir" help:"Create the local folder of FILE when it does not exist."`
	sshFlags
}

func (c *pullCmd) Run(ctx context.Context, e *env) error {
	if c.State != "" && c.NoState {
		return usageErr("--state and --no-state contradict each other: give one")
	}
	loc, err := parseTarget(e, c.Source)
	if err != nil {
		return err
	}
	var b transfer.Backend
	var name string
	if loc != nil {
		if loc.IsDir() {
			return usageErr("%s names a folder: give the file's path", c.Source)
		}
		dir, file := loc.Split()
		s, err := c.dial(ctx, e, loc, dir)
		if err != nil {
			return err
		}
		b, name = s, file
	} else {
		b, name = transfer.NewLocal(filepath.Dir(c.Source)), filepath.Base(c.Source)
	}
	defer b.Close()
	// Expanded here, not by kong's path type, which would drop the trailing
	// slash that says "a folder" (one --mkdir is about to create).
	out := kong.ExpandPath(c.File)
	if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || strings.HasSuffix(c.File, string(os.PathSeparator)) {
		out = filepath.Join(out, path.Base(name))
	}
	opts := transfer.Options{Mkdir: c.Mkdir}
	switch {
	case c.State != "":
		opts.State = c.State
	case !c.NoState:
		opts.State = filepath.Join(filepath.Dir(out), transfer.StateName)
	}
	p := newTransferProgress(e, "pull", name)
	res, err := transfer.Pull(ctx, b, name, out, opts, p)
	if err != nil {
		p.stop()
		return transferError(err, b)
	}
	p.done()
	return e.ui.result(res, func(w io.Writer) {
		printTransfer(w, "pulled", b.String()+name, out, res)
		if res.State != nil {
			printTransfer(w, "pulled", b.String()+path.Join(path.Dir(name), transfer.StateName), res.State.Name, res.State)
		} else if opts.State != "" {
			fmt.Fprintf(w, "no isolation state file beside it at %s\n", b.String()+path.Dir(name)+"/")
		}
	})
}

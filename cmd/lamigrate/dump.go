package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/transfer"
)

type dumpCmd struct {
	connFlags
	Output           string   `name:"output" short:"o" required:"" help:"Archive to write (.sql.gz, .sql.zst, .sql.lz4, .sql; add .age to encrypt), or sftp://USER@HOST[:PORT]/DIR/FILE to stream it to an SSH server with no copy on this machine." placeholder:"FILE"`
	Compress         string   `name:"compress" enum:",gzip,zstd,lz4,none" default:"" help:"Compression (default: from the file extension)."`
	Level            int      `name:"level" help:"Compression level (0: the codec's default)."`
	IgnoreTable      []string `name:"ignore-table" help:"Also skip this table (repeatable)." placeholder:"NAME"`
	NoDefaultIgnores bool     `name:"no-default-ignores" help:"Do not skip LiveAgent's 20 transient tables (logs, sessions, queues, visits; see the README)."`
	KeepTable        []string `name:"keep-table" help:"Dump this table although it is on the default ignore list (repeatable)." placeholder:"NAME"`
	Encrypt          bool     `name:"encrypt" help:"Encrypt the archive with a passphrase (LAMIGRATE_PASSPHRASE or a prompt); implied by a .age file name."`
	HexBlob          bool     `name:"hex-blob" help:"Write binary values as 0x... hex like mysqldump --hex-blob (larger before compression)."`
	StripDefiners    bool     `name:"strip-definers" help:"Write views, triggers, routines and events without DEFINER, so they load as the importing user (no SUPER / SET USER privilege needed; SQL SECURITY unchanged)."`
	Connections      int      `name:"connections" help:"Connections reading rows on one snapshot (0: 4, or 1 for an sftp:// output); more than one needs the LOCK TABLES privilege, held for a moment while the snapshots start, else one is used." placeholder:"N"`
	Mkdir            bool     `name:"mkdir" help:"With an sftp:// output: create the remote folder when it does not exist."`
	Since            string   `name:"since" help:"Write a delta: only what changed since the dump this manifest describes (BASE.manifest.json, with its BASE.rows.zst beside it). Loads after the base; its own manifest describes the full new state, so the next delta can be taken --since it." placeholder:"MANIFEST"`
	Live             bool     `name:"live" help:"With --since: skip the proof that nothing wrote to the tables during the dump (for a repeated pre-copy while the help desk runs; never for the cutover)."`
	sshFlags
}

// dumpOutput is what dump prints: dump.Result's JSON with its archive
// (Result.File) at the top level, and the keys the command adds or keeps in
// the shape of its first --json output, which shadow Result's own
// row_digests, events and delta. Its seconds are the command's, the commit
// of a streamed archive included.
type dumpOutput struct {
	*dump.Result
	// The archive: file, manifest, size, sha256, compression, level,
	// encrypted.
	*dump.FileResult
	// RowDigests is the row digests file's path ("" when none was written).
	RowDigests string `json:"row_digests,omitempty"`
	SQLBytes   int64  `json:"sql_bytes"`
	// Rows counts the rows of every table.
	Rows       int64    `json:"rows"`
	Procedures []string `json:"procedures"`
	Functions  []string `json:"functions"`
	// Events are the events' names (Result.Routines has the procedures'
	// and functions' definitions).
	Events   []string   `json:"events"`
	Warnings []string   `json:"warnings,omitempty"`
	Delta    *dumpDelta `json:"delta,omitempty"`
	// Verified says how the server's copy of a streamed archive was
	// checked (transfer.HashMethod); empty for a local file.
	Verified string `json:"verified,omitempty"`
}

// dumpDelta is what a delta holds: manifest.Delta's tables and quiet, its
// base's archive name, its changes file's path and the tables' totals.
type dumpDelta struct {
	*manifest.Delta
	Base          string `json:"base"`
	Changes       string `json:"changes"`
	Deleted       int64  `json:"deleted"`
	Replaced      int64  `json:"replaced"`
	Blocks        int64  `json:"blocks"`
	ChangedBlocks int64  `json:"changed_blocks"`
}

// dumpProgress renders dump.Progress on the ui.
type dumpProgress struct {
	e        *env
	t        *task
	warnings []string
}

func (p *dumpProgress) Update(s dump.Status) {
	done, total := s.DataBytes, s.DataBytesTotal
	if total < done {
		total = 0
	}
	p.t.Update(done, total, fmt.Sprintf("table %d/%d %s, %d rows, %s SQL", s.TablesDone+1, s.Tables, s.Table, s.Rows, bytesize.Format(s.SQLBytes)))
}

func (p *dumpProgress) Warn(msg string) {
	p.warnings = append(p.warnings, msg)
	p.e.ui.warn("%s", msg)
}

func (c *dumpCmd) Run(ctx context.Context, e *env) error {
	var loc *transfer.Location
	if transfer.IsURL(c.Output) {
		l, err := transfer.ParseURL(c.Output)
		if err != nil {
			return withStatus(exitUsage, trimPrefixErr{err, "transfer: "})
		}
		if _, file := l.Split(); file == "" {
			return usageErr("%s names a folder: name the archive too, e.g. %sdump.sql.zst", l, l)
		}
		loc = l
	} else if c.Mkdir || c.Identity != "" || c.KnownHosts != "" || c.AcceptNewHostKey {
		return usageErr("--mkdir, --identity, --known-hosts and --accept-new-host-key apply to an sftp:// output only")
	}
	if c.Since != "" && loc != nil {
		return usageErr("--since writes a delta to a local file only: dump it here, then lamigrate push it")
	}
	if c.Live && c.Since == "" {
		return usageErr("--live applies to a delta (--since) only")
	}
	if loc == nil {
		if dir := filepath.Dir(c.Output); !isDir(dir) {
			return usageErr("the folder %s does not exist: create it first, or write the archive elsewhere", dir)
		}
	}
	// The name must say what the file holds, before anything is read.
	if _, err := (&dump.Config{Compression: c.Compress}).Kind(c.Output); err != nil {
		if errors.Is(err, dump.ErrArchiveName) {
			return withStatus(exitUsage, trimPrefixErr{fmt.Errorf("%w (--compress gzip|zstd|lz4|none)", err), "dump: "})
		}
		return withStatus(exitUsage, trimPrefixErr{err, "dump: "})
	}
	db, r, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := dump.Config{
		Database:         r.Config.DBName,
		IgnoreTables:     c.IgnoreTable,
		NoDefaultIgnores: c.NoDefaultIgnores,
		KeepTables:       c.KeepTable,
		Compression:      c.Compress,
		Level:            c.Level,
		Encrypt:          c.Encrypt,
		HexBlob:          c.HexBlob,
		Connections:      c.Connections,
		StripDefiners:    c.StripDefiners,
		Since:            c.Since,
		Live:             c.Live,
	}
	if loc != nil && cfg.Connections == 0 {
		// Extra connections spill what the link cannot take yet to this
		// machine's disk; the link is the bottleneck anyway.
		cfg.Connections = 1
	}
	if err := cfg.Validate(); err != nil {
		return withStatus(exitUsage, err)
	}
	// An encrypted archive's passphrase is asked now (dump decides whether
	// the archive is encrypted), before the SSH login of an sftp:// output
	// and before the dump reads anything, so the dump's time and progress
	// do not count the typing.
	opt, err := cfg.AskPassphrase(c.Output, dump.Options{ToolVersion: version,
		Passphrase: e.secret("LAMIGRATE_PASSPHRASE", "Archive passphrase")})
	if errors.Is(err, dump.ErrNeedPassphrase) {
		return usageErr("empty passphrase: set LAMIGRATE_PASSPHRASE or type one")
	}
	if err != nil {
		return err
	}
	// The dump runs under dump.MemoryLimit unless GOMEMLIMIT is set (see
	// dump's doc, "Memory").
	prog := &dumpProgress{e: e, t: e.ui.task("dump", 0, true)}
	opt.Progress = prog
	start := time.Now()
	var res *dump.Result
	var verified transfer.HashMethod
	if loc != nil {
		res, verified, err = c.toRemote(ctx, e, db, loc, cfg, opt, prog)
		if err != nil {
			return err
		}
		res.File.Path, res.File.Manifest = loc.String(), loc.String()+".manifest.json"
	} else if res, err = dump.File(ctx, db, c.Output, cfg, opt); err != nil {
		return trimPrefixErr{err, "dump: "}
	}
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	// The archive goes to the top level, flat, instead of under "archive".
	flat := *res
	flat.File = nil
	out := dumpOutput{Result: &flat, FileResult: res.File, Verified: string(verified), SQLBytes: res.SQL.Bytes,
		Warnings: prog.warnings, Procedures: []string{}, Functions: []string{}, Events: []string{}}
	if res.RowDigests != nil {
		out.RowDigests = res.RowDigests.Path
	}
	if dl := res.Delta; dl != nil {
		out.Delta = &dumpDelta{Delta: dl, Base: dl.Base.Archive, Changes: chunk.ChangesPathFor(res.File.Path)}
		for _, t := range dl.Tables {
			out.Delta.Deleted += t.Deleted
			out.Delta.Replaced += t.Replaced
			out.Delta.Blocks += t.Blocks
			out.Delta.ChangedBlocks += t.ChangedBlocks
		}
	}
	for _, x := range res.Routines {
		if x.Type == "FUNCTION" {
			out.Functions = append(out.Functions, x.Name)
		} else {
			out.Procedures = append(out.Procedures, x.Name)
		}
	}
	for _, ev := range res.Events {
		out.Events = append(out.Events, ev.Name)
	}
	for _, t := range res.Tables {
		out.Rows += t.Rows
	}
	prog.t.Complete(fmt.Sprintf("%d tables, %d rows", len(out.Tables), out.Rows))
	return e.ui.result(out, func(w io.Writer) {
		fmt.Fprintf(w, "dumped %s: %s, %s, %s, %s, %s, %s, %s in %s\n", out.Database,
			plural(len(out.Tables), "table"), plural(int(out.Rows), "row"), plural(len(out.Views), "view"), plural(len(out.Triggers), "trigger"),
			plural(len(out.Procedures), "procedure"), plural(len(out.Functions), "function"), plural(len(out.Events), "event"),
			elapsed.Round(100*time.Millisecond))
		if out.StripDefiners {
			fmt.Fprintf(w, "definers: stripped (views, triggers, routines and events load as the importing user)\n")
		}
		fmt.Fprintf(w, "file:     %s (%s, %s%s, sha256 %s)\n", out.Path, bytesize.Format(out.Size), out.Compression, map[bool]string{true: ", encrypted"}[out.Encrypted], out.SHA256)
		fmt.Fprintf(w, "manifest: %s\n", out.FileResult.Manifest)
		if out.RowDigests != "" {
			fmt.Fprintf(w, "rows:     %s (every keyed row's key and digest, the base of a later delta)\n", out.RowDigests)
		}
		if dl := out.Delta; dl != nil {
			var whole, dropped []string
			changed := 0
			for _, t := range dl.Tables {
				switch t.Action {
				case manifest.DeltaWhole:
					whole = append(whole, t.Name+" ("+t.Why+")")
				case manifest.DeltaDrop:
					dropped = append(dropped, t.Name)
				default:
					changed++
				}
			}
			fmt.Fprintf(w, "delta:    since %s: %s replaced or new, %s deleted in %s changed row by row", dl.Base, plural(int(dl.Replaced), "row"), plural(int(dl.Deleted), "row"), plural(changed, "table"))
			if dl.Blocks > 0 {
				fmt.Fprintf(w, "; in those, %d of the base's %d blocks of %d rows held a change", dl.ChangedBlocks, dl.Blocks, chunk.BlockRows)
			}
			fmt.Fprintln(w)
			if len(whole) > 0 {
				fmt.Fprintf(w, "whole:    %s\n", strings.Join(whole, ", "))
			}
			if len(dropped) > 0 {
				fmt.Fprintf(w, "dropped:  %s\n", strings.Join(dropped, ", "))
			}
			fmt.Fprintf(w, "changes:  %s\n", dl.Changes)
			if dl.Quiet {
				fmt.Fprintf(w, "quiet:    nothing wrote to the dumped tables between the snapshot and the end\n")
			} else {
				fmt.Fprintf(w, "quiet:    not checked (--live)\n")
			}
		}
		if out.Verified != "" {
			fmt.Fprintf(w, "verified: size and SHA-256 of the file on the server (%s)\n", out.Verified)
		}
		if len(out.Ignored) > 0 {
			fmt.Fprintf(w, "ignored:  %s\n", strings.Join(out.Ignored, ", "))
		}
		var outside []string
		for _, t := range out.Tables {
			if !t.Consistent {
				outside = append(outside, t.Name+" ("+t.Engine+")")
			}
		}
		if len(outside) > 0 {
			fmt.Fprintf(w, "outside the snapshot: %s\n", strings.Join(outside, ", "))
		}
	})
}

// toRemote streams the archive to loc through a transfer.Upload: nothing
// but buffers on this machine. The SSH login happens before the database
// is read, so a wrong key or host fails at once.
func (c *dumpCmd) toRemote(ctx context.Context, e *env, db *sql.DB, loc *transfer.Location, cfg dump.Config, opt dump.Options, prog *dumpProgress) (*dump.Result, transfer.HashMethod, error) {
	dir, file := loc.Split()
	s, err := c.dial(ctx, e, loc, dir)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	partial := loc.String() + transfer.UploadPartialSuffix
	up, err := transfer.NewUpload(ctx, s, file, transfer.Options{Mkdir: c.Mkdir}, &uploadProgress{p: prog})
	if err != nil {
		return nil, "", transferError(err, s)
	}
	res, err := dump.WriteArchive(ctx, db, up, file, cfg, opt)
	if err != nil {
		if uerr := up.Abort(err); uerr != nil && ctx.Err() == nil {
			// The upload failed first: that is why the dump's writes failed.
			return nil, "", fmt.Errorf("%s; only %s was left there: run the same command again to start the dump over", linkError(uerr, loc), partial)
		}
		return nil, "", fmt.Errorf("%w; only %s was left at the destination (the next run replaces it)", trimPrefixErr{err, "dump: "}, partial)
	}
	mb, err := res.ManifestJSON(version)
	if err != nil {
		up.Abort(err)
		return nil, "", trimPrefixErr{err, "dump: "}
	}
	tres, err := up.Commit(ctx, mb)
	switch {
	case err == nil:
	case errors.Is(err, transfer.ErrNotSent) && ctx.Err() == nil:
		return nil, "", fmt.Errorf("%s; only %s was left there: run the same command again to start the dump over", linkError(err, loc), partial)
	case ctx.Err() != nil:
		return nil, "", fmt.Errorf("%w; %s was not committed (the next run replaces %s)", err, loc, partial)
	default:
		// Not transferError: its hints speak of resuming a push.
		return nil, "", fmt.Errorf("%w; %s was not committed: run the same command again to start the dump over", trimPrefixErr{err, "transfer: "}, loc)
	}
	return res, tres.Verified, nil
}

// linkError says that the connection to loc's server broke, and why.
func linkError(err error, loc *transfer.Location) string {
	if transfer.IsTransient(err) {
		return fmt.Sprintf("the connection to %s broke during the dump (%s)", loc.Host, strings.TrimPrefix(err.Error(), "transfer: "))
	}
	return strings.TrimPrefix(err.Error(), "transfer: ")
}

// uploadProgress shows an upload's commit steps on the dump's display.
type uploadProgress struct{ p *dumpProgress }

func (u *uploadProgress) Step(step string, _, _ int64) {
	switch step {
	case "verifying":
		u.p.t.Update(u.p.t.done, 0, "verifying size and SHA-256 on the server")
	case "retrying":
		u.p.e.ui.warn("dump: connection lost while committing; reconnecting")
	}
}

func (u *uploadProgress) Sent(int64, int64) {}

// trimPrefixErr drops the library's "dump: " prefix, which the CLI's
// "lamigrate dump: " already says.
type trimPrefixErr struct {
	err    error
	prefix string
}

func (e trimPrefixErr) Error() string { return strings.TrimPrefix(e.err.Error(), e.prefix) }
func (e trimPrefixErr) Unwrap() error { return e.err }

// isDir reports whether path is an existing folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

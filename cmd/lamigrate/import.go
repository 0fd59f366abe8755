package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/load"
)

type importCmd struct {
	connFlags
	File    string        `arg:"" help:"Archive to load (ours or a plain mysqldump file, any codec). A delta (dump --since) is applied onto its base after checking, by content, that the database holds it; it needs FILE.manifest.json and FILE.changes.zst beside it." type:"path"`
	Threads int           `name:"threads" default:"0" help:"Parallel connections (0: number of CPUs)."`
	Force   bool          `name:"force" help:"Load into a database that already holds tables: drop and replace each table (and view, routine, trigger) the archive creates; other tables are left alone."`
	Spool   string        `name:"spool-dir" help:"Folder for statements read ahead of the connections (default: the system temp folder)." placeholder:"DIR"`
	Strip   bool          `name:"strip-definers" help:"Create the archive's views, triggers, routines and events with the importing user as their definer (SQL SECURITY unchanged), for a user without SUPER or SET USER."`
	Follow  bool          `name:"follow" help:"Load the archive while lamigrate dump still writes it (as FILE.partial, renamed to FILE when complete): wait at its end, stop when the dump gives up."`
	Stall   time.Duration `name:"stall" default:"2m" help:"With --follow: stop when the archive has not grown (or FILE.partial not appeared) for this long."`
}

// importResult is what import prints.
type importResult struct {
	File         string        `json:"file"`
	Database     string        `json:"database"`
	Tables       int           `json:"tables"`
	Skipped      int           `json:"tables_finished_earlier"`
	Rows         int64         `json:"rows"`
	Statements   int64         `json:"statements"`
	ArchiveBytes int64         `json:"archive_bytes"`
	SQLBytes     int64         `json:"sql_bytes"`
	Seconds      float64       `json:"seconds"`
	Resumed      bool          `json:"resumed"`
	Manifest     string        `json:"manifest,omitempty"`
	Marker       bool          `json:"completion_marker"`
	PerTable     []importTable `json:"per_table"`
	// Delta: the archive is a delta (dump --since), and what the check of
	// its base found; AlreadyApplied: nothing was changed.
	Delta          *load.BaseCheck `json:"delta,omitempty"`
	AlreadyApplied bool            `json:"already_applied,omitempty"`
}

type importTable struct {
	Name    string  `json:"name"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"sql_bytes"`
	Start   float64 `json:"start_s"`
	Seconds float64 `json:"seconds"`
}

// importProgress renders load.Progress on the ui.
type importProgress struct {
	t      *task
	tables int // from the manifest, 0 when unknown
}

func (p *importProgress) Update(s load.Status) {
	done := int64(s.Rate * s.Elapsed.Seconds())
	if s.ArchiveSize > 0 && done > s.ArchiveSize {
		done = s.ArchiveSize
	}
	tables := s.Tables
	if p.tables > tables {
		tables = p.tables
	}
	p.t.Update(done, s.ArchiveSize, fmt.Sprintf("tables %d/%d, %d rows", s.TablesDone, tables, s.Rows))
}

func (c *importCmd) Run(ctx context.Context, e *env) error {
	if c.Threads < 0 {
		return usageErr("--threads must be 0 (number of CPUs) or more")
	}
	if c.Follow && c.Stall <= 0 {
		return usageErr("--stall must be more than 0")
	}
	if c.Follow && strings.Contains(c.File, "sftp:/") {
		return usageErr("import --follow reads a local archive; following an sftp:// archive is not supported yet: run the import where the dump writes its archive")
	}
	db, r, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	db.Close()
	out := importResult{File: c.File, Database: r.Config.DBName}
	mpath := manifest.PathFor(c.File)
	cfg := load.Config{Threads: c.Threads, Force: c.Force, SpoolDir: c.Spool, StripDefiners: c.Strip}
	var (
		src   io.Reader
		delta []load.Option
		// a delta's rows, from its manifest
		deltaWritten, deltaDeleted int64
		fl                         *load.Follower
		check                      func(context.Context, manifest.Stream) error
		prog                       = &importProgress{}
	)
	if c.Follow && followed(c.File) {
		// The manifest comes after the archive's last byte: the stream
		// is checked against it then.
		if fl, err = load.Follow(ctx, c.File, load.FollowOptions{Stall: c.Stall}); err != nil {
			return trimPrefixErr{err, "load: "}
		}
		defer fl.Close()
		src = fl
		cfg.RequireMarker, cfg.Followed = true, true
		check = func(ctx context.Context, s manifest.Stream) error {
			m, err := waitManifest(ctx, mpath, c.Stall)
			if err != nil {
				return err
			}
			out.Manifest = mpath
			if m.File.Size != 0 && m.File.Size != fl.Offset() {
				return &streamMismatch{file: c.File, mpath: mpath, what: fmt.Sprintf("an archive of %d bytes, %d were read", m.File.Size, fl.Offset())}
			}
			return compareStream(c.File, mpath, m, s)
		}
		prog.t = e.ui.task("import", 0, true)
	} else {
		f, err := os.Open(c.File)
		if err != nil {
			return fmt.Errorf("cannot open the archive: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		src, cfg.ArchiveSize = f, fi.Size()
		prog.t = e.ui.task("import", fi.Size(), true)
		if m, err := manifest.Read(mpath); err == nil {
			cfg.RequireMarker = true
			cfg.Fingerprint = m.SQL.XXH3
			prog.tables = len(m.Tables)
			out.Manifest = mpath
			check = func(_ context.Context, s manifest.Stream) error { return compareStream(c.File, mpath, m, s) }
			if m.Delta != nil {
				// Applied only onto its base, which load checks first.
				delta = append(delta, load.WithDelta(load.Delta{Archive: c.File, Manifest: m}))
				for _, t := range m.Delta.Tables {
					deltaWritten += t.Replaced
					deltaDeleted += t.Deleted
				}
			}
		} else if _, serr := os.Stat(mpath); serr == nil {
			prog.t.abandon()
			return fmt.Errorf("%v: fix or remove the manifest", err)
		}
	}
	if e.getenv("GOMEMLIMIT") == "" {
		// Statements of tens of MB pass through once each: collect them
		// before they pile up. The import's live memory is its in-memory
		// read-ahead (32 MiB) and a few statements.
		debug.SetMemoryLimit(96 << 20)
	}
	start := time.Now()
	opts := append([]load.Option{load.WithProgress(prog),
		load.WithPassphrase(e.secret("LAMIGRATE_PASSPHRASE", "Archive passphrase")), load.WithStreamCheck(check)}, delta...)
	res, err := load.Load(ctx, r.Config, src, cfg, opts...)
	if err != nil {
		var se *load.StatementError
		var me *mysql.MySQLError
		var de *load.DefinerError
		var fe *load.FollowError
		var sm *streamMismatch
		if errors.As(err, &de) && !de.Late || errors.Is(err, load.ErrNotBase) || errors.Is(err, load.ErrDelta) {
			prog.t.abandon() // refused before any work: no progress line
		} else {
			prog.t.Finish("failed")
		}
		switch {
		case errors.As(err, &fe):
			return c.followFailed(ctx, e, r.Config, fe)
		case errors.Is(err, load.ErrDelta) && fl != nil:
			return fmt.Errorf("%s is a delta (lamigrate dump --since), which is applied only after checking that the target holds its base, against the changes file its dump writes at the end: run the same command without --follow once the dump finished", c.File)
		case errors.Is(err, load.ErrDelta) && out.Manifest == "":
			return fmt.Errorf("%s is a delta (lamigrate dump --since) and its manifest %s is missing: put the manifest and %s beside it and run the same command again", c.File, mpath, chunk.ChangesPathFor(c.File))
		case errors.As(err, &sm):
			return sm
		case errors.As(err, &de):
			if de.Late {
				return fmt.Errorf("%s: run the same command with --strip-definers to create them as %s; it continues after the tables loaded so far", de.Summary(), de.Account)
			}
			return fmt.Errorf("%s: run the same command with --strip-definers to create them as %s", de.Summary(), de.Account)
		case errors.Is(err, load.ErrTargetNotEmpty):
			err = fmt.Errorf("%w, or run the same command with --force to replace the tables the archive holds (the target's other tables are left alone)", err)
		case errors.As(err, &se) && errors.As(err, &me) && me.Number == 1050:
			name := se.Table
			if i := strings.IndexByte(me.Message, '\''); name == "" && i >= 0 {
				name = strings.SplitN(me.Message[i+1:], "'", 2)[0]
			}
			return fmt.Errorf("table %s already exists in %s: import into an empty database, drop that table, or run the same command with --force to replace the tables the archive holds", name, r.Config.DBName)
		case errors.As(err, &se) && errors.As(err, &me) && me.Number == 1227 && !c.Strip:
			// ER_SPECIFIC_ACCESS_DENIED_ERROR, as for a DEFINER the
			// privilege check did not foresee (a role's SUPER).
			err = fmt.Errorf("%w; if it creates a view, trigger, routine or event with another user's DEFINER, run the same command with --strip-definers to create it as the importing user: finished tables are kept", err)
		case errors.As(err, &se) && !errors.Is(err, load.ErrPacketTooLarge) && !errors.Is(err, load.ErrUnsupported):
			err = fmt.Errorf("%w; fix the cause and run the same command again: finished tables are kept", err)
		}
		return trimPrefixErr{err, "load: "}
	}
	out.Delta, out.AlreadyApplied = res.Delta, res.AlreadyApplied
	if res.AlreadyApplied {
		prog.t.abandon()
		out.PerTable = []importTable{}
		return e.ui.result(out, func(w io.Writer) {
			fmt.Fprintf(w, "%s is already applied to %s: all %d rows it changes are as it leaves them; nothing changed\n",
				out.File, out.Database, res.Delta.Rows)
		})
	}
	out.Tables, out.Skipped, out.Rows, out.Statements = res.Tables, res.Skipped, res.Rows, res.Statements
	out.ArchiveBytes, out.SQLBytes, out.Resumed, out.Marker = res.Bytes, res.SQLBytes, res.Resumed, res.Marker
	out.Seconds = time.Since(start).Seconds()
	out.PerTable = []importTable{}
	for _, t := range res.PerTable {
		out.PerTable = append(out.PerTable, importTable{Name: t.Name, Rows: t.Rows, Bytes: t.Bytes,
			Start: t.Start.Seconds(), Seconds: t.Duration.Seconds()})
	}
	prog.t.Finish(fmt.Sprintf("%d tables, %d rows", out.Tables+out.Skipped, out.Rows))
	return e.ui.result(out, func(w io.Writer) {
		if out.Delta != nil {
			// The server's affected rows count a replaced row twice: say
			// what the delta carries.
			fmt.Fprintf(w, "applied %s to %s: %d rows written, %d deleted, %s of SQL in %.1f s\n", out.File, out.Database,
				deltaWritten, deltaDeleted, bytesize.Format(out.SQLBytes), out.Seconds)
		} else {
			fmt.Fprintf(w, "imported %s into %s: %d tables, %d rows, %s of SQL in %.1f s\n", out.File, out.Database,
				out.Tables+out.Skipped, out.Rows, bytesize.Format(out.SQLBytes), out.Seconds)
		}
		if out.Resumed {
			fmt.Fprintf(w, "resumed: %d tables were finished by an earlier run\n", out.Skipped)
		}
		if d := out.Delta; d != nil {
			fmt.Fprintf(w, "delta: the target held its base: %d rows of %d tables checked in %.1f s", d.Rows, d.Tables, d.Seconds)
			if d.AtNew > 0 || d.Pending > 0 {
				fmt.Fprintf(w, " (%d of them already applied by an earlier run)", d.AtNew+d.Pending)
			}
			fmt.Fprintln(w)
		}
	})
}

// followed says whether import --follow has an archive to follow: a
// FILE.partial, or no FILE yet (it waits for the dump to start). A FILE
// without FILE.partial is complete and is imported as it is.
func followed(file string) bool {
	if _, err := os.Stat(file + load.FollowPartialSuffix); err == nil {
		return true
	}
	_, err := os.Stat(file)
	return err != nil
}

// followFailed explains a followed archive whose dump gave up, and what
// to do. An archive replaced or removed by its writer will never be
// complete: its progress table is dropped, so a later import cannot
// continue tables of that snapshot with another dump's rows (it refuses
// the non-empty database and names --force, which reloads every table).
func (c *importCmd) followFailed(ctx context.Context, e *env, target *mysql.Config, fe *load.FollowError) error {
	msg := strings.TrimPrefix(fe.Error(), "load: ")
	switch {
	case errors.Is(fe, load.ErrStalled) && fe.Offset == 0:
		return fmt.Errorf("%s: start the dump, then run the same command again", msg)
	case errors.Is(fe, load.ErrStalled):
		return fmt.Errorf("%s; the tables loaded so far are kept: if that dump still completes %s, run the same command again (with a larger --stall for a slow dump): it continues after them; a dump run again is a new snapshot: drop the tables of %s first", msg, c.File, target.DBName)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := load.Forget(ctx, target)
	cancel()
	if err != nil {
		return fmt.Errorf("%s; a dump run again is a new snapshot: drop the tables of %s, then run the same command again", msg, target.DBName)
	}
	return fmt.Errorf("%s; the tables loaded so far belong to that dump's snapshot: once the dump runs again, run the same command with --force to replace them", msg)
}

// waitManifest reads the manifest a dump writes after renaming the
// archive, waiting for it up to stall.
func waitManifest(ctx context.Context, mpath string, stall time.Duration) (*manifest.Manifest, error) {
	m, err := manifest.Wait(ctx, mpath, stall)
	if errors.Is(err, manifest.ErrNotThere) {
		return nil, &streamMismatch{file: strings.TrimSuffix(mpath, ".manifest.json"), mpath: mpath, missing: true, stall: stall}
	}
	return m, err
}

// compareStream checks the stream against the manifest's record of it.
func compareStream(file, mpath string, m *manifest.Manifest, s manifest.Stream) error {
	if m.SQL.XXH3 == "" || (m.SQL.Bytes == s.Bytes && m.SQL.XXH3 == s.XXH3) {
		return nil
	}
	return &streamMismatch{file: file, mpath: mpath, what: fmt.Sprintf("a stream of %d bytes with xxh3 %s, the archive holds %d bytes with xxh3 %s", m.SQL.Bytes, m.SQL.XXH3, s.Bytes, s.XXH3)}
}

// streamMismatch: the archive's stream and its manifest disagree, or the
// manifest of a followed archive never came. The import stops before it
// finishes: its progress table stays.
type streamMismatch struct {
	file, mpath string
	what        string
	missing     bool
	stall       time.Duration
}

func (e *streamMismatch) Error() string {
	if e.missing {
		return fmt.Sprintf("%s is complete (its completion marker checks out) but %s did not appear within %s: run the same command again once it is there; every table is loaded, the import only checks and finishes", e.file, e.mpath, e.stall)
	}
	return fmt.Sprintf("%s records %s: the manifest belongs to another dump; the loaded tables stay: put the archive's own manifest beside it and run the same command again, or dump again", e.mpath, e.what)
}

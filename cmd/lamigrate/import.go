package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/load"
)

type importCmd struct {
	connFlags
	File    string `arg:"" help:"Archive to load (ours or a plain mysqldump file, any codec)." type:"path"`
	Threads int    `name:"threads" default:"0" help:"Parallel connections (0: number of CPUs)."`
	Force   bool   `name:"force" help:"Load into a database that already holds tables: drop and replace each table (and view, routine, trigger) the archive creates; other tables are left alone."`
	Spool   string `name:"spool-dir" help:"Folder for statements read ahead of the connections (default: the system temp folder)." placeholder:"DIR"`
	Strip   bool   `name:"strip-definers" help:"Create the archive's views, triggers, routines and events with the importing user as their definer (SQL SECURITY unchanged), for a user without SUPER or SET USER."`
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

func (c *importCmd) Run(e *env) error {
	if c.Threads < 0 {
		return usageErr("--threads must be 0 (number of CPUs) or more")
	}
	db, r, err := c.open(e)
	if err != nil {
		return err
	}
	db.Close()
	f, err := os.Open(c.File)
	if err != nil {
		return fmt.Errorf("cannot open the archive: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	cfg := load.Config{Threads: c.Threads, Force: c.Force, SpoolDir: c.Spool, ArchiveSize: fi.Size(), StripDefiners: c.Strip}
	prog := &importProgress{t: e.ui.task("import", fi.Size(), true)}
	out := importResult{File: c.File, Database: r.Config.DBName}
	mpath := manifest.PathFor(c.File)
	if m, err := manifest.Read(mpath); err == nil {
		cfg.RequireMarker = true
		cfg.Fingerprint = m.SQL.XXH3
		prog.tables = len(m.Tables)
		out.Manifest = mpath
	} else if _, serr := os.Stat(mpath); serr == nil {
		return fmt.Errorf("%v: fix or remove the manifest", err)
	}
	if e.getenv("GOMEMLIMIT") == "" {
		// Statements of tens of MB pass through once each: collect them
		// before they pile up. The import's live memory is its in-memory
		// read-ahead (32 MiB) and a few statements.
		debug.SetMemoryLimit(96 << 20)
	}
	start := time.Now()
	res, err := load.Load(e.ctx, r.Config, f, cfg, load.WithProgress(prog),
		load.WithPassphrase(e.secret("LAMIGRATE_PASSPHRASE", "Archive passphrase")))
	if err != nil {
		var se *load.StatementError
		var me *mysql.MySQLError
		var de *load.DefinerError
		if errors.As(err, &de) && !de.Late {
			prog.t.abandon() // refused before any work: no progress line
		} else {
			prog.t.Finish("failed")
		}
		switch {
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
		fmt.Fprintf(w, "imported %s into %s: %d tables, %d rows, %s of SQL in %.1f s\n", out.File, out.Database,
			out.Tables+out.Skipped, out.Rows, bytesize.Format(out.SQLBytes), out.Seconds)
		if out.Resumed {
			fmt.Fprintf(w, "resumed: %d tables were finished by an earlier run\n", out.Skipped)
		}
	})
}

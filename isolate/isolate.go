package isolate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// Options configure Isolate and Restore. The plain fields are serialisable
// configuration; Runner and Progress are runtime dependencies.
type Options struct {
	// DryRun makes Isolate report what it would do and change nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Keep leaves what was isolated in place when Isolate fails or is
	// cancelled; by default it restores it.
	Keep bool `json:"keep,omitempty"`
	// InstallDir, when set, moves each source's File (the mail pipe
	// script) aside to File+AsideSuffix.
	InstallDir string `json:"install_dir,omitempty"`
	// Cron, when set, comments out the cron lines running the profile's
	// CronPatterns.
	Cron *CronOptions `json:"cron,omitempty"`
	// WebServer, when set, stops the web server.
	WebServer *WebServerOptions `json:"web_server,omitempty"`
	// RestoreTimeout bounds the restore that follows a failed or cancelled
	// Isolate (default 5 minutes).
	RestoreTimeout time.Duration `json:"restore_timeout,omitempty"`

	Runner   Runner   `json:"-"` // nil = ExecRunner
	Progress Progress `json:"-"`
	// Test hooks: afterSource runs after each source is committed;
	// afterRecord runs after a source's rows are recorded and before they
	// are updated, and its error aborts the source (a crash there).
	afterSource func(name string)
	afterRecord func(name string) error
}

// AsideSuffix is appended to a file's name while it is moved aside.
const AsideSuffix = ".lamigrate-disabled"

func (o *Options) runner() Runner {
	if o.Runner == nil {
		return ExecRunner{}
	}
	return o.Runner
}

// Result is what Isolate did (or, with DryRun, would do).
type Result struct {
	DryRun   bool           `json:"dry_run,omitempty"`
	Database string         `json:"database"`
	Sources  []SourceResult `json:"sources"`
	Files    []FileState    `json:"files,omitempty"`
	Cron     []CronState    `json:"cron,omitempty"`
	Services []ServiceState `json:"services,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	// RolledBack is the restore run after Isolate failed or was cancelled.
	RolledBack *RestoreResult `json:"rolled_back,omitempty"`
}

// SourceResult is one source's outcome.
type SourceResult struct {
	Name       string `json:"name"`
	Table      string `json:"table"`
	Column     string `json:"column"`
	Write      string `json:"write"`
	Confidence string `json:"confidence,omitempty"`
	// Status is "isolated", "already isolated", "skipped" or, in a dry
	// run, "would isolate".
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Active is how many rows were active when the source was processed.
	Active int64 `json:"active"`
	// Changed is how many rows this run changed.
	Changed int64 `json:"changed"`
	// Recorded is how many rows the state file holds for the source.
	Recorded int `json:"recorded"`
	// Keys are the active rows' keys (dry run only).
	Keys []Value `json:"keys,omitempty"`
}

// Isolate deactivates every source of the profile in the database db is
// connected to, recording each row's key and original value in the state
// file before changing it, then (as Options say) moves the mail pipe
// script aside, comments out the cron lines and stops the web server.
//
// Running it again with the same state file continues an interrupted run:
// rows already recorded keep their first original value. A state file that
// was restored without conflicts is archived (FILE.restored-TIME) and a new
// round begins.
func Isolate(ctx context.Context, db *sql.DB, p *Profile, statePath string, o Options) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var dbName sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		return nil, fmt.Errorf("isolate: %w", err)
	}
	if !dbName.Valid {
		return nil, errors.New("isolate: no database selected: put the database name in the DSN")
	}
	res := &Result{DryRun: o.DryRun, Database: dbName.String}
	statuses, err := p.Inspect(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, st := range statuses {
		if st.ConditionError != "" {
			field := "active_where"
			if strings.HasPrefix(st.ConditionError, "key ") {
				field = "key"
			}
			return nil, &ProfileError{Source: st.Name, Field: field, Reason: strings.TrimPrefix(st.ConditionError, "active_where ")}
		}
	}
	if o.DryRun {
		return dryRun(ctx, db, p, statuses, statePath, o, res)
	}

	sf, err := openState(statePath, true)
	if err != nil {
		return nil, err
	}
	defer sf.close()
	if sf.s.Restored != nil {
		if sf.s.RestoreConflicts > 0 {
			return nil, fmt.Errorf("isolate: state file %s was restored with %d conflicts and still holds their original values; fix them and use a new state file", statePath, sf.s.RestoreConflicts)
		}
		archive := fmt.Sprintf("%s.restored-%s", statePath, sf.s.Restored.UTC().Format("20060102T150405Z"))
		if err := os.Rename(statePath, archive); err != nil {
			return nil, fmt.Errorf("isolate: archiving the restored state file: %w", err)
		}
		now := time.Now().UTC()
		sf.s = &State{Format: StateFormat, Created: now, Updated: now}
		res.Warnings = append(res.Warnings, warn(o.Progress, "state file %s had been restored; archived it as %s and started a new isolation", statePath, archive))
	}
	if sf.s.Database == "" {
		sf.s.Database = dbName.String
	} else if sf.s.Database != dbName.String {
		return nil, fmt.Errorf("isolate: state file %s belongs to database %s, not %s; use another state file", statePath, sf.s.Database, dbName.String)
	}
	if err := sf.save(); err != nil {
		return nil, err
	}

	err = isolateAll(ctx, db, p, statuses, sf, o, res)
	if err == nil {
		return res, nil
	}
	if o.Keep {
		return res, fmt.Errorf("%w (what was isolated is kept; the state file %s can restore it)", err, statePath)
	}
	// Undo what was done, even when ctx was cancelled.
	timeout := o.RestoreTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	sf.close() // restoreLocked takes the lock itself
	rr, rerr := Restore(rctx, db, statePath, Options{Runner: o.Runner, Progress: o.Progress})
	res.RolledBack = rr
	if rerr != nil {
		return res, fmt.Errorf("%w; restoring what was done also failed: %v (run restore with the state file %s)", err, rerr, statePath)
	}
	if n := rr.Conflicts(); n > 0 {
		return res, fmt.Errorf("%w; restored what was done, except %d conflicts (see the state file %s)", err, n, statePath)
	}
	return res, fmt.Errorf("%w; restored what was done", err)
}

func isolateAll(ctx context.Context, db *sql.DB, p *Profile, statuses []SourceStatus, sf *stateFile, o Options, res *Result) error {
	for i, src := range p.Sources {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("isolate: %w", err)
		}
		sr, err := isolateSource(ctx, db, src, statuses[i], sf, o)
		res.Sources = append(res.Sources, sr)
		if sr.Status == "skipped" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("source %q skipped: %s", src.Name, sr.Reason))
		}
		if err != nil {
			return err
		}
		if o.afterSource != nil {
			o.afterSource(src.Name)
		}
	}
	if o.InstallDir != "" {
		for _, src := range p.Sources {
			if src.File == "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("isolate: %w", err)
			}
			fs, w, err := moveAside(o.InstallDir, src, sf, o.Progress)
			if w != "" {
				res.Warnings = append(res.Warnings, w)
			}
			if fs != nil {
				res.Files = append(res.Files, *fs)
			}
			if err != nil {
				return err
			}
		}
	}
	if o.Cron != nil {
		cs, warns, err := disableCron(ctx, o.runner(), *o.Cron, p.Patterns(), sf, o.Progress)
		res.Cron = cs
		res.Warnings = append(res.Warnings, warns...)
		if err != nil {
			return err
		}
	}
	if o.WebServer != nil {
		ss, warns, err := stopWebServer(ctx, o.runner(), *o.WebServer, sf, o.Progress)
		res.Services = ss
		res.Warnings = append(res.Warnings, warns...)
		if err != nil {
			return err
		}
	}
	return nil
}

// isolateSource deactivates one source in one transaction: lock the active
// rows, record them, save the state, update, commit, mark done.
func isolateSource(ctx context.Context, db *sql.DB, src Source, st SourceStatus, sf *stateFile, o Options) (SourceResult, error) {
	sr := SourceResult{Name: src.Name, Table: src.Table, Column: src.Column, Write: src.Write, Confidence: src.Confidence}
	ss := sf.s.source(src.Name)
	if ss != nil && (ss.Table != src.Table || ss.Key != src.Key || ss.Column != src.Column || ss.Write != src.Write) {
		return sr, fmt.Errorf("isolate: source %q in the state file is %s.%s (key %s, write %q) but the profile says %s.%s (key %s, write %q); use the same profile or another state file",
			src.Name, ss.Table, ss.Column, ss.Key, ss.Write, src.Table, src.Column, src.Key, src.Write)
	}
	if ss != nil && ss.Status == Done {
		sr.Status, sr.Recorded = "already isolated", len(ss.Rows)
		report(o.Progress, Event{Step: "source", Name: src.Name, State: "already isolated", Count: int64(len(ss.Rows))})
		return sr, nil
	}
	if !st.Usable() {
		sr.Status, sr.Reason, sr.Active = "skipped", st.Problem, -1
		if ss != nil && len(ss.Rows) > 0 {
			// Rows were recorded before the table or column went away:
			// that is not something to skip quietly.
			return sr, fmt.Errorf("isolate: source %q: %s, but the state file holds %d of its rows", src.Name, st.Problem, len(ss.Rows))
		}
		if ss == nil {
			sf.s.Sources = append(sf.s.Sources, SourceState{Name: src.Name, Table: src.Table, Key: src.Key, Column: src.Column, Write: src.Write, Rows: []Row{}})
			ss = &sf.s.Sources[len(sf.s.Sources)-1]
		}
		ss.Status, ss.Reason = Skipped, st.Problem
		warn(o.Progress, "source %q skipped: %s", src.Name, st.Problem)
		return sr, sf.save()
	}
	report(o.Progress, Event{Step: "source", Name: src.Name, State: "start", Count: st.Active})

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sr, fmt.Errorf("isolate: source %q: %w", src.Name, err)
	}
	defer tx.Rollback()
	active, err := selectActive(ctx, tx, src)
	if err != nil {
		return sr, err
	}
	sr.Active = int64(len(active))

	// Record first: new rows are appended, recorded rows keep their first
	// original value.
	if ss == nil {
		sf.s.Sources = append(sf.s.Sources, SourceState{Name: src.Name, Table: src.Table, Key: src.Key, Column: src.Column, Write: src.Write, Rows: []Row{}})
		ss = &sf.s.Sources[len(sf.s.Sources)-1]
	}
	known := make(map[string]bool, len(ss.Rows))
	for _, r := range ss.Rows {
		known[keyOf(r.Key)] = true
	}
	for _, r := range active {
		if !known[keyOf(r.Key)] {
			ss.Rows = append(ss.Rows, r)
			known[keyOf(r.Key)] = true
		}
	}
	ss.Status, ss.Reason = Started, ""
	if err := sf.save(); err != nil {
		return sr, err
	}
	if o.afterRecord != nil {
		if err := o.afterRecord(src.Name); err != nil {
			return sr, err
		}
	}

	// Update, grouped by current value so each row changes only while it
	// still holds the value just read (and locked).
	write := String(src.Write)
	groups := map[string][]Row{}
	var order []string
	for _, r := range active {
		if r.Original.Equal(write) {
			continue
		}
		g := keyOf(r.Original)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], r)
	}
	for _, g := range order {
		rows := groups[g]
		for start := 0; start < len(rows); start += batchSize {
			batch := rows[start:min(start+batchSize, len(rows))]
			args := []any{write.arg(), batch[0].Original.arg()}
			for _, r := range batch {
				args = append(args, r.Key.arg())
			}
			q := "UPDATE " + ident.Quote(src.Table) + " SET " + ident.Quote(src.Column) + " = ? WHERE " +
				ident.Quote(src.Column) + " <=> ? AND " + ident.Quote(src.Key) + " IN (" + placeholders(len(batch)) + ")"
			r, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return sr, fmt.Errorf("isolate: source %q: deactivating rows of %s: %w", src.Name, src.Table, err)
			}
			n, _ := r.RowsAffected()
			sr.Changed += n
		}
	}
	if err := tx.Commit(); err != nil {
		return sr, fmt.Errorf("isolate: source %q: commit: %w", src.Name, err)
	}
	ss.Status = Done
	if err := sf.save(); err != nil {
		return sr, err
	}
	sr.Status, sr.Recorded = "isolated", len(ss.Rows)
	report(o.Progress, Event{Step: "source", Name: src.Name, State: "done", Count: sr.Changed})
	return sr, nil
}

const batchSize = 500

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// keyOf makes a map key from a Value (NULL differs from every string).
func keyOf(v Value) string {
	if !v.Valid {
		return "\x00NULL"
	}
	return "=" + string(v.Bytes)
}

type txQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// selectActive reads the active rows' keys and values, locking them.
func selectActive(ctx context.Context, tx txQuerier, src Source) ([]Row, error) {
	q := "SELECT " + ident.Quote(src.Key) + ", " + ident.Quote(src.Column) + " FROM " + ident.Quote(src.Table) +
		" WHERE (" + src.ActiveWhere + ") FOR UPDATE"
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("isolate: source %q: reading active rows of %s: %w", src.Name, src.Table, err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("isolate: source %q: reading active rows of %s: %w", src.Name, src.Table, err)
		}
		if k == nil {
			return nil, fmt.Errorf("isolate: source %q: a row of %s has a NULL %s; key must be the primary key", src.Name, src.Table, src.Key)
		}
		out = append(out, Row{Key: Value{Valid: true, Bytes: k}, Original: Value{Valid: v != nil, Bytes: v}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("isolate: source %q: reading active rows of %s: %w", src.Name, src.Table, err)
	}
	return out, nil
}

// dryRun reports the plan without locking or changing anything.
func dryRun(ctx context.Context, db *sql.DB, p *Profile, statuses []SourceStatus, statePath string, o Options, res *Result) (*Result, error) {
	var prior *State
	if s, err := ReadState(statePath); err == nil && s.Restored == nil {
		prior = s
	}
	for i, src := range p.Sources {
		st := statuses[i]
		sr := SourceResult{Name: src.Name, Table: src.Table, Column: src.Column, Write: src.Write, Confidence: src.Confidence, Active: st.Active}
		if prior != nil {
			if ss := prior.source(src.Name); ss != nil {
				sr.Recorded = len(ss.Rows)
				if ss.Status == Done {
					sr.Status = "already isolated"
					res.Sources = append(res.Sources, sr)
					continue
				}
			}
		}
		if !st.Usable() {
			sr.Status, sr.Reason = "skipped", st.Problem
			res.Warnings = append(res.Warnings, fmt.Sprintf("source %q would be skipped: %s", src.Name, st.Problem))
			res.Sources = append(res.Sources, sr)
			continue
		}
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("isolate: %w", err)
		}
		q := "SELECT " + ident.Quote(src.Key) + " FROM " + ident.Quote(src.Table) + " WHERE (" + src.ActiveWhere + ")"
		keys, err := readValues(ctx, tx, q)
		tx.Rollback()
		if err != nil {
			return nil, fmt.Errorf("isolate: source %q: %w", src.Name, err)
		}
		sr.Status, sr.Keys, sr.Active = "would isolate", keys, int64(len(keys))
		res.Sources = append(res.Sources, sr)
	}
	if o.InstallDir != "" {
		for _, src := range p.Sources {
			if src.File == "" {
				continue
			}
			path := filepath.Join(o.InstallDir, filepath.FromSlash(src.File))
			if _, err := os.Stat(path); err == nil {
				res.Files = append(res.Files, FileState{Source: src.Name, Path: path, Aside: path + AsideSuffix, Status: "would move"})
			}
		}
	}
	if o.Cron != nil {
		cs, warns := planCron(ctx, o.runner(), *o.Cron, p.Patterns())
		res.Cron, res.Warnings = cs, append(res.Warnings, warns...)
	}
	if o.WebServer != nil {
		cmds, err := o.WebServer.commands(ctx, o.runner())
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
		for _, c := range cmds {
			res.Services = append(res.Services, ServiceState{Name: c.Name, Stop: c.Stop, Start: c.Start, Status: "would stop"})
		}
	}
	return res, nil
}

func readValues(ctx context.Context, q txQuerier, query string, args ...any) ([]Value, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Value
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, Value{Valid: b != nil, Bytes: b})
	}
	return out, rows.Err()
}

// moveAside renames the source's file to File+AsideSuffix, recording it
// first. A missing file is a warning.
func moveAside(installDir string, src Source, sf *stateFile, p Progress) (*FileState, string, error) {
	path := filepath.Join(installDir, filepath.FromSlash(src.File))
	aside := path + AsideSuffix
	var fs *FileState
	for i := range sf.s.Files {
		if sf.s.Files[i].Path == path {
			fs = &sf.s.Files[i]
		}
	}
	if fs != nil && fs.Status == Done {
		cp := *fs
		return &cp, "", nil
	}
	_, errPath := os.Lstat(path)
	_, errAside := os.Lstat(aside)
	if errPath != nil && fs == nil {
		if errors.Is(errPath, os.ErrNotExist) {
			return nil, warn(p, "source %q: %s not found; nothing to move aside", src.Name, path), nil
		}
		return nil, "", fmt.Errorf("isolate: source %q: %w", src.Name, errPath)
	}
	if errPath == nil && errAside == nil {
		return nil, "", fmt.Errorf("isolate: source %q: both %s and %s exist; remove the one that is not current and run again", src.Name, path, aside)
	}
	if fs == nil {
		sf.s.Files = append(sf.s.Files, FileState{Source: src.Name, Path: path, Aside: aside, Status: Started})
		fs = &sf.s.Files[len(sf.s.Files)-1]
		if err := sf.save(); err != nil {
			return nil, "", err
		}
	}
	if errPath == nil {
		if err := os.Rename(path, aside); err != nil {
			return fs, "", fmt.Errorf("isolate: moving %s aside: %w", path, err)
		}
	}
	fs.Status = Done
	report(p, Event{Step: "file", Name: path, State: "moved aside", Message: aside})
	cp := *fs
	return &cp, "", sf.save()
}

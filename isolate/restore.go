package isolate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
	"github.com/qualityunit/lamigrate/internal/ident"
)

// RestoreResult is what Restore did.
type RestoreResult struct {
	Sources  []SourceRestore  `json:"sources"`
	Files    []FileRestore    `json:"files,omitempty"`
	Cron     []CronRestore    `json:"cron,omitempty"`
	Services []ServiceRestore `json:"services,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
	// LeftAlone says which files, cron lines and services were not
	// restored and why (another machine, or Options.RowsOnly).
	LeftAlone string `json:"left_alone,omitempty"`
}

// SourceRestore is one source's outcome.
type SourceRestore struct {
	Name  string `json:"name"`
	Table string `json:"table"`
	// Restored rows got their original value back now; Already rows had
	// it before (a second restore, or an isolation that never committed).
	Restored int64 `json:"restored"`
	Already  int64 `json:"already"`
	// Missing rows no longer exist.
	Missing   []Value    `json:"missing,omitempty"`
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Skipped says why the whole source was not touched (table or column
	// missing here, or never isolated).
	Skipped string `json:"skipped,omitempty"`
}

// Conflict is a row whose value changed after isolation: left alone.
type Conflict struct {
	Key      Value `json:"key"`
	Original Value `json:"original"`
	Written  Value `json:"written"`
	Current  Value `json:"current"`
}

// FileRestore is a file moved back (or not).
type FileRestore struct {
	Path   string `json:"path"`
	Status string `json:"status"` // restored, already, conflict, missing
	Reason string `json:"reason,omitempty"`
}

// CronRestore is one crontab put back.
type CronRestore struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Status string `json:"status"` // restored, already, partial, missing
	Lines  int    `json:"lines"`
	Reason string `json:"reason,omitempty"`
}

// ServiceRestore is one service started again.
type ServiceRestore struct {
	Name   string `json:"name"`
	Status string `json:"status"` // started, failed
	Reason string `json:"reason,omitempty"`
}

// Conflicts counts everything Restore had to leave alone.
func (r *RestoreResult) Conflicts() int {
	if r == nil {
		return 0
	}
	n := 0
	for _, s := range r.Sources {
		n += len(s.Conflicts)
	}
	for _, f := range r.Files {
		if f.Status == "conflict" {
			n++
		}
	}
	for _, c := range r.Cron {
		if c.Status == "partial" || c.Status == "conflict" {
			n++
		}
	}
	for _, s := range r.Services {
		if s.Status == "failed" {
			n++
		}
	}
	return n
}

// Restored counts rows given back their original value by this run.
func (r *RestoreResult) Restored() int64 {
	var n int64
	for _, s := range r.Sources {
		n += s.Restored
	}
	return n
}

// ErrConflicts means Restore finished but left some things alone.
var ErrConflicts = errors.New("isolate: restore left conflicts alone")

// Restore writes back each recorded original value where the current value
// is still what isolation wrote, in reverse order of isolation (web server,
// cron, files, sources). Rows changed since are conflicts: reported, left
// alone. It works on any database with the same tables and keys (the
// imported copy too) and can run any number of times.
//
// Files, cron lines and services belong to the installation isolate ran on
// (State.Host, the machine, and State.Server, the database it changed):
// Restore puts them back only when it runs on that machine against that
// database, and never with Options.RowsOnly; elsewhere (the imported copy
// in the cloud, even on the same machine) it restores the rows only and
// says so in RestoreResult.LeftAlone. A state file without a recorded machine (older
// versions) is restored whole unless RowsOnly.
//
// Only Runner, Progress and RowsOnly of o are used.
func Restore(ctx context.Context, db *sql.DB, statePath string, o Options) (*RestoreResult, error) {
	sf, err := openState(statePath, false)
	if err != nil {
		return nil, err
	}
	defer sf.close()
	res := &RestoreResult{}
	s := sf.s

	rowsOnly := o.RowsOnly
	if m := s.machineEntries(); m != "" {
		switch {
		case o.RowsOnly:
			res.LeftAlone = fmt.Sprintf("%s: left alone (rows only)", m)
		case s.Host != nil && !s.Host.Same(o.host()):
			rowsOnly = true
			res.LeftAlone = fmt.Sprintf("%s belong to %s: left alone", m, s.Host)
		case s.Server != nil && !sameServer(ctx, db, *s.Server):
			rowsOnly = true
			res.LeftAlone = fmt.Sprintf("%s belong to the installation of database %s on %s:%d, not this database: left alone",
				m, s.Server.Database, s.Server.Hostname, s.Server.Port)
		}
		if res.LeftAlone != "" {
			res.Warnings = append(res.Warnings, warn(o.Progress, "%s", res.LeftAlone))
		}
	}
	if !rowsOnly {
		for i := len(s.Services) - 1; i >= 0; i-- {
			startService(ctx, o, s.Services[i], res)
		}
		for i := len(s.Cron) - 1; i >= 0; i-- {
			cr, err := restoreCron(ctx, o.runner(), s.Cron[i])
			if err != nil {
				return res, err
			}
			reportCron(o, cr, res)
		}
		for i := len(s.Files) - 1; i >= 0; i-- {
			reportFile(o, restoreFile(s.Files[i]), res)
		}
	}
	for i := len(s.Sources) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("isolate: restore: %w", err)
		}
		sr, err := restoreSource(ctx, db, s.Sources[i])
		if err != nil {
			return res, err
		}
		if sr.Skipped != "" && len(s.Sources[i].Rows) > 0 {
			res.Warnings = append(res.Warnings, warn(o.Progress, "source %q not restored: %s", sr.Name, sr.Skipped))
		}
		reportSource(o, sr, res)
	}

	now := time.Now().UTC()
	s.Restored, s.RestoreConflicts, s.RestoreRowsOnly = &now, res.Conflicts(), rowsOnly
	if err := sf.save(); err != nil {
		return res, err
	}
	return res, nil
}

func startService(ctx context.Context, o Options, svc ServiceState, res *RestoreResult) ServiceRestore {
	sr := ServiceRestore{Name: svc.Name, Status: "started"}
	if err := runCommand(ctx, o.runner(), svc.Start); err != nil {
		sr.Status, sr.Reason = "failed", err.Error()
		res.Warnings = append(res.Warnings, warn(o.Progress, "starting %s: %v", svc.Name, err))
	} else {
		report(o.Progress, Event{Step: "service", Name: svc.Name, State: "started"})
	}
	res.Services = append(res.Services, sr)
	return sr
}

func reportCron(o Options, cr CronRestore, res *RestoreResult) {
	if cr.Reason != "" {
		res.Warnings = append(res.Warnings, warn(o.Progress, "%s: %s", cr.Path, cr.Reason))
	}
	report(o.Progress, Event{Step: "cron", Name: cr.Path, State: cr.Status, Count: int64(cr.Lines)})
	res.Cron = append(res.Cron, cr)
}

func reportFile(o Options, fr FileRestore, res *RestoreResult) {
	if fr.Reason != "" {
		res.Warnings = append(res.Warnings, warn(o.Progress, "%s: %s", fr.Path, fr.Reason))
	}
	report(o.Progress, Event{Step: "file", Name: fr.Path, State: fr.Status})
	res.Files = append(res.Files, fr)
}

func reportSource(o Options, sr SourceRestore, res *RestoreResult) {
	for _, c := range sr.Conflicts {
		warn(o.Progress, "source %q: row %s is now %s (isolation wrote %s, original %s): left alone", sr.Name, c.Key, c.Current, c.Written, c.Original)
	}
	if sr.Skipped != "" {
		report(o.Progress, Event{Step: "source", Name: sr.Name, State: "skipped", Message: sr.Skipped})
	} else {
		report(o.Progress, Event{Step: "source", Name: sr.Name, State: "restored", Count: sr.Restored})
	}
	res.Sources = append(res.Sources, sr)
}

// restoreSource puts back one source's rows in one transaction.
func restoreSource(ctx context.Context, db *sql.DB, ss SourceState) (SourceRestore, error) {
	sr := SourceRestore{Name: ss.Name, Table: ss.Table}
	if len(ss.Rows) == 0 {
		if ss.Status == Skipped {
			sr.Skipped = "skipped by isolate: " + ss.Reason
		}
		return sr, nil
	}
	cols, found, err := tableColumns(ctx, db, ss.Table)
	if err != nil {
		return sr, err
	}
	if !found {
		sr.Skipped = fmt.Sprintf("table %s does not exist here", ss.Table)
		return sr, nil
	}
	for _, c := range []string{ss.Key, ss.Column} {
		if !cols[strings.ToLower(c)] {
			sr.Skipped = fmt.Sprintf("table %s has no column %s here", ss.Table, c)
			return sr, nil
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sr, fmt.Errorf("isolate: restore %q: %w", ss.Name, err)
	}
	defer tx.Rollback()
	write := String(ss.Write)
	table, key, col := ident.Quote(ss.Table), ident.Quote(ss.Key), ident.Quote(ss.Column)
	for start := 0; start < len(ss.Rows); start += batchSize {
		batch := ss.Rows[start:min(start+batchSize, len(ss.Rows))]
		args := make([]any, len(batch))
		for i, r := range batch {
			args[i] = r.Key.Arg()
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+key+", "+col+" FROM "+table+" WHERE "+key+" IN ("+placeholders(len(batch))+") FOR UPDATE", args...)
		if err != nil {
			return sr, fmt.Errorf("isolate: restore %q: reading %s: %w", ss.Name, ss.Table, err)
		}
		current := map[string]Value{}
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return sr, fmt.Errorf("isolate: restore %q: reading %s: %w", ss.Name, ss.Table, err)
			}
			current[keyOf(Value{Valid: true, Bytes: k})] = Value{Valid: v != nil, Bytes: v}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return sr, fmt.Errorf("isolate: restore %q: reading %s: %w", ss.Name, ss.Table, err)
		}
		// Group the rows to write back by original value.
		groups := map[string][]Row{}
		var order []string
		for _, r := range batch {
			cur, ok := current[keyOf(r.Key)]
			switch {
			case !ok:
				sr.Missing = append(sr.Missing, r.Key)
			case cur.Equal(r.Original):
				sr.Already++
			case cur.Equal(write):
				g := keyOf(r.Original)
				if _, ok := groups[g]; !ok {
					order = append(order, g)
				}
				groups[g] = append(groups[g], r)
			default:
				sr.Conflicts = append(sr.Conflicts, Conflict{Key: r.Key, Original: r.Original, Written: write, Current: cur})
			}
		}
		for _, g := range order {
			grp := groups[g]
			args := []any{grp[0].Original.Arg(), write.Arg()}
			for _, r := range grp {
				args = append(args, r.Key.Arg())
			}
			q := "UPDATE " + table + " SET " + col + " = ? WHERE " + col + " <=> ? AND " + key + " IN (" + placeholders(len(grp)) + ")"
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return sr, fmt.Errorf("isolate: restore %q: writing %s: %w", ss.Name, ss.Table, err)
			}
			n, _ := res.RowsAffected()
			sr.Restored += n
		}
	}
	if err := tx.Commit(); err != nil {
		return sr, fmt.Errorf("isolate: restore %q: commit: %w", ss.Name, err)
	}
	return sr, nil
}

// restoreFile moves a file back from aside.
func restoreFile(fs FileState) FileRestore {
	fr := FileRestore{Path: fs.Path}
	_, errPath := os.Lstat(fs.Path)
	_, errAside := os.Lstat(fs.Aside)
	switch {
	case errAside == nil && errPath == nil:
		fr.Status, fr.Reason = "conflict", fmt.Sprintf("both %s and %s exist; left both alone", fs.Path, fs.Aside)
	case errAside == nil:
		if err := atomicfile.Rename(fs.Aside, fs.Path); err != nil {
			fr.Status, fr.Reason = "conflict", err.Error()
		} else {
			fr.Status = "restored"
		}
	case errPath == nil:
		fr.Status = "already"
	default:
		fr.Status, fr.Reason = "missing", fmt.Sprintf("neither %s nor %s exists", fs.Path, fs.Aside)
	}
	return fr
}

// sameServer reports whether db is connected to the server and database
// isolate changed. When it cannot tell, it says no: restoring rows only is
// the safe side (the machine's entries stay recorded for a later restore).
func sameServer(ctx context.Context, db *sql.DB, want Server) bool {
	var name sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
		return false
	}
	cur := serverOf(ctx, db, name.String)
	return cur != nil && cur.Same(want)
}

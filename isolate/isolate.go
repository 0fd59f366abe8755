package isolate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
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
	// IgnorePendingJobs lets Isolate with Cron switch the cron lines off
	// while background jobs are still pending (they then never run); by
	// default it refuses with a *JobsPendingError.
	IgnorePendingJobs bool `json:"ignore_pending_jobs,omitempty"`
	// AlreadyIsolatedOK lets Isolate start a new state file for an
	// installation that already looks isolated; by default it refuses
	// with an *AlreadyIsolatedError.
	AlreadyIsolatedOK bool `json:"already_isolated_ok,omitempty"`
	// RowsOnly makes Restore put back the database rows only, leaving the
	// files, cron lines and services of the state file alone (the cloud
	// side). Restore does that by itself on another machine than the one
	// isolate ran on.
	RowsOnly bool `json:"rows_only,omitempty"`

	Runner   Runner   `json:"-"` // nil = ExecRunner
	Progress Progress `json:"-"`
	// Test hooks: afterSource runs after each source is committed;
	// afterRecord runs after a source's rows are recorded and before they
	// are updated, and its error aborts the source (a crash there).
	afterSource func(name string)
	afterRecord func(name string) error
	// thisHost is the machine this runs on (nil: ThisHost).
	thisHost func() Host
}

func (o *Options) host() Host {
	if o.thisHost != nil {
		return o.thisHost()
	}
	return ThisHost()
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
	server := serverOf(ctx, db, dbName.String)
	if o.DryRun {
		if o.Cron != nil && !o.IgnorePendingJobs {
			if n, w := pendingJobs(ctx, db, p); w != "" {
				res.Warnings = append(res.Warnings, w)
			} else if n > 0 {
				res.Warnings = append(res.Warnings, (&JobsPendingError{Count: n, Table: drainTable(p.Drain()), State: statePath}).Error())
			}
		}
		return dryRun(ctx, db, p, statuses, statePath, o, res)
	}

	sf, err := openState(statePath, true)
	if err != nil {
		return nil, err
	}
	defer sf.close()
	fresh := sf.s.Isolated() == "" && len(sf.s.Sources) == 0
	if sf.s.Restored != nil {
		if sf.s.RestoreConflicts > 0 {
			return nil, fmt.Errorf("isolate: state file %s was restored with %d conflicts and still holds their original values; fix them and use a new state file", statePath, sf.s.RestoreConflicts)
		}
		if !sf.s.FullyRestored() {
			return nil, fmt.Errorf("isolate: state file %s was restored rows only and still holds %s of the machine isolate ran on; restore them there with the same state file, or use a new state file", statePath, sf.s.machineEntries())
		}
		fresh = true
	}
	// Refuse before anything changes.
	if fresh && !o.AlreadyIsolatedOK {
		if e := alreadyIsolated(ctx, db, p, statuses, o, statePath, dbName.String, server); e != nil {
			return nil, e
		}
	}
	if o.Cron != nil && len(sf.s.Cron) == 0 {
		if found, warns := planCron(ctx, o.runner(), *o.Cron, p.Patterns()); len(found) == 0 {
			return nil, fmt.Errorf("%w: %s; nothing was changed (or leave cron out)", ErrNoCronLine, strings.Join(warns, "; "))
		}
	}
	if o.Cron != nil && !o.IgnorePendingJobs && !cronDone(sf.s) {
		n, w := pendingJobs(ctx, db, p)
		if w != "" {
			res.Warnings = append(res.Warnings, warn(o.Progress, "%s", w))
		}
		if n > 0 {
			return nil, &JobsPendingError{Count: n, Table: drainTable(p.Drain()), State: statePath}
		}
	}
	if sf.s.Restored != nil {
		archive := fmt.Sprintf("%s.restored-%s", statePath, sf.s.Restored.UTC().Format("20060102T150405Z"))
		if err := atomicfile.Rename(statePath, archive); err != nil {
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
	if sf.s.Host == nil {
		h := o.host()
		sf.s.Host = &h
	}
	if sf.s.Server == nil && server != nil {
		sf.s.Server = server
	}
	if err := sf.save(); err != nil {
		return nil, err
	}
	snap := sf.s.clone()

	ch := &changes{rows: map[string][]Row{}}
	err = isolateAll(ctx, db, p, statuses, sf, o, res, ch)
	if err == nil {
		return res, nil
	}
	if o.Keep {
		return res, &RollbackError{Err: err, State: statePath, Kept: true}
	}
	// Undo what this call did, even when ctx was cancelled; what earlier
	// calls isolated stays isolated.
	timeout := o.RestoreTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	rr, rerr := rollback(rctx, db, p, sf, snap, ch, o)
	res.RolledBack = rr
	re := &RollbackError{Err: err, State: statePath, RestoreErr: rerr, SwitchedBack: rr.SwitchedOn(), Conflicts: rr.Conflicts()}
	if rerr == nil {
		re.StillIsolated = sf.s.Isolated()
	}
	return res, re
}

// changes is what one Isolate call changed, for its own rollback.
type changes struct {
	rows     map[string][]Row // per source, the rows it locked, with the values it read
	files    []FileState
	cron     []CronState
	services []ServiceState
}

func (s *State) clone() *State {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a State always encodes
	}
	var c State
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// rollback switches back on what ch records, in reverse order, and leaves
// the state file as snap (what it held before this call) plus whatever
// could not be switched back.
func rollback(ctx context.Context, db *sql.DB, p *Profile, sf *stateFile, snap *State, ch *changes, o Options) (*RestoreResult, error) {
	rr := &RestoreResult{}
	next := snap.clone()
	for i := len(ch.services) - 1; i >= 0; i-- {
		svc := ch.services[i]
		r := startService(ctx, o, svc, rr)
		if r.Status == "failed" {
			next.Services = keepEntry(next.Services, svc, func(a ServiceState) bool { return a.Name == svc.Name })
		}
	}
	for i := len(ch.cron) - 1; i >= 0; i-- {
		cs := ch.cron[i]
		cr, err := restoreCron(ctx, o.runner(), cs)
		if err != nil {
			return rr, err
		}
		reportCron(o, cr, rr)
		if cr.Status == "partial" || cr.Status == "conflict" {
			next.Cron = keepEntry(next.Cron, cs, func(a CronState) bool { return a.Kind == cs.Kind && a.Path == cs.Path })
		}
	}
	for i := len(ch.files) - 1; i >= 0; i-- {
		fs := ch.files[i]
		fr := restoreFile(fs)
		reportFile(o, fr, rr)
		if fr.Status == "conflict" {
			next.Files = keepEntry(next.Files, fs, func(a FileState) bool { return a.Path == fs.Path })
		}
	}
	for i := len(p.Sources) - 1; i >= 0; i-- {
		rows, ok := ch.rows[p.Sources[i].Name]
		cur := sf.s.source(p.Sources[i].Name)
		if !ok || cur == nil {
			continue
		}
		ss := *cur
		ss.Rows = rows
		sr, err := restoreSource(ctx, db, ss)
		if err != nil {
			return rr, err
		}
		reportSource(o, sr, rr)
		if len(sr.Conflicts) == 0 {
			continue
		}
		// Keep the conflicting rows with their first original value.
		n := next.source(ss.Name)
		if n == nil {
			cp := *cur
			cp.Rows, cp.Status = []Row{}, Started
			next.Sources = append(next.Sources, cp)
			n = &next.Sources[len(next.Sources)-1]
		}
		known := map[string]bool{}
		for _, r := range n.Rows {
			known[keyOf(r.Key)] = true
		}
		for _, c := range sr.Conflicts {
			for _, r := range cur.Rows {
				if r.Key.Equal(c.Key) && !known[keyOf(r.Key)] {
					n.Rows = append(n.Rows, r)
					known[keyOf(r.Key)] = true
				}
			}
		}
	}
	sf.s = next
	return rr, sf.save()
}

// keepEntry puts e into list, replacing the entry same matches.
func keepEntry[T any](list []T, e T, same func(T) bool) []T {
	for i := range list {
		if same(list[i]) {
			list[i] = e
			return list
		}
	}
	return append(list, e)
}

// SwitchedOn says what the restore switched back on, e.g. "mail accounts
// (3 rows), 1 cron line in /etc/crontab, service nginx", or "nothing".
func (r *RestoreResult) SwitchedOn() string {
	if r == nil {
		return "nothing"
	}
	var parts []string
	for _, s := range r.Sources {
		if s.Restored > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s)", s.Name, plural(int(s.Restored), "row")))
		}
	}
	for _, c := range r.Cron {
		if (c.Status == "restored" || c.Status == "partial") && c.Lines > 0 {
			parts = append(parts, fmt.Sprintf("%s in %s", plural(c.Lines, "cron line"), c.Path))
		}
	}
	for _, f := range r.Files {
		if f.Status == "restored" {
			parts = append(parts, "file "+f.Path)
		}
	}
	for _, s := range r.Services {
		if s.Status == "started" {
			parts = append(parts, "service "+s.Name)
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// RollbackError is a failed or cancelled Isolate, after it switched back
// on what that call had changed (unless Options.Keep). What earlier calls
// with the same state file isolated stays isolated.
type RollbackError struct {
	Err   error  // what failed
	State string // the state file
	// Kept is set when Options.Keep left this call's changes in place.
	Kept bool
	// SwitchedBack is what this call had changed and switched back on
	// ("nothing" when it had changed nothing).
	SwitchedBack string
	// StillIsolated is what the state file holds isolated from earlier
	// calls (and conflicts of this one); "" when nothing.
	StillIsolated string
	// Conflicts counts what this call changed but could not switch back.
	Conflicts int
	// RestoreErr is set when switching back failed.
	RestoreErr error
	// RestoreCommand, when set, is how the caller's user restores the
	// state file (the CLI sets "lamigrate restore --dsn ... --state S").
	RestoreCommand string
}

func (e *RollbackError) Unwrap() error { return e.Err }

func (e *RollbackError) Error() string {
	how := "the state file " + e.State
	if e.RestoreCommand != "" {
		how = e.RestoreCommand
	}
	switch {
	case e.Kept:
		return fmt.Sprintf("%v; what was isolated is kept (Keep); restore it with %s", e.Err, how)
	case e.RestoreErr != nil:
		return fmt.Sprintf("%v; switching back on what this run changed also failed: %v; restore with %s", e.Err, e.RestoreErr, how)
	}
	msg := fmt.Sprintf("%v; switched back on what this run changed (%s)", e.Err, e.SwitchedBack)
	if e.Conflicts > 0 {
		msg += fmt.Sprintf(", except %d conflicts kept in the state file", e.Conflicts)
	}
	if e.StillIsolated != "" {
		msg += fmt.Sprintf("; still isolated from earlier runs: %s; restore them with %s", e.StillIsolated, how)
	}
	return msg
}

// ErrJobsPending means Isolate with Cron refused because background jobs
// are still pending; the error is a *JobsPendingError.
var ErrJobsPending = errors.New("isolate: background jobs are still pending")

// JobsPendingError is Isolate's refusal to switch cron off while
// background jobs wait for it. Nothing was changed.
type JobsPendingError struct {
	Count int64
	// Table is the jobs table the drain query counts (or the query).
	Table string
	State string
}

func (e *JobsPendingError) Is(t error) bool { return t == ErrJobsPending }

func (e *JobsPendingError) Error() string {
	return fmt.Sprintf("isolate: %d background jobs are still pending (%s); they run from the cron lines cron isolation would switch off: "+
		"isolate without cron, drain, then isolate with cron and the same state file %s (or set IgnorePendingJobs); nothing was changed", e.Count, e.Table, e.State)
}

var fromRE = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z0-9_$.` + "`" + `]+)`)

// drainTable names the table a drain query counts, or returns the query.
func drainTable(q string) string {
	if m := fromRE.FindStringSubmatch(q); m != nil {
		return strings.Trim(m[1], "`")
	}
	return q
}

// pendingJobs runs the profile's drain query; a failure is a warning.
func pendingJobs(ctx context.Context, db *sql.DB, p *Profile) (int64, string) {
	var n sql.NullInt64
	if err := db.QueryRowContext(ctx, p.Drain()).Scan(&n); err != nil {
		return 0, fmt.Sprintf("cannot count pending background jobs with %q: %v; make sure none is pending before cron goes off", p.Drain(), err)
	}
	return n.Int64, ""
}

// cronDone reports whether the state already holds disabled crontabs.
func cronDone(s *State) bool {
	for _, c := range s.Cron {
		if c.Status == Done {
			return true
		}
	}
	return false
}

// serverOf identifies the database server; nil when it cannot tell.
func serverOf(ctx context.Context, db *sql.DB, dbName string) *Server {
	s := &Server{Database: dbName}
	if err := db.QueryRowContext(ctx, "SELECT @@hostname, @@port").Scan(&s.Hostname, &s.Port); err != nil {
		return nil
	}
	return s
}

// ErrNoCronLine means Isolate with Options.Cron found no active cron line
// running the profile's scripts in the crontabs it looks at, and refused
// before changing anything: switching "cron" off would leave the jobs
// running.
var ErrNoCronLine = errors.New("isolate: no cron line to switch off")

// ErrAlreadyIsolated means Isolate refused a new state file for an
// installation that already looks isolated; the error is an
// *AlreadyIsolatedError.
var ErrAlreadyIsolated = errors.New("isolate: the installation already looks isolated")

// AlreadyIsolatedError is Isolate's refusal to isolate an installation
// that looks isolated into a new state file, which would record the
// isolated values as the originals. Nothing was changed.
type AlreadyIsolatedError struct {
	Database string
	// State is the new state file given.
	State string
	// Other is the state file that holds the originals: not restored,
	// same database, beside State. "" when none was found.
	Other string
	// OtherHolds says what Other holds isolated.
	OtherHolds string
	// Cron are crontabs holding lines with CronMarker.
	Cron []string
	// Written says, when no source has an active row, which rows hold the
	// value isolation writes, e.g. "mail accounts (5 rows at 'I')"; "" when
	// that sign was not seen.
	Written string
}

func (e *AlreadyIsolatedError) Is(t error) bool { return t == ErrAlreadyIsolated }

func (e *AlreadyIsolatedError) Error() string {
	var why []string
	if e.Other != "" {
		why = append(why, fmt.Sprintf("the state file %s holds the original values of an isolation not restored yet (%s)", e.Other, e.OtherHolds))
	}
	if len(e.Cron) > 0 {
		verb := "holds"
		if len(e.Cron) > 1 {
			verb = "hold"
		}
		why = append(why, fmt.Sprintf("%s %s cron lines lamigrate commented out (%q)", strings.Join(e.Cron, ", "), verb, strings.TrimSpace(CronMarker)))
	}
	if e.Written != "" {
		why = append(why, fmt.Sprintf("no source has an active row and %s the value isolation writes", e.Written))
	}
	what := "find the state file that holds the originals (isolate-state.json in the folder of the earlier isolate or run) and continue with it, or restore with it first"
	if e.Other != "" {
		what = "continue with the state file " + e.Other + ", or restore with it first"
	}
	return fmt.Sprintf("isolate: database %s already looks isolated: %s; %s (to isolate into the new state file %s anyway, set AlreadyIsolatedOK); nothing was changed",
		e.Database, strings.Join(why, "; "), what, e.State)
}

// alreadyIsolated looks for signs of an isolation not restored yet: a
// state file of the same database beside statePath, and crontabs with
// CronMarker lines.
func alreadyIsolated(ctx context.Context, db *sql.DB, p *Profile, statuses []SourceStatus, o Options, statePath, dbName string, server *Server) *AlreadyIsolatedError {
	e := &AlreadyIsolatedError{Database: dbName, State: statePath}
	self, _ := filepath.Abs(statePath)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(statePath), "*.json"))
	sort.Strings(matches)
	for _, m := range matches {
		if abs, _ := filepath.Abs(m); abs == self {
			continue
		}
		s, err := ReadState(m)
		if err != nil || s.Database != dbName || s.FullyRestored() || s.Isolated() == "" {
			continue
		}
		if s.Server != nil && server != nil && !s.Server.Same(*server) {
			continue
		}
		if s.Restored != nil && s.RestoreRowsOnly && !sameHost(s, o) {
			continue // a cloud-side copy restored there
		}
		e.Other, e.OtherHolds = m, s.Isolated()
		break
	}
	if o.Cron != nil {
		e.Cron = markedCron(ctx, o.runner(), *o.Cron)
	}
	if e.Other == "" {
		e.Written = writtenRows(ctx, db, p, statuses)
	}
	if e.Other == "" && len(e.Cron) == 0 && e.Written == "" {
		return nil
	}
	return e
}

// writtenRows is the third sign of an installation isolated before: no
// usable source has an active row, yet rows hold the values isolation
// writes. It says which, e.g. "mail accounts (5 rows at 'I')", or "" when
// a source is active or nothing holds those values (a fresh installation
// with nothing switched on is not refused). Errors count as "not seen".
func writtenRows(ctx context.Context, db *sql.DB, p *Profile, statuses []SourceStatus) string {
	for _, st := range statuses {
		if st.Usable() && st.Active != 0 {
			return ""
		}
	}
	var parts []string
	for i, src := range p.Sources {
		if !statuses[i].Usable() {
			continue
		}
		var n int64
		q := "SELECT COUNT(*) FROM " + ident.Quote(src.Table) + " WHERE " + ident.Quote(src.Column) + " <=> ?"
		if err := db.QueryRowContext(ctx, q, src.Write).Scan(&n); err != nil || n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s at %s)", src.Name, plural(int(n), "row"), ident.String(src.Write)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " hold"
}

func sameHost(s *State, o Options) bool {
	return s.Host != nil && s.Host.Same(o.host())
}

func isolateAll(ctx context.Context, db *sql.DB, p *Profile, statuses []SourceStatus, sf *stateFile, o Options, res *Result, ch *changes) error {
	for i, src := range p.Sources {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("isolate: %w", err)
		}
		sr, err := isolateSource(ctx, db, src, statuses[i], sf, o, ch)
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
			fs, w, err := moveAside(o.InstallDir, src, sf, o.Progress, ch)
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
		cs, warns, err := disableCron(ctx, o.runner(), *o.Cron, p.Patterns(), sf, o.Progress, ch)
		res.Cron = cs
		res.Warnings = append(res.Warnings, warns...)
		if err != nil {
			return err
		}
	}
	if o.WebServer != nil {
		ss, warns, err := stopWebServer(ctx, o.runner(), *o.WebServer, sf, o.Progress, ch)
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
func isolateSource(ctx context.Context, db *sql.DB, src Source, st SourceStatus, sf *stateFile, o Options, ch *changes) (SourceResult, error) {
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
	ch.rows[src.Name] = active
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
			args := []any{write.Arg(), batch[0].Original.Arg()}
			for _, r := range batch {
				args = append(args, r.Key.Arg())
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
func moveAside(installDir string, src Source, sf *stateFile, p Progress, ch *changes) (*FileState, string, error) {
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
		if err := atomicfile.Rename(path, aside); err != nil {
			return fs, "", fmt.Errorf("isolate: moving %s aside: %w", path, err)
		}
		ch.files = append(ch.files, *fs)
	}
	fs.Status = Done
	report(p, Event{Step: "file", Name: path, State: "moved aside", Message: aside})
	cp := *fs
	return &cp, "", sf.save()
}

package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/dbconn"
	"github.com/qualityunit/lamigrate/internal/shquote"
)

// Step is one piece of a plan. The standard steps come from NewPlan; a
// program adds its own with Plan.Insert.
type Step struct {
	// Name identifies the step in the journal and the report; unique in
	// a plan.
	Name string
	// Title is a short description for people.
	Title string
	// Do runs the step. It returns what it produced (kept in the journal)
	// or an error. Returning Skip(reason) records the step as skipped.
	Do func(ctx context.Context, s *Session) (Output, error)
	// Redo declares that the step may simply run again when a crash left
	// it started but not finished: it is idempotent, or resumes by itself.
	// When false, a resumed run stops there and says what to check
	// (Check), unless the person names the step in RunOptions.Redo.
	Redo bool
	// Check tells a person what to look at before redoing an interrupted
	// step that is not safe to redo.
	Check string
	// Undo reverts the step's effect when a later step fails (isolate's
	// restore). It runs on a context that Ctrl-C does not cancel, bounded
	// by Config.RollbackTimeout. Nil: nothing to undo.
	Undo func(ctx context.Context, s *Session) error
	// Estimate says how long the step should take, for a dry run. Nil:
	// unknown. The string says what the estimate rests on.
	Estimate func(ctx context.Context, s *Session) (time.Duration, string)
}

// skipError is what Skip returns.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// Skip is returned by a Step's Do to record it as skipped, with a reason.
func Skip(reason string) error { return &skipError{reason: reason} }

// Plan is the ordered steps of one side, with its configuration.
type Plan struct {
	Config Config
	Steps  []Step
}

// NewPlan validates cfg and returns the standard plan of its side.
func NewPlan(cfg Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Plan{Config: cfg, Steps: StandardSteps(cfg.Side)}, nil
}

// Step returns the named step, or nil.
func (p *Plan) Step(name string) *Step {
	for i := range p.Steps {
		if p.Steps[i].Name == name {
			return &p.Steps[i]
		}
	}
	return nil
}

// Insert adds s right after the step named after ("" puts it first).
func (p *Plan) Insert(after string, s Step) error {
	if s.Name == "" || s.Do == nil {
		return errors.New("migrate: a step needs a name and a Do function")
	}
	if p.Step(s.Name) != nil {
		return fmt.Errorf("migrate: the plan already has a step %q", s.Name)
	}
	i := 0
	if after != "" {
		i = slices.IndexFunc(p.Steps, func(x Step) bool { return x.Name == after })
		if i < 0 {
			return fmt.Errorf("migrate: no step %q to insert %q after", after, s.Name)
		}
		i++
	}
	p.Steps = slices.Insert(p.Steps, i, s)
	return nil
}

// RunOptions are the runtime dependencies of a run; none is persisted.
type RunOptions struct {
	// Resume continues the run recorded in the output folder's journal.
	// Without it, an existing journal makes Run refuse.
	Resume bool
	// Redo names interrupted steps a person has checked and allows to run
	// again although they do not declare Redo.
	Redo []string
	// Progress receives events (nil: none).
	Progress Progress
	// Getenv reads the environment variables the config names (nil: no
	// variable is set). Library code never reads the environment itself.
	Getenv func(string) string
	// Secret, when set, returns a function yielding the secret held by
	// the variable env (it may prompt on a terminal); prompt describes it.
	// Nil: the variable is read with Getenv and must be set.
	Secret func(env, prompt string) func() (string, error)
	// DefaultUser is the database user when no source names one (default:
	// the current OS user).
	DefaultUser string
	// ToolVersion is recorded in the dump's header and manifest.
	ToolVersion string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Progress receives what a run does. Implementations must be safe for use
// by the goroutine that calls Run (events arrive one at a time).
type Progress interface {
	Event(Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

// Event implements Progress.
func (f ProgressFunc) Event(e Event) { f(e) }

// EventKind says what an Event reports.
type EventKind string

// Kinds of events.
const (
	EventRunStart     EventKind = "run-start" // Message is the journal's path
	EventStepStart    EventKind = "step-start"
	EventStepProgress EventKind = "step-progress"
	EventStepEnd      EventKind = "step-end" // Record holds the outcome
	EventUndoStart    EventKind = "undo-start"
	EventUndoEnd      EventKind = "undo-end"
	EventInfo         EventKind = "info"
	EventWarning      EventKind = "warning"
)

// Event is one thing a run reports.
type Event struct {
	Kind EventKind
	Step string
	// Index (from 1) and Count place the step in the plan.
	Index, Count int
	// Done and Total measure a step's progress (Total 0: unknown); Bytes
	// says they count bytes.
	Done, Total int64
	Bytes       bool
	Message     string
	// Record is the step's journal record after EventStepEnd/EventUndoEnd.
	Record *StepRecord
}

// Session is what a step sees while it runs: the configuration, what
// earlier steps produced, the database, and the progress sink.
type Session struct {
	// Config is the plan's configuration, with defaults applied.
	Config Config

	opt     RunOptions
	journal *Journal
	db      *sql.DB
	dbRes   *dbconn.Resolved
	step    string
	index   int
	count   int
	out     *Output
	est     *basis
}

// Getenv reads an environment variable through RunOptions.Getenv.
func (s *Session) Getenv(name string) string {
	if s.opt.Getenv == nil || name == "" {
		return ""
	}
	return s.opt.Getenv(name)
}

// Secret returns a function yielding the secret in the environment
// variable env (or prompting, when the caller allows it).
func (s *Session) Secret(env, prompt string) func() (string, error) {
	if s.opt.Secret != nil {
		return s.opt.Secret(env, prompt)
	}
	return func() (string, error) {
		if v := s.Getenv(env); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("migrate: %s needed: set the environment variable %s", strings.ToLower(prompt), env)
	}
}

// Output returns what the named step produced in this run or an earlier
// one, if it is done.
func (s *Session) Output(step string) (Output, bool) {
	if s.journal == nil {
		return Output{}, false
	}
	r := s.journal.Step(step)
	if r == nil || r.Status != Done || r.Output == nil {
		return Output{}, false
	}
	return *r.Output, true
}

// Path returns name inside the output folder.
func (s *Session) Path(name string) string { return filepath.Join(s.Config.OutputDir, name) }

// Progress reports the current step's progress.
func (s *Session) Progress(done, total int64, bytes bool, note string) {
	s.emit(Event{Kind: EventStepProgress, Step: s.step, Index: s.index, Count: s.count,
		Done: done, Total: total, Bytes: bytes, Message: note})
}

// Info reports something worth knowing.
func (s *Session) Info(format string, args ...any) {
	s.emit(Event{Kind: EventInfo, Step: s.step, Message: fmt.Sprintf(format, args...)})
}

// Warn reports something a person should read; it is also recorded in the
// step's output.
func (s *Session) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.out != nil {
		s.out.Warnings = append(s.out.Warnings, msg)
	}
	s.emit(Event{Kind: EventWarning, Step: s.step, Message: msg})
}

func (s *Session) emit(e Event) {
	if s.opt.Progress != nil {
		s.opt.Progress.Event(e)
	}
}

func (s *Session) now() time.Time {
	if s.opt.Now != nil {
		return s.opt.Now()
	}
	return time.Now()
}

// Resolve returns the configured connection without connecting.
func (s *Session) Resolve() (*dbconn.Resolved, error) {
	if s.dbRes != nil {
		return s.dbRes, nil
	}
	c := s.Config.Connection
	dsn := c.DSN
	if c.DSNEnv != "" {
		if v := s.Getenv(c.DSNEnv); v != "" {
			dsn = v
		} else if dsn == "" {
			return nil, fmt.Errorf("migrate: connection.dsn_env names %s, which is not set", c.DSNEnv)
		}
	}
	def := s.opt.DefaultUser
	if def == "" {
		def = "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			def = u.Username
		}
	}
	r, err := dbconn.Sources{DSN: dsn, DefaultsFile: c.DefaultsFile, InstallDir: c.InstallDir,
		Password: s.Getenv(c.PasswordEnv), DefaultUser: def}.Resolve()
	if err != nil {
		return nil, err
	}
	if r.Config.DBName == "" {
		return nil, errors.New("migrate: the connection names no database: put it in connection.dsn (.../dbname), the defaults file (database=) or settings.php (DB_DATABASE)")
	}
	s.dbRes = r
	return r, nil
}

// DB returns the configured database, connecting on first use. The run
// closes it at its end.
func (s *Session) DB(ctx context.Context) (*sql.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, err
	}
	db, err := dbconn.Open(ctx, r)
	if err != nil {
		return nil, err
	}
	s.db = db
	return db, nil
}

func (s *Session) close() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// Report is a run's outcome: every step, its duration and result.
type Report struct {
	Side    Side      `json:"side"`
	Journal string    `json:"journal"`
	Result  string    `json:"result"` // done, failed, interrupted, stopped
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Seconds float64   `json:"seconds"`
	Resumed bool      `json:"resumed,omitempty"`
	// FailedStep names the step that failed, if one did.
	FailedStep string `json:"failed_step,omitempty"`
	// RolledBack says a failure was followed by a rollback; the steps
	// rolled back have an Undo record without an error.
	RolledBack bool `json:"rolled_back,omitempty"`
	// StayedIsolated says a failure left the installation isolated on
	// purpose (isolate.stay_isolated_on_failure); RestoreCommand undoes
	// it by hand.
	StayedIsolated bool         `json:"stayed_isolated,omitempty"`
	RestoreCommand string       `json:"restore_command,omitempty"`
	Steps          []StepRecord `json:"steps"`
	Error          string       `json:"error,omitempty"`
}

// InterruptedError: a resumed run found a step that was in progress when
// the last run stopped, and the step is not safe to redo.
type InterruptedError struct {
	Step  string
	Check string
}

func (e *InterruptedError) Error() string {
	msg := fmt.Sprintf("migrate: step %s was in progress when the last run stopped and is not safe to redo", e.Step)
	if e.Check != "" {
		msg += ": " + e.Check
	}
	return msg + fmt.Sprintf("; when it is safe, resume again naming it to redo (--redo %s)", e.Step)
}

// StepError is a step's failure.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Step+": ") {
		return "migrate: " + msg
	}
	return fmt.Sprintf("migrate: step %s: %s", e.Step, msg)
}
func (e *StepError) Unwrap() error { return e.Err }

// Run executes the plan: every step not done yet, in order, recorded in
// the journal. On a step's failure (Ctrl-C included) it rolls back the
// steps that have an Undo, unless Config.Isolate.StayIsolatedOnFailure,
// and returns the report together with a *StepError. The report is
// returned whenever the journal could be opened.
func (p *Plan) Run(ctx context.Context, opt RunOptions) (*Report, error) {
	cfg := p.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	s := &Session{Config: cfg, opt: opt, count: len(p.Steps)}
	defer s.close()
	if err := os.MkdirAll(cfg.OutputDir, 0o700); err != nil {
		return nil, fmt.Errorf("migrate: output folder: %w", err)
	}
	jpath := JournalPath(cfg)
	lpath := lockPath(jpath)
	lock, err := lockFile(lpath)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := unlockFile(lock, lpath); err != nil {
			s.step = ""
			s.emit(Event{Kind: EventWarning, Message: err.Error()})
		}
	}()

	j, err := p.openJournal(s, jpath, opt)
	if err != nil {
		return nil, err
	}
	s.journal = j
	start := s.now()
	rep := &Report{Side: cfg.Side, Journal: jpath, Started: start, Resumed: opt.Resume}
	j.Runs = append(j.Runs, RunRecord{Started: start, Resumed: opt.Resume})
	finish := func(result string, runErr error) (*Report, error) {
		end := s.now()
		rr := &j.Runs[len(j.Runs)-1]
		rr.Ended, rr.Result = end, result
		if runErr != nil {
			rr.Error = runErr.Error()
		}
		serr := j.save(end)
		rep.Result, rep.Ended, rep.Seconds = result, end, end.Sub(start).Seconds()
		rep.Steps = slices.Clone(j.Steps)
		if runErr == nil && serr != nil {
			runErr = serr
		}
		if runErr != nil {
			rep.Error = runErr.Error()
		}
		return rep, runErr
	}
	if err := j.save(start); err != nil {
		return nil, err
	}
	s.emit(Event{Kind: EventRunStart, Count: len(p.Steps), Message: jpath})

	for i := range p.Steps {
		st := &p.Steps[i]
		rec := j.Step(st.Name)
		s.step, s.index = st.Name, i+1
		if rec.Status == Done || rec.Status == Skipped {
			s.emit(Event{Kind: EventStepEnd, Step: st.Name, Index: i + 1, Count: len(p.Steps),
				Message: "already " + string(rec.Status) + " in an earlier run", Record: copyRec(rec)})
			continue
		}
		if slices.Contains(cfg.Skip, st.Name) {
			rec.Status, rec.Note = Skipped, "skipped by the configuration"
			if err := j.save(s.now()); err != nil {
				return finish("failed", err)
			}
			s.emit(Event{Kind: EventStepEnd, Step: st.Name, Index: i + 1, Count: len(p.Steps), Message: rec.Note, Record: copyRec(rec)})
			continue
		}
		if err := ctx.Err(); err != nil {
			return finish("interrupted", p.rollback(ctx, s, i-1, &StepError{Step: st.Name, Err: err}, rep))
		}
		if rec.Status == Started {
			rec.Note = "redone: the last run stopped inside this step"
		} else {
			rec.Note = ""
		}
		t0 := s.now()
		rec.Status, rec.Started, rec.Ended, rec.Seconds = Started, t0, time.Time{}, 0
		rec.Attempts++
		rec.Error, rec.Output, rec.Undo = "", nil, nil
		if err := j.save(t0); err != nil {
			return finish("failed", err)
		}
		s.emit(Event{Kind: EventStepStart, Step: st.Name, Index: i + 1, Count: len(p.Steps), Message: st.Title})

		out := &Output{}
		s.out = out
		o, err := callStep(ctx, st, s)
		s.out = nil
		o.Warnings = append(out.Warnings, o.Warnings...)
		t1 := s.now()
		rec.Ended, rec.Seconds = t1, t1.Sub(t0).Seconds()
		var skip *skipError
		switch {
		case errors.As(err, &skip):
			rec.Status, rec.Note = Skipped, skip.reason
		case err != nil:
			rec.Status, rec.Error = Failed, err.Error()
		default:
			rec.Status = Done
		}
		if !isEmpty(o) {
			rec.Output = &o
		}
		serr := j.save(t1)
		s.emit(Event{Kind: EventStepEnd, Step: st.Name, Index: i + 1, Count: len(p.Steps), Message: rec.Note, Record: copyRec(rec)})
		if rec.Status == Failed {
			rep.FailedStep = st.Name
			result := "failed"
			if ctx.Err() != nil {
				result = "interrupted"
			}
			return finish(result, p.rollback(ctx, s, i, &StepError{Step: st.Name, Err: err}, rep))
		}
		if serr != nil {
			return finish("failed", serr)
		}
	}
	return finish("done", nil)
}

// callStep runs a step, turning a panic into an error so the rollback
// still happens.
func callStep(ctx context.Context, st *Step, s *Session) (o Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return st.Do(ctx, s)
}

func isEmpty(o Output) bool {
	return len(o.Files) == 0 && len(o.Counts) == 0 && len(o.Values) == 0 && len(o.Warnings) == 0
}

func copyRec(r *StepRecord) *StepRecord {
	c := *r
	return &c
}

// check validates the steps themselves.
func (p *Plan) check() error {
	seen := map[string]bool{}
	for _, st := range p.Steps {
		if st.Name == "" || st.Do == nil {
			return errors.New("migrate: every step needs a name and a Do function")
		}
		if seen[st.Name] {
			return fmt.Errorf("migrate: the plan has two steps named %q", st.Name)
		}
		seen[st.Name] = true
	}
	return nil
}

// openJournal creates the journal or, when resuming, reads it and checks
// that it belongs to this plan and that no interrupted step is unsafe.
func (p *Plan) openJournal(s *Session, path string, opt RunOptions) (*Journal, error) {
	cfg := s.Config
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if !exists && !errors.Is(statErr, os.ErrNotExist) {
		return nil, fmt.Errorf("migrate: journal: %w", statErr)
	}
	switch {
	case exists && !opt.Resume:
		j, err := ReadJournal(path)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w (%s): resume it with --resume, or move it aside to start a new migration", ErrJournalExists, path)
		}
		return nil, fmt.Errorf("migrate: %w (%s, %s): resume it with --resume, or move it aside to start a new migration",
			ErrJournalExists, path, j.summary())
	case !exists && opt.Resume:
		return nil, fmt.Errorf("migrate: %w in %s: run without --resume to start a migration", ErrNoJournal, cfg.OutputDir)
	case !exists:
		now := s.now()
		j := &Journal{Format: JournalFormat, Side: cfg.Side, Created: now, Config: cfg, path: path}
		for _, st := range p.Steps {
			j.Steps = append(j.Steps, StepRecord{Name: st.Name, Title: st.Title, Status: Pending})
		}
		return j, nil
	}
	j, err := ReadJournal(path)
	if err != nil {
		return nil, err
	}
	if err := sameMigration(j.Config, cfg); err != nil {
		return nil, err
	}
	// Order the records as the plan; refuse records the plan lacks.
	byName := map[string]StepRecord{}
	for _, r := range j.Steps {
		byName[r.Name] = r
	}
	var recs []StepRecord
	for _, st := range p.Steps {
		r, ok := byName[st.Name]
		if !ok {
			r = StepRecord{Name: st.Name, Status: Pending}
		}
		r.Title = st.Title
		delete(byName, st.Name)
		recs = append(recs, r)
	}
	for name, r := range byName {
		if r.Status == Started || r.Status == Done {
			return nil, fmt.Errorf("migrate: the journal %s has a step %q (%s) that this plan does not have: resume with the same plan", path, name, r.Status)
		}
	}
	for _, r := range recs {
		if r.Status != Started {
			continue
		}
		st := p.Step(r.Name)
		if !st.Redo && !slices.Contains(opt.Redo, r.Name) {
			return nil, &InterruptedError{Step: r.Name, Check: st.Check}
		}
	}
	j.Steps = recs
	j.Config = cfg
	return j, nil
}

// summary describes a journal in one phrase.
func (j *Journal) summary() string {
	var done []string
	last := ""
	for _, r := range j.Steps {
		switch r.Status {
		case Done, Skipped:
			done = append(done, r.Name)
		case Started, Failed, Undone:
			if last == "" {
				last = r.Name + " " + string(r.Status)
			}
		}
	}
	s := fmt.Sprintf("last written %s", j.Updated.Format(time.RFC3339))
	if len(done) > 0 {
		s += ", done: " + strings.Join(done, " ")
	}
	if last != "" {
		s += ", " + last
	}
	if len(done) == len(j.Steps) {
		s += ", the migration finished"
	}
	return s
}

// sameMigration refuses to resume a journal with a configuration that
// describes another migration. Options (timeouts, threads, ...) may change.
func sameMigration(old, cur Config) error {
	diff := func(what, a, b string) error {
		return fmt.Errorf("migrate: the journal in %s was written for %s %q, the config now says %q: resume with the same %s, or use another output_dir",
			cur.OutputDir, what, a, b, what)
	}
	o, c := old.WithDefaults(), cur.WithDefaults()
	switch {
	case o.Side != c.Side:
		return diff("side", string(o.Side), string(c.Side))
	case o.Archive != c.Archive:
		return diff("archive", o.Archive, c.Archive)
	case o.Connection != c.Connection:
		return diff("connection", fmt.Sprint(o.Connection), fmt.Sprint(c.Connection))
	case o.StatePath() != c.StatePath():
		return diff("state file", o.StatePath(), c.StatePath())
	}
	return nil
}

// rollback undoes, in reverse order, every step up to index last that has
// an Undo and did something, unless the configuration says to stay
// isolated. It returns cause joined with any rollback failure.
func (p *Plan) rollback(ctx context.Context, s *Session, last int, cause error, rep *Report) error {
	cfg := s.Config
	var todo []int
	for i := last; i >= 0; i-- {
		r := s.journal.Step(p.Steps[i].Name)
		if p.Steps[i].Undo != nil && (r.Status == Done || r.Status == Started || r.Status == Failed) {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return cause
	}
	if cfg.Isolate.StayIsolatedOnFailure {
		s.step = ""
		rep.StayedIsolated, rep.RestoreCommand = true, cfg.RestoreCommand()
		s.Warn("not rolling back (isolate.stay_isolated_on_failure): the installation stays isolated; undo it with %s", rep.RestoreCommand)
		return cause
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RollbackTimeout.D())
	defer cancel()
	rep.RolledBack = true
	errs := []error{cause}
	first := -1
	for _, i := range todo {
		st := &p.Steps[i]
		r := s.journal.Step(st.Name)
		s.step, s.index = st.Name, i+1
		s.emit(Event{Kind: EventUndoStart, Step: st.Name, Index: i + 1, Count: len(p.Steps), Message: "rolling back " + st.Name})
		u := &UndoRecord{Started: s.now()}
		err := st.Undo(rctx, s)
		u.Ended = s.now()
		r.Undo = u
		if err != nil {
			u.Error = err.Error()
			errs = append(errs, fmt.Errorf("rolling back %s failed: %w", st.Name, err))
		} else {
			r.Status = Undone
			first = i
		}
		s.journal.save(u.Ended)
		s.emit(Event{Kind: EventUndoEnd, Step: st.Name, Index: i + 1, Count: len(p.Steps), Record: copyRec(r)})
	}
	// What ran after a rolled-back step depended on it: run it again.
	if first >= 0 {
		for i := first + 1; i < len(p.Steps); i++ {
			r := s.journal.Step(p.Steps[i].Name)
			if r.Status == Done {
				r.Status, r.Note = Pending, "to redo: "+p.Steps[first].Name+" was rolled back"
			}
		}
		s.journal.save(s.now())
	}
	return errors.Join(errs...)
}

// RestoreCommand is the lamigrate restore command that puts back what the
// source side isolated, with the configured connection and state file,
// quoted for a POSIX shell. A DSN held in an environment variable is
// referred to by name ("$SRC_DSN"), and so is a password variable other
// than MYSQL_PWD, so the command works where those variables are set.
func (c Config) RestoreCommand() string {
	conn := c.Connection
	var b strings.Builder
	if conn.PasswordEnv != "" && conn.PasswordEnv != "MYSQL_PWD" {
		fmt.Fprintf(&b, `MYSQL_PWD="$%s" `, conn.PasswordEnv)
	}
	b.WriteString("lamigrate restore")
	switch {
	case conn.DSNEnv != "":
		fmt.Fprintf(&b, ` --dsn "$%s"`, conn.DSNEnv)
	case conn.DSN != "":
		b.WriteString(" --dsn " + shquote.Quote(conn.DSN))
	}
	if conn.DefaultsFile != "" {
		b.WriteString(" --defaults-file " + shquote.Quote(conn.DefaultsFile))
	}
	if conn.InstallDir != "" {
		b.WriteString(" --install-dir " + shquote.Quote(conn.InstallDir))
	}
	b.WriteString(" --state " + shquote.Quote(c.StatePath()))
	return b.String()
}

package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

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

// session checks the plan and its configuration (defaults applied) and
// starts the Session a Run or DryRun works in.
func (p *Plan) session(opt RunOptions) (*Session, error) {
	cfg := p.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &Session{Config: cfg, opt: opt, count: len(p.Steps)}, nil
}

// Run executes the plan: every step not done yet, in order, recorded in
// the journal. On a step's failure (Ctrl-C included) it rolls back the
// steps that have an Undo, unless Config.Isolate.StayIsolatedOnFailure,
// and returns the report together with a *StepError. The report is
// returned whenever the journal could be opened.
func (p *Plan) Run(ctx context.Context, opt RunOptions) (*Report, error) {
	s, err := p.session(opt)
	if err != nil {
		return nil, err
	}
	defer s.close()
	cfg := s.Config
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

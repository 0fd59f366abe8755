package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
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

// NewPlan validates cfg and returns the standard plan of its side:
// StandardSteps, or StreamingSteps when cfg.Stream.
func NewPlan(cfg Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	n, err := resolveCopy(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Copy = n
	return &Plan{Config: cfg, Steps: cfg.steps()}, nil
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/shquote"
	"github.com/qualityunit/lamigrate/migrate"
)

type runCmd struct {
	Config string   `name:"config" required:"" help:"Migration config file (JSON)." placeholder:"FILE"`
	Resume bool     `name:"resume" help:"Continue a run that stopped, from its journal."`
	DryRun bool     `name:"dry-run" help:"Print the plan with the estimated duration of each step; change nothing."`
	Redo   []string `name:"redo" help:"Redo this interrupted step although it is not known to be safe (after checking it; with --resume)." placeholder:"STEP"`
}

func (c *runCmd) Run(ctx context.Context, e *env) error {
	cfg, err := migrate.LoadConfig(c.Config)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	plan, err := migrate.NewPlan(cfg)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	if len(c.Redo) > 0 && !c.Resume {
		return usageErr("--redo only makes sense with --resume")
	}
	opt := migrate.RunOptions{
		Resume:      c.Resume,
		Redo:        c.Redo,
		Getenv:      e.getenv,
		Secret:      func(env, prompt string) func() (string, error) { return e.secret(env, prompt) },
		ToolVersion: version,
	}
	if c.DryRun {
		d, err := plan.DryRun(ctx, opt)
		if err != nil {
			return err
		}
		if err := e.ui.result(d, func(w io.Writer) { printDryRun(w, d) }); err != nil {
			return err
		}
		if n := len(d.Blockers); n > 0 {
			return withStatus(exitCheckBlockers, fmt.Errorf("the dry run found %d blocker(s): %s; fix them and run %s again",
				n, strings.Join(d.Blockers, "; "), c.command("--dry-run")))
		}
		return nil
	}
	opt.Progress = &runProgress{u: e.ui}
	rep, err := plan.Run(ctx, opt)
	if rep != nil {
		if perr := e.ui.result(rep, func(w io.Writer) { printRunReport(w, rep, c.command("--resume")) }); perr != nil && err == nil {
			err = perr
		}
	}
	var ie *migrate.InterruptedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, migrate.ErrJournalExists):
		return withStatus(exitUsage, fmt.Errorf("%w: %s", err, c.command("--resume")))
	case errors.Is(err, migrate.ErrNoJournal):
		return withStatus(exitUsage, fmt.Errorf("%w; to start one: %s", err, c.command()))
	case errors.As(err, &ie):
		msg := fmt.Sprintf("step %s was in progress when the last run stopped and is not safe to redo", ie.Step)
		if ie.Check != "" {
			msg += ": " + ie.Check
		}
		return &runError{msg: msg + "; when it is safe, continue with: " + c.command("--resume", "--redo", ie.Step), err: err}
	case rep != nil && rep.FailedStep != "":
		return &runError{msg: failureLine(rep, err, c.command("--resume")), err: err}
	}
	return err
}

// command is this run's command line with extra flags, quoted so that it
// works when pasted: the config path as it was given.
func (c *runCmd) command(extra ...string) string {
	return shquote.Join(append([]string{"lamigrate", "run", "--config", c.Config}, extra...)...)
}

// runError is run's final error: one line saying which step failed, why,
// what was rolled back and how to continue. It wraps the plan's error, so
// the exit status still follows it (130 after Ctrl-C).
type runError struct {
	msg string
	err error
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.err }

// failureLine says which step failed and why, what the rollback did and
// the command that continues the run.
func failureLine(rep *migrate.Report, err error, resume string) string {
	why := rep.Error
	var se *migrate.StepError
	if errors.As(err, &se) {
		why = se.Err.Error()
	}
	why = trimOwnPrefixes(rep.FailedStep, oneLine(why))
	verb := "failed"
	if rep.Result == "interrupted" {
		verb = "was interrupted"
	}
	msg := fmt.Sprintf("step %s %s: %s", rep.FailedStep, verb, why)
	var undone, undoFailed []string
	for _, s := range rep.Steps {
		if s.Undo == nil {
			continue
		}
		if s.Undo.Error != "" {
			undoFailed = append(undoFailed, s.Name+" ("+oneLine(s.Undo.Error)+")")
		} else {
			undone = append(undone, s.Name)
		}
	}
	switch {
	case rep.StayedIsolated:
		msg += "; nothing rolled back (isolate.stay_isolated_on_failure): the installation stays isolated, undo it with " + rep.RestoreCommand
	case len(undone) == 0 && len(undoFailed) == 0:
		msg += "; nothing to roll back"
	default:
		if len(undone) > 0 {
			msg += "; rolled back: " + strings.Join(undone, ", ")
		}
		if len(undoFailed) > 0 {
			msg += "; rollback FAILED for " + strings.Join(undoFailed, ", ") + ": put those back by hand"
		}
	}
	return msg + "; fix the cause, then continue with: " + resume
}

// runProgress renders the plan's events with the CLI's progress display.
type runProgress struct {
	u    *ui
	task *task
}

func (p *runProgress) Event(ev migrate.Event) {
	prefix := fmt.Sprintf("[%d/%d] %s", ev.Index, ev.Count, ev.Step)
	switch ev.Kind {
	case migrate.EventRunStart:
		p.u.info("journal: %s", ev.Message)
	case migrate.EventStepStart:
		p.u.info("%s: %s", prefix, ev.Message)
	case migrate.EventStepProgress:
		if p.task != nil && p.task.bytes != ev.Bytes {
			// The step now counts something else (bytes, then rows): a
			// new display, so items are never shown as bytes.
			p.task.abandon()
			p.task = nil
		}
		if p.task == nil {
			p.task = p.u.task(ev.Step, ev.Total, ev.Bytes)
		}
		p.task.Update(ev.Done, ev.Total, ev.Message)
	case migrate.EventStepEnd:
		r := ev.Record
		if p.task != nil {
			if r.Status == migrate.Done {
				p.task.Complete(string(r.Status))
			} else {
				p.task.Stop(string(r.Status))
			}
			p.task = nil
		}
		switch r.Status {
		case migrate.Failed:
			p.u.errorf("%s failed after %s: %s", prefix, round(r.Duration()), trimOwnPrefixes(ev.Step, oneLine(r.Error)))
		case migrate.Done:
			if ev.Message != "" && strings.HasPrefix(ev.Message, "already") {
				p.u.info("%s: %s", prefix, ev.Message)
			} else {
				p.u.info("%s: done in %s%s", prefix, round(r.Duration()), outputNote(r.Output))
			}
		default:
			p.u.info("%s: %s (%s)", prefix, r.Status, ev.Message)
		}
	case migrate.EventUndoStart:
		p.u.warn("%s: rolling back", prefix)
	case migrate.EventUndoEnd:
		if ev.Record.Undo != nil && ev.Record.Undo.Error != "" {
			p.u.warn("%s: rollback FAILED: %s", prefix, ev.Record.Undo.Error)
		} else {
			p.u.warn("%s: rolled back", prefix)
		}
	case migrate.EventWarning:
		if ev.Step == "" {
			p.u.warn("%s", ev.Message)
		} else {
			p.u.warn("%s: %s", ev.Step, ev.Message)
		}
	case migrate.EventInfo:
		if ev.Step == "" {
			p.u.info("%s", ev.Message)
		} else {
			p.u.info("%s: %s", ev.Step, ev.Message)
		}
	}
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// outputNote summarises a step's output in a few words.
func outputNote(o *migrate.Output) string {
	if o == nil {
		return ""
	}
	var parts []string
	for _, f := range o.Files {
		parts = append(parts, fmt.Sprintf("%s (%s)", f.Path, bytesize.Format(f.Size)))
	}
	keys := make([]string, 0, len(o.Counts))
	for k := range o.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, o.Counts[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

func printRunReport(w io.Writer, r *migrate.Report, resume string) {
	fmt.Fprintf(w, "%s side: %s in %s", r.Side, r.Result, round(time.Duration(r.Seconds*float64(time.Second))))
	if r.RolledBack {
		fmt.Fprint(w, " (rolled back)")
	}
	fmt.Fprintf(w, "\njournal: %s\n", r.Journal)
	for i, s := range r.Steps {
		d := "-"
		if s.Seconds > 0 {
			d = round(s.Duration()).String()
		}
		fmt.Fprintf(w, "%2d  %-10s %-8s %9s", i+1, s.Name, s.Status, d)
		switch {
		case s.Error != "":
			fmt.Fprintf(w, "  %s", oneLine(s.Error))
		case s.Note != "":
			fmt.Fprintf(w, "  %s", s.Note)
		default:
			fmt.Fprint(w, strings.TrimPrefix(outputNote(s.Output), ":"))
		}
		if s.Undo != nil {
			if s.Undo.Error != "" {
				fmt.Fprintf(w, "  [rollback failed: %s]", oneLine(s.Undo.Error))
			} else {
				fmt.Fprint(w, "  [rolled back]")
			}
		}
		fmt.Fprintln(w)
	}
	switch r.Result {
	case "done":
	case "interrupted", "failed":
		fmt.Fprintln(w, "continue with: "+resume)
	}
}

func printDryRun(w io.Writer, d *migrate.DryRun) {
	j := d.Journal + ", not written yet"
	if d.JournalExists {
		j = d.Journal + ", run with --resume"
	}
	fmt.Fprintf(w, "plan for the %s side (journal: %s)\n", d.Side, j)
	for i, s := range d.Steps {
		est := "-"
		if s.Status != migrate.Done && s.Status != migrate.Skipped {
			est = "?"
			switch {
			case s.EstimateSeconds >= 1:
				est = "~" + s.Estimate().String()
			case s.EstimateSeconds > 0:
				est = "<1s"
			}
		}
		fmt.Fprintf(w, "%2d  %-10s %-8s %9s  %s", i+1, s.Name, s.Status, est, s.Title)
		if s.Basis != "" {
			fmt.Fprintf(w, " (%s)", s.Basis)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "estimated total: ~%s\n", time.Duration(d.TotalSeconds*float64(time.Second)).Round(time.Second))
	if d.Basis != "" {
		fmt.Fprintf(w, "sizes: %s\n", d.Basis)
	}
	for _, b := range d.Blockers {
		fmt.Fprintf(w, "blocker: %s\n", oneLine(b))
	}
}

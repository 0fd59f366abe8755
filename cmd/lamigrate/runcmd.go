package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/migrate"
)

type runCmd struct {
	Config string   `name:"config" required:"" help:"Migration config file (JSON)." placeholder:"FILE"`
	Resume bool     `name:"resume" help:"Continue a run that stopped, from its journal."`
	DryRun bool     `name:"dry-run" help:"Print the plan with the estimated duration of each step; change nothing."`
	Redo   []string `name:"redo" help:"Redo this interrupted step although it is not known to be safe (after checking it; with --resume)." placeholder:"STEP"`
}

func (c *runCmd) Run(e *env) error {
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
		d, err := plan.DryRun(e.ctx, opt)
		if err != nil {
			return err
		}
		return e.ui.result(d, func(w io.Writer) { printDryRun(w, d) })
	}
	opt.Progress = &runProgress{u: e.ui}
	rep, err := plan.Run(e.ctx, opt)
	if rep != nil {
		if perr := e.ui.result(rep, func(w io.Writer) { printRunReport(w, rep) }); perr != nil && err == nil {
			err = perr
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, migrate.ErrJournalExists), errors.Is(err, migrate.ErrNoJournal):
		return withStatus(exitUsage, err)
	}
	return err
}

// runProgress renders the plan's events with the CLI's progress display.
type runProgress struct {
	u    *ui
	task *task
}

func (p *runProgress) Event(ev migrate.Event) {
	prefix := fmt.Sprintf("[%d/%d] %s", ev.Index, ev.Count, ev.Step)
	switch ev.Kind {
	case migrate.EventStepStart:
		p.u.info("%s: %s", prefix, ev.Message)
	case migrate.EventStepProgress:
		if p.task == nil {
			p.task = p.u.task(ev.Step, ev.Total, ev.Bytes)
		}
		p.task.Update(ev.Done, ev.Total, ev.Message)
	case migrate.EventStepEnd:
		r := ev.Record
		if p.task != nil {
			p.task.Finish(string(r.Status))
			p.task = nil
		}
		switch r.Status {
		case migrate.Failed:
			p.u.warn("%s failed after %s: %s", prefix, round(r.Duration()), r.Error)
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
		p.u.warn("%s: %s", prefix, ev.Message)
	case migrate.EventUndoEnd:
		if ev.Record.Undo != nil && ev.Record.Undo.Error != "" {
			p.u.warn("%s: rollback FAILED: %s", prefix, ev.Record.Undo.Error)
		} else {
			p.u.warn("%s: rolled back", prefix)
		}
	case migrate.EventWarning:
		p.u.warn("%s", ev.Message)
	case migrate.EventInfo:
		p.u.info("%s: %s", ev.Step, ev.Message)
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

func printRunReport(w io.Writer, r *migrate.Report) {
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
		fmt.Fprintln(w, "continue with: lamigrate run --config FILE --resume")
	}
}

func printDryRun(w io.Writer, d *migrate.DryRun) {
	j := "none yet"
	if d.JournalExists {
		j = d.Journal + " (run with --resume)"
	}
	fmt.Fprintf(w, "plan for the %s side (journal: %s)\n", d.Side, j)
	for i, s := range d.Steps {
		est := "-"
		if s.Status != migrate.Done && s.Status != migrate.Skipped {
			est = "?"
			if s.EstimateSeconds > 0 {
				est = "~" + s.Estimate().String()
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
}

// Command summary prints the demo's table of migration phases: for each
// phase what moved (the archive, the rows it writes and deletes) and how
// long each side took, and for the phases that switch the help desk off
// how long it stayed off. scripts/demo.sh runs it at the end.
//
//	go run ./scripts/demo/summary LABEL SOURCE-JOURNAL CLOUD-JOURNAL ...
//
// It reads each phase's two run journals (migrate.ReadJournal) and the
// manifest of the archive the source side's dump step wrote: a delta's
// manifest says per table how many rows it deletes and writes. The help
// desk is off from the start of the source side's isolate step to the end
// of the cloud side's run (the time between the two runs, here a few
// milliseconds, is not counted); a phase without an isolate step kept it
// live. The archive's size includes a delta's changes file, which travels
// with it. The last line compares the last phase that switched the help
// desk off with the first (the cutover with the one-shot run). It changes
// nothing.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/migrate"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}

// phase is one row of the table.
type phase struct {
	label         string
	live          bool
	archive       int64 // the archive's size, plus a delta's changes file
	written       int64 // rows the archive writes (all rows of a full dump)
	deleted       int64
	full          bool
	tables        []string // a delta's tables with their changes
	blocks        int64
	changedBlocks int64
	source, cloud time.Duration
	off, drain    time.Duration
}

func run(w io.Writer, args []string) error {
	if len(args) == 0 || len(args)%3 != 0 {
		return errors.New("want LABEL SOURCE-JOURNAL CLOUD-JOURNAL, once per phase")
	}
	var phases []phase
	for i := 0; i < len(args); i += 3 {
		p, err := read(args[i], args[i+1], args[i+2])
		if err != nil {
			return fmt.Errorf("%s: %w", args[i], err)
		}
		phases = append(phases, p)
	}
	printTable(w, phases)
	return nil
}

func read(label, sourceJournal, cloudJournal string) (phase, error) {
	p := phase{label: label}
	src, err := migrate.ReadJournal(sourceJournal)
	if err != nil {
		return p, err
	}
	cloud, err := migrate.ReadJournal(cloudJournal)
	if err != nil {
		return p, err
	}
	p.source, p.cloud = lastRun(src), lastRun(cloud)
	dump := src.Step(migrate.StepDump)
	if dump == nil || dump.Output == nil || len(dump.Output.Files) == 0 {
		return p, fmt.Errorf("%s: no dump step with its archive", sourceJournal)
	}
	archive := dump.Output.Files[0]
	m, err := manifest.Read(manifest.PathFor(archive.Path))
	if err != nil {
		return p, err
	}
	p.archive = archive.Size
	if d := m.Delta; d != nil {
		p.archive += d.Changes.Size
		for _, t := range d.Tables {
			p.written += t.Replaced
			p.deleted += t.Deleted
			p.blocks += t.Blocks
			p.changedBlocks += t.ChangedBlocks
			note := t.Name + " "
			switch t.Action {
			case manifest.DeltaRows:
				note += fmt.Sprintf("%d/%d", t.Replaced, t.Deleted)
			default:
				note += fmt.Sprintf("%d/all (%s: %s)", t.Replaced, t.Action, t.Why)
			}
			p.tables = append(p.tables, note)
		}
	} else {
		p.full = true
		for _, t := range m.Tables {
			p.written += t.Rows
		}
	}
	if iso := src.Step(migrate.StepIsolate); iso != nil && iso.Status == migrate.Done {
		last := src.Steps[len(src.Steps)-1]
		p.off = last.Ended.Sub(iso.Started) + p.cloud
		if d := src.Step(migrate.StepDrain); d != nil {
			p.drain = d.Duration()
		}
	} else {
		p.live = true
	}
	return p, nil
}

// lastRun is the duration of the journal's last run.
func lastRun(j *migrate.Journal) time.Duration {
	if len(j.Runs) == 0 {
		return 0
	}
	r := j.Runs[len(j.Runs)-1]
	return r.Ended.Sub(r.Started)
}

func printTable(w io.Writer, phases []phase) {
	const row = "%-14s %-9s %10s  %-26s %7s %7s  %s\n"
	fmt.Fprintf(w, row, "phase", "help desk", "archive", "rows in the archive", "source", "cloud", "help desk off")
	var first, last *phase
	for i, p := range phases {
		desk, off := "live", "-"
		if !p.live {
			desk, off = "off", p.offTime()
			if first == nil {
				first = &phases[i]
			}
			last = &phases[i]
		}
		rows := fmt.Sprintf("%d written, %d deleted", p.written, p.deleted)
		if p.full {
			rows = fmt.Sprintf("%d (every row)", p.written)
		}
		fmt.Fprintf(w, row, p.label, desk, bytesize.Format(p.archive), rows, secs(p.source), secs(p.cloud), off)
		if !p.full {
			slices.Sort(p.tables)
			text := "rows written/deleted: " + strings.Join(p.tables, ", ")
			if p.blocks > 0 {
				text += fmt.Sprintf("; %d of %d blocks of keys held a change", p.changedBlocks, p.blocks)
			}
			wrap(w, strings.Repeat(" ", 17), text, 100)
		}
	}
	if first != nil && last != first {
		fmt.Fprintf(w, "the %s moved %s (%.2f%% of the %s's %s) and kept the help desk off %s (the %s: %s)\n",
			last.label, bytesize.Format(last.archive), 100*float64(last.archive)/float64(first.archive),
			first.label, bytesize.Format(first.archive), last.offTime(), first.label, first.offTime())
	}
}

// offTime is how long the help desk was off, with the time spent waiting
// for background jobs when there was any.
func (p phase) offTime() string {
	s := secs(p.off)
	if p.drain >= 100*time.Millisecond {
		s += fmt.Sprintf(", %s of it waiting for background jobs", secs(p.drain))
	}
	return s
}

// wrap writes text in lines of at most width characters (a longer word
// gets a line of its own), each after indent.
func wrap(w io.Writer, indent, text string, width int) {
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(indent)+len(line)+1+len(word) > width {
			fmt.Fprintln(w, indent+line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		fmt.Fprintln(w, indent+line)
	}
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

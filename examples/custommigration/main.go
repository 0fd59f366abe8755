// Command custommigration runs the standard source side of a migration
// with one extra step: after the archive is pushed, it writes a hand-over
// note (archive name, size, SHA-256) that a person sends to the cloud team.
//
//	go run ./examples/custommigration -config source.json [-resume]
//
// The extra step is journaled like the standard ones: a resumed run does
// not repeat it once done, and since it only writes a file it declares
// itself safe to redo after a crash.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/qualityunit/lamigrate/migrate"
)

func main() {
	config := flag.String("config", "", "migration config file (JSON)")
	resume := flag.Bool("resume", false, "continue the run recorded in the journal")
	flag.Parse()
	if err := run(*config, *resume); err != nil {
		fmt.Fprintln(os.Stderr, "custommigration:", err)
		os.Exit(1)
	}
}

func run(config string, resume bool) error {
	cfg, err := migrate.LoadConfig(config)
	if err != nil {
		return err
	}
	plan, err := migrate.NewPlan(cfg)
	if err != nil {
		return err
	}
	after := migrate.StepPush
	if cfg.Side == migrate.CloudSide {
		after = migrate.StepRestore
	}
	if err := plan.Insert(after, handOver()); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := plan.Run(ctx, migrate.RunOptions{
		Resume: resume,
		Getenv: os.Getenv,
		Progress: migrate.ProgressFunc(func(e migrate.Event) {
			switch e.Kind {
			case migrate.EventStepStart:
				fmt.Fprintf(os.Stderr, "[%d/%d] %s: %s\n", e.Index, e.Count, e.Step, e.Message)
			case migrate.EventStepEnd:
				fmt.Fprintf(os.Stderr, "[%d/%d] %s: %s %s\n", e.Index, e.Count, e.Step, e.Record.Status, e.Message)
			case migrate.EventWarning:
				fmt.Fprintln(os.Stderr, "warning:", e.Message)
			}
		}),
	})
	if rep != nil {
		for _, s := range rep.Steps {
			fmt.Printf("%-10s %-8s %6.1fs %s\n", s.Name, s.Status, s.Seconds, s.Error)
		}
	}
	return err
}

// handOver is the extra step: it reads what the dump step recorded in the
// journal and writes handover.txt beside the archive.
func handOver() migrate.Step {
	return migrate.Step{
		Name:  "handover",
		Title: "write the hand-over note",
		Redo:  true,
		Do: func(ctx context.Context, s *migrate.Session) (migrate.Output, error) {
			var out migrate.Output
			dump, ok := s.Output(migrate.StepDump)
			if !ok || len(dump.Files) == 0 {
				return out, migrate.Skip("no dump in this run's journal")
			}
			a := dump.Files[0]
			note := fmt.Sprintf("archive: %s\nsize: %d\nsha256: %s\nrows: %d\n",
				filepath.Base(a.Path), a.Size, a.SHA256, dump.Counts["rows"])
			path := s.Path("handover.txt")
			if err := os.WriteFile(path, []byte(note), 0o644); err != nil {
				return out, err
			}
			out.AddFile(path, int64(len(note)), "")
			return out, nil
		},
	}
}

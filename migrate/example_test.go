package migrate_test

import (
	"context"
	"fmt"

	"github.com/qualityunit/lamigrate/migrate"
)

// A source side with one extra step after the dump. Run it again with
// Resume after a crash or Ctrl-C: finished steps are not repeated.
func ExamplePlan_Insert() {
	cfg := migrate.Config{
		Side:       migrate.SourceSide,
		OutputDir:  "/var/backups/lamigrate",
		Connection: migrate.Connection{InstallDir: "/var/www/liveagent"},
		Transfer:   migrate.TransferOptions{URL: "sftp://migration@cloud.example.com/incoming/"},
	}
	plan, err := migrate.NewPlan(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = plan.Insert(migrate.StepDump, migrate.Step{
		Name: "copy-offsite",
		Redo: true, // copying again is harmless
		Do: func(ctx context.Context, s *migrate.Session) (migrate.Output, error) {
			d, _ := s.Output(migrate.StepDump)
			var out migrate.Output
			out.Count("files", int64(len(d.Files)))
			return out, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		fmt.Print(s.Name, " ")
	}
	fmt.Println()
	// plan.Run(ctx, migrate.RunOptions{Getenv: os.Getenv}) runs it and
	// returns a report of every step.
	// Output:
	// check isolate drain dump copy-offsite verify push
}

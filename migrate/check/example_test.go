package check_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/qualityunit/lamigrate/migrate/check"
)

// Check an installation and list what must be fixed first.
func ExampleRun() {
	var db *sql.DB // connected to the LiveAgent database
	rep, err := check.Run(context.Background(), db, check.Config{
		InstallDir: "/var/www/liveagent",
		OutDir:     "/var/backups",
		LinkMbps:   50,
	})
	if err != nil {
		return
	}
	for _, f := range rep.Findings {
		if f.Severity == check.Blocker {
			fmt.Printf("%s: %s (%s)\n", f.Code, f.Message, f.Action)
		}
	}
	fmt.Printf("downtime ≈ %.0f s\n", rep.Facts.Downtime.TotalSeconds)
}

package migrate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/isolate/isolatetest"
	"github.com/qualityunit/lamigrate/migrate/check"
)

// TestRunCheckLooksAtIsolateCron: run's check reads the crontabs of the
// configuration's isolate.cron, so a configured jobs.php line is found and
// is no warning; a missing output folder is created by run, not a blocker.
func TestRunCheckLooksAtIsolateCron(t *testing.T) {
	db := liveAgentDB(t, 512<<10)
	cron, prog := isolatetest.CronFixture(t)
	out := filepath.Join(t.TempDir(), "first", "run")
	cfg := Config{Side: SourceSide, OutputDir: out, Connection: Connection{DSNEnv: "SRC_DSN"},
		Isolate: IsolateOptions{Cron: cron},
		Skip:    []string{StepIsolate, StepDrain, StepDump, StepVerify, StepPush}}
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan of a valid config")
	var warnings []string
	_, err = p.Run(context.Background(), RunOptions{Getenv: envOf(map[string]string{"SRC_DSN": dsnOf(db)}),
		Progress: ProgressFunc(func(e Event) {
			if e.Kind == EventWarning {
				warnings = append(warnings, e.Message)
			}
		})})
	if err != nil {
		t.Fatalf("Run(check): %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "check-report.json"))
	require.NoError(t, err, "reading the check report")
	var rep check.Report
	require.NoError(t, json.Unmarshal(b, &rep), "decoding the check report")
	if len(rep.Facts.CronLines) != 2 || len(rep.Find("cron", prog+" -l")) != 1 {
		t.Errorf("run's check found cron lines %+v; want the 2 of isolate.cron", rep.Facts.CronLines)
	}
	for _, f := range rep.Findings {
		if f.Severity != check.Info && (f.Code == "cron" || f.Code == "disk_space" || f.Code == "jobs_pending") {
			t.Errorf("run's check: %+v; want information", f)
		}
	}
	for _, w := range warnings {
		if strings.Contains(w, "cron") {
			t.Errorf("run warned about cron: %s", w)
		}
	}
}

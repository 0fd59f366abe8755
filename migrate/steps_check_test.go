package migrate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/migrate/check"
)

// TestRunCheckLooksAtIsolateCron: run's check reads the crontabs of the
// configuration's isolate.cron, so a configured jobs.php line is found and
// is no warning; a missing output folder is created by run, not a blocker.
func TestRunCheckLooksAtIsolateCron(t *testing.T) {
	db := liveAgentDB(t, 512<<10)
	cron, prog := cronFixture(t)
	out := filepath.Join(t.TempDir(), "first", "run")
	cfg := Config{Side: SourceSide, OutputDir: out, Connection: Connection{DSNEnv: "SRC_DSN"},
		Isolate: IsolateOptions{Cron: cron},
		Skip:    []string{StepIsolate, StepDrain, StepDump, StepVerify, StepPush}}
	p, err := NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	var rep check.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
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

// cronFixture writes a stand-in crontab program (the machine has none)
// whose user crontab runs jobs.php, a system crontab without LiveAgent and
// a cron.d folder whose liveagent file runs queue.php. It returns the
// options isolate would get, and the stand-in program's path.
func cronFixture(t *testing.T) (*isolate.CronOptions, string) {
	t.Helper()
	dir := t.TempDir()
	user := filepath.Join(dir, "user-crontab")
	prog := filepath.Join(dir, "crontab")
	crond := filepath.Join(dir, "cron.d")
	files := map[string]string{
		user:                              "MAILTO=root\n* * * * * php -q /srv/la/scripts/jobs.php\n# */5 * * * * php /srv/la/scripts/queue.php\n",
		prog:                              "#!/bin/sh\ncase \"$1\" in -l) cat '" + user + "' ;; -) cat > '" + user + "' ;; *) echo \"usage: $0 -l|-\" >&2; exit 1 ;; esac\n",
		filepath.Join(crond, "liveagent"): "# comment with jobs.php\n*/5 * * * * www-data php -q /srv/la/scripts/queue.php\n",
		filepath.Join(crond, ".hidden"):   "* * * * * root php /srv/la/scripts/jobs.php\n",
		filepath.Join(dir, "crontab.sys"): "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &isolate.CronOptions{User: true, Command: []string{prog},
		Files: []string{filepath.Join(dir, "crontab.sys"), filepath.Join(crond, "*")}}, prog
}

package check

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/isolate/isolatetest"
)

// TestCheckCronWhereIsolateLooks: check reads the crontabs isolate.cron
// names (a stand-in crontab program and cron file globs), finds the lines
// isolate would comment out, and rates a line found or missing by whether
// the migration isolates cron.
func TestCheckCronWhereIsolateLooks(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		`CREATE TABLE qu_g_versions (versionid INT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL)`,
		`INSERT INTO qu_g_versions VALUES (1,'5.55.1.2','la',NOW())`,
		`CREATE TABLE qu_g_queued_jobs (jobid INT PRIMARY KEY, status CHAR(1))`,
		`INSERT INTO qu_g_queued_jobs VALUES (1,'F')`,
	)
	withJobs, prog := isolatetest.CronFixture(t)
	sysOnly := &isolate.CronOptions{Files: withJobs.Files[:1]} // a crontab without LiveAgent
	broken := &isolate.CronOptions{User: true, Command: []string{filepath.Join(t.TempDir(), "no-such-crontab")}, Files: []string{}}
	tests := []struct {
		name      string
		cron      *isolate.CronOptions
		mode      CronIsolation
		lines     int
		sev       Severity // of every cron finding
		contains  string
		findings  int
		subjectOK string
	}{
		{"isolated, lines found", withJobs, CronIsolated, 2, Info, "isolate.cron comments it out after the drain", 2, prog + " -l"},
		{"by hand, lines found", withJobs, CronByHand, 2, Info, "lamigrate isolate --cron", 2, prog + " -l"},
		{"kept, lines found", withJobs, CronKept, 2, Warning, "keeps running during the migration", 2, prog + " -l"},
		{"kept, none found", sysOnly, CronKept, 0, Warning, "set isolate.cron in the run config", 1, ""},
		{"isolated, none found", sysOnly, CronIsolated, 0, Warning, "isolate.cron finds no active jobs.php/queue.php cron line in " + withJobs.Files[0], 1, ""},
		{"by hand, none found", sysOnly, CronByHand, 0, Warning, "--crontab-command 'crontab -u www-data'", 1, ""},
		{"isolated, crontab program fails", broken, CronIsolated, 0, Warning, "isolate.cron reads a crontab check could not", 2, ""},
		{"by hand, crontab program fails", broken, CronByHand, 0, Warning, "crontab not checked", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), db.DB, Config{Cron: tt.cron, CronIsolation: tt.mode, SampleBytes: -1,
				Now: func() time.Time { return insideWindow }})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			fs := rep.Find("cron", "")
			if len(rep.Facts.CronLines) != tt.lines || len(fs) != tt.findings {
				t.Fatalf("Check cron lines = %+v, findings %+v; want %d lines, %d findings", rep.Facts.CronLines, fs, tt.lines, tt.findings)
			}
			hit := false
			for _, f := range fs {
				if f.Severity != tt.sev {
					t.Errorf("cron finding %+v; want severity %s", f, tt.sev)
				}
				hit = hit || strings.Contains(f.Message, tt.contains)
			}
			if !hit {
				t.Errorf("cron findings %+v; want one containing %q", fs, tt.contains)
			}
			if tt.subjectOK != "" && len(rep.Find("cron", tt.subjectOK)) != 1 {
				t.Errorf("cron findings %+v; want one about %s", fs, tt.subjectOK)
			}
		})
	}

	// What check found is what isolate plans to comment out.
	res, err := isolate.Isolate(context.Background(), db.DB, isolate.DefaultProfile(), filepath.Join(t.TempDir(), "state.json"),
		isolate.Options{DryRun: true, Cron: withJobs})
	if err != nil {
		t.Fatalf("isolate dry run: %v", err)
	}
	rep, err := Run(context.Background(), db.DB, Config{Cron: withJobs, CronIsolation: CronIsolated, SampleBytes: -1})
	require.NoError(t, err, "check with cron isolated")
	var planned, found []string
	for _, c := range res.Cron {
		for _, l := range c.Lines {
			planned = append(planned, c.Path+": "+strings.TrimSpace(l))
		}
	}
	for _, l := range rep.Facts.CronLines {
		found = append(found, strings.TrimSuffix(l.Source, " -l")+": "+l.Line)
	}
	slices.Sort(planned)
	slices.Sort(found)
	if !slices.Equal(planned, found) || len(found) != 2 {
		t.Errorf("check found %q; isolate plans %q", found, planned)
	}
}

// TestCheckOutDir: a missing output folder that can be created is no
// blocker, and its free space is its nearest existing parent's.
func TestCheckOutDir(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, `CREATE TABLE qu_g_versions (versionid INT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL)`)
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644), "writing the file %s", file)
	tests := []struct {
		name     string
		dir      string
		sev      Severity
		contains string
		free     bool
	}{
		{"exists", base, Info, "free for a dump needing", true},
		{"to be created", filepath.Join(base, "new", "out"), Info, "(not there yet: run creates it; create it before a dump by hand) is on the file system of " + base + ", which has", true},
		{"relative, to be created", filepath.Join(base, "rel", "..", "new2"), Info, "not there yet", true},
		{"under a file", filepath.Join(file, "out"), Blocker, "cannot be created: " + file + " is a file, not a folder", false},
		{"is a file", file, Blocker, "is a file, not a folder", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), db.DB, Config{OutDir: tt.dir, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
			require.NoError(t, err, "check with output folder %s", tt.dir)
			fs := rep.Find("disk_space", tt.dir)
			if len(fs) != 1 || fs[0].Severity != tt.sev || !strings.Contains(fs[0].Message, tt.contains) {
				t.Fatalf("disk_space = %+v; want one %s containing %q", fs, tt.sev, tt.contains)
			}
			if (rep.Facts.FreeBytes > 0) != tt.free {
				t.Errorf("free bytes = %d; want known %v", rep.Facts.FreeBytes, tt.free)
			}
			if _, err := os.Stat(tt.dir); tt.sev == Info && tt.dir != base && err == nil {
				t.Errorf("check created %s; it must only look", tt.dir)
			}
		})
	}
}

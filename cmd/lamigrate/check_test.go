package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func dsnOf(db *mysqltest.DB) string {
	cfg := db.Config()
	return (&mysql.Config{User: cfg.User, Passwd: cfg.Passwd, Net: cfg.Net, Addr: cfg.Addr, DBName: cfg.DBName, AllowNativePasswords: true}).FormatDSN()
}

func TestCheckCLI(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		`CREATE TABLE qu_g_versions (versionid INT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL)`,
		`INSERT INTO qu_g_versions VALUES (1,'5.55.1.2','la',NOW())`,
		`CREATE TABLE qu_g_settings (settingid INT PRIMARY KEY, name VARCHAR(60), value TEXT)`,
	)
	out := t.TempDir()
	dsn := dsnOf(db)

	// Warnings only (missing profile sources, no cron line...): status 4.
	code, stdout, stderr := runCLI(t, nil, "check", "--dsn", dsn, "--out-dir", out, "--link-mbps", "50")
	if code != exitCheckWarnings {
		t.Fatalf("check = exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitCheckWarnings, stdout, stderr)
	}
	for _, want := range []string{"LiveAgent 5.55.1.2", "WARNINGS", "INFO", "downtime", "50 Mbit/s", "verdict:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check human report lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "lamigrate check: ") || !strings.Contains(stderr, "warning(s)") {
		t.Errorf("check stderr = %q; want the one summary line", stderr)
	}

	// A MyISAM LiveAgent table is a blocker: status 5, and --json.
	db.MustExec(t, `CREATE TABLE qu_la_notes (id INT PRIMARY KEY) ENGINE=MyISAM`)
	code, stdout, _ = runCLI(t, nil, "--json", "check", "--dsn", dsn, "--out-dir", out)
	if code != exitCheckBlockers {
		t.Fatalf("check --json = exit %d; want %d", code, exitCheckBlockers)
	}
	var rep struct {
		Worst    string `json:"worst"`
		Findings []struct {
			Severity, Code, Subject, Message string
		} `json:"findings"`
		Facts struct {
			LiveAgentVersion string `json:"liveagent_version"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("check --json output is not JSON: %v\n%s", err, stdout)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Code == "engine_not_innodb" && f.Subject == "qu_la_notes" && f.Severity == "blocker" {
			found = true
		}
	}
	if rep.Worst != "blocker" || !found || rep.Facts.LiveAgentVersion != "5.55.1.2" {
		t.Errorf("check --json = worst %q, engine blocker %v, version %q", rep.Worst, found, rep.Facts.LiveAgentVersion)
	}
}

func TestCheckCLIUsage(t *testing.T) {
	tests := []struct{ flag, value string }{
		{"--link-mbps", "0"},
		{"--at", "next monday"},
		{"--crontab-command", " "},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, nil, "check", "--dsn", "root@unix(/nonexistent)/x", tt.flag, tt.value)
		if code != exitUsage || !strings.Contains(stderr, tt.flag) {
			t.Errorf("check %s %q = exit %d, %q; want %d naming the flag", tt.flag, tt.value, code, stderr, exitUsage)
		}
	}
}

// TestCheckCLIHealthyInstallation: a generated installation whose cron
// line is where isolate --cron looks, with a first-run output folder that
// does not exist yet, is ready: exit 0.
func TestCheckCLIHealthyInstallation(t *testing.T) {
	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	dir := t.TempDir()
	crond := filepath.Join(dir, "cron.d")
	os.MkdirAll(crond, 0o755)
	os.WriteFile(filepath.Join(crond, "liveagent"), []byte("* * * * * www-data php -q /srv/la/scripts/jobs.php\n"), 0o644)
	// A stand-in for crontab (the machine has none): this user has no crontab.
	noCrontab := filepath.Join(dir, "crontab")
	os.WriteFile(noCrontab, []byte("#!/bin/sh\necho \"no crontab for $(id -un)\" >&2\nexit 1\n"), 0o755)
	out := filepath.Join(dir, "migration", "out") // first run: not created yet
	args := []string{"check", "--dsn", dsnOf(db), "--out-dir", out, "--crontab-command", noCrontab,
		"--cron-file", filepath.Join(crond, "*"), "--at", "2025-03-12T10:00"}

	code, stdout, stderr := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("check = exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"verdict:  ready (0 blocker(s), 0 warning(s)",
		filepath.Join(crond, "liveagent") + " runs jobs.php: * * * * * www-data php -q /srv/la/scripts/jobs.php; after drain, lamigrate isolate --cron comments it out (with the --crontab-command and --cron-file given here)",
		out + " (not there yet: run creates it; create it before a dump by hand) is on the file system of " + filepath.Dir(filepath.Dir(out)) + ", which has",
		"inside the migration window",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("check created %s", out)
	}

	// No cron line where isolate looks: a warning (exit 4) with the flags
	// to point it elsewhere.
	args[len(args)-3] = filepath.Join(dir, "nothing-here", "*")
	code, stdout, stderr = runCLI(t, nil, args...)
	if code != exitCheckWarnings || !strings.Contains(stdout, "no active jobs.php/queue.php cron line found in "+noCrontab+" -l, "+args[len(args)-3]) ||
		!strings.Contains(stdout, "--crontab-command 'crontab -u www-data'") {
		t.Errorf("check without a cron line = exit %d; want 4 and the hint\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// An output folder that cannot be created is a blocker: exit 5.
	args[4] = filepath.Join(noCrontab, "out")
	if code, stdout, _ := runCLI(t, nil, args...); code != exitCheckBlockers || !strings.Contains(stdout, "cannot be created: "+noCrontab+" is a file, not a folder") {
		t.Errorf("check --out-dir under a file = exit %d; want %d naming the file\n%s", code, exitCheckBlockers, stdout)
	}
}

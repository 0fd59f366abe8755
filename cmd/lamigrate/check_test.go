package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
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
	code, _, stderr := runCLI(t, nil, "check", "--dsn", "root@unix(/nonexistent)/x", "--link-mbps", "0")
	if code != exitUsage || !strings.Contains(stderr, "--link-mbps") {
		t.Errorf("check --link-mbps 0 = exit %d, %q; want %d naming the flag", code, stderr, exitUsage)
	}
}

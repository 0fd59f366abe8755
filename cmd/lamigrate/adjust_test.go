package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestAdjustCLI(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		`CREATE TABLE qu_g_settings (settingid INT PRIMARY KEY, name VARCHAR(60), value TEXT)`,
		`INSERT INTO qu_g_settings VALUES (1,'server_name','old.example'), (2,'other','keep')`,
	)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.json")
	os.WriteFile(rules, []byte(`{"params":["domain"],"rules":[
		{"name":"server name","table":"qu_g_settings","set":{"value":"${domain}"},"where":{"name":"server_name"}}]}`), 0o644)
	record := filepath.Join(dir, "record.json")
	dsn := dsnOf(db)
	value := func() string {
		var v string
		db.QueryRow("SELECT value FROM qu_g_settings WHERE settingid = 1").Scan(&v)
		return v
	}

	code, stdout, stderr := runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", rules, "--param", "domain=new.example", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "dry run") || !strings.Contains(stdout, `"old.example" → "new.example"`) || value() != "old.example" {
		t.Fatalf("adjust --dry-run = %d, value %q\nstdout:\n%s\nstderr:\n%s", code, value(), stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", rules, "--param", "domain=new.example", "--record", record)
	if code != 0 || value() != "new.example" || !strings.Contains(stdout, "1 row(s)") {
		t.Fatalf("adjust = %d, value %q\nstdout:\n%s\nstderr:\n%s", code, value(), stdout, stderr)
	}
	// Again: nothing changes, and the record keeps the first run's change.
	code, stdout, _ = runCLI(t, nil, "--json", "adjust", "--dsn", dsn, "--rules", rules, "--param", "domain=new.example", "--record", record)
	var rep struct {
		Changed int64 `json:"changed"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Changed != 0 {
		t.Fatalf("adjust (again) --json = %d, %v, changed %d; want 0 changes\n%s", code, err, rep.Changed, stdout)
	}
	code, stdout, stderr = runCLI(t, nil, "adjust", "--dsn", dsn, "--undo", record)
	if code != 0 || value() != "old.example" || !strings.Contains(stdout, "restored 1") {
		t.Fatalf("adjust --undo = %d, value %q\nstdout:\n%s\nstderr:\n%s", code, value(), stdout, stderr)
	}

	usage := [][]string{
		{"adjust", "--dsn", dsn},
		{"adjust", "--dsn", dsn, "--rules", rules, "--undo", record},
		{"adjust", "--dsn", dsn, "--rules", filepath.Join(dir, "missing.json")},
	}
	for _, args := range usage {
		if code, _, stderr := runCLI(t, nil, args...); code != exitUsage || !strings.HasPrefix(stderr, "lamigrate adjust: ") {
			t.Errorf("%v = exit %d, %q; want %d with one line", args, code, stderr, exitUsage)
		}
	}
	// A missing parameter value fails without changing anything.
	if code, _, stderr := runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", rules); code != exitFailure || !strings.Contains(stderr, "--param domain=") {
		t.Errorf("adjust without --param = exit %d, %q", code, stderr)
	}
}

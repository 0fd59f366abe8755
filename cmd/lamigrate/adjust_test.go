package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/internal/lagen"
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
	// A missing parameter value, or one the rules do not declare, fails
	// without changing anything, naming the flag to add.
	wantMissing := "lamigrate adjust: parameter domain of the rules has no value (rules " + rules + "): add --param domain=VALUE to the command\n"
	if code, _, stderr := runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", rules); code != exitUsage || stderr != wantMissing {
		t.Errorf("adjust without --param = exit %d, %q; want %d, %q", code, stderr, exitUsage, wantMissing)
	}
	if code, _, stderr := runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", rules, "--param", "domain=x", "--param", "host=y"); code != exitUsage ||
		!strings.Contains(stderr, "--param host: the rules "+rules+" have no parameter host (they declare: domain)") {
		t.Errorf("adjust --param host=y = exit %d, %q; want a usage error naming host", code, stderr)
	}
	if value() != "old.example" {
		t.Errorf("a refused adjust changed the value to %q", value())
	}
}

// TestAdjustCLIDocExample runs the documented example as the README shows
// it, then pastes the undo command adjust printed.
func TestAdjustCLIDocExample(t *testing.T) {
	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	serverName := func() string {
		var v string
		db.QueryRow("SELECT value FROM qu_g_settings WHERE name = 'server_name'").Scan(&v)
		return v
	}
	orig := serverName()
	// A DSN with a password (here the empty one) is printed without it.
	dsn := strings.Replace(dsnOf(db), "@", ":@", 1)
	record := filepath.Join(t.TempDir(), "adjust record.json")
	code, stdout, stderr := runCLI(t, nil, "adjust", "--dsn", dsn, "--rules", filepath.Join("..", "..", "examples", "adjust-rules.json"),
		"--param", "domain=help.example.com", "--record", record)
	if code != 0 || serverName() != "help.example.com" {
		t.Fatalf("adjust (doc example) = exit %d, server_name %q\nstdout:\n%s\nstderr:\n%s", code, serverName(), stdout, stderr)
	}
	_, hint, ok := strings.Cut(stdout, "; to undo, run:\n  ")
	hint, _, _ = strings.Cut(hint, "\n")
	want := "lamigrate adjust --dsn '" + dsnOf(db) + "' --undo '" + record + "'"
	if !ok || hint != want {
		t.Fatalf("adjust undo hint = %q; want %q\n%s", hint, want, stdout)
	}
	args := shellWords(t, strings.TrimPrefix(hint, "lamigrate "))
	if code, stdout, stderr := runCLI(t, nil, args...); code != 0 || serverName() != orig || !strings.Contains(stdout, "restored 3 row(s)") {
		t.Fatalf("pasted %q = exit %d, server_name %q; want 0 and %q\nstdout:\n%s\nstderr:\n%s", hint, code, serverName(), orig, stdout, stderr)
	}
}

// shellWords splits a command line the way sh does for the quoting
// shellQuote writes (single quotes, '\” for a quote).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	in, word := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			in, word = !in, true
		case c == '\\' && !in && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			word = true
		case c == ' ' && !in:
			if word {
				out = append(out, cur.String())
				cur.Reset()
				word = false
			}
		default:
			cur.WriteByte(c)
			word = true
		}
	}
	if in {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if word {
		out = append(out, cur.String())
	}
	return out
}

func TestWithoutPassword(t *testing.T) {
	tests := []struct {
		dsn, want string
		stripped  bool
	}{
		{"root@unix(/run/mysqld/mysqld.sock)/la", "root@unix(/run/mysqld/mysqld.sock)/la", false},
		{"la:s3cret@tcp(db:3306)/la?tls=true", "la@tcp(db:3306)/la?tls=true", true},
		{"la:p@ss:w/rd@tcp(db)/la", "la@tcp(db)/la", true},
		{"la:@tcp(db)/la", "la@tcp(db)/la", false},
		{"/la", "/la", false},
	}
	for _, tt := range tests {
		if got, stripped := withoutPassword(tt.dsn); got != tt.want || stripped != tt.stripped {
			t.Errorf("withoutPassword(%q) = %q, %v; want %q, %v", tt.dsn, got, stripped, tt.want, tt.stripped)
		}
	}
}

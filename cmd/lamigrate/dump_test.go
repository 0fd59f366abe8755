package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func dumpFixture(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE qu_la_users (id CHAR(8) PRIMARY KEY, name VARCHAR(50))",
		"INSERT INTO qu_la_users VALUES ('a1b2c3d4', 'Ann'), ('e5f6a7b8', 'Bob')",
		"CREATE TABLE qu_g_logs (id INT PRIMARY KEY, msg TEXT)",
		"INSERT INTO qu_g_logs VALUES (1, 'transient')",
		"CREATE TABLE extra (id INT PRIMARY KEY)",
		"INSERT INTO extra VALUES (1)")
	return db
}

func TestDumpCLI(t *testing.T) {
	db := dumpFixture(t)
	dsn := db.Config().FormatDSN()
	tests := []struct {
		name       string
		file       string
		args       []string
		env        map[string]string
		tester     []string // a stock tool that must accept the file
		wantTables []string
		wantWarn   string
		encrypted  bool
	}{
		{name: "gzip default ignores", file: "d.sql.gz", tester: []string{"gzip", "-t"},
			wantTables: []string{"extra", "qu_la_users"}},
		{name: "zstd by flag, extra ignore, unmatched", file: "d.out", args: []string{"--compress", "zstd", "--ignore-table", "extra", "--ignore-table", "nope"},
			tester: []string{"zstd", "-t"}, wantTables: []string{"qu_la_users"}, wantWarn: "nope"},
		{name: "lz4 no default ignores", file: "d.sql.lz4", args: []string{"--no-default-ignores", "--level", "3"}, tester: []string{"lz4", "-t"},
			wantTables: []string{"extra", "qu_g_logs", "qu_la_users"}},
		{name: "encrypted", file: "d.sql.gz.age", env: map[string]string{"LAMIGRATE_PASSPHRASE": "pw"},
			wantTables: []string{"extra", "qu_la_users"}, encrypted: true},
		{name: "encrypted by flag", file: "d.sql.zst", args: []string{"--encrypt"}, env: map[string]string{"LAMIGRATE_PASSPHRASE": "pw"},
			wantTables: []string{"extra", "qu_la_users"}, encrypted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			args := append([]string{"--json", "dump", "--dsn", dsn, "-o", path}, tt.args...)
			code, stdout, stderr := runCLI(t, tt.env, args...)
			if code != 0 {
				t.Fatalf("lamigrate %s = exit %d; want 0\n%s", strings.Join(args, " "), code, stderr)
			}
			var res dumpOutput
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("--json output %q: %v", stdout, err)
			}
			var names []string
			for _, tb := range res.Tables {
				names = append(names, tb.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.wantTables, ",") {
				t.Errorf("dumped tables = %v; want %v", names, tt.wantTables)
			}
			if tt.wantWarn != "" && !strings.Contains(stderr, tt.wantWarn) {
				t.Errorf("stderr lacks a warning about %s:\n%s", tt.wantWarn, stderr)
			}
			m, err := manifest.Read(manifest.PathFor(path))
			if err != nil {
				require.NoError(t, err, "manifest.Read")
			}
			if m.File.SHA256 != res.SHA256 || m.Database != db.Name {
				t.Errorf("manifest file = %+v, database %s; want sha256 %s, %s", m.File, m.Database, res.SHA256, db.Name)
			}
			assert.Equal(t, tt.encrypted, res.Encrypted, "the output says whether the archive is encrypted")
			assert.Equal(t, tt.encrypted, m.Options.Encrypted, "the manifest says whether the archive is encrypted")
			if tt.encrypted {
				code, out, errOut := runCLI(t, tt.env, "verify", path)
				assert.Equal(t, 0, code, "verify of the encrypted archive with its passphrase: %s%s", out, errOut)
			}
			if tt.tester != nil {
				tool := mysqltest.Tool(t, tt.tester[0])
				if out, err := exec.Command(tool, append(tt.tester[1:], path)...).CombinedOutput(); err != nil {
					t.Errorf("%s %s: %v\n%s", tt.tester[0], path, err, out)
				}
			}
		})
	}
}

func TestDumpCLIFailures(t *testing.T) {
	db := dumpFixture(t)
	cfg := db.Config()
	cfg.DBName = "lamigrate_no_such_db"
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing database", []string{"dump", "--dsn", cfg.FormatDSN(), "-o", filepath.Join(dir, "a.sql.gz")}, nil, "lamigrate dump: "},
		{"no passphrase", []string{"dump", "--dsn", db.Config().FormatDSN(), "-o", filepath.Join(dir, "b.sql.gz.age")}, nil, "LAMIGRATE_PASSPHRASE"},
		{"unwritable folder", []string{"dump", "--dsn", db.Config().FormatDSN(), "-o", filepath.Join(dir, "no", "c.sql.gz")}, nil, "lamigrate dump: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLICtx(t, context.Background(), tt.env, tt.args...)
			if code == 0 {
				t.Fatalf("exit = 0; want a failure")
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("stderr = %q; want one line containing %q", stderr, tt.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("failed dumps left files: %v", entries)
	}
}

func TestDumpCLIRefusesUnknownExtension(t *testing.T) {
	dir := t.TempDir()
	dsn := "root@unix(/nonexistent.sock)/x" // never reached: the name is checked first
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "x.sql.bz2")}, "lamigrate dump: archive name does not match its format: x.sql.bz2 does not end in .sql, .sql.gz, .sql.zst, .sql.lz4 (each optionally + .age); rename it, or name the compression explicitly (--compress gzip|zstd|lz4|none)"},
		{[]string{"-o", filepath.Join(dir, "x.dump")}, "x.dump does not end in .sql, .sql.gz"},
		{[]string{"-o", filepath.Join(dir, "x.sql.gz"), "--compress", "zstd"}, "x.sql.gz names gzip compression, but zstd was asked for"},
		{[]string{"-o", filepath.Join(dir, "x.sql"), "--compress", "gzip"}, "x.sql names none compression, but gzip was asked for"},
	}
	for _, tt := range tests {
		args := append([]string{"dump", "--dsn", dsn}, tt.args...)
		code, _, stderr := runCLI(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("lamigrate %v = %d, %q; want %d and %q", args, code, stderr, exitUsage, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused dumps left files: %v", entries)
	}
	// An unknown extension with the compression named is fine.
	db := dumpFixture(t)
	path := filepath.Join(dir, "x.dump")
	if code, _, stderr := runCLI(t, nil, "dump", "--dsn", db.Config().FormatDSN(), "-o", path, "--compress", "none"); code != 0 {
		t.Fatalf("dump -o x.dump --compress none = %d, %q; want 0", code, stderr)
	}
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte("CREATE TABLE")) {
		t.Error("x.dump with --compress none does not hold plain SQL")
	}
}

// jsonKinds checks that obj has every key of want, of the JSON kind want
// names (string, number, bool, array, object), and none of absent.
func jsonKinds(t *testing.T, what string, obj map[string]any, want map[string]string, absent ...string) {
	t.Helper()
	for k, kind := range want {
		v, ok := obj[k]
		if !assert.True(t, ok, "%s lacks the key %q", what, k) {
			continue
		}
		got := "null"
		switch v.(type) {
		case string:
			got = "string"
		case float64:
			got = "number"
		case bool:
			got = "bool"
		case []any:
			got = "array"
		case map[string]any:
			got = "object"
		}
		assert.Equal(t, kind, got, "%s key %q", what, k)
	}
	for _, k := range absent {
		assert.NotContains(t, obj, k, "%s has the key %q", what, k)
	}
}

// TestDumpJSONKeys: dump --json prints dump.Result's JSON, and every key
// its first output had, of the same kind, for the scripts that read it
// (bench/cutover.sh reads rows and the delta's totals).
func TestDumpJSONKeys(t *testing.T) {
	db := dumpFixture(t)
	db.MustExec(t, "CREATE VIEW v AS SELECT id FROM extra",
		"CREATE TRIGGER extra_bi BEFORE INSERT ON extra FOR EACH ROW SET NEW.id = NEW.id",
		"CREATE PROCEDURE p() SELECT 1",
		"CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1")
	dsn := db.Config().FormatDSN()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	code, stdout, stderr := runCLI(t, nil, "--json", "dump", "--dsn", dsn, "-o", base)
	require.Equal(t, 0, code, stderr)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), "--json output: %s", stdout)
	jsonKinds(t, "dump --json", out, map[string]string{
		"file": "string", "manifest": "string", "row_digests": "string", "database": "string",
		"compression": "string", "encrypted": "bool", "size": "number", "sha256": "string",
		"sql_bytes": "number", "rows": "number", "connections": "number", "seconds": "number",
		"tables": "array", "views": "array", "triggers": "array", "procedures": "array",
		"functions": "array", "events": "array", "strip_definers": "bool", "ignored": "array",
		// dump.Result's own
		"server": "object", "started": "string", "dump_id": "string", "sql": "object",
		"routines": "array", "ignore_list": "array", "level": "number",
	}, "archive", "delta", "verified")
	assert.Equal(t, base, out["file"])
	assert.Equal(t, manifest.PathFor(base), out["manifest"])
	assert.Equal(t, base+".rows.zst", out["row_digests"])
	assert.Equal(t, float64(3), out["rows"], "rows of extra and qu_la_users (qu_g_logs is ignored)")
	assert.Equal(t, []any{"v"}, out["views"])
	assert.Equal(t, []any{"extra_bi"}, out["triggers"])
	assert.Equal(t, []any{"p"}, out["procedures"])
	assert.Equal(t, []any{"f"}, out["functions"])
	assert.Equal(t, []any{}, out["events"])
	assert.Equal(t, []any{"qu_g_logs"}, out["ignored"])
	m, err := manifest.Read(manifest.PathFor(base))
	require.NoError(t, err, "reading the manifest")
	assert.Equal(t, m.File.SHA256, out["sha256"])
	assert.Equal(t, float64(m.SQL.Bytes), out["sql_bytes"])
	tables, _ := out["tables"].([]any)
	require.Len(t, tables, 2, "tables")
	for _, x := range tables {
		tb, _ := x.(map[string]any)
		jsonKinds(t, "a table", tb, map[string]string{"name": "string", "engine": "string", "rows": "number",
			"sql_bytes": "number", "seconds": "number", "digest": "string", "consistent": "bool"})
		assert.Equal(t, m.Table(tb["name"].(string)).Digest, tb["digest"], "table %v", tb["name"])
	}

	db.MustExec(t, "DELETE FROM extra WHERE id = 1", "UPDATE qu_la_users SET name = 'Anne' WHERE id = 'a1b2c3d4'")
	delta := filepath.Join(dir, "delta.sql.zst")
	code, stdout, stderr = runCLI(t, nil, "--json", "dump", "--dsn", dsn, "-o", delta, "--since", manifest.PathFor(base))
	require.Equal(t, 0, code, stderr)
	out = nil
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), "--json output: %s", stdout)
	dl, _ := out["delta"].(map[string]any)
	require.NotNil(t, dl, "a delta's --json has its delta: %s", stdout)
	jsonKinds(t, "the delta", dl, map[string]string{"base": "string", "changes": "string", "quiet": "bool",
		"deleted": "number", "replaced": "number", "blocks": "number", "changed_blocks": "number", "tables": "array"})
	assert.Equal(t, "base.sql.zst", dl["base"])
	assert.Equal(t, delta+".changes.zst", dl["changes"])
	assert.Equal(t, true, dl["quiet"])
	assert.Equal(t, float64(1), dl["deleted"])
	assert.Equal(t, float64(1), dl["replaced"])
	assert.Equal(t, float64(2), out["rows"], "the full state's rows")
}

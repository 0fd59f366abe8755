package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestImportForce(t *testing.T) {
	src := importFixture(t)
	path := filepath.Join(t.TempDir(), "d.sql.zst")
	if code, _, stderr := runCLI(t, nil, "dump", "--dsn", src.Config().FormatDSN(), "-o", path); code != 0 {
		t.Fatalf("lamigrate dump = exit %d\n%s", code, stderr)
	}
	m, err := manifest.Read(manifest.PathFor(path))
	if err != nil {
		require.NoError(t, err, "manifest.Read")
	}
	target := mysqltest.New(t)
	target.MustExec(t,
		"CREATE TABLE qu_la_users (id INT PRIMARY KEY)", "INSERT INTO qu_la_users VALUES (1)",
		"CREATE TABLE keep_me (id INT PRIMARY KEY)", "INSERT INTO keep_me VALUES (7)")
	dsn := target.Config().FormatDSN()

	code, _, stderr := runCLI(t, nil, "import", "--dsn", dsn, path)
	line := lastLine(stderr)
	if code != exitFailure || !strings.Contains(line, "keep_me, qu_la_users") || !strings.Contains(line, "run the same command with --force to replace the tables the archive holds") {
		t.Fatalf("import into a non-empty database = %d, %q; want the tables named and --force explained", code, line)
	}
	// The hint, pasted: the same command with --force.
	if code, _, stderr := runCLI(t, nil, "import", "--dsn", dsn, "--force", path); code != 0 {
		t.Fatalf("import --force = %d, %q; want 0", code, stderr)
	}
	for _, tb := range m.Tables {
		if got := digests(t, target, tb.Name)[tb.Name]; got != tb.Digest {
			t.Errorf("table %s after import --force = %s; manifest says %s", tb.Name, got, tb.Digest)
		}
	}
	var keep int
	if err := target.QueryRow("SELECT id FROM keep_me").Scan(&keep); err != nil || keep != 7 {
		t.Errorf("keep_me after import --force = %d, %v; want it untouched", keep, err)
	}
}

func TestImportTableExistsMessage(t *testing.T) {
	// A file that creates a table twice makes the server say 1050 even in
	// an empty database.
	path := filepath.Join(t.TempDir(), "twice.sql")
	os.WriteFile(path, []byte("CREATE TABLE t (id INT);\nCREATE VIEW t AS SELECT 1 AS id;\n"), 0o600)
	target := mysqltest.New(t)
	code, _, stderr := runCLI(t, nil, "import", "--dsn", target.Config().FormatDSN(), path)
	want := "lamigrate import: table t already exists in " + target.Name + ": import into an empty database, drop that table, or run the same command with --force to replace the tables the archive holds"
	if code != exitFailure || lastLine(stderr) != want {
		t.Errorf("import of a file creating t twice = %d, %q; want %q", code, lastLine(stderr), want)
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func importFixture(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE qu_la_users (id CHAR(8) PRIMARY KEY, name VARCHAR(50), KEY name (name))",
		"INSERT INTO qu_la_users VALUES ('a1b2c3d4', 'Ann; O''Neil'), ('e5f6a7b8', NULL)",
		"CREATE TABLE qu_g_files (id INT AUTO_INCREMENT PRIMARY KEY, body LONGBLOB)",
		"INSERT INTO qu_g_files (body) SELECT REPEAT(CHAR(seq % 256), seq) FROM seq_1_to_500",
		"CREATE TRIGGER users_bi BEFORE INSERT ON qu_la_users FOR EACH ROW SET NEW.name = TRIM(NEW.name)",
		"CREATE VIEW v_users AS SELECT id FROM qu_la_users")
	return db
}

// digests is db.Digests (mysqltest), under the name the import tests use.
func digests(t *testing.T, db *mysqltest.DB, tables ...string) map[string]string {
	t.Helper()
	return db.Digests(t, tables...)
}

func TestImportMysqldumpGzip(t *testing.T) {
	src := importFixture(t)
	cfg := src.Config()
	bin := mysqltest.Tool(t, "mysqldump", "mariadb-dump")
	args := []string{"--no-defaults", "--user=" + cfg.User}
	if cfg.Passwd != "" {
		args = append(args, "--password="+cfg.Passwd)
	}
	if cfg.Net == "unix" {
		args = append(args, "--socket="+cfg.Addr)
	} else {
		host, port, _ := strings.Cut(cfg.Addr, ":")
		args = append(args, "--protocol=tcp", "--host="+host, "--port="+port)
	}
	args = append(args, "--single-transaction", "--skip-add-drop-table", "--max_allowed_packet=1G",
		"--hex-blob", "--no-create-db", "--net_buffer_length=16M", src.Name)
	cmd := exec.Command(bin, args...)
	sqlText, err := cmd.Output()
	if err != nil {
		t.Fatalf("mysqldump: %v", err)
	}
	path := filepath.Join(t.TempDir(), "dump.sql.gz")
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(sqlText)
	w.Close()
	os.WriteFile(path, b.Bytes(), 0o600)

	target := mysqltest.New(t)
	dsn := target.Config().FormatDSN()
	code, stdout, stderr := runCLI(t, nil, "--json", "import", "--dsn", dsn, path, "--threads", "2")
	if code != 0 {
		t.Fatalf("lamigrate import = exit %d; want 0\n%s", code, stderr)
	}
	var res importResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if res.Tables != 2 || res.Rows != 502 || res.Database != target.Name || res.Marker {
		t.Errorf("import result = %+v; want 2 tables, 502 rows into %s, no marker", res, target.Name)
	}
	tables := []string{"qu_la_users", "qu_g_files"}
	if got, want := digests(t, target, tables...), digests(t, src, tables...); got["qu_g_files"] != want["qu_g_files"] || got["qu_la_users"] != want["qu_la_users"] {
		t.Errorf("digests after import = %v; want %v", got, want)
	}
	if !strings.Contains(stderr, `"task":"import"`) {
		t.Errorf("--json progress lines missing from stderr: %q", stderr)
	}

	// Again into the same, now full, database: refused.
	code, _, stderr = runCLI(t, nil, "import", "--dsn", dsn, path)
	if code != exitFailure || !strings.Contains(stderr, "lamigrate import: target database already holds tables") || !strings.Contains(stderr, "--force") {
		t.Errorf("import into a full database = exit %d, %q; want %d and a message naming --force", code, stderr, exitFailure)
	}
}

func TestImportOurDump(t *testing.T) {
	src := importFixture(t)
	dsn := src.Config().FormatDSN()
	for _, name := range []string{"d.sql.zst", "d.sql.gz.age"} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"LAMIGRATE_PASSPHRASE": "secret words"}
			path := filepath.Join(t.TempDir(), name)
			if code, _, stderr := runCLI(t, env, "dump", "--dsn", dsn, "-o", path); code != 0 {
				t.Fatalf("lamigrate dump = exit %d\n%s", code, stderr)
			}
			m, err := manifest.Read(manifest.PathFor(path))
			require.NoError(t, err, "reading the manifest of %s", name)
			target := mysqltest.New(t)
			code, stdout, stderr := runCLI(t, env, "--json", "import", "--dsn", target.Config().FormatDSN(), path)
			if code != 0 {
				t.Fatalf("lamigrate import = exit %d\n%s", code, stderr)
			}
			var res importResult
			json.Unmarshal([]byte(stdout), &res)
			if !res.Marker || res.Manifest == "" {
				t.Errorf("import of our dump = %+v; want the completion marker seen and the manifest used", res)
			}
			for _, tb := range m.Tables {
				if got := digests(t, target, tb.Name)[tb.Name]; got != tb.Digest {
					t.Errorf("table %s digest after import = %s; manifest says %s", tb.Name, got, tb.Digest)
				}
			}
		})
	}
}

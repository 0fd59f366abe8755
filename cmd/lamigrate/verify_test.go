package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// verifyFixture writes a lamigrate-style archive of db's table t (and its
// manifest) to dir and returns its path.
func verifyFixture(t *testing.T, db *mysqltest.DB, dir, name, pass string) string {
	t.Helper()
	var rows int64
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM t").Scan(&rows), "counting the rows of table t")
	digest := db.Digests(t, "t")["t"]
	var sql bytes.Buffer
	sql.WriteString("-- lamigrate test dump\n\n--\n-- Table structure for table `t`\n--\n\nCREATE TABLE `t` (`id` int, `v` text);\n")
	sql.WriteString("\n--\n-- Dumping data for table `t`\n--\n\nINSERT INTO `t` VALUES (1,'a'),(2,NULL),(3,'');\n")
	h := manifest.NewStreamHash()
	h.Write(sql.Bytes())
	stream := manifest.StreamOf(int64(sql.Len()), h)
	plain := append(sql.Bytes(), stream.Marker()...)
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, codec.KindFromPath(name), codec.WriterOptions{Passphrase: pass})
	require.NoError(t, err, "a writer for %s", name)
	w.Write(plain)
	require.NoError(t, w.Close(), "writing %s", name)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644), "writing the archive %s", path)
	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "test", Database: db.Name,
		Tables: []manifest.Table{{Name: "t", Rows: rows, Digest: digest, Consistent: true}},
		SQL:    stream,
		File:   manifest.File{Name: name, Size: int64(buf.Len()), SHA256: hexSHA(buf.Bytes())}}
	require.NoError(t, manifest.Write(manifest.PathFor(path), m), "writing the manifest of %s", path)
	return path
}

func TestVerifyCLI(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT, v TEXT)", "INSERT INTO t VALUES (1,'a'),(2,NULL),(3,'')")
	cfg := db.Config()
	dsn := cfg.FormatDSN()
	dir := t.TempDir()
	gz := verifyFixture(t, db, dir, "dump.sql.gz", "")
	enc := verifyFixture(t, db, dir, "dump.sql.zst.age", "open sesame")
	truncated := filepath.Join(dir, "cut.sql.gz")
	b, _ := os.ReadFile(gz)
	os.WriteFile(truncated, b[:len(b)-12], 0o644)
	noManifest := filepath.Join(dir, "alone.sql.gz")
	os.WriteFile(noManifest, b, 0o644)
	pw := map[string]string{"LAMIGRATE_PASSPHRASE": "open sesame"}
	wrongPW := map[string]string{"LAMIGRATE_PASSPHRASE": "nope"}

	tests := []struct {
		name   string
		env    map[string]string
		setup  []string // statements run on db first
		args   []string
		code   int
		stdout []string // substrings of stdout
		stderr string   // substring of the one stderr line ("" : none)
	}{
		{"archive ok", nil, nil, []string{"-q", "verify", gz}, 0,
			[]string{"codec     gzip, checksummed", "lamigrate dump with completion marker", "dump.sql.gz.manifest.json", "tables    1, 3 rows", "Verdict: OK"}, ""},
		{"encrypted archive ok", pw, nil, []string{"-q", "verify", enc}, 0, []string{"zstd, checksummed, encrypted (age)", "Verdict: OK"}, ""},
		{"encrypted, wrong passphrase", wrongPW, nil, []string{"-q", "verify", enc}, 1, nil, "lamigrate verify: codec: wrong passphrase"},
		{"truncated", nil, nil, []string{"-q", "verify", truncated}, 1, []string{"Verdict: FAILED"}, "lamigrate verify: archive is incomplete"},
		// Without -q: a missing or unreadable archive fails before any
		// progress line, so the error is the only line on stderr.
		{"no such file", nil, nil, []string{"verify", filepath.Join(dir, "nope.gz")}, 2, nil,
			"lamigrate verify: cannot read the archive " + filepath.Join(dir, "nope.gz") + ": no such file or directory"},
		{"no such file, with a database", nil, nil, []string{"verify", filepath.Join(dir, "nope.gz"), "--dsn", dsn}, 2, nil,
			"lamigrate verify: cannot read the archive " + filepath.Join(dir, "nope.gz") + ": no such file or directory"},
		{"a folder", nil, nil, []string{"verify", dir}, 2, nil, "lamigrate verify: " + dir + " is a folder, not an archive: name the dump file"},
		{"database ok", nil, nil, []string{"-q", "verify", gz, "--dsn", dsn}, 0,
			[]string{"Database verdict: OK", "Verdict: OK"}, ""},
		{"database without manifest", nil, nil, []string{"-q", "verify", noManifest, "--dsn", dsn}, 2, nil, "needs the dump's manifest"},
		{"database changed", nil, []string{"UPDATE t SET v=NULL WHERE id=3"}, []string{"-q", "verify", gz, "--dsn", dsn}, 1,
			[]string{"Archive verdict: OK", "Database verdict: FAILED", "changed rows"}, "lamigrate verify: database `" + db.Name + "` differs from the manifest in 1 place: table `t` has changed rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.MustExec(t, tt.setup...)
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code {
				t.Fatalf("lamigrate %v exit = %d; want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("lamigrate %v stdout lacks %q:\n%s", tt.args, s, stdout)
				}
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if tt.stderr == "" {
				if stderr != "" {
					t.Errorf("lamigrate %v stderr = %q; want nothing", tt.args, stderr)
				}
			} else if len(lines) != 1 || !strings.Contains(lines[0], tt.stderr) {
				t.Errorf("lamigrate %v stderr = %q; want one line containing %q", tt.args, stderr, tt.stderr)
			}
		})
	}
}

func TestVerifyCLIJSON(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT, v TEXT)", "INSERT INTO t VALUES (1,'a'),(2,NULL),(3,'')")
	dir := t.TempDir()
	gz := verifyFixture(t, db, dir, "dump.sql.lz4", "")
	for _, extra := range []bool{false, true} {
		t.Run(fmt.Sprint("extra table ", extra), func(t *testing.T) {
			if extra {
				db.MustExec(t, "CREATE TABLE t2 (id INT)")
			}
			code, stdout, _ := runCLI(t, nil, "--json", "-q", "verify", gz, "--dsn", db.Config().FormatDSN())
			var res struct {
				OK      bool `json:"ok"`
				Archive struct {
					OK    bool   `json:"ok"`
					Codec string `json:"codec"`
				} `json:"archive"`
				Database struct {
					Differences []struct{ Table, What string } `json:"differences"`
				} `json:"database"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("verify --json stdout is not JSON: %v\n%s", err, stdout)
			}
			if res.OK == extra || (code == 0) == extra || !res.Archive.OK || res.Archive.Codec != "lz4" {
				t.Errorf("verify --json = exit %d %+v; want ok %v", code, res, !extra)
			}
			if extra && (len(res.Database.Differences) != 1 || res.Database.Differences[0].Table != "t2") {
				t.Errorf("verify --json differences = %+v; want the extra table t2", res.Database.Differences)
			}
		})
	}
}

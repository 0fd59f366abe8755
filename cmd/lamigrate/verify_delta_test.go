package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// deltaFixture writes, into dir, a small delta archive (gzip) whose full
// state is db's table t as it is, as dump --since lays one out: the stream
// deletes key 2 and replaces keys 3 and 4 of t, its changes file lists
// those three rows, and its manifest describes t whole with Delta set.
// replaced is what the manifest's delta says about the rows written.
func deltaFixture(t *testing.T, db *mysqltest.DB, dir string, replaced int64) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET time_zone = '+00:00'")
	require.NoError(t, err)
	d, err := rowhash.Table(ctx, conn, db.Name, "t")
	require.NoError(t, err)

	var sql bytes.Buffer
	sql.WriteString("-- lamigrate test delta dump\n/*!40014 SET FOREIGN_KEY_CHECKS=0 */;\n\n--\n-- Delta since base base.sql.gz\n--\n\n")
	sql.WriteString("\n--\n-- Changed rows of table `t`\n--\n\nDELETE FROM `t` WHERE `id` IN (2);\nREPLACE INTO `t` (`id`, `v`) VALUES (3,'c),('),(4,'d');\n")
	h := manifest.NewStreamHash()
	h.Write(sql.Bytes())
	stream := manifest.StreamOf(int64(sql.Len()), h)
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, codec.Gzip, codec.WriterOptions{})
	require.NoError(t, err)
	w.Write(append(sql.Bytes(), stream.Marker()...))
	require.NoError(t, w.Close())
	path := filepath.Join(dir, "cut.sql.gz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	var cb bytes.Buffer
	cw, err := chunk.NewChangesWriter(&cb)
	require.NoError(t, err)
	cw.BeginTable("t", &chunk.Key{Index: "PRIMARY", Columns: []string{"id"}})
	key := func(id string) []byte { return chunk.AppendKey(nil, [][]byte{[]byte(id)}, []int{0}) }
	cw.Add(chunk.Change{Key: key("2"), InBase: true, Base: 20})
	cw.Add(chunk.Change{Key: key("3"), InBase: true, Base: 30, InNew: true, New: 31})
	cw.Add(chunk.Change{Key: key("4"), InNew: true, New: 41})
	cw.EndTable()
	require.NoError(t, cw.Close())
	require.NoError(t, os.WriteFile(chunk.ChangesPathFor(path), cb.Bytes(), 0o600))

	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "test", Database: db.Name,
		Tables: []manifest.Table{{Name: "t", Rows: d.Rows, Digest: d.String(), Consistent: true}},
		SQL:    stream,
		File:   manifest.File{Name: filepath.Base(path), Size: int64(buf.Len()), SHA256: hexSHA(buf.Bytes())},
		Delta: &manifest.Delta{
			Base: manifest.Base{Archive: "base.sql.gz", Manifest: strings.Repeat("ab", 32),
				Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Database: db.Name},
			Changes: manifest.File{Name: filepath.Base(chunk.ChangesPathFor(path)), Size: int64(cb.Len()), SHA256: hexSHA(cb.Bytes())},
			Tables:  []manifest.DeltaTable{{Name: "t", Action: manifest.DeltaRows, Deleted: 1, Replaced: replaced}},
			Quiet:   true,
		}}
	require.NoError(t, manifest.Write(manifest.PathFor(path), m))
	return path
}

// TestVerifyDeltaCLI: verify DELTA says it is a delta and names its base,
// shows per table what it deletes and writes, and fails with one line on a
// missing changes file or a count the manifest does not give; verify
// DELTA --dsn checks every row of the target against the full state.
func TestVerifyDeltaCLI(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1,'a'),(3,'c),('),(4,'d')")
	dsn := db.Config().FormatDSN()
	good := deltaFixture(t, db, t.TempDir(), 2)
	wrongCount := deltaFixture(t, db, t.TempDir(), 3)
	noChanges := deltaFixture(t, db, t.TempDir(), 2)
	require.NoError(t, os.Remove(chunk.ChangesPathFor(noChanges)))

	tests := []struct {
		name   string
		setup  []string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"delta ok", nil, []string{"-q", "verify", good}, 0, []string{
			"format    lamigrate delta with completion marker (only the changes since its base)",
			"delta     since base base.sql.gz (dumped 2025-01-02 03:04:05 UTC, database `" + db.Name + "`); apply it to a database that holds that base",
			"quiet     proven",
			"changes   " + chunk.ChangesPathFor(good),
			"tables    1 changed, 0 dropped; 1 key deleted, 2 rows written",
			"TABLE  ACTION  DELETED  WRITTEN  CHANGES",
			"ok    delta tables",
			"ok    delta changes",
			"Archive verdict: OK, a whole and complete delta since base.sql.gz (strong evidence)",
			"Verdict: OK"}, ""},
		{"delta and database ok", nil, []string{"-q", "verify", good, "--dsn", dsn}, 0, []string{
			"note: the manifest is a delta's (since base.sql.gz, dumped 2025-01-02 03:04:05 UTC)",
			"Database verdict: OK, every row of every table matches the full state after the delta (unchanged rows included)",
			"Verdict: OK"}, ""},
		{"changes file missing", nil, []string{"-q", "verify", noChanges}, 1, []string{"FAIL  delta changes", "Verdict: FAILED"},
			"lamigrate verify: the delta's changes file " + chunk.ChangesPathFor(noChanges) + " is missing: an import checks the target against it before changing anything; copy it beside the archive from where the delta was dumped"},
		{"rows written differ from the manifest", nil, []string{"-q", "verify", wrongCount}, 1, []string{"2 (manifest: 3)", "FAIL  delta tables"},
			"lamigrate verify: table `t`: the archive writes 2 rows; the manifest's delta says 3"},
		{"a row the delta did not touch altered", []string{"UPDATE t SET v = 'b' WHERE id = 1"}, []string{"-q", "verify", good, "--dsn", dsn}, 1,
			[]string{"Archive verdict: OK", "Database verdict: FAILED"},
			"lamigrate verify: database `" + db.Name + "` differs from the manifest in 1 place: table `t` has changed rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.MustExec(t, tt.setup...)
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			require.Equal(t, tt.code, code, "lamigrate %v exit\nstdout:\n%s\nstderr:\n%s", tt.args, stdout, stderr)
			for _, s := range tt.stdout {
				assert.Contains(t, stdout, s, "lamigrate %v stdout", tt.args)
			}
			if tt.stderr == "" {
				assert.Empty(t, stderr, "lamigrate %v stderr", tt.args)
				return
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			assert.Len(t, lines, 1, "lamigrate %v stderr should be one line: %q", tt.args, stderr)
			assert.Contains(t, lines[0], tt.stderr, "lamigrate %v stderr", tt.args)
		})
	}

	t.Run("json", func(t *testing.T) {
		db.MustExec(t, "UPDATE t SET v = 'a' WHERE id = 1")
		code, stdout, _ := runCLI(t, nil, "--json", "-q", "verify", good, "--dsn", dsn)
		require.Equal(t, 0, code, stdout)
		var res struct {
			OK      bool `json:"ok"`
			Archive struct {
				Delta struct {
					Base struct {
						Archive string    `json:"archive"`
						Created time.Time `json:"created"`
					} `json:"base"`
					Tables []struct {
						Name           string `json:"name"`
						Action         string `json:"action"`
						ArchiveDeleted int64  `json:"archive_deleted"`
						ArchiveWritten int64  `json:"archive_written"`
						Changes        int64  `json:"changes"`
					} `json:"tables"`
				} `json:"delta"`
			} `json:"archive"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		assert.True(t, res.OK)
		assert.Equal(t, "base.sql.gz", res.Archive.Delta.Base.Archive)
		require.Len(t, res.Archive.Delta.Tables, 1)
		tb := res.Archive.Delta.Tables[0]
		assert.Equal(t, [4]any{"t", "rows", int64(1), int64(2)}, [4]any{tb.Name, tb.Action, tb.ArchiveDeleted, tb.ArchiveWritten})
		assert.Equal(t, int64(3), tb.Changes)
	})
}

// TestVerifyRealDeltaCLI: a delta written by dump --since passes verify,
// alone and against the database it describes (here its source, which
// holds the full state), and says so.
func TestVerifyRealDeltaCLI(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id CHAR(8) PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES ('aa',''),('bb','x'),('cc',NULL)",
		"CREATE TABLE u (id INT PRIMARY KEY)", "INSERT INTO u VALUES (1),(2)")
	dsn := db.Config().FormatDSN()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	code, _, stderr := runCLI(t, nil, "-q", "dump", "--dsn", dsn, "-o", base)
	require.Equal(t, 0, code, stderr)
	db.MustExec(t, "UPDATE t SET v = '),(' WHERE id = 'bb'", "DELETE FROM t WHERE id = 'cc'", "INSERT INTO t VALUES ('dd', 'x,y')")
	delta := filepath.Join(dir, "cut.sql.zst")
	code, _, stderr = runCLI(t, nil, "-q", "dump", "--dsn", dsn, "-o", delta, "--since", manifest.PathFor(base))
	require.Equal(t, 0, code, stderr)

	code, stdout, stderr := runCLI(t, nil, "-q", "verify", delta, "--dsn", dsn)
	require.Equal(t, 0, code, "verify of a real delta\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, s := range []string{
		"format    lamigrate delta with completion marker",
		"delta     since base base.sql.zst (dumped ",
		"tables    1 changed, 0 dropped; 1 key deleted, 2 rows written",
		"ok    delta changes        cut.sql.zst.changes.zst lists 3 changed rows of 1 table",
		"ok    row digests",
		"Archive verdict: OK, a whole and complete delta since base.sql.zst (strong evidence)",
		"Database verdict: OK, every row of every table matches the full state after the delta",
	} {
		assert.Contains(t, stdout, s)
	}

	db.MustExec(t, "UPDATE u SET id = 3 WHERE id = 2")
	code, _, stderr = runCLI(t, nil, "-q", "verify", delta, "--dsn", dsn)
	assert.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 1, "one line on stderr: %q", stderr)
	assert.Contains(t, lines[0], "lamigrate verify: database `"+db.Name+"` differs from the manifest in 1 place: table `u` has changed rows")
}

package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// deltaSource is a source with a full base dump at base, changed since in
// every way a delta carries: rows updated, deleted and inserted (values
// holding "),(", commas, quotes and semicolons, a binary value with a
// newline), a keyless table changed, a new table, a dropped table, a
// trigger that writes to another table and whose body has a line starting
// with INSERT INTO.
func deltaSource(t *testing.T) (db *mysqltest.DB, base string) {
	t.Helper()
	db = mysqltest.New(t)
	seed(t, db)
	db.MustExec(t,
		"CREATE TABLE qu_audit (id INT AUTO_INCREMENT PRIMARY KEY, conv CHAR(8) NOT NULL)",
		"CREATE TRIGGER qu_conv_ai AFTER INSERT ON qu_la_conversations FOR EACH ROW\nINSERT INTO `qu_audit` (conv) VALUES (NEW.conversationid)",
		"CREATE TABLE qu_nokey (a INT, b TEXT)",
		"INSERT INTO qu_nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL)",
		"CREATE TABLE qu_old (id INT PRIMARY KEY)",
		"INSERT INTO qu_old VALUES (1), (2)",
		"CREATE TABLE qu_static (id INT PRIMARY KEY)",
		"INSERT INTO qu_static VALUES (1), (2), (3)",
	)
	base = filepath.Join(t.TempDir(), "base.sql.zst")
	_, err := dump.File(context.Background(), db.DB, base, dump.Config{Database: db.Name}, dump.Options{})
	require.NoError(t, err)
	db.MustExec(t,
		`UPDATE qu_la_conversations SET subject = 'it''s ),( a, b; c', note = 'IN (1,2)' WHERE conversationid = 'a0000001'`,
		"DELETE FROM qu_la_conversations WHERE conversationid = 'a0000002'",
		`INSERT INTO qu_la_conversations VALUES ('a0000004', '),(', 'x\'),(y', 2.5, '2024-05-01 00:00:00', '2024-05-01 00:00:00')`,
		"INSERT INTO qu_la_conversations VALUES ('a,0005', ';', NULL, NULL, NULL, NULL)",
		"DELETE FROM qu_g_filecontents WHERE fileid = 'f1' AND chunk = 2",
		"UPDATE qu_g_filecontents SET content = 0x0A28292C0D WHERE fileid = 'f2'",
		"INSERT INTO qu_g_filecontents VALUES ('f3', 1, ''), ('f3', 2, 0x00)",
		"INSERT INTO qu_g_settings (name, value) VALUES ('new', 'v')",
		"INSERT INTO qu_nokey VALUES (2, 'y')",
		"CREATE TABLE qu_new (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO qu_new VALUES (1, 'a'), (2, '),('), (3, NULL)",
		"DROP TABLE qu_old",
	)
	return db, base
}

// TestDeltaArchive: verify DELTA checks a delta archive like any archive
// (completion marker, sizes and checksums), its row counts against the
// delta's table list, and its changes file; every damage fails with one
// line naming what differs.
func TestDeltaArchive(t *testing.T) {
	ctx := context.Background()
	db, base := deltaSource(t)
	dir := t.TempDir()
	good := realDelta(t, db, base, dir, "cut.sql.zst")

	t.Run("a good delta passes", func(t *testing.T) {
		rep, err := File(ctx, good.path, Options{})
		require.NoError(t, err)
		assert.True(t, rep.OK)
		assert.Equal(t, EvidenceStrong, rep.Evidence)
		require.NotNil(t, rep.Delta, "the report should say it is a delta")
		assert.Equal(t, "base.sql.zst", rep.Delta.Base.Archive)
		assert.Equal(t, chunk.ChangesPathFor(good.path), rep.Delta.Changes)
		got := map[string]DeltaTableStat{}
		for _, dt := range rep.Delta.Tables {
			got[dt.Name] = dt
		}
		want := map[string][4]int64{ // deleted, written, changes, dropped (1)
			"qu_la_conversations": {1, 3, 4, 0},
			"qu_g_filecontents":   {1, 3, 4, 0},
			"qu_g_settings":       {0, 1, 1, 0},
			"qu_audit":            {0, 2, 2, 0},
			"qu_nokey":            {0, 4, -1, 1}, // carried whole: dropped and created
			"qu_new":              {0, 3, -1, 1},
			"qu_old":              {0, 0, -1, 1},
		}
		assert.Len(t, got, len(want), "tables of the delta: %+v", rep.Delta.Tables)
		for name, w := range want {
			g, ok := got[name]
			if !assert.True(t, ok, "table %s missing from the delta report", name) {
				continue
			}
			assert.Equal(t, w, [4]int64{g.ArchiveDeleted, g.ArchiveWritten, g.Changes, map[bool]int64{true: 1}[g.Dropped]}, "table %s: deleted, written, changes, dropped", name)
			assert.Equal(t, g.Deleted, g.ArchiveDeleted, name)
			assert.Equal(t, g.Replaced, g.ArchiveWritten, name)
		}
		assert.Equal(t, "whole", got["qu_nokey"].Action)
		assert.Equal(t, "no key", got["qu_nokey"].Why)
		assert.True(t, got["qu_new"].Created)
		names := map[string]bool{}
		for _, c := range rep.Checks {
			names[c.Name] = true
			assert.True(t, c.OK, "%s: %s", c.Name, c.Detail)
		}
		for _, n := range []string{"completion", "manifest sql stream", "delta tables", "delta changes", "row digests", "manifest routines"} {
			assert.True(t, names[n], "check %q missing: %+v", n, rep.Checks)
		}
		assert.False(t, names["manifest tables"], "a delta's tables are checked against its delta list, not the full state's")
	})

	t.Run("gzip, and a stream without its folder", func(t *testing.T) {
		gz := good.copyTo(filepath.Join(t.TempDir(), "cut.sql.gz"))
		gz.write(t)
		_, err := File(ctx, gz.path, Options{})
		require.NoError(t, err)
		f, err := os.Open(gz.path)
		require.NoError(t, err)
		defer f.Close()
		rep, err := Archive(ctx, f, Options{Manifest: gz.m})
		require.NoError(t, err)
		require.NotNil(t, rep.Delta)
		assert.Contains(t, strings.Join(rep.Notes, "\n"), "changes file was not checked")
	})

	orig, err := os.ReadFile(good.path)
	require.NoError(t, err)
	// The changes file without the first change of qu_la_conversations
	// (1 deleted, 3 written), and what it then lists.
	lessWant := [2]int{1, 3}
	lessChanges := func() []byte {
		var out bytes.Buffer
		r, err := chunk.NewChangesReader(bytes.NewReader(good.changes))
		require.NoError(t, err)
		defer r.Close()
		w, err := chunk.NewChangesWriter(&out)
		require.NoError(t, err)
		for {
			var cs []chunk.Change
			tb, err := r.Next(func(c chunk.Change) error {
				c.Key = append([]byte(nil), c.Key...)
				cs = append(cs, c)
				return nil
			})
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			if tb.Name == "qu_la_conversations" {
				if cs[0].InNew {
					lessWant[1]--
				} else {
					lessWant[0]--
				}
				cs = cs[1:]
			}
			w.BeginTable(tb.Name, tb.Key)
			for _, c := range cs {
				w.Add(c)
			}
			w.EndTable()
		}
		require.NoError(t, w.Close())
		return out.Bytes()
	}()
	// The changes file without its end record ('Z' and its count), in a
	// whole zstd frame.
	noEnd := func() []byte {
		zr, err := zstd.NewReader(bytes.NewReader(good.changes))
		require.NoError(t, err)
		defer zr.Close()
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		zw, err := zstd.NewWriter(nil)
		require.NoError(t, err)
		return zw.EncodeAll(plain[:len(plain)-2], nil)
	}()
	flipped := append([]byte(nil), good.changes...)
	flipped[len(flipped)/2] ^= 1
	table := func(m *Manifest, name string) *manifest.DeltaTable {
		for i := range m.Delta.Tables {
			if m.Delta.Tables[i].Name == name {
				return &m.Delta.Tables[i]
			}
		}
		t.Fatalf("no delta table %s", name)
		return nil
	}

	for _, tt := range []struct {
		name string
		// edit changes the copy before it is written; after, after.
		edit  func(d *deltaFiles)
		after func(d *deltaFiles)
		is    error
		what  string
		want  string
	}{
		{name: "cut short", after: func(d *deltaFiles) { os.WriteFile(d.path, orig[:len(orig)*2/3], 0o600) },
			want: "archive is"},
		{name: "changes file missing", after: func(d *deltaFiles) { os.Remove(chunk.ChangesPathFor(d.path)) },
			what: ChangesMissing, want: "the delta's changes file " + "%DIR%/cut.sql.zst.changes.zst is missing: an import checks the target against it before changing anything; copy it beside the archive"},
		{name: "changes file damaged", after: func(d *deltaFiles) { os.WriteFile(chunk.ChangesPathFor(d.path), flipped, 0o600) },
			what: ChangesSHA256, want: "the changes file's sha256 is"},
		{name: "changes file cut short, manifest agrees", edit: func(d *deltaFiles) { d.changes = d.changes[:len(d.changes)-5] },
			what: ChangesDamaged, want: "the changes file %DIR%/cut.sql.zst.changes.zst cannot be read: damaged or incomplete"},
		{name: "changes file without its end record, manifest agrees", edit: func(d *deltaFiles) { d.changes = noEnd },
			what: ChangesDamaged, want: "the changes file %DIR%/cut.sql.zst.changes.zst cannot be read: damaged or incomplete: cut short (no end record)"},
		{name: "changes file lists a change less, manifest agrees", edit: func(d *deltaFiles) { d.changes = lessChanges },
			what: ChangesCount, want: fmt.Sprintf("table `qu_la_conversations`: the changes file lists 3 changed rows (%d deleted, %d written); the manifest's delta says 4 changed rows (1 deleted, 3 written)", lessWant[0], lessWant[1])},
		{name: "manifest says a row more was written", edit: func(d *deltaFiles) { table(d.m, "qu_g_filecontents").Replaced++ },
			what: DeltaWritten, want: "table `qu_g_filecontents`: the archive writes 3 rows; the manifest's delta says 4"},
		{name: "manifest says a key more was deleted", edit: func(d *deltaFiles) { table(d.m, "qu_la_conversations").Deleted++ },
			what: DeltaDeleted, want: "table `qu_la_conversations`: the archive deletes 1 key; the manifest's delta says 2"},
		{name: "a REPLACE row lost from the stream", edit: func(d *deltaFiles) {
			d.sql = bytes.Replace(d.sql, []byte(",('f3',1,'')"), nil, 1)
		}, what: DeltaWritten, want: "table `qu_g_filecontents`: the archive writes 2 rows; the manifest's delta says 3"},
		{name: "a table the delta does not list", edit: func(d *deltaFiles) {
			d.m.Delta.Tables = slices.DeleteFunc(d.m.Delta.Tables, func(dt manifest.DeltaTable) bool { return dt.Name == "qu_g_settings" })
		}, what: DeltaUnlisted, want: "the archive writes rows of table `qu_g_settings`, but the manifest's delta does not list it"},
		{name: "a dropped table not dropped", edit: func(d *deltaFiles) {
			d.sql = bytes.Replace(d.sql, []byte("DROP TABLE IF EXISTS `qu_old`;\n"), nil, 1)
		}, what: DeltaNotDropped, want: "the manifest's delta drops table `qu_old`, but the archive does not drop it"},
		{name: "a table changed row by row is dropped", edit: func(d *deltaFiles) {
			d.sql = bytes.Replace(d.sql, []byte("-- Changed rows of table `qu_g_settings`\n--\n\n"), []byte("-- Changed rows of table `qu_g_settings`\n--\n\nDROP TABLE IF EXISTS `qu_g_settings`;\n"), 1)
		}, what: DeltaRecreated, want: "the manifest's delta changes table `qu_g_settings` row by row, but the archive drops it: loading it would lose the table's unchanged rows"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := good.copyTo(filepath.Join(t.TempDir(), "cut.sql.zst"))
			if tt.edit != nil {
				tt.edit(d)
			}
			d.write(t)
			if tt.after != nil {
				tt.after(d)
			}
			rep, err := File(ctx, d.path, Options{})
			require.Error(t, err)
			msg := err.Error()
			assert.Contains(t, msg, strings.ReplaceAll(tt.want, "%DIR%", filepath.Dir(d.path)))
			assert.NotContains(t, msg, "\n")
			if tt.what != "" {
				var mm *MismatchError
				require.ErrorAs(t, err, &mm)
				assert.Equal(t, tt.what, mm.What)
			} else {
				assert.True(t, errors.Is(err, ErrIncomplete) || errors.Is(err, ErrCorrupt), "cut short: %v", err)
			}
			require.NotNil(t, rep)
			assert.False(t, rep.OK)
			assert.Equal(t, msg, rep.Failure)
			assert.NotNil(t, rep.Delta, "a failed delta's report still says it is a delta")
		})
	}
}

// TestDeltaDatabase: verify --dsn against a delta's manifest checks the
// whole target, every row of every table: a target loaded with base then
// delta through the stock mariadb client passes, and one row altered fails
// naming its table, also a row the delta did not touch.
func TestDeltaDatabase(t *testing.T) {
	ctx := context.Background()
	src, base := deltaSource(t)
	d := realDelta(t, src, base, t.TempDir(), "cut.sql.zst")
	target := mysqltest.New(t)
	mariadbLoad(t, target, base)
	mariadbLoad(t, target, d.path)

	rep, err := Database(ctx, target.DB, d.m, Options{})
	require.NoError(t, err, "base + delta loaded by the mariadb client should equal the source")
	assert.True(t, rep.OK)
	assert.Len(t, rep.Tables, len(d.m.Tables))
	assert.Contains(t, strings.Join(rep.Notes, "\n"), "the manifest is a delta's (since base.sql.zst")
	assert.Contains(t, strings.Join(rep.Notes, "\n"), "every row of every table was read")

	for _, tt := range []struct {
		name, stmt, undo, table string
	}{
		{"a row the delta changed", "UPDATE qu_la_conversations SET note = 'IN (1,3)' WHERE conversationid = 'a0000001'",
			"UPDATE qu_la_conversations SET note = 'IN (1,2)' WHERE conversationid = 'a0000001'", "qu_la_conversations"},
		{"a row the delta did not touch, in a table it changed", "UPDATE qu_la_conversations SET subject = 'Chat!' WHERE conversationid = 'a0000003'",
			"UPDATE qu_la_conversations SET subject = 'Chat' WHERE conversationid = 'a0000003'", "qu_la_conversations"},
		{"a row of a table the delta did not change", "UPDATE qu_static SET id = 4 WHERE id = 3",
			"UPDATE qu_static SET id = 3 WHERE id = 4", "qu_static"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target.MustExec(t, tt.stmt)
			defer target.MustExec(t, tt.undo)
			rep, err := Database(ctx, target.DB, d.m, Options{})
			var de *DiffError
			require.ErrorAs(t, err, &de)
			require.Len(t, de.Differences, 1, err.Error())
			assert.Equal(t, tt.table, de.Differences[0].Table)
			assert.Equal(t, RowDigest, de.Differences[0].What)
			assert.Contains(t, err.Error(), "table `"+tt.table+"` has changed rows")
			assert.False(t, rep.OK)
		})
	}
	// Base alone is not the delta's state.
	baseOnly := mysqltest.New(t)
	mariadbLoad(t, baseOnly, base)
	_, err = Database(ctx, baseOnly.DB, d.m, Options{})
	var de *DiffError
	require.ErrorAs(t, err, &de, "a target holding only the base should differ from the delta's state")
	assert.Contains(t, err.Error(), "differs from the manifest")
}

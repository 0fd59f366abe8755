package dump

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// deltaSchema adds to fidelitySchema what a delta must handle beyond it:
// LiveAgent-style random string keys, a composite key, a row of tens of MB,
// and tables that will be dropped, altered or left alone.
var deltaSchema = []string{
	"CREATE TABLE conv (id CHAR(8) PRIMARY KEY, subject VARCHAR(100), n INT, UNIQUE KEY u_n (n)) CHARSET utf8mb3 COLLATE utf8mb3_general_ci",
	"INSERT INTO conv SELECT LOWER(LPAD(HEX(seq * 2654435761 % 4294967291), 8, '0')), CONCAT('subject ', seq), seq FROM seq_1_to_3000",
	"CREATE TABLE parts (fileid CHAR(8), n INT, content BLOB, PRIMARY KEY (fileid, n))",
	"INSERT INTO parts SELECT LOWER(LPAD(HEX(seq % 97), 8, '0')), seq, REPEAT(CHAR(seq % 256), seq % 100) FROM seq_1_to_2000",
	"CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)",
	"INSERT INTO big VALUES (1, REPEAT('a', 100))",
	"CREATE TABLE untouched (id INT PRIMARY KEY, v INT)",
	"INSERT INTO untouched SELECT seq, seq FROM seq_1_to_1500",
	"CREATE FUNCTION f_one() RETURNS INT DETERMINISTIC RETURN 1",
}

// deltaChanges changes every kind of thing the issue lists.
var deltaChanges = []string{
	"SET SESSION sql_mode = ''",
	// updates, deletes and inserts of every type
	"UPDATE ints SET ti = 1, b64 = b'1' WHERE id = 3",
	"DELETE FROM ints WHERE id = 4",
	"INSERT INTO ints (id, d) VALUES (5, '1.5')",
	"UPDATE floats SET f = 0.2 WHERE id = 5",
	"UPDATE dates SET ts = '2030-01-01 00:00:00', d = '0000-00-00' WHERE id = 3",
	"UPDATE strs SET v = NULL WHERE id = 1",
	"UPDATE strs SET v = '' WHERE id = 2",
	"UPDATE strs SET bl = X'00FF00' WHERE id = 4",
	"DELETE FROM geo WHERE id = 2",
	"UPDATE gen SET a = a + 1 WHERE id = 1",
	"INSERT INTO nopk VALUES (99, 'new')",
	"UPDATE `select` SET `my col` = 'changed'",
	"UPDATE my_isam SET v = 'isam2'",
	// a cascade on the source: the delta must delete both rows itself
	"DELETE FROM z_parent WHERE id = 1",
	// fires the trigger on the source (audit gets a row); the delta must
	// not fire it again
	"INSERT INTO z_parent VALUES (77)",
	// random keys: 1% updated, deleted, inserted; a unique value moved
	"UPDATE conv SET subject = CONCAT(subject, ' (edited)') WHERE n % 97 = 0",
	"DELETE FROM conv WHERE n % 101 = 0",
	"INSERT INTO conv SELECT CONCAT('new', LPAD(seq, 5, '0')), 'new one', 100000 + seq FROM seq_1_to_30",
	"UPDATE conv SET n = n + 1000000 WHERE n % 113 = 0",
	// a key whose letter case changed: the same key to the collation,
	// another to the digests (a DELETE of the old spelling must not
	// remove the new one)
	"UPDATE conv SET id = UPPER(id) WHERE n BETWEEN 10 AND 20 AND id REGEXP '[a-f]'",
	"UPDATE parts SET content = 'changed' WHERE n % 50 = 0",
	"DELETE FROM parts WHERE fileid = LOWER(LPAD(HEX(3), 8, '0'))",
	// a row of tens of MB
	"INSERT INTO big VALUES (2, REPEAT(X'00FF5C27', 5 * 1024 * 1024))",
	// structure: dropped, altered, new; views and routines
	"DROP TABLE `my table`",
	"ALTER TABLE `täblé` ADD COLUMN extra INT DEFAULT 5",
	"CREATE TABLE fresh (id INT PRIMARY KEY, v VARCHAR(10))",
	"INSERT INTO fresh VALUES (1, 'one')",
	"CREATE OR REPLACE VIEW a_top AS SELECT COUNT(*) + 1 AS n FROM b_mid",
	"DROP FUNCTION f_one",
	"CREATE FUNCTION f_two() RETURNS INT DETERMINISTIC RETURN 2",
}

// deltaFile runs File with Since into dir.
func deltaFile(t *testing.T, db *mysqltest.DB, dir, name, since string, cfg Config, opt Options) (string, *manifest.Manifest, *Result, error) {
	t.Helper()
	path := filepath.Join(dir, name)
	cfg.Database = db.Name
	cfg.Since = since
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := File(ctx, db.DB, path, cfg, opt)
	if err != nil {
		return path, nil, nil, err
	}
	m, err := manifest.Read(manifest.PathFor(path))
	require.NoError(t, err, "reading the delta's manifest")
	return path, m, res, nil
}

// TestDeltaRoundTrip: base, then delta, through the stock client, give
// exactly the source, for every kind of change; the delta's row digests
// are a full dump's, so a second delta can be taken since it; loading a
// delta twice changes nothing.
func TestDeltaRoundTrip(t *testing.T) {
	src := mysqltest.New(t)
	setup(t, src, append(append([]string{}, fidelitySchema...), deltaSchema...)...)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	cfg := Config{Database: src.Name, NetBufferLength: 4096}
	_, err := File(context.Background(), src.DB, base, cfg, Options{})
	require.NoError(t, err, "base dump")

	setup(t, src, deltaChanges...)
	delta, m, res, err := deltaFile(t, src, dir, "delta.sql.zst", manifest.PathFor(base), Config{NetBufferLength: 4096}, Options{})
	require.NoError(t, err, "delta dump")
	require.NotNil(t, m.Delta, "the manifest marks a delta")
	assert.Equal(t, "base.sql.zst", m.Delta.Base.Archive)
	assert.True(t, m.Delta.Quiet, "nothing wrote during the dump")
	assert.Equal(t, "delta.sql.zst.changes.zst", m.Delta.Changes.Name)
	assert.FileExists(t, chunk.ChangesPathFor(delta))
	actions := map[string]string{}
	for _, dt := range m.Delta.Tables {
		actions[dt.Name] = dt.Action + "/" + dt.Why
	}
	assert.Equal(t, "drop/", actions["my table"])
	assert.Equal(t, "whole/definition", actions["täblé"])
	assert.Equal(t, "whole/new", actions["fresh"])
	assert.Equal(t, "whole/no key", actions["nopk"])
	assert.Equal(t, "rows/", actions["conv"])
	assert.Equal(t, "rows/", actions["big"])
	assert.NotContains(t, actions, "untouched", "an unchanged table is not in the delta")
	for _, dt := range m.Delta.Tables {
		if dt.Name == "conv" {
			// 30 updated, 30 deleted (n%101), 30 new, 27 moved unique values
			assert.Equal(t, int64(29+11), dt.Deleted, "conv deletes (11 keys respelled)")
			assert.Greater(t, dt.Replaced, int64(80), "conv replaces")
			assert.Less(t, dt.Replaced, int64(100), "conv replaces: only the changed rows")
		}
	}
	assert.NotNil(t, res.Delta)
	assert.Greater(t, res.Connections, 1, "the delta read over several connections")
	assert.Nil(t, m.Table("my table"), "the full state has no dropped table")
	// Over one connection: the same row digests, changes and SQL (but for
	// the run's id line and the time it was written).
	one, m1, res1, err := deltaFile(t, src, t.TempDir(), "delta.sql.zst", manifest.PathFor(base), Config{NetBufferLength: 4096, Connections: 1}, Options{})
	require.NoError(t, err, "delta dump over one connection")
	assert.Equal(t, 1, res1.Connections)
	assert.Equal(t, m.RowDigests.SHA256, m1.RowDigests.SHA256, "row digests over 1 and several connections")
	assert.Equal(t, m.Delta.Changes.SHA256, m1.Delta.Changes.SHA256, "changes over 1 and several connections")
	assert.Equal(t, m.Delta.Tables, m1.Delta.Tables)
	assert.Equal(t, m.SQL.Bytes, m1.SQL.Bytes, "SQL size over 1 and several connections")
	_ = one

	// The archive holds the changes only: far smaller than the base.
	bi, _ := os.Stat(base)
	di, _ := os.Stat(delta)
	assert.Less(t, di.Size(), bi.Size(), "delta smaller than base")

	dst := mysqltest.New(t)
	loadWithClient(t, "zstd -dc", base, dst)
	loadWithClient(t, "zstd -dc", delta, dst)
	checkDeltaState(t, m, src, dst)
	// Twice: the same.
	loadWithClient(t, "zstd -dc", delta, dst)
	checkDeltaState(t, m, src, dst)

	// The delta's row digests equal a full dump's of the same data, so
	// the next delta can be taken since it.
	full := filepath.Join(dir, "full.sql.zst")
	_, err = File(context.Background(), src.DB, full, cfg, Options{})
	require.NoError(t, err, "full dump")
	fm, err := manifest.Read(manifest.PathFor(full))
	require.NoError(t, err)
	assert.Equal(t, fm.RowDigests.SHA256, m.RowDigests.SHA256, "a delta's row digests are a full dump's")
	for _, ft := range fm.Tables {
		dt := m.Table(ft.Name)
		if assert.NotNil(t, dt, ft.Name) {
			assert.Equal(t, ft.Digest, dt.Digest, "table %s", ft.Name)
			assert.Equal(t, ft.Definition, dt.Definition, "table %s", ft.Name)
		}
	}

	setup(t, src, "UPDATE conv SET subject = 'second' WHERE n = 5", "DELETE FROM untouched WHERE id = 7")
	delta2, m2, _, err := deltaFile(t, src, dir, "delta2.sql.gz", manifest.PathFor(delta), Config{}, Options{})
	require.NoError(t, err, "second delta since the first")
	assert.Equal(t, "delta.sql.zst", m2.Delta.Base.Archive)
	got := map[string]manifest.DeltaTable{}
	for _, dt := range m2.Delta.Tables {
		got[dt.Name] = dt
	}
	assert.Len(t, got, 2, "only conv and untouched changed (nopk, without a key, unchanged): %v", got)
	assert.Equal(t, int64(1), got["conv"].Replaced)
	assert.Equal(t, int64(1), got["untouched"].Deleted)
	assert.Equal(t, int64(1), got["untouched"].ChangedBlocks)
	assert.Equal(t, int64(2), got["untouched"].Blocks)
	loadWithClient(t, "gzip -dc", delta2, dst)
	checkDeltaState(t, m2, src, dst)
}

// checkDeltaState compares dst with src as the delta's manifest describes
// the full state: every table's rows and definition, and nothing else.
func checkDeltaState(t *testing.T, m *manifest.Manifest, src, dst *mysqltest.DB) {
	t.Helper()
	compareTables(t, m, src, dst)
	sc, dc := utcConn(t, src), utcConn(t, dst)
	for _, q := range []string{
		"SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
		"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_ORDER, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1",
		"SELECT TABLE_NAME, REPLACE(VIEW_DEFINITION, DATABASE(), 'db') FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
		"SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1",
		"SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL ORDER BY 1",
		"SELECT COUNT(*) FROM audit",
		"SELECT * FROM a_top",
	} {
		want, got := queryStrings(t, sc, q), queryStrings(t, dc, q)
		assert.Equal(t, strings.Join(want, "\n"), strings.Join(got, "\n"), "%s", q)
	}
}

// TestDeltaRefusals: a base that cannot serve, and a table written during
// the delta, fail with one clear error and leave no file behind.
func TestDeltaRefusals(t *testing.T) {
	src := mysqltest.New(t)
	setup(t, src, deltaSchema...)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	_, err := File(context.Background(), src.DB, base, Config{Database: src.Name}, Options{})
	require.NoError(t, err, "base dump")
	bm := manifest.PathFor(base)

	noFiles := func(t *testing.T, path string) {
		t.Helper()
		for _, p := range []string{path, path + PartialSuffix, manifest.PathFor(path), chunk.PathFor(path), chunk.ChangesPathFor(path),
			chunk.PathFor(path) + PartialSuffix, chunk.ChangesPathFor(path) + PartialSuffix} {
			assert.NoFileExists(t, p)
		}
	}

	t.Run("no row digests", func(t *testing.T) {
		raw, err := os.ReadFile(bm)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		delete(m, "row_digests")
		old := filepath.Join(t.TempDir(), "old.manifest.json")
		b, _ := json.Marshal(m)
		require.NoError(t, os.WriteFile(old, b, 0o600))
		path, _, _, err := deltaFile(t, src, t.TempDir(), "d.sql.zst", old, Config{}, Options{})
		require.ErrorIs(t, err, ErrBase)
		assert.Contains(t, err.Error(), "has no row digests")
		assert.Contains(t, err.Error(), "take a new full dump")
		noFiles(t, path)
	})
	t.Run("another database", func(t *testing.T) {
		other := mysqltest.New(t)
		setup(t, other, "CREATE TABLE x (id INT PRIMARY KEY)")
		path, _, _, err := deltaFile(t, other, t.TempDir(), "d.sql.zst", bm, Config{}, Options{})
		require.ErrorIs(t, err, ErrBase)
		assert.Contains(t, err.Error(), "describes a dump of database")
		noFiles(t, path)
	})
	t.Run("row digests replaced", func(t *testing.T) {
		d2 := t.TempDir()
		b2 := filepath.Join(d2, "base.sql.zst")
		for _, p := range []string{b2, manifest.PathFor(b2)} {
			raw, err := os.ReadFile(strings.Replace(p, d2, dir, 1))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, raw, 0o600))
		}
		// Another dump's row digests under the base's name.
		setup(t, src, "UPDATE untouched SET v = v + 1 WHERE id = 1")
		other := filepath.Join(t.TempDir(), "other.sql.zst")
		_, err := File(context.Background(), src.DB, other, Config{Database: src.Name}, Options{})
		require.NoError(t, err)
		raw, err := os.ReadFile(chunk.PathFor(other))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(chunk.PathFor(b2), raw, 0o600))
		path, _, _, err := deltaFile(t, src, t.TempDir(), "d.sql.zst", manifest.PathFor(b2), Config{}, Options{})
		require.ErrorIs(t, err, ErrBase)
		assert.Contains(t, err.Error(), "does not match its manifest")
		noFiles(t, path)
		setup(t, src, "UPDATE untouched SET v = v - 1 WHERE id = 1")
	})
	t.Run("written during the dump", func(t *testing.T) {
		writer, err := src.DB.Conn(context.Background())
		require.NoError(t, err)
		defer writer.Close()
		opt := beforeRows(func(ctx context.Context, _ *sql.Conn, table string) {
			if table == "parts" {
				_, err := writer.ExecContext(ctx, "UPDATE untouched SET v = v + 1 WHERE id = 2")
				require.NoError(t, err)
			}
		})
		path, _, _, err := deltaFile(t, src, t.TempDir(), "d.sql.zst", bm, Config{}, opt)
		require.ErrorIs(t, err, ErrNotQuiet)
		assert.Contains(t, err.Error(), "`untouched`")
		assert.Contains(t, err.Error(), "--live")
		noFiles(t, path)
		// --live takes it anyway (a pre-copy delta).
		_, m, _, err := deltaFile(t, src, t.TempDir(), "d.sql.zst", bm, Config{Live: true}, opt)
		require.NoError(t, err)
		assert.False(t, m.Delta.Quiet)
	})
	t.Run("table altered during the dump", func(t *testing.T) {
		writer, err := src.DB.Conn(context.Background())
		require.NoError(t, err)
		defer writer.Close()
		opt := beforeRows(func(ctx context.Context, _ *sql.Conn, table string) {
			if table == "untouched" {
				// conv was read already (tables go in name order)
				_, err := writer.ExecContext(ctx, "ALTER TABLE conv ADD COLUMN w INT")
				require.NoError(t, err)
			}
		})
		path, _, _, err := deltaFile(t, src, t.TempDir(), "d.sql.zst", bm, Config{Live: true}, opt)
		require.Error(t, err)
		var te *TableError
		if assert.True(t, errors.As(err, &te), "a TableError: %v", err) {
			assert.Equal(t, "conv", te.Table)
		}
		assert.Contains(t, err.Error(), "altered during the dump")
		noFiles(t, path)
	})
}

package load

// Delta archives (dump --since) against the real server, made as the
// cutover makes them: a full dump of the source (the base), imported into
// the target; rows changed on the source; a delta dump since the base.
// The source after its changes is the state every import must reach.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// deltaBase is the base: a parent table with a unique code and triggers
// that would change what they see (a BEFORE INSERT rewriting the name, an
// AFTER DELETE writing to audit), a child table whose foreign key cascades
// deletes of parents, a two-column string key, a MyISAM table, a table the
// source drops, and a view.
var deltaBase = []string{
	"CREATE TABLE parent (id INT NOT NULL PRIMARY KEY, code VARCHAR(12) NOT NULL, name VARCHAR(60), f FLOAT, UNIQUE KEY code (code)) ENGINE=InnoDB",
	"INSERT INTO parent SELECT seq, CONCAT('c', seq), CONCAT('name ', seq), seq / 3 FROM seq_1_to_1500",
	"CREATE TABLE child (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, note VARCHAR(40), KEY parent_id (parent_id), CONSTRAINT child_fk FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
	"INSERT INTO child SELECT seq, seq, CONCAT('note ', seq) FROM seq_1_to_1500",
	"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(80)) ENGINE=InnoDB",
	"INSERT INTO audit (what) VALUES ('base')",
	"CREATE TABLE tags (k CHAR(8) NOT NULL, n INT NOT NULL, v VARBINARY(20), PRIMARY KEY (k, n)) ENGINE=InnoDB",
	"INSERT INTO tags SELECT LPAD(HEX(seq), 8, 'x'), seq % 3, UNHEX(HEX(seq)) FROM seq_1_to_200",
	"CREATE TABLE kv (id INT NOT NULL PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM",
	"INSERT INTO kv VALUES (1, 'a'), (2, 'b'), (3, 'c')",
	"CREATE TABLE gone (id INT PRIMARY KEY) ENGINE=InnoDB",
	"INSERT INTO gone VALUES (1)",
	"CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW.name = CONCAT('T:', NEW.name)",
	"CREATE TRIGGER parent_ad AFTER DELETE ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('deleted ', OLD.id))",
	"CREATE VIEW v_parent AS SELECT id, code FROM parent",
}

// deltaSourceChanges are the source's changes after the base, on one
// connection: parents 10-609 renamed, 10 and 600 swapping their unique
// codes (the delta's REPLACE of 10 removes 600 until its own REPLACE,
// in a later statement, writes it again), parents 3 and 4 deleted (their
// children cascade on the source, the trigger writes to audit), parent 5
// deleted without the cascade (its child stays: had the delta's DELETE
// cascaded, it would be gone), new parents (the BEFORE INSERT trigger
// renames them once, on the source), changes to a two-column key and a
// MyISAM table, a new table and a dropped one.
var deltaSourceChanges = []string{
	"UPDATE parent SET name = CONCAT('new name ', id) WHERE id BETWEEN 10 AND 609",
	"UPDATE parent SET code = 'tmp' WHERE id = 10",
	"UPDATE parent SET code = 'c10' WHERE id = 600",
	"UPDATE parent SET code = 'c600' WHERE id = 10",
	"DELETE FROM parent WHERE id IN (3, 4)",
	"SET FOREIGN_KEY_CHECKS = 0",
	"DELETE FROM parent WHERE id = 5",
	"SET FOREIGN_KEY_CHECKS = 1",
	"INSERT INTO parent VALUES (2001, 'c2001', 'n2001', 1.25), (2002, 'c2002', 'n2002', 2.5), (2003, 'c2003', NULL, NULL)",
	"DELETE FROM tags WHERE (k, n) IN (('xxxxxxx1', 1), ('xxxxxxx2', 2))",
	"UPDATE tags SET v = 0x00FF WHERE k = 'xxxxxxx3' AND n = 0",
	"INSERT INTO tags VALUES ('zzzz', 1, NULL)",
	"UPDATE kv SET v = 'B' WHERE id = 2",
	"DELETE FROM kv WHERE id = 3",
	"CREATE TABLE newtab (id INT PRIMARY KEY, v VARCHAR(20), KEY v (v)) ENGINE=InnoDB",
	"INSERT INTO newtab VALUES (1, 'one'), (2, 'two')",
	"DROP TABLE gone",
}

// deltaChangedRows are the rows the delta deletes or replaces: parent 600
// renamed, 3 deleted, 3 new; child 2 cascaded; audit 3 rows written by
// the trigger; tags 4; kv 2.
const deltaChangedRows = 606 + 2 + 3 + 4 + 2

// deltaFixture is a base, a delta archive from it, and what the delta
// makes of the base.
type deltaFixture struct {
	baseArchive string
	baseM       *manifest.Manifest
	archive     string // the delta
	m           *manifest.Manifest
	want        map[string]string // snapshot of the source after its changes
	wantAudit   int               // rows of audit in the source
	res         *dump.Result
}

func (f *deltaFixture) delta() Delta { return Delta{Archive: f.archive, Manifest: f.m} }

// execOn runs stmts on one connection of db, in order (they set session
// variables).
func execOn(t *testing.T, db *mysqltest.DB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	for _, s := range stmts {
		_, err := c.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
}

// newDeltaFixture dumps the base, changes the source and dumps the delta
// since the base, with small statements (several REPLACEs per table).
func newDeltaFixture(t *testing.T) *deltaFixture {
	t.Helper()
	src := mysqltest.New(t)
	src.MustExec(t, deltaBase...)
	dir := t.TempDir()
	f := &deltaFixture{baseArchive: filepath.Join(dir, "base.sql.zst"), archive: filepath.Join(dir, "cut.sql.zst")}
	ctx := context.Background()
	_, err := dump.File(ctx, src.DB, f.baseArchive, dump.Config{Database: src.Name}, dump.Options{})
	require.NoError(t, err, "the base dump")
	f.baseM, err = manifest.Read(manifest.PathFor(f.baseArchive))
	require.NoError(t, err)

	execOn(t, src, deltaSourceChanges...)
	// Live: other tests write on this server; nothing writes to src.
	f.res, err = dump.File(ctx, src.DB, f.archive, dump.Config{Database: src.Name, Since: manifest.PathFor(f.baseArchive),
		Live: true, NetBufferLength: 4096}, dump.Options{})
	require.NoError(t, err, "the delta dump")
	f.m, err = manifest.Read(manifest.PathFor(f.archive))
	require.NoError(t, err)
	require.NotNil(t, f.m.Delta, "the delta's manifest marks a delta")
	f.want = snapshot(t, src)
	require.NoError(t, src.QueryRow("SELECT COUNT(*) FROM audit").Scan(&f.wantAudit))
	return f
}

// baseTarget is a new database into which the base was imported.
func (f *deltaFixture) baseTarget(t *testing.T) *mysqltest.DB {
	t.Helper()
	db := mysqltest.New(t)
	in, err := os.Open(f.baseArchive)
	require.NoError(t, err)
	defer in.Close()
	_, err = Load(context.Background(), db.Config(), in, Config{Threads: 2, RequireMarker: true, Fingerprint: f.baseM.SQL.XXH3})
	require.NoError(t, err, "importing the base")
	return db
}

// load imports the delta into target.
func (f *deltaFixture) load(ctx context.Context, t *testing.T, target *mysqltest.DB, opts ...Option) (*Result, error) {
	t.Helper()
	in, err := os.Open(f.archive)
	require.NoError(t, err)
	defer in.Close()
	return Load(ctx, target.Config(), in, Config{Threads: 2, RequireMarker: true, Fingerprint: f.m.SQL.XXH3},
		append([]Option{WithDelta(f.delta())}, opts...)...)
}

// changesIn counts the rows a changes file lists, and its tables.
func changesIn(t *testing.T, path string) (rows int64, tables int) {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	r, err := chunk.NewChangesReader(fh)
	require.NoError(t, err)
	defer r.Close()
	for {
		tb, err := r.Next(nil)
		if err == io.EOF {
			return rows, tables
		}
		require.NoError(t, err)
		rows += tb.Rows
		tables++
	}
}

// triggerTimes returns when each trigger of db was created: a trigger
// dropped and made again gets a new time.
func triggerTimes(t *testing.T, db *mysqltest.DB) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT TRIGGER_NAME, CAST(CREATED AS CHAR(30)) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, c string
		require.NoError(t, rows.Scan(&n, &c))
		out[n] = c
	}
	require.NoError(t, rows.Err())
	return out
}

func hasProgressTable(t *testing.T, db *mysqltest.DB) bool {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", ProgressTable).Scan(&n))
	return n > 0
}

// assertNoTriggerFired checks what the base's triggers and the foreign
// key's cascade would have changed had they run during the delta: audit
// holds the source's rows (the base's and the source's trigger's), the
// BEFORE INSERT trigger renamed the new parents once (on the source),
// every child the delta did not delete is there, the orphan of parent 5
// too.
func (f *deltaFixture) assertNoTriggerFired(t *testing.T, db *mysqltest.DB) {
	t.Helper()
	var audit, renamed, twice, children, orphan int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM audit").Scan(&audit))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM parent WHERE name LIKE 'T:%'").Scan(&renamed))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM parent WHERE name LIKE 'T:T:%'").Scan(&twice))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM child").Scan(&children))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM child WHERE parent_id = 5").Scan(&orphan))
	assert.Equal(t, f.wantAudit, audit, "rows in audit: a DELETE trigger fired during the delta")
	assert.Equal(t, 2, renamed, "parents renamed by the BEFORE INSERT trigger (on the source: 2001 and 2002)")
	assert.Zero(t, twice, "parents renamed again by the BEFORE INSERT trigger during the delta")
	assert.Equal(t, 1498, children, "child rows: 1500 less the 2 the source's cascade deleted (a REPLACE or DELETE of a parent cascaded?)")
	assert.Equal(t, 1, orphan, "the child of the deleted parent 5 (the DELETE cascaded?)")
}

// TestDeltaApply: a delta onto its base gives the stock client's result,
// in parallel; no trigger fires and no foreign key cascades; the progress
// table is gone; the same delta again is already applied and changes
// nothing.
func TestDeltaApply(t *testing.T) {
	f := newDeltaFixture(t)
	rows, tables := changesIn(t, chunk.ChangesPathFor(f.archive))
	require.Equal(t, int64(deltaChangedRows), rows, "rows in the delta's changes file")
	target := f.baseTarget(t)
	res, err := f.load(context.Background(), t, target)
	require.NoError(t, err, "applying the delta to its base")
	require.NotNil(t, res.Delta, "the result reports the base check")
	assert.Equal(t, rows, res.Delta.Rows, "rows checked")
	assert.Equal(t, rows, res.Delta.AtBase, "rows found as the base has them")
	assert.Equal(t, tables, res.Delta.Tables, "tables with changed rows")
	assert.False(t, res.AlreadyApplied)
	assert.True(t, res.Marker, "the delta's completion marker was read")
	compare(t, snapshot(t, target), f.want)
	f.assertNoTriggerFired(t, target)
	assert.False(t, hasProgressTable(t, target), "the progress table is left after a successful delta")

	times := triggerTimes(t, target)
	require.Len(t, times, 2)
	again, err := f.load(context.Background(), t, target)
	require.NoError(t, err, "applying the delta a second time")
	assert.True(t, again.AlreadyApplied, "the second import says the delta is applied already")
	assert.Equal(t, rows, again.Delta.AtNew, "rows found as the delta leaves them")
	assert.Zero(t, again.Statements, "statements run by the second import")
	compare(t, snapshot(t, target), f.want)
	assert.Equal(t, times, triggerTimes(t, target), "the second import made the triggers again")
	assert.False(t, hasProgressTable(t, target), "the second import left a progress table")
}

// TestDeltaRefusesNotBase: a target that does not hold the base is refused
// before anything changes, with one line naming the table and how many
// rows differ; so is a delta without its manifest, and a full dump given
// as a delta.
func TestDeltaRefusesNotBase(t *testing.T) {
	f := newDeltaFixture(t)
	tests := []struct {
		name   string
		change []string
		msg    string
	}{
		{"rows changed", []string{"UPDATE parent SET name = 'edited' WHERE id IN (20, 21, 22)"},
			fmt.Sprintf("load: the target does not hold the base of cut.sql.zst: table `parent`: 3 of %d rows the delta replaces or deletes differ from the base (first key 20); import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds", 606)},
		{"a row the delta replaces is gone", []string{"DELETE FROM kv WHERE id = 2"},
			"load: the target does not hold the base of cut.sql.zst: table `kv`: 1 of 2 rows the delta replaces or deletes differ from the base (first key 2); import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds"},
		{"a row the delta adds is there", []string{"INSERT INTO tags VALUES ('zzzz', 1, 'x')"},
			"load: the target does not hold the base of cut.sql.zst: table `tags`: 1 of 4 rows the delta replaces or deletes differ from the base (first key ('zzzz', 1)); import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds"},
		{"a table is missing", []string{"DROP TABLE audit"},
			"load: the target does not hold the base of cut.sql.zst: table `audit`, whose rows the delta changes, is not in `%s`; import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := f.baseTarget(t)
			target.MustExec(t, tt.change...)
			before, times := snapshot(t, target), triggerTimes(t, target)
			_, err := f.load(context.Background(), t, target)
			require.Error(t, err, "a delta onto a target that is not its base")
			assert.ErrorIs(t, err, ErrNotBase)
			want := tt.msg
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, target.Name)
			}
			assert.Equal(t, want, err.Error())
			compare(t, snapshot(t, target), before)
			assert.Equal(t, times, triggerTimes(t, target), "triggers made again by a refused delta")
			assert.False(t, hasProgressTable(t, target), "a refused delta left a progress table")
		})
	}

	t.Run("empty database", func(t *testing.T) {
		target := mysqltest.New(t)
		_, err := f.load(context.Background(), t, target)
		assert.ErrorIs(t, err, ErrNotBase)
		assert.Contains(t, err.Error(), "table `audit`, whose rows the delta changes, is not in")
		assert.False(t, hasProgressTable(t, target), "a refused delta left a progress table")
	})

	t.Run("delta without WithDelta", func(t *testing.T) {
		target := f.baseTarget(t)
		in, err := os.Open(f.archive)
		require.NoError(t, err)
		defer in.Close()
		before := snapshot(t, target)
		_, err = Load(context.Background(), target.Config(), in, Config{Force: true})
		assert.ErrorIs(t, err, ErrDelta, "a delta loaded as if it were a full dump")
		compare(t, snapshot(t, target), before)
	})

	t.Run("full dump with WithDelta", func(t *testing.T) {
		target := mysqltest.New(t)
		in, err := os.Open(f.baseArchive)
		require.NoError(t, err)
		defer in.Close()
		_, err = Load(context.Background(), target.Config(), in, Config{}, WithDelta(f.delta()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "describes a delta (dump --since), but the archive's stream is not one")
		var n int
		require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n))
		assert.Zero(t, n, "tables made by a refused import")
	})

	t.Run("changes file of another delta", func(t *testing.T) {
		g := *f
		g.m = cloneManifest(t, f.m)
		g.m.Delta.Changes.SHA256 = strings.Repeat("0", 64)
		target := f.baseTarget(t)
		_, err := g.load(context.Background(), t, target)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not match its manifest")
		assert.False(t, hasProgressTable(t, target), "a refused delta left a progress table")
	})
}

func cloneManifest(t *testing.T, m *manifest.Manifest) *manifest.Manifest {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.json")
	require.NoError(t, manifest.Write(path, m))
	c, err := manifest.Read(path)
	require.NoError(t, err)
	return c
}

// TestDeltaInterrupted cuts the import of a delta after a growing number
// of statements and runs it again: the result is the uninterrupted one,
// no trigger fired, no row cascaded, and the progress table is gone. A
// target left half way holds rows at the base and rows at the delta's
// result, which CheckBase accepts.
func TestDeltaInterrupted(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	f := newDeltaFixture(t)
	full, err := f.load(context.Background(), t, f.baseTarget(t))
	require.NoError(t, err)
	n := full.Statements
	require.Greater(t, n, int64(10), "statements in the delta")
	mixed := false
	for cut := int64(1); cut < n; cut += max(1, n/7) {
		t.Run(fmt.Sprintf("cut after %d of %d", cut, n), func(t *testing.T) {
			target := f.baseTarget(t)
			ctx, cancel := context.WithCancel(context.Background())
			var once atomic.Bool
			cutAt := hooks{afterStatement: func(k int64) {
				if k >= cut && once.CompareAndSwap(false, true) {
					cancel()
				}
			}}
			_, err := f.load(ctx, t, target, withHooks(cutAt))
			cancel()
			require.ErrorIs(t, err, context.Canceled, "the interrupted import")
			require.True(t, hasProgressTable(t, target), "an interrupted import keeps its progress table")

			chk, err := CheckBase(context.Background(), target.DB, f.delta(), true)
			require.NoError(t, err, "CheckBase of a target left half way")
			t.Logf("left half way: %d rows at the base, %d at the result, %d pending", chk.AtBase, chk.AtNew, chk.Pending)
			assert.Equal(t, int64(deltaChangedRows), chk.AtBase+chk.AtNew+chk.Pending, "rows at the base, at the result or pending")
			if chk.AtBase > 0 && chk.AtNew > 0 {
				mixed = true
			}

			res, err := f.load(context.Background(), t, target)
			require.NoError(t, err, "the same import again")
			assert.True(t, res.Resumed, "the second import resumed the first")
			assert.False(t, res.AlreadyApplied)
			compare(t, snapshot(t, target), f.want)
			f.assertNoTriggerFired(t, target)
			assert.False(t, hasProgressTable(t, target), "the progress table is left after the resumed import")
		})
	}
	assert.True(t, mixed, "no cut left rows both at the base and at the delta's result")
}

// TestDeltaReplaceDoesNotCascade is the server's behaviour the delta
// relies on, on its own: under FOREIGN_KEY_CHECKS=0 a REPLACE of a parent
// row (a delete and an insert in InnoDB, as the parent is referenced) and
// a DELETE do not run ON DELETE CASCADE; with the checks on, the REPLACE
// does. Triggers do fire: that is why a delta drops them first.
func TestDeltaReplaceDoesNotCascade(t *testing.T) {
	for _, checks := range []int{0, 1} {
		t.Run(fmt.Sprintf("FOREIGN_KEY_CHECKS=%d", checks), func(t *testing.T) {
			db := mysqltest.New(t)
			db.MustExec(t,
				"CREATE TABLE p (id INT PRIMARY KEY, u INT NOT NULL, UNIQUE KEY u (u)) ENGINE=InnoDB",
				"CREATE TABLE c (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
				"CREATE TABLE log (msg VARCHAR(20))",
				"INSERT INTO p VALUES (1, 10), (2, 20), (3, 30)",
				"INSERT INTO c VALUES (100, 1), (200, 2), (300, 3)",
				"CREATE TRIGGER p_bd BEFORE DELETE ON p FOR EACH ROW INSERT INTO log VALUES (OLD.id)")
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			for _, s := range []string{
				fmt.Sprintf("SET FOREIGN_KEY_CHECKS=%d", checks),
				"REPLACE INTO p VALUES (1, 10)", // same row: delete and insert
				"REPLACE INTO p VALUES (2, 30)", // also removes 3 (unique u)
			} {
				_, err := conn.ExecContext(ctx, s)
				require.NoError(t, err, s)
			}
			var children, fired int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM c").Scan(&children))
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM log").Scan(&fired))
			t.Logf("FOREIGN_KEY_CHECKS=%d: %d of 3 children left, the DELETE trigger fired %d times", checks, children, fired)
			if checks == 0 {
				assert.Equal(t, 3, children, "REPLACE cascaded under FOREIGN_KEY_CHECKS=0")
			} else {
				assert.Less(t, children, 3, "REPLACE did not cascade with the checks on: the test shows nothing")
			}
			assert.Equal(t, 3, fired, "REPLACE fires the DELETE trigger for the row it replaces and the one it displaces")
		})
	}
}

// TestCheckBaseErrors: a missing or damaged changes file, and a manifest
// without its delta section, are refused before any row is read.
func TestCheckBaseErrors(t *testing.T) {
	db := mysqltest.New(t)
	dir := t.TempDir()
	d := Delta{Archive: filepath.Join(dir, "x.sql"), Manifest: &manifest.Manifest{Delta: &manifest.Delta{}}}
	_, err := CheckBase(context.Background(), db.DB, d, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "changes file "+d.Archive+chunk.ChangesSuffix+" is missing")

	require.NoError(t, os.WriteFile(chunk.ChangesPathFor(d.Archive), []byte("not zstd"), 0o600))
	_, err = CheckBase(context.Background(), db.DB, d, false)
	require.Error(t, err)
	assert.True(t, errors.Is(err, chunk.ErrCorrupt), "a damaged changes file: %v", err)

	_, err = CheckBase(context.Background(), db.DB, Delta{Archive: d.Archive, Manifest: &manifest.Manifest{}}, false)
	assert.ErrorIs(t, err, ErrDelta, "a manifest without a delta section")
}

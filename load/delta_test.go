package load

// Delta archives (dump --since) against the real server. Until dump
// writes deltas, the tests make one by hand as the format says
// (delta-spec): a base database, the delta's SQL, the changes file of the
// rows it touches (their digests before and after, as the row digest
// contract computes them), and a manifest with Delta set. The delta is
// also run through the stock client on a copy of the base: that copy is
// the state every import must reach.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// deltaBase is the base: a parent table with a unique code and triggers
// that would change what they see (a BEFORE INSERT rewriting the name, an
// AFTER DELETE writing to audit), a child table whose foreign key cascades
// deletes of parents, a two-column string key, a MyISAM table, a table the
// delta drops, and a view.
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

// deltaRowTables are the tables the delta marks "rows", in dump order.
var deltaRowTables = []string{"audit", "child", "kv", "parent", "tags"}

// deltaSQL is the delta's stream without its completion marker, as
// delta-spec describes it: parents 3-5 deleted (the children of 3 and 4
// with them, the child of 5 left: had the DELETE cascaded, it would be
// gone), parents 10-609 replaced in statements of 100 rows, 10 and 11
// swapping their unique codes in the first and the last statement (the
// first REPLACE removes 11 until the last writes it again), new parents,
// changes to a two-column key and a MyISAM table, an AUTO_INCREMENT
// counter, a new table, a dropped one, and the triggers and view made
// again.
func deltaSQL() []byte {
	var b strings.Builder
	b.WriteString(`-- lamigrate 0.test delta dump (mysqldump-compatible; load with the mariadb/mysql client after its base)
--
-- Host: localhost    Database: src
-- ------------------------------------------------------
-- Server version	10.11

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Delta since base base.sql
--

DROP TRIGGER IF EXISTS ` + "`parent_ad`" + `;
DROP TRIGGER IF EXISTS ` + "`parent_bi`" + `;
/*!50001 DROP VIEW IF EXISTS ` + "`v_parent`" + `*/;
DROP TABLE IF EXISTS ` + "`gone`" + `;

--
-- Table structure for table ` + "`newtab`" + `
--

DROP TABLE IF EXISTS ` + "`newtab`" + `;
CREATE TABLE ` + "`newtab`" + ` (
  ` + "`id`" + ` int(11) NOT NULL,
  ` + "`v`" + ` varchar(20) DEFAULT NULL,
  PRIMARY KEY (` + "`id`" + `),
  KEY ` + "`v`" + ` (` + "`v`" + `)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

--
-- Dumping data for table ` + "`newtab`" + `
--

/*!40000 ALTER TABLE ` + "`newtab`" + ` DISABLE KEYS */;
INSERT INTO ` + "`newtab`" + ` (` + "`id`, `v`" + `) VALUES (1,'one'),(2,'two');
/*!40000 ALTER TABLE ` + "`newtab`" + ` ENABLE KEYS */;

--
-- Changed rows of table ` + "`audit`" + `
--

ALTER TABLE ` + "`audit`" + ` AUTO_INCREMENT=5000;

--
-- Changed rows of table ` + "`child`" + `
--

DELETE FROM ` + "`child`" + ` WHERE ` + "`id`" + ` IN (3,4);

--
-- Changed rows of table ` + "`kv`" + `
--

DELETE FROM ` + "`kv`" + ` WHERE ` + "`id`" + ` IN (3);
REPLACE INTO ` + "`kv`" + ` (` + "`id`, `v`" + `) VALUES (2,'B');

--
-- Changed rows of table ` + "`parent`" + `
--

DELETE FROM ` + "`parent`" + ` WHERE ` + "`id`" + ` IN (3,4,5);
`)
	row := func(id int) string {
		code := fmt.Sprintf("c%d", id)
		switch id {
		case 10:
			code = "c11"
		case 11:
			code = "c10"
		}
		return fmt.Sprintf("(%d,'%s','new name %d',%d.5)", id, code, id, id)
	}
	var ids []int
	for id := 10; id < 610; id++ {
		if id != 11 {
			ids = append(ids, id)
		}
	}
	ids = append(ids, 2001, 2002, 2003, 11)
	for len(ids) > 0 {
		n := min(100, len(ids))
		var vals []string
		for _, id := range ids[:n] {
			vals = append(vals, row(id))
		}
		ids = ids[n:]
		b.WriteString("REPLACE INTO `parent` (`id`, `code`, `name`, `f`) VALUES " + strings.Join(vals, ",") + ";\n")
	}
	b.WriteString(`
--
-- Changed rows of table ` + "`tags`" + `
--

DELETE FROM ` + "`tags`" + ` WHERE (` + "`k`, `n`" + `) IN (('xxxxxxx1',1),('xxxxxxx2',2));
REPLACE INTO ` + "`tags`" + ` (` + "`k`, `n`, `v`" + `) VALUES ('xxxxxxx3',0,0x00FF),('zzzz',1,NULL);

DELIMITER ;;
CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW.name = CONCAT('T:', NEW.name) ;;
DELIMITER ;
DELIMITER ;;
CREATE TRIGGER parent_ad AFTER DELETE ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('deleted ', OLD.id)) ;;
DELIMITER ;
CREATE VIEW v_parent AS SELECT id, code FROM parent;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

`)
	return []byte(b.String())
}

// deltaFixture is a base, a delta archive from it, and what the delta
// makes of the base.
type deltaFixture struct {
	base    []byte // the base, as mysqldump wrote it (a full dump, not a delta)
	archive string // the delta (plain SQL with its marker)
	m       *manifest.Manifest
	want    map[string]string // snapshot of the base after the delta
	changes int64             // rows the changes file lists
}

func (f *deltaFixture) delta() Delta { return Delta{Archive: f.archive, Manifest: f.m} }

// baseTarget is a new database holding the base, made as the source's
// was (mysqldump prints FLOAT with 6 digits: its dump is not the base).
func (f *deltaFixture) baseTarget(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t, deltaBase...)
	return db
}

// load imports the delta into target.
func (f *deltaFixture) load(ctx context.Context, t *testing.T, target *mysqltest.DB, opts ...Option) (*Result, error) {
	t.Helper()
	in, err := os.ReadFile(f.archive)
	require.NoError(t, err)
	return Load(ctx, target.Config(), bytes.NewReader(in), Config{Threads: 2, RequireMarker: true, Fingerprint: f.m.SQL.XXH3},
		append([]Option{WithDelta(f.delta())}, opts...)...)
}

// rowDigests reads every row of the tables as the row digest contract
// says (internal/chunk): per table, per encoded key, the row's digest.
func rowDigests(t *testing.T, db *mysqltest.DB, tables []string) (map[string]map[string]uint64, map[string]*chunk.Key) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for _, s := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'", "SET sql_mode = ''"} {
		_, err := conn.ExecContext(ctx, s)
		require.NoError(t, err)
	}
	keys, err := chunk.Keys(ctx, conn, db.Name)
	require.NoError(t, err)
	out := map[string]map[string]uint64{}
	for _, tb := range tables {
		cols, err := rowhash.Columns(ctx, conn, db.Name, tb)
		require.NoError(t, err)
		require.NotNil(t, keys[tb], "table %s has no key", tb)
		pos, err := keys[tb].Positions(rowhash.Stored(cols))
		require.NoError(t, err)
		rows, err := conn.QueryContext(ctx, "SELECT "+rowhash.SelectList(cols)+" FROM "+ident.Quote(tb))
		require.NoError(t, err)
		m := map[string]uint64{}
		n := len(rowhash.Stored(cols))
		for rows.Next() {
			vals := make([]sql.RawBytes, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			row := make([][]byte, n)
			for i, v := range vals {
				row[i] = v
			}
			m[string(chunk.AppendKey(nil, row, pos))] = rowhash.Row(row)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		out[tb] = m
	}
	return out, keys
}

// newDeltaFixture makes the base in a source database, dumps it, runs the
// delta on the source through the stock client, and writes the delta's
// archive, changes file and manifest.
func newDeltaFixture(t *testing.T) *deltaFixture {
	t.Helper()
	src := mysqltest.New(t)
	src.MustExec(t, deltaBase...)
	f := &deltaFixture{base: mysqldump(t, src)}
	before, keys := rowDigests(t, src, deltaRowTables)
	body := deltaSQL()
	stockLoad(t, src, body)
	after, _ := rowDigests(t, src, deltaRowTables)
	f.want = snapshot(t, src)

	dir := t.TempDir()
	f.archive = filepath.Join(dir, "cut.sql")
	h := manifest.NewStreamHash()
	h.Write(body)
	stream := manifest.StreamOf(int64(len(body)), h)
	archive := append(body, stream.Marker()...)
	require.NoError(t, os.WriteFile(f.archive, archive, 0o600))

	var cb bytes.Buffer
	cw, err := chunk.NewChangesWriter(&cb)
	require.NoError(t, err)
	var tables []manifest.DeltaTable
	for _, tb := range deltaRowTables {
		var changed []string
		for k, d := range before[tb] {
			if nd, ok := after[tb][k]; !ok || nd != d {
				changed = append(changed, k)
			}
		}
		for k := range after[tb] {
			if _, ok := before[tb][k]; !ok {
				changed = append(changed, k)
			}
		}
		sort.Strings(changed)
		dt := manifest.DeltaTable{Name: tb, Action: manifest.DeltaRows}
		if len(changed) > 0 {
			cw.BeginTable(tb, keys[tb])
			for _, k := range changed {
				c := chunk.Change{Key: []byte(k)}
				c.Base, c.InBase = before[tb][k]
				c.New, c.InNew = after[tb][k]
				if c.InNew {
					dt.Replaced++
				} else {
					dt.Deleted++
				}
				cw.Add(c)
			}
			cw.EndTable()
			f.changes += int64(len(changed))
		}
		tables = append(tables, dt)
	}
	require.NoError(t, cw.Close())
	require.NoError(t, os.WriteFile(chunk.ChangesPathFor(f.archive), cb.Bytes(), 0o600))
	tables = append(tables, manifest.DeltaTable{Name: "gone", Action: manifest.DeltaDrop},
		manifest.DeltaTable{Name: "newtab", Action: manifest.DeltaWhole, Why: "new", Replaced: 2})
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	f.m = &manifest.Manifest{Format: manifest.FormatVersion, Tool: "lamigrate", Database: src.Name, SQL: stream,
		File: manifest.File{Name: "cut.sql", Size: int64(len(archive)), SHA256: sum(archive)},
		Delta: &manifest.Delta{
			Base:    manifest.Base{Archive: "base.sql", Database: src.Name},
			Changes: manifest.File{Name: "cut.sql" + chunk.ChangesSuffix, Size: int64(cb.Len()), SHA256: sum(cb.Bytes())},
			Tables:  tables,
		}}
	require.NoError(t, manifest.Write(manifest.PathFor(f.archive), f.m))
	return f
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
// key's cascade would have changed: audit holds its one base row, no
// parent name went through the BEFORE INSERT trigger, and every child the
// delta did not delete is there, the orphan of the deleted parent 5 too.
func assertNoTriggerFired(t *testing.T, db *mysqltest.DB) {
	t.Helper()
	var audit, renamed, children, orphan int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM audit").Scan(&audit))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM parent WHERE name LIKE 'T:%'").Scan(&renamed))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM child").Scan(&children))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM child WHERE parent_id = 5").Scan(&orphan))
	assert.Equal(t, 1, audit, "rows in audit: a DELETE trigger fired during the delta")
	assert.Zero(t, renamed, "parent rows renamed by the BEFORE INSERT trigger during the delta")
	assert.Equal(t, 1498, children, "child rows: 1500 less the 2 the delta deletes (a REPLACE or DELETE of a parent cascaded?)")
	assert.Equal(t, 1, orphan, "the child of the deleted parent 5 (the DELETE cascaded?)")
}

// TestDeltaApply: a delta onto its base gives the stock client's result,
// in parallel; no trigger fires and no foreign key cascades; the progress
// table is gone; the same delta again is already applied and changes
// nothing.
func TestDeltaApply(t *testing.T) {
	f := newDeltaFixture(t)
	target := f.baseTarget(t)
	res, err := f.load(context.Background(), t, target)
	require.NoError(t, err, "applying the delta to its base")
	require.NotNil(t, res.Delta, "the result reports the base check")
	assert.Equal(t, f.changes, res.Delta.Rows, "rows checked")
	assert.Equal(t, f.changes, res.Delta.AtBase, "rows found as the base has them")
	assert.Equal(t, 4, res.Delta.Tables, "tables with changed rows")
	assert.False(t, res.AlreadyApplied)
	assert.True(t, res.Marker, "the delta's completion marker was read")
	compare(t, snapshot(t, target), f.want)
	assertNoTriggerFired(t, target)
	assert.False(t, hasProgressTable(t, target), "the progress table is left after a successful delta")

	times := triggerTimes(t, target)
	require.Len(t, times, 2)
	again, err := f.load(context.Background(), t, target)
	require.NoError(t, err, "applying the delta a second time")
	assert.True(t, again.AlreadyApplied, "the second import says the delta is applied already")
	assert.Equal(t, f.changes, again.Delta.AtNew, "rows found as the delta leaves them")
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
			fmt.Sprintf("load: the target does not hold the base of cut.sql: table `parent`: 3 of %d rows the delta replaces or deletes differ from the base (first key 20); import the base first (base.sql), or take a new delta --since the manifest of what this database holds", f.parentChanges())},
		{"a row the delta replaces is gone", []string{"DELETE FROM kv WHERE id = 2"},
			"load: the target does not hold the base of cut.sql: table `kv`: 1 of 2 rows the delta replaces or deletes differ from the base (first key 2); import the base first (base.sql), or take a new delta --since the manifest of what this database holds"},
		{"a row the delta adds is there", []string{"INSERT INTO tags VALUES ('zzzz', 1, 'x')"},
			"load: the target does not hold the base of cut.sql: table `tags`: 1 of 4 rows the delta replaces or deletes differ from the base (first key ('zzzz', 1)); import the base first (base.sql), or take a new delta --since the manifest of what this database holds"},
		{"a table is missing", []string{"DROP TABLE audit"},
			"load: the target does not hold the base of cut.sql: table `audit`, whose rows the delta changes, is not in `%s`; import the base first (base.sql), or take a new delta --since the manifest of what this database holds"},
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
		in, err := os.ReadFile(f.archive)
		require.NoError(t, err)
		before := snapshot(t, target)
		_, err = Load(context.Background(), target.Config(), bytes.NewReader(in), Config{Force: true})
		assert.ErrorIs(t, err, ErrDelta, "a delta loaded as if it were a full dump")
		compare(t, snapshot(t, target), before)
	})

	t.Run("full dump with WithDelta", func(t *testing.T) {
		target := mysqltest.New(t)
		_, err := Load(context.Background(), target.Config(), bytes.NewReader(f.base), Config{}, WithDelta(f.delta()))
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

// parentChanges counts the parent rows the fixture's delta touches: 3
// deleted, 600 replaced (10-609), 3 new.
func (f *deltaFixture) parentChanges() int { return 3 + 600 + 3 }

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
			assert.Equal(t, f.changes, chk.AtBase+chk.AtNew+chk.Pending, "rows at the base, at the result or pending")
			if chk.AtBase > 0 && chk.AtNew > 0 {
				mixed = true
			}

			res, err := f.load(context.Background(), t, target)
			require.NoError(t, err, "the same import again")
			assert.True(t, res.Resumed, "the second import resumed the first")
			assert.False(t, res.AlreadyApplied)
			compare(t, snapshot(t, target), f.want)
			assertNoTriggerFired(t, target)
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

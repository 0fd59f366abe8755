package main

// lamigrate import of a delta archive (dump --since). Until dump writes
// deltas, the test makes one by hand as the format says: the delta's SQL,
// the changes file of the rows it touches (their digests in the base and
// after, per the row digest contract of internal/chunk) and a manifest
// with Delta set. The state every import must reach is the base after the
// delta through the stock client.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
	"github.com/qualityunit/lamigrate/load"
)

// importDeltaBase: parents with a unique code, children whose foreign key
// cascades, and triggers that would show if they fired.
var importDeltaBase = []string{
	"CREATE TABLE parent (id INT NOT NULL PRIMARY KEY, code VARCHAR(12) NOT NULL, name VARCHAR(60), UNIQUE KEY code (code)) ENGINE=InnoDB",
	"INSERT INTO parent SELECT seq, CONCAT('c', seq), CONCAT('name ', seq) FROM seq_1_to_50",
	"CREATE TABLE child (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, KEY parent_id (parent_id), CONSTRAINT child_fk FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE) ENGINE=InnoDB",
	"INSERT INTO child SELECT seq, seq FROM seq_1_to_50",
	"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(80)) ENGINE=InnoDB",
	"CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW.name = CONCAT('T:', NEW.name)",
	"CREATE TRIGGER parent_ad AFTER DELETE ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (OLD.id)",
}

// importDeltaSQL deletes parent 3 and child 4 (the child of 3 stays: no
// cascade), replaces parents 1, 2 and 5 (1 and 2 swapping codes) and adds
// parent 60.
const importDeltaSQL = "-- lamigrate 0.test delta dump (mysqldump-compatible; load with the mariadb/mysql client after its base)\n" +
	"--\n-- Host: localhost    Database: src\n" +
	"/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n" +
	"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n" +
	"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n" +
	"DROP TRIGGER IF EXISTS `parent_ad`;\nDROP TRIGGER IF EXISTS `parent_bi`;\n" +
	"DELETE FROM `child` WHERE `id` IN (4);\n" +
	"DELETE FROM `parent` WHERE `id` IN (3);\n" +
	"REPLACE INTO `parent` (`id`, `code`, `name`) VALUES (1,'c2','one'),(5,'c5','five');\n" +
	"REPLACE INTO `parent` (`id`, `code`, `name`) VALUES (2,'c1','two'),(60,'c60','sixty');\n" +
	"CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW.name = CONCAT('T:', NEW.name);\n" +
	"CREATE TRIGGER parent_ad AFTER DELETE ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (OLD.id);\n" +
	"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n"

// stockClient runs text through the mariadb client into db.
func stockClient(t *testing.T, db *mysqltest.DB, text string) {
	t.Helper()
	c := db.Config()
	cmd := exec.Command(mysqltest.Tool(t, "mariadb", "mysql"), "--no-defaults", "--user="+c.User, db.Name)
	if c.Net == "unix" {
		cmd.Args = append(cmd.Args, "--socket="+c.Addr)
	} else {
		host, port, _ := strings.Cut(c.Addr, ":")
		cmd.Args = append(cmd.Args, "--protocol=tcp", "--host="+host, "--port="+port)
	}
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+c.Passwd)
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "stock client: %s", out)
}

// contractDigests reads the rows of table as the row digest contract
// says: per encoded key, the row's digest.
func contractDigests(t *testing.T, db *mysqltest.DB, table string) (map[string]uint64, *chunk.Key) {
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
	cols, err := rowhash.Columns(ctx, conn, db.Name, table)
	require.NoError(t, err)
	stored := rowhash.Stored(cols)
	pos, err := keys[table].Positions(stored)
	require.NoError(t, err)
	rows, err := conn.QueryContext(ctx, "SELECT "+rowhash.SelectList(cols)+" FROM "+ident.Quote(table))
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		vals := make([]sql.RawBytes, len(stored))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		row := make([][]byte, len(vals))
		for i, v := range vals {
			row[i] = v
		}
		out[string(chunk.AppendKey(nil, row, pos))] = rowhash.Row(row)
	}
	require.NoError(t, rows.Err())
	return out, keys[table]
}

// importDelta is the hand-made delta: its archive path and the digests of
// the base after it (through the stock client).
type importDelta struct {
	archive string
	want    map[string]string
	changes int
}

func newImportDelta(t *testing.T) *importDelta {
	t.Helper()
	src := mysqltest.New(t)
	src.MustExec(t, importDeltaBase...)
	tables := []string{"child", "parent"}
	before := map[string]map[string]uint64{}
	keys := map[string]*chunk.Key{}
	for _, tb := range tables {
		before[tb], keys[tb] = contractDigests(t, src, tb)
	}
	stockClient(t, src, importDeltaSQL)
	d := &importDelta{want: digests(t, src, "parent", "child", "audit")}

	d.archive = filepath.Join(t.TempDir(), "cut.sql")
	body := []byte(importDeltaSQL)
	h := manifest.NewStreamHash()
	h.Write(body)
	stream := manifest.StreamOf(int64(len(body)), h)
	archive := append(body, stream.Marker()...)
	require.NoError(t, os.WriteFile(d.archive, archive, 0o600))

	var cb bytes.Buffer
	cw, err := chunk.NewChangesWriter(&cb)
	require.NoError(t, err)
	var dts []manifest.DeltaTable
	for _, tb := range tables {
		after, _ := contractDigests(t, src, tb)
		var changed []string
		for k, v := range before[tb] {
			if nv, ok := after[k]; !ok || nv != v {
				changed = append(changed, k)
			}
		}
		for k := range after {
			if _, ok := before[tb][k]; !ok {
				changed = append(changed, k)
			}
		}
		sort.Strings(changed)
		cw.BeginTable(tb, keys[tb])
		for _, k := range changed {
			c := chunk.Change{Key: []byte(k)}
			c.Base, c.InBase = before[tb][k]
			c.New, c.InNew = after[k]
			cw.Add(c)
		}
		cw.EndTable()
		d.changes += len(changed)
		dts = append(dts, manifest.DeltaTable{Name: tb, Action: manifest.DeltaRows})
	}
	require.NoError(t, cw.Close())
	require.NoError(t, os.WriteFile(chunk.ChangesPathFor(d.archive), cb.Bytes(), 0o600))
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "lamigrate", Database: src.Name, SQL: stream,
		File: manifest.File{Name: "cut.sql", Size: int64(len(archive)), SHA256: sum(archive)},
		Delta: &manifest.Delta{
			Base:    manifest.Base{Archive: "base.sql.zst", Database: src.Name},
			Changes: manifest.File{Name: "cut.sql" + chunk.ChangesSuffix, Size: int64(cb.Len()), SHA256: sum(cb.Bytes())},
			Tables:  dts,
		}}
	require.NoError(t, manifest.Write(manifest.PathFor(d.archive), m))
	return d
}

func (d *importDelta) baseTarget(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t, importDeltaBase...)
	return db
}

// TestImportDelta: lamigrate import applies a delta onto its base (no
// trigger fires, no cascade, no progress table left) and says so; the same
// command again says the delta is applied already and changes nothing.
func TestImportDelta(t *testing.T) {
	d := newImportDelta(t)
	target := d.baseTarget(t)
	dsn := target.Config().FormatDSN()
	code, stdout, stderr := runCLI(t, nil, "import", "--dsn", dsn, "--threads", "2", d.archive)
	require.Equal(t, 0, code, "lamigrate import of a delta onto its base: %s", stderr)
	assert.Contains(t, stdout, "imported "+d.archive+" into "+target.Name+": ")
	assert.Contains(t, stdout, "delta: the target held its base: 6 rows of 2 tables checked in ")
	assert.Equal(t, d.want, digests(t, target, "parent", "child", "audit"), "tables after the delta")
	var audit, renamed, children int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM audit").Scan(&audit))
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM parent WHERE name LIKE 'T:%'").Scan(&renamed))
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM child").Scan(&children))
	assert.Zero(t, audit, "the DELETE trigger fired")
	assert.Zero(t, renamed, "the INSERT trigger fired")
	assert.Equal(t, 49, children, "children: 50 less the one the delta deletes (a DELETE or REPLACE cascaded?)")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "progress table left")

	code, stdout, stderr = runCLI(t, nil, "import", "--dsn", dsn, d.archive)
	require.Equal(t, 0, code, "the same delta again: %s", stderr)
	assert.Equal(t, d.archive+" is already applied to "+target.Name+": all 6 rows it changes are as it leaves them; nothing changed\n", stdout)
	assert.Equal(t, d.want, digests(t, target, "parent", "child", "audit"), "tables after the second import")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "progress table left by the second import")

	code, stdout, stderr = runCLI(t, nil, "--json", "import", "--dsn", dsn, d.archive)
	require.Equal(t, 0, code, stderr)
	var res importResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "--json output %q", stdout)
	assert.True(t, res.AlreadyApplied, "--json already_applied")
	require.NotNil(t, res.Delta, "--json delta")
	assert.Equal(t, int64(6), res.Delta.AtNew, "--json delta.at_new")
}

// TestImportDeltaRefused: one line, exit 1 and nothing changed for a
// target that is not the base, a delta without its manifest, and
// --follow of a delta.
func TestImportDeltaRefused(t *testing.T) {
	d := newImportDelta(t)

	target := d.baseTarget(t)
	target.MustExec(t, "UPDATE parent SET name = 'edited' WHERE id = 2")
	before := digests(t, target, "parent", "child", "audit")
	code, stdout, stderr := runCLI(t, nil, "import", "--dsn", target.Config().FormatDSN(), d.archive)
	assert.Equal(t, exitFailure, code, "import onto a target that is not the base")
	assert.Empty(t, stdout)
	assert.Equal(t, "lamigrate import: the target does not hold the base of cut.sql: table `parent`: 1 of 5 rows the delta replaces or deletes differ from the base (first key 2); import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds\n", stderr)
	assert.Equal(t, before, digests(t, target, "parent", "child", "audit"), "a refused delta changed rows")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "a refused delta left a progress table")
	var triggers int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()").Scan(&triggers))
	assert.Equal(t, 2, triggers, "a refused delta dropped triggers")

	// Without its manifest a delta is not mistaken for a full dump.
	bare := filepath.Join(t.TempDir(), "cut.sql")
	text, err := os.ReadFile(d.archive)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bare, text, 0o600))
	base := d.baseTarget(t)
	before = digests(t, base, "parent", "child", "audit")
	code, _, stderr = runCLI(t, nil, "import", "--dsn", base.Config().FormatDSN(), "--force", bare)
	assert.Equal(t, exitFailure, code, "import of a delta without its manifest")
	assert.Equal(t, "lamigrate import: "+bare+" is a delta (lamigrate dump --since) and its manifest "+bare+".manifest.json is missing: put the manifest and "+bare+".changes.zst beside it and run the same command again\n", stderr)
	assert.Equal(t, before, digests(t, base, "parent", "child", "audit"), "a refused delta changed rows")

	// A delta still being written (FILE.partial): its first MiB says
	// what it is.
	followed := filepath.Join(t.TempDir(), "cut.sql")
	head, rest, _ := strings.Cut(string(text), "\n")
	pad := strings.Repeat("-- "+strings.Repeat("x", 60)+"\n", 20000)
	require.NoError(t, os.WriteFile(followed+load.FollowPartialSuffix, []byte(head+"\n"+pad+rest), 0o600))
	code, _, stderr = runCLI(t, nil, "import", "--dsn", base.Config().FormatDSN(), "--follow", "--stall", "2s", followed)
	assert.Equal(t, exitFailure, code, "import --follow of a delta")
	assert.Equal(t, "lamigrate import: "+followed+" is a delta (lamigrate dump --since), which is applied only after checking that the target holds its base, against the changes file its dump writes at the end: run the same command without --follow once the dump finished\n", stderr)
	assert.Equal(t, before, digests(t, base, "parent", "child", "audit"), "a refused delta changed rows")
	assert.Equal(t, 0, tableCount(t, base, load.ProgressTable), "a refused delta left a progress table")
}

// tableCount counts the tables of db named name.
func tableCount(t *testing.T, db *mysqltest.DB, name string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name).Scan(&n))
	return n
}

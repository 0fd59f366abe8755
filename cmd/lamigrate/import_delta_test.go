package main

// lamigrate import of a delta archive, as the cutover makes one: lamigrate
// dump of the source (the base), imported into the target; rows changed
// on the source; lamigrate dump --since the base; lamigrate import of the
// delta. The source after its changes is the state the target must reach.

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/load"
)

// importDeltaBase: parents with a unique code, children whose foreign key
// cascades, and triggers that would show if they fired during the delta.
var importDeltaBase = []string{
	"CREATE TABLE parent (id INT NOT NULL PRIMARY KEY, code VARCHAR(12) NOT NULL, name VARCHAR(60), UNIQUE KEY code (code)) ENGINE=InnoDB",
	"INSERT INTO parent SELECT seq, CONCAT('c', seq), CONCAT('name ', seq) FROM seq_1_to_50",
	"CREATE TABLE child (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, KEY parent_id (parent_id), CONSTRAINT child_fk FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE) ENGINE=InnoDB",
	"INSERT INTO child SELECT seq, seq FROM seq_1_to_50",
	"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(80)) ENGINE=InnoDB",
	"CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW.name = CONCAT('T:', NEW.name)",
	"CREATE TRIGGER parent_ad AFTER DELETE ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (OLD.id)",
}

// importDeltaChanges, on one connection: parents 1 and 2 swap codes,
// 5 is renamed, 3 is deleted (its child cascades, audit gets a row), 4
// is deleted without the cascade (its child stays), 60 is new (renamed
// once by the trigger). The delta then replaces 3 parents and adds 1,
// deletes 2 parents and 1 child, and adds 2 audit rows: 9 rows in 3
// tables.
var importDeltaChanges = []string{
	"UPDATE parent SET code = 'tmp' WHERE id = 1",
	"UPDATE parent SET code = 'c1' WHERE id = 2",
	"UPDATE parent SET code = 'c2', name = 'one' WHERE id = 1",
	"UPDATE parent SET name = 'five' WHERE id = 5",
	"DELETE FROM parent WHERE id = 3",
	"SET FOREIGN_KEY_CHECKS = 0",
	"DELETE FROM parent WHERE id = 4",
	"SET FOREIGN_KEY_CHECKS = 1",
	"INSERT INTO parent VALUES (60, 'c60', 'sixty')",
}

// importDelta is a base archive, a delta since it, and the source's
// digests after its changes.
type importDelta struct {
	base, archive string
	want          map[string]string
}

func newImportDelta(t *testing.T) *importDelta {
	t.Helper()
	src := mysqltest.New(t)
	src.MustExec(t, importDeltaBase...)
	dsn := src.Config().FormatDSN()
	dir := t.TempDir()
	d := &importDelta{base: filepath.Join(dir, "base.sql.zst"), archive: filepath.Join(dir, "cut.sql.zst")}
	code, _, stderr := runCLI(t, nil, "-q", "dump", "--dsn", dsn, "-o", d.base)
	require.Equal(t, 0, code, "the base dump: %s", stderr)
	ctx := context.Background()
	conn, err := src.Conn(ctx)
	require.NoError(t, err)
	for _, s := range importDeltaChanges {
		_, err := conn.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
	conn.Close()
	// --live: other tests write on this server; nothing writes to src.
	code, _, stderr = runCLI(t, nil, "-q", "dump", "--dsn", dsn, "-o", d.archive, "--since", manifest.PathFor(d.base), "--live")
	require.Equal(t, 0, code, "the delta dump: %s", stderr)
	d.want = digests(t, src, "parent", "child", "audit")
	return d
}

// baseTarget is a new database into which lamigrate imported the base.
func (d *importDelta) baseTarget(t *testing.T) *mysqltest.DB {
	t.Helper()
	db := mysqltest.New(t)
	code, _, stderr := runCLI(t, nil, "-q", "import", "--dsn", db.Config().FormatDSN(), d.base)
	require.Equal(t, 0, code, "importing the base: %s", stderr)
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
	assert.Contains(t, stdout, "applied "+d.archive+" to "+target.Name+": 6 rows written, 3 deleted, ")
	assert.Contains(t, stdout, "delta: the target held its base: 9 rows of 3 tables checked in ")
	assert.Equal(t, d.want, digests(t, target, "parent", "child", "audit"), "tables after the delta")
	var audit, renamed, children, orphan int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM audit").Scan(&audit))
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM parent WHERE name LIKE 'T:%'").Scan(&renamed))
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM child").Scan(&children))
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM child WHERE parent_id = 4").Scan(&orphan))
	assert.Equal(t, 2, audit, "audit rows: the source's 2 (the DELETE trigger fired during the import?)")
	assert.Equal(t, 1, renamed, "parents renamed by the INSERT trigger: the source's one (it fired during the import?)")
	assert.Equal(t, 49, children, "children: 50 less the one the source's cascade deleted (a DELETE or REPLACE cascaded?)")
	assert.Equal(t, 1, orphan, "the child of parent 4, deleted on the source without the cascade (the DELETE cascaded?)")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "progress table left")

	code, stdout, stderr = runCLI(t, nil, "import", "--dsn", dsn, d.archive)
	require.Equal(t, 0, code, "the same delta again: %s", stderr)
	assert.Equal(t, d.archive+" is already applied to "+target.Name+": all 9 rows it changes are as it leaves them; nothing changed\n", stdout)
	assert.Equal(t, d.want, digests(t, target, "parent", "child", "audit"), "tables after the second import")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "progress table left by the second import")

	code, stdout, stderr = runCLI(t, nil, "--json", "import", "--dsn", dsn, d.archive)
	require.Equal(t, 0, code, stderr)
	var res importResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "--json output %q", stdout)
	assert.True(t, res.AlreadyApplied, "--json already_applied")
	require.NotNil(t, res.Delta, "--json delta")
	assert.Equal(t, int64(9), res.Delta.AtNew, "--json delta.at_new")
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
	assert.Equal(t, "lamigrate import: the target does not hold the base of cut.sql.zst: table `parent`: 1 of 6 rows the delta replaces or deletes differ from the base (first key 2); import the base first (base.sql.zst), or take a new delta --since the manifest of what this database holds\n", stderr)
	assert.Equal(t, before, digests(t, target, "parent", "child", "audit"), "a refused delta changed rows")
	assert.Equal(t, 0, tableCount(t, target, load.ProgressTable), "a refused delta left a progress table")
	var triggers int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()").Scan(&triggers))
	assert.Equal(t, 2, triggers, "a refused delta dropped triggers")

	// Without its manifest a delta is not mistaken for a full dump.
	bare := filepath.Join(t.TempDir(), "cut.sql.zst")
	text, err := os.ReadFile(d.archive)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bare, text, 0o600))
	base := d.baseTarget(t)
	before = digests(t, base, "parent", "child", "audit")
	code, _, stderr = runCLI(t, nil, "import", "--dsn", base.Config().FormatDSN(), "--force", bare)
	assert.Equal(t, exitFailure, code, "import of a delta without its manifest")
	assert.Equal(t, "lamigrate import: "+bare+" is a delta (lamigrate dump --since) and its manifest "+bare+".manifest.json is missing: put the manifest and "+bare+".changes.zst beside it and run the same command again\n", stderr)
	assert.Equal(t, before, digests(t, base, "parent", "child", "audit"), "a refused delta changed rows")

	// A delta still being written (FILE.partial, plain SQL here): its
	// first MiB says what it is.
	r, _, err := codec.NewReader(strings.NewReader(string(text)), nil)
	require.NoError(t, err)
	plain, err := io.ReadAll(r)
	require.NoError(t, err)
	followed := filepath.Join(t.TempDir(), "cut.sql")
	head, rest, _ := strings.Cut(string(plain), "\n")
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

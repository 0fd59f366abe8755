package dump

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// digestTable is one table of a row digests file with its rows.
type digestTable struct {
	*chunk.Table
	rows []chunk.Row
}

// keys renders the rows' keys as queryStrings does (columns joined by |).
func (d *digestTable) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range d.rows {
		vals, err := chunk.DecodeKey(r.Key)
		require.NoError(t, err)
		var parts []string
		for _, v := range vals {
			parts = append(parts, string(v))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// readRowDigests reads the row digests file beside the archive at path.
func readRowDigests(t *testing.T, path string) map[string]*digestTable {
	t.Helper()
	f, err := os.Open(chunk.PathFor(path))
	require.NoError(t, err)
	defer f.Close()
	r, err := chunk.NewReader(f)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, chunk.Header{Version: chunk.Version, TimeZone: "+00:00", Charset: "utf8mb4"}, r.Header)
	out := map[string]*digestTable{}
	for {
		var rows []chunk.Row
		tb, err := r.Next(func(row chunk.Row) error {
			rows = append(rows, chunk.Row{Key: append([]byte(nil), row.Key...), Digest: row.Digest})
			return nil
		})
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out[tb.Name] = &digestTable{Table: tb, rows: rows}
	}
}

// contractDB holds a row of every type, in tables with odd names.
func contractDB(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE `ty``pes` (id INT PRIMARY KEY, s VARCHAR(10) NULL, bin VARBINARY(8), bl BLOB, "+
			"d DATE, dt DATETIME(6), ts TIMESTAMP NULL, f FLOAT, dbl DOUBLE, de DECIMAL(10,3), j JSON, "+
			"b BIT(10), e ENUM('a','b'), st SET('x','y'), `odd ``col` TEXT, "+
			"g INT AS (id * 2) VIRTUAL, gs VARCHAR(12) AS (CONCAT(s, '!')) STORED) CHARSET utf8mb4",
		"SET STATEMENT sql_mode = '', time_zone = '+00:00' FOR INSERT INTO `ty``pes` (id, s, bin, bl, d, dt, ts, f, dbl, de, j, b, e, st, `odd ``col`) VALUES "+
			"(1, 'héllo😀', 0x00FF0a27, 0x5C00, '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15', 0.1, 1e-300, -12.5, '{\"a\": [1, null]}', b'1010000001', 'b', 'x,y', 'tab\\there'), "+
			"(2, NULL, NULL, NULL, '0000-00-00', '0000-00-00 00:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "+
			"(3, '', '', '', NULL, NULL, '1970-01-01 00:00:01', 3.4028235e38, -0.0, 0, 'null', b'0', 'a', '', '')",
	)
	return db
}

// goldenDigests pin the contract (chunk.Version rd1): the digest of each
// row of contractDB's table, by id. A change here means the contract
// changed: bump chunk.Version, or every base taken before would look
// changed (or, worse, unchanged) to a later dump --since.
var goldenDigests = map[string]string{
	"1": "de11fd8fae0d314f",
	"2": "53686e597ea98617",
	"3": "978fecf9035e2084",
}

// TestRowDigestsContract: the digests are rowhash's row encoding over the
// stored columns (generated ones left out: they are recomputed from the
// others, and dump does not carry them) read in UTC and utf8mb4, so an
// independent recomputation agrees; NULL, ” and 0x00 differ; and the
// values are pinned.
func TestRowDigestsContract(t *testing.T) {
	db := contractDB(t)
	path, m, res := dumpFile(t, db, "c.sql", Config{}, Options{})
	require.NotNil(t, m.RowDigests)
	assert.Equal(t, "c.sql.rows.zst", m.RowDigests.Name)
	assert.Equal(t, chunk.Version, m.RowDigests.Contract)
	assert.Equal(t, res.RowDigests.SHA256, m.RowDigests.SHA256)
	rows := readRowDigests(t, path)
	tb := rows["ty`pes"]
	require.NotNil(t, tb)
	require.Equal(t, &chunk.Key{Index: "PRIMARY", Columns: []string{"id"}}, tb.Key)
	require.Len(t, tb.rows, 3)

	// Recompute from the server, reading as the contract says.
	conn := utcConn(t, db)
	ctx := context.Background()
	cols, err := rowhash.Columns(ctx, conn, db.Name, "ty`pes")
	require.NoError(t, err)
	q := "SELECT " + rowhash.SelectList(cols) + " FROM " + ident.Quote("ty`pes") + " ORDER BY id"
	assert.NotContains(t, q, "`g`", "generated columns are not digested")
	r, err := conn.QueryContext(ctx, q)
	require.NoError(t, err)
	defer r.Close()
	n := len(rowhash.Stored(cols))
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	got := map[string]string{}
	for i := 0; r.Next(); i++ {
		require.NoError(t, r.Scan(ptrs...))
		row := make([][]byte, n)
		for j, v := range vals {
			row[j] = v
		}
		assert.Equal(t, rowhash.Row(row), tb.rows[i].Digest, "row %d: the file's digest is the contract's", i)
		k, err := chunk.DecodeKey(tb.rows[i].Key)
		require.NoError(t, err)
		got[string(k[0])] = fmt.Sprintf("%016x", tb.rows[i].Digest)
	}
	require.NoError(t, r.Err())
	assert.Equal(t, goldenDigests, got, "the pinned digests of the contract")

	// The encoding separates NULL, '' and values that could shift.
	distinct := map[uint64]string{}
	for name, row := range map[string][][]byte{
		"NULL": {nil}, "empty": {{}}, "zero byte": {{0}}, "two NULLs": {nil, nil},
		"a|bc": {[]byte("a"), []byte("bc")}, "ab|c": {[]byte("ab"), []byte("c")}, "abc": {[]byte("abc")},
	} {
		d := rowhash.Row(row)
		assert.NotContains(t, distinct, d, "%s collides with %s", name, distinct[d])
		distinct[d] = name
	}
}

// TestRowDigestsKeys: the key a table's rows are listed by is its primary
// key, else a unique key whose columns are NOT NULL, stored and whole; a
// table with none is listed without rows, and a row of several MB (the
// pipe's big-row path) is listed like any other.
func TestRowDigestsKeys(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE uk (a INT NULL, b VARCHAR(5) NOT NULL, c INT NOT NULL, UNIQUE KEY ua (a), UNIQUE KEY ub (b, c))",
		"INSERT INTO uk VALUES (NULL, 'x', 2), (NULL, 'x', 1), (5, 'A', 9)",
		"CREATE TABLE nullable (a INT NULL, UNIQUE KEY (a))",
		"INSERT INTO nullable VALUES (NULL), (NULL), (1)",
		"CREATE TABLE prefix (a TEXT NOT NULL, UNIQUE KEY (a(10)))",
		"INSERT INTO prefix VALUES ('p')",
		"CREATE TABLE gen (a INT NOT NULL, g INT AS (a + 1) STORED, UNIQUE KEY (g))",
		"INSERT INTO gen (a) VALUES (1), (2)",
		"CREATE TABLE big (id INT PRIMARY KEY, v LONGBLOB)",
		"INSERT INTO big VALUES (2, REPEAT('x', 5 << 20)), (1, 'small'), (3, REPEAT('y', 5 << 20))",
		"CREATE TABLE empty (id INT PRIMARY KEY)",
		"CREATE TABLE `odd ``t` (`k``ey` VARCHAR(5), `n,2` INT, PRIMARY KEY (`k``ey`, `n,2`))",
		"INSERT INTO `odd ``t` VALUES ('b', 1), ('a|', 2), ('a', 10)",
	)
	for _, conns := range []int{1, 3} {
		path, m, _ := dumpFile(t, db, fmt.Sprintf("k%d.sql", conns), Config{Connections: conns}, Options{})
		rows := readRowDigests(t, path)
		assert.Equal(t, &chunk.Key{Index: "ub", Columns: []string{"b", "c"}}, rows["uk"].Key)
		assert.Equal(t, []string{"A|9", "x|1", "x|2"}, rows["uk"].keys(t))
		for _, name := range []string{"nullable", "prefix", "gen"} {
			assert.Nil(t, rows[name].Key, "%s has no usable key", name)
			assert.Empty(t, rows[name].rows, "%s: no rows listed", name)
			assert.Equal(t, m.Table(name).Rows, rows[name].Rows, "%s: rows counted", name)
		}
		assert.Equal(t, []string{"1", "2", "3"}, rows["big"].keys(t))
		assert.NotNil(t, rows["empty"].Key)
		assert.Empty(t, rows["empty"].rows)
		assert.Equal(t, &chunk.Key{Index: "PRIMARY", Columns: []string{"k`ey", "n,2"}}, rows["odd `t"].Key)
		assert.Equal(t, []string{"a|10", "a||2", "b|1"}, rows["odd `t"].keys(t))
		assert.Equal(t, 7, m.RowDigests.Tables)
		assert.Equal(t, 4, m.RowDigests.Keyed)
		assert.EqualValues(t, 9, m.RowDigests.Rows)
	}
}

// TestWriteArchiveRowDigests: WriteArchive writes the row digests only into
// Options.RowDigests, and its manifest names them only then.
func TestWriteArchiveRowDigests(t *testing.T) {
	db := contractDB(t)
	ctx := context.Background()
	var archive, rowsFile bytes.Buffer
	res, err := WriteArchive(ctx, db.DB, &archive, "x.sql.gz", Config{Database: db.Name}, Options{RowDigests: &rowsFile})
	require.NoError(t, err)
	require.NotNil(t, res.RowDigests)
	sum := sha256.Sum256(rowsFile.Bytes())
	m := res.Manifest("test")
	require.NotNil(t, m.RowDigests)
	assert.Equal(t, "x.sql.gz.rows.zst", m.RowDigests.Name)
	assert.Equal(t, hex.EncodeToString(sum[:]), m.RowDigests.SHA256)
	assert.EqualValues(t, rowsFile.Len(), m.RowDigests.Size)
	_, tables, err := chunk.ReadAll(&rowsFile)
	require.NoError(t, err)
	require.Len(t, tables, 1)
	assert.EqualValues(t, 3, tables[0].Rows)

	res, err = WriteArchive(ctx, db.DB, &archive, "y.sql.gz", Config{Database: db.Name}, Options{})
	require.NoError(t, err)
	assert.Nil(t, res.RowDigests)
	assert.Nil(t, res.Manifest("test").RowDigests, "no row digests asked for, none named")
}

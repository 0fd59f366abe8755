package chunk_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// TestChangesFile: a changes file reads back as written, a cut one is
// refused, and Change.State tells base, applied and foreign rows apart.
func TestChangesFile(t *testing.T) {
	var buf bytes.Buffer
	w, err := chunk.NewChangesWriter(&buf)
	require.NoError(t, err)
	key := &chunk.Key{Index: "PRIMARY", Columns: []string{"id"}}
	in := []chunk.Change{
		{Key: []byte("\x01a"), InBase: true, Base: 1, InNew: true, New: 2},
		{Key: []byte("\x01b"), InBase: true, Base: 3},
		{Key: []byte("\x01c"), InNew: true, New: 4},
	}
	w.BeginTable("t", key)
	for _, c := range in {
		w.Add(c)
	}
	w.EndTable()
	require.NoError(t, w.Close())

	r, err := chunk.NewChangesReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	var got []chunk.Change
	tb, err := r.Next(func(c chunk.Change) error {
		c.Key = append([]byte(nil), c.Key...)
		got = append(got, c)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "t", tb.Name)
	assert.Equal(t, key, tb.Key)
	assert.Equal(t, int64(3), tb.Rows)
	assert.Equal(t, in, got)
	_, err = r.Next(nil)
	assert.ErrorIs(t, err, io.EOF)
	r.Close()

	// A file cut anywhere is refused.
	for _, n := range []int{buf.Len() - 1, buf.Len() / 2} {
		r, err := chunk.NewChangesReader(bytes.NewReader(buf.Bytes()[:n]))
		if err != nil {
			assert.ErrorIs(t, err, chunk.ErrCorrupt)
			continue
		}
		for err == nil {
			_, err = r.Next(nil)
		}
		assert.ErrorIs(t, err, chunk.ErrCorrupt, "cut at %d", n)
		r.Close()
	}
	// A row digests file is not a changes file.
	var rows bytes.Buffer
	rw, err := chunk.NewWriter(&rows)
	require.NoError(t, err)
	require.NoError(t, rw.Close())
	_, err = chunk.NewChangesReader(bytes.NewReader(rows.Bytes()))
	assert.ErrorIs(t, err, chunk.ErrCorrupt)

	upd, del, ins := in[0], in[1], in[2]
	assert.Equal(t, chunk.AtBase, upd.State(true, 1))
	assert.Equal(t, chunk.AtNew, upd.State(true, 2))
	assert.Equal(t, chunk.Foreign, upd.State(true, 9))
	assert.Equal(t, chunk.Foreign, upd.State(false, 0))
	assert.Equal(t, chunk.AtBase, del.State(true, 3))
	assert.Equal(t, chunk.AtNew, del.State(false, 0))
	assert.Equal(t, chunk.Foreign, del.State(true, 4))
	assert.Equal(t, chunk.AtBase, ins.State(false, 0))
	assert.Equal(t, chunk.AtNew, ins.State(true, 4))
	assert.Equal(t, chunk.Foreign, ins.State(true, 5))
}

// TestAppendKeyIn: the condition built from encoded keys selects exactly
// those rows, for one- and two-column keys of every literal kind.
func TestAppendKeyIn(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE s (id CHAR(8) PRIMARY KEY, v INT) CHARSET utf8mb4",
		"INSERT INTO s VALUES ('a''b\\\\c', 1), ('plain', 2), ('x', 3), ('', 4)",
		"CREATE TABLE m (b VARBINARY(8), n BIGINT, d DATE, v INT, PRIMARY KEY (b, n, d))",
		"INSERT INTO m VALUES (X'00ff', -5, '2020-01-02', 1), ('', 7, '0000-00-00', 2), ('z', 7, '2021-01-01', 3)",
	)
	ctx := context.Background()
	keys, err := chunk.Keys(ctx, db.DB, db.Name)
	require.NoError(t, err)
	for table, want := range map[string][]string{"s": {"1", "4"}, "m": {"1", "2"}} {
		cols, err := rowhash.Columns(ctx, db.DB, db.Name, table)
		require.NoError(t, err)
		k := keys[table]
		pos, err := k.Positions(rowhash.Stored(cols))
		require.NoError(t, err)
		types, err := k.Types(cols)
		require.NoError(t, err)
		// Read the keys of the rows whose v is wanted.
		rows, err := db.DB.QueryContext(ctx, "SELECT "+rowhash.SelectList(cols)+" FROM "+table+" WHERE v IN ("+want[0]+","+want[1]+")")
		require.NoError(t, err)
		var enc [][]byte
		for rows.Next() {
			vals := make([]sql.RawBytes, len(rowhash.Stored(cols)))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			row := make([][]byte, len(vals))
			for i, v := range vals {
				row[i] = append([]byte{}, v...)
			}
			enc = append(enc, chunk.AppendKey(nil, row, pos))
		}
		require.NoError(t, rows.Err())
		require.Len(t, enc, 2, table)
		cond, err := k.AppendKeyIn(nil, types, enc)
		require.NoError(t, err)
		var got []string
		r2, err := db.DB.QueryContext(ctx, "SELECT v FROM "+table+" WHERE "+string(cond)+" ORDER BY v")
		require.NoError(t, err, string(cond))
		for r2.Next() {
			var v string
			require.NoError(t, r2.Scan(&v))
			got = append(got, v)
		}
		assert.Equal(t, want, got, string(cond))
	}
}

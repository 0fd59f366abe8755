package chunk

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Key is the key a table's row digests are recorded by: its primary key,
// or else the first unique key, by index name, whose columns are all NOT
// NULL, stored (not generated) and whole (no prefix). Such a
// key names every row exactly once, which is what a delta needs to say
// "this row changed" or "this row is gone".
type Key struct {
	Index   string   // PRIMARY or the unique index's name
	Columns []string // in index order
}

// Keys returns, by table name, the key of every table of schema that has
// one whose columns are all NOT NULL and whole, in one query of
// information_schema.STATISTICS (a join with COLUMNS costs a tenth of a
// second on a LiveAgent schema). Whether the columns are stored is seen
// only with the table's columns: Positions refuses a key with a generated
// column, and the caller then treats the table as having no usable key.
func Keys(ctx context.Context, q Querier, schema string) (map[string]*Key, error) {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME,
		  NON_UNIQUE, SUB_PART IS NOT NULL, NULLABLE
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ?
		ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, schema)
	if err != nil {
		return nil, fmt.Errorf("chunk: reading the keys of %s: %w", ident.Quote(schema), err)
	}
	defer rows.Close()
	type index struct {
		table string
		key   Key
		ok    bool
	}
	var all []*index
	var cur *index
	for rows.Next() {
		var table, name, col, nullable string
		var nonUnique int
		var prefix bool
		if err := rows.Scan(&table, &name, &col, &nonUnique, &prefix, &nullable); err != nil {
			return nil, fmt.Errorf("chunk: reading the keys of %s: %w", ident.Quote(schema), err)
		}
		if cur == nil || cur.table != table || cur.key.Index != name {
			cur = &index{table: table, key: Key{Index: name}, ok: nonUnique == 0}
			all = append(all, cur)
		}
		cur.key.Columns = append(cur.key.Columns, col)
		if prefix || strings.EqualFold(nullable, "YES") {
			cur.ok = false
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chunk: reading the keys of %s: %w", ident.Quote(schema), err)
	}
	out := map[string]*Key{}
	for _, ix := range all {
		if ix.ok && out[ix.table] == nil {
			k := ix.key
			out[ix.table] = &k
		}
	}
	return out, nil
}

// Positions returns where each key column is among the stored columns (the
// values a dump reads, rowhash.Stored), or an error when one is missing
// (a generated column): such a key is not usable.
func (k *Key) Positions(stored []rowhash.Column) ([]int, error) {
	pos := make([]int, len(k.Columns))
	for i, name := range k.Columns {
		pos[i] = -1
		for j, c := range stored {
			if strings.EqualFold(c.Name, name) {
				pos[i] = j
				break
			}
		}
		if pos[i] < 0 {
			return nil, fmt.Errorf("chunk: key column %s is not among the stored columns", name)
		}
	}
	return pos, nil
}

// OrderBy is the ORDER BY clause (with a leading space) that reads rows in
// key order.
func (k *Key) OrderBy() string {
	var b strings.Builder
	b.WriteString(" ORDER BY ")
	for i, c := range k.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ident.Quote(c))
	}
	return b.String()
}

// AppendKey appends the encoding of a row's key to dst: for each key
// column, in key order, its value's length as a uvarint and its bytes (the
// text the server sends, FLOAT read as DOUBLE as rowhash.Expr does). Key
// columns are NOT NULL, so there is no NULL marker.
func AppendKey(dst []byte, row [][]byte, pos []int) []byte {
	for _, p := range pos {
		v := row[p]
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// DecodeKey splits an encoded key into its column values.
func DecodeKey(key []byte) ([][]byte, error) {
	var out [][]byte
	for len(key) > 0 {
		n, k := binary.Uvarint(key)
		if k <= 0 || uint64(len(key)-k) < n {
			return nil, fmt.Errorf("chunk: malformed key")
		}
		out = append(out, key[k:k+int(n)])
		key = key[k+int(n):]
	}
	return out, nil
}

package chunk

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// Querier is the part of *sql.DB, *sql.Conn and *sql.Tx that this package
// reads with.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Ranges are the key ranges of one table: the column split on (the first
// column of the primary key) and the boundary keys as SQL literals, in the
// column's order. n boundaries make n+1 ranges:
//
//	key < b1, b1 <= key < b2, ..., key >= bn
//
// which cover every row exactly once whatever the column's collation,
// because the boundaries are keys of the table itself, ordered by the
// server.
type Ranges struct {
	Column string
	Bounds []string
}

// Len is the number of ranges (1 for a table that is not split).
func (r *Ranges) Len() int {
	if r == nil {
		return 1
	}
	return len(r.Bounds) + 1
}

// Where returns the condition selecting range i (no "WHERE"), or "" for
// a table that is not split.
func (r *Ranges) Where(i int) string {
	if r == nil || len(r.Bounds) == 0 {
		return ""
	}
	c := ident.Quote(r.Column)
	var conds []string
	if i > 0 {
		conds = append(conds, c+" >= "+r.Bounds[i-1])
	}
	if i < len(r.Bounds) {
		conds = append(conds, c+" < "+r.Bounds[i])
	}
	return strings.Join(conds, " AND ")
}

// Split returns about parts key ranges of schema.table on the first column
// of its primary key, or nil when the table is not split: no primary key,
// a key prefix, a key type other than an integer or a (VAR)CHAR with a
// collation, too few distinct keys, or parts < 2. The ranges depend only
// on the data and parts, never on who asks: the dump and verify cut a
// table the same way. Read inside a snapshot, they are that snapshot's.
func Split(ctx context.Context, q Querier, schema, table string, parts int) (*Ranges, error) {
	if parts < 2 {
		return nil, nil
	}
	var col, dataType, collation string
	err := q.QueryRowContext(ctx, `SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), COALESCE(c.COLLATION_NAME, '')
		FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
		  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY' AND s.SEQ_IN_INDEX = 1
		  AND s.SUB_PART IS NULL`, schema, table).Scan(&col, &dataType, &collation)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	numeric := false
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		numeric = true
	case "char", "varchar":
		if collation == "" {
			return nil, nil
		}
	default:
		return nil, nil
	}
	t := ident.Qualified(schema, table)
	c := ident.Quote(col)
	var lo, hi sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT MIN("+c+"), MAX("+c+") FROM "+t).Scan(&lo, &hi); err != nil {
		return nil, err
	}
	if !lo.Valid || !hi.Valid {
		return nil, nil
	}
	var guesses []string
	if numeric {
		guesses = numberGuesses(lo.String, hi.String, parts)
	} else {
		guesses = stringGuesses(lo.String, hi.String, parts)
	}
	// Each guess becomes the first real key at or after it, and the server
	// sorts the keys in the column's own order.
	var found []string
	for _, g := range guesses {
		var k sql.NullString
		err := q.QueryRowContext(ctx, "SELECT "+c+" FROM "+t+" WHERE "+c+" >= "+g+" ORDER BY "+c+" LIMIT 1").Scan(&k)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !k.Valid) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if k.String != lo.String { // the server drops duplicates below
			found = append(found, literal(k.String, numeric))
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT "+c+" FROM "+t+" WHERE "+c+" IN ("+strings.Join(found, ", ")+") ORDER BY "+c)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r := &Ranges{Column: col}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		r.Bounds = append(r.Bounds, literal(k, numeric))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(r.Bounds) == 0 {
		return nil, nil
	}
	return r, nil
}

func literal(v string, numeric bool) string {
	if numeric {
		return v
	}
	return ident.String(v)
}

// numberGuesses returns parts-1 evenly spaced integers strictly between lo
// and hi (fewer when the range is small), as literals.
func numberGuesses(lo, hi string, parts int) []string {
	a, ok1 := new(big.Int).SetString(lo, 10)
	b, ok2 := new(big.Int).SetString(hi, 10)
	if !ok1 || !ok2 || a.Cmp(b) >= 0 {
		return nil
	}
	span := new(big.Int).Sub(b, a)
	var out []string
	prev := ""
	for i := 1; i < parts; i++ {
		g := new(big.Int).Mul(span, big.NewInt(int64(i)))
		g.Quo(g, big.NewInt(int64(parts)))
		g.Add(g, a)
		if s := g.String(); s != prev && g.Cmp(a) > 0 {
			out = append(out, s)
			prev = s
		}
	}
	return out
}

// stringGuesses interpolates parts-1 strings between lo and hi on their
// first eight bytes, as printable ASCII literals. They only need to be
// roughly in order: Split replaces them with real keys in the column's
// collation order.
func stringGuesses(lo, hi string, parts int) []string {
	word := func(s string) uint64 {
		var b [8]byte
		copy(b[:], s)
		return binary.BigEndian.Uint64(b[:])
	}
	// Case-insensitive collations order by the upper-case letter; when
	// the bytes still disagree with the server's order, spread the guesses
	// over all printable first bytes.
	a, b := word(strings.ToUpper(lo)), word(strings.ToUpper(hi))
	if a >= b {
		if lo == hi {
			return nil
		}
		a, b = word(" "), word("~~~~~~~~")
	}
	var out []string
	for i := 1; i < parts; i++ {
		// a + (b-a)*i/parts without overflow.
		hiMul, loMul := bits.Mul64(b-a, uint64(i))
		q, _ := bits.Div64(hiMul, loMul, uint64(parts))
		g := a + q
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], g)
		s := strings.TrimRight(string(clampASCII(buf[:])), " ")
		if s == "" {
			continue
		}
		out = append(out, ident.String(s))
	}
	return out
}

func clampASCII(b []byte) []byte {
	for i, c := range b {
		switch {
		case c < 0x20:
			b[i] = 0x20
		case c > 0x7e:
			b[i] = 0x7e
		}
	}
	return b
}

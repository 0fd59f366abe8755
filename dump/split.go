package dump

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Splitting. A big table is read as several key ranges of its primary key's
// first column, so that several connections can read it at once: the
// server then has several reads of the table's pages in flight instead of
// one, which is what bounds a dump of a large table on one connection.
//
// The ranges depend only on the data (the table's size estimate and its
// keys), never on the number of connections, so a dump over one connection
// and over several writes the same bytes. Each range is a statement run of
// its own: its rows start a new INSERT. The boundaries are keys of the table
// itself, put in order by the server, so the ranges
//
//	key < b1, b1 <= key < b2, ..., key >= bn
//
// cover every row exactly once whatever the column's collation.

// splitBytes is the size of the ranges a big table is cut into, and a
// table is split only when it is at least twice that (information_schema's
// DATA_LENGTH, an estimate); tests lower it. maxParts bounds the ranges per
// table.
var splitBytes int64 = 48 << 20

const maxParts = 16

// unit is one piece of work: a whole table, or one key range of it. The
// first unit of a table writes its structure, the last its trailer and
// triggers.
type unit struct {
	t           tableInfo
	part, parts int
	where       string // "" or " WHERE ..."
	total       *tableTotal
}

func (u *unit) first() bool { return u.part == 0 }
func (u *unit) last() bool  { return u.part == u.parts-1 }

// tableTotal sums a table's units; only the writer touches it.
type tableTotal struct {
	left       int // units not yet written
	res        TableResult
	dig        rowhash.Digest
	start, end time.Time
}

// plan lists the units of tables in output order, splitting the big
// transactional tables that have a usable primary key.
func (d *dumper) plan(ctx context.Context, tables []tableInfo) ([]*unit, error) {
	var units []*unit
	for _, t := range tables {
		var col string
		var bounds []string
		// Tables of very big rows stay whole: each reading connection
		// holds its current row, and memory is bounded by a few rows.
		bigRows := t.rows > 0 && t.data/t.rows >= bigRowBytes/4
		if t.data >= 2*splitBytes && consistentEngine(t.engine) && !bigRows {
			var err error
			col, bounds, err = d.bounds(ctx, t)
			if err != nil {
				return nil, &TableError{Table: t.name, Err: fmt.Errorf("choosing key ranges: %w", err)}
			}
		}
		total := &tableTotal{left: len(bounds) + 1}
		if len(bounds) == 0 {
			units = append(units, &unit{t: t, parts: 1, total: total})
			continue
		}
		col = ident.Quote(col)
		for i := 0; i <= len(bounds); i++ {
			var conds []string
			if i > 0 {
				conds = append(conds, col+" >= "+bounds[i-1])
			}
			if i < len(bounds) {
				conds = append(conds, col+" < "+bounds[i])
			}
			units = append(units, &unit{t: t, part: i, parts: len(bounds) + 1,
				where: " WHERE " + strings.Join(conds, " AND "), total: total})
		}
	}
	return units, nil
}

// bounds returns the split column's name and the boundary keys as SQL
// literals, in the column's order; no keys when t is not split (no primary
// key, a key type that cannot be split, or too few distinct keys).
func (d *dumper) bounds(ctx context.Context, t tableInfo) (col string, keys []string, err error) {
	var dataType, collation string
	err = d.conn.QueryRowContext(ctx, `SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), COALESCE(c.COLLATION_NAME, '')
		FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
		  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY' AND s.SEQ_IN_INDEX = 1
		  AND s.SUB_PART IS NULL`, d.cfg.Database, t.name).Scan(&col, &dataType, &collation)
	if err == sql.ErrNoRows {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	numeric := false
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		numeric = true
	case "char", "varchar":
		if collation == "" {
			return "", nil, nil
		}
	default:
		return "", nil, nil
	}
	q := ident.Quote(t.name)
	c := ident.Quote(col)
	var lo, hi sql.NullString
	if err := d.conn.QueryRowContext(ctx, "SELECT MIN("+c+"), MAX("+c+") FROM "+q).Scan(&lo, &hi); err != nil {
		return "", nil, err
	}
	if !lo.Valid || !hi.Valid {
		return "", nil, nil
	}
	parts := int(min(t.data/splitBytes, maxParts))
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
		err := d.conn.QueryRowContext(ctx, "SELECT "+c+" FROM "+q+" WHERE "+c+" >= "+g+" ORDER BY "+c+" LIMIT 1").Scan(&k)
		if err == sql.ErrNoRows || (err == nil && !k.Valid) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if k.String != lo.String { // the server drops duplicates below
			found = append(found, literal(k.String, numeric))
		}
	}
	if len(found) == 0 {
		return "", nil, nil
	}
	rows, err := d.conn.QueryContext(ctx, "SELECT DISTINCT "+c+" FROM "+q+" WHERE "+c+" IN ("+strings.Join(found, ", ")+") ORDER BY "+c)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return "", nil, err
		}
		keys = append(keys, literal(k, numeric))
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	return col, keys, nil
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
// roughly in order: bounds replaces them with real keys in the column's
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

// Package rowhash computes the per-table content digest that a dump records
// in its manifest and that verify recomputes from a database later.
//
// Both sides read a table with the same SELECT list (SelectList) over the text
// protocol, in a session with time_zone '+00:00', and feed each row's raw
// values to a Digest. The digest is the lane-wise sum (two 64-bit lanes, mod
// 2^64) of each row's XXH3-128 hash: it does not depend on row order, counts
// duplicate rows, and changes with any value, NULL versus the empty string
// included.
//
// XXH3 is not a cryptographic hash. The digest guards against accidental loss
// or corruption of rows (a bug, a cut stream, a wrong character set), not
// against someone crafting rows to collide.
package rowhash

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/zeebo/xxh3"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// Version prefixes every digest string, so a future algorithm cannot be
// mistaken for this one. rh1 summed SHA-256 prefixes; rh2 sums XXH3-128.
const Version = "rh2"

// Querier is the part of *sql.DB, *sql.Conn and *sql.Tx that Columns needs.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Column is one column of a table as information_schema describes it.
type Column struct {
	Name       string
	DataType   string // lower case: int, varchar, float, ...
	ColumnType string // full type: int(10) unsigned, enum('a','b'), ...
	Generated  bool   // VIRTUAL or STORED generated: never inserted
	Invisible  bool   // INVISIBLE: not in SELECT *, must be named
}

// Columns lists table's columns in ordinal order.
func Columns(ctx context.Context, q Querier, db, table string) ([]Column, error) {
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, db, table)
	if err != nil {
		return nil, fmt.Errorf("rowhash: columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []Column
	for rows.Next() {
		var c Column
		var extra string
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &extra); err != nil {
			return nil, fmt.Errorf("rowhash: columns of %s: %w", table, err)
		}
		extra = strings.ToUpper(extra)
		c.Generated = strings.Contains(extra, "GENERATED")
		c.Invisible = strings.Contains(extra, "INVISIBLE")
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rowhash: columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("rowhash: table %s has no columns (does it exist?)", table)
	}
	return cols, nil
}

// Stored returns the columns whose values a dump carries: all but generated
// ones (invisible columns included).
func Stored(cols []Column) []Column {
	out := make([]Column, 0, len(cols))
	for _, c := range cols {
		if !c.Generated {
			out = append(out, c)
		}
	}
	return out
}

// Expr is the SELECT expression that reads column c exactly. FLOAT is read as
// DOUBLE because the server prints FLOAT with 6 significant digits, which
// loses precision; the double holds the float's value exactly.
func Expr(c Column) string {
	if c.DataType == "float" {
		return "CAST(" + ident.Quote(c.Name) + " AS DOUBLE)"
	}
	return ident.Quote(c.Name)
}

// SelectList joins Expr over the stored columns of cols.
func SelectList(cols []Column) string {
	var b strings.Builder
	for i, c := range Stored(cols) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Expr(c))
	}
	return b.String()
}

// Digest accumulates rows. The zero value is ready to use. Not safe for
// concurrent use; give each goroutine its own and Merge them.
type Digest struct {
	Rows int64
	a, b uint64
	buf  []byte
	h    *xxh3.Hasher128 // for rows with big values
}

// Add adds one row; a nil element is SQL NULL (sql.RawBytes from a NULL
// column is nil; from an empty string it is empty but not nil).
func (d *Digest) Add(vals [][]byte) { addRow(d, vals) }

// AddRaw is Add for sql.RawBytes scanned from *sql.Rows.
func (d *Digest) AddRaw(vals []sql.RawBytes) { addRow(d, vals) }

// AddRow is Add that also returns the row's 64-bit digest: the low lane of
// the row's XXH3-128, the same hash the table digest sums (so it costs
// nothing more). internal/chunk records it per keyed row.
func (d *Digest) AddRow(vals [][]byte) uint64 { return addRow(d, vals).Lo }

// AddRawRow is AddRow for sql.RawBytes.
func (d *Digest) AddRawRow(vals []sql.RawBytes) uint64 { return addRow(d, vals).Lo }

// Row returns the 64-bit digest of one row as AddRow computes it, without
// adding it anywhere.
func Row(vals [][]byte) uint64 {
	var d Digest
	return d.AddRow(vals)
}

// bigValue is the size above which a value is hashed in place rather than
// copied into the row buffer first; the bytes hashed are the same.
const bigValue = 64 << 10

// addRow hashes one row's encoding: per value 0xff for NULL, or 0x00, the
// value's length as a uvarint and its bytes. The lengths keep values from
// shifting between columns; the marker keeps NULL apart from ”.
func addRow[T ~[]byte](d *Digest, vals []T) xxh3.Uint128 {
	d.buf = d.buf[:0]
	streaming := false
	for _, v := range vals {
		if v == nil {
			d.buf = append(d.buf, 0xff)
			continue
		}
		d.buf = append(d.buf, 0)
		d.buf = binary.AppendUvarint(d.buf, uint64(len(v)))
		if len(v) < bigValue {
			d.buf = append(d.buf, v...)
			continue
		}
		if !streaming {
			if d.h == nil {
				d.h = xxh3.New128()
			}
			d.h.Reset()
			streaming = true
		}
		d.h.Write(d.buf)
		d.h.Write(v)
		d.buf = d.buf[:0]
	}
	var sum xxh3.Uint128
	if streaming {
		d.h.Write(d.buf)
		sum = d.h.Sum128()
	} else {
		sum = xxh3.Hash128(d.buf)
	}
	d.a += sum.Hi
	d.b += sum.Lo
	d.Rows++
	return sum
}

// Merge adds o's rows to d.
func (d *Digest) Merge(o *Digest) {
	d.a += o.a
	d.b += o.b
	d.Rows += o.Rows
}

// String renders the digest as Version, ":" and 32 hex digits (the two lane
// sums, big-endian).
func (d *Digest) String() string {
	var out [16]byte
	binary.BigEndian.PutUint64(out[0:8], d.a)
	binary.BigEndian.PutUint64(out[8:16], d.b)
	return Version + ":" + hex.EncodeToString(out[:])
}

// Table reads every row of db.table with SelectList over q and returns the
// digest. The caller sets the session (time_zone '+00:00') and, for a
// consistent read, the transaction.
func Table(ctx context.Context, q Querier, db, table string) (*Digest, error) {
	cols, err := Columns(ctx, q, db, table)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT "+SelectList(cols)+" FROM "+ident.Qualified(db, table))
	if err != nil {
		return nil, fmt.Errorf("rowhash: reading %s: %w", table, err)
	}
	defer rows.Close()
	n := len(Stored(cols))
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	d := &Digest{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("rowhash: reading %s: %w", table, err)
		}
		d.AddRaw(vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rowhash: reading %s: %w", table, err)
	}
	return d, nil
}

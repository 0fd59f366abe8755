package dump

import (
	"context"
	"fmt"
	"time"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Splitting. A big table is read as several key ranges of its primary key's
// first column (chunk.Split), so that several connections can read it at
// once: the server then has several reads of the table's pages in flight
// instead of one, which is what bounds a dump of a large table on one
// connection.
//
// The ranges depend only on the data (the table's size estimate and its
// keys), never on the number of connections, so a dump over one connection
// and over several writes the same bytes. Each range is a statement run of
// its own: its rows start a new INSERT.

// splitBytes is the size of the ranges a big table is cut into, and a
// table is split only when it is at least twice that (information_schema's
// DATA_LENGTH, an estimate); a test lowers it for its dump through
// hooks.splitBytes. maxParts bounds the ranges per table.
const splitBytes int64 = 48 << 20

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
		var r *chunk.Ranges
		// Tables of very big rows stay whole: each reading connection
		// holds its current row, and memory is bounded by a few rows.
		bigRows := t.rows > 0 && t.data/t.rows >= bigRowBytes/4
		if size := d.hooks.split(); t.data >= 2*size && consistentEngine(t.engine) && !bigRows {
			var err error
			r, err = chunk.Split(ctx, d.conn, d.cfg.Database, t.name, int(min(t.data/size, maxParts)))
			if err != nil {
				return nil, &TableError{Table: t.name, Err: fmt.Errorf("choosing key ranges: %w", err)}
			}
		}
		total := &tableTotal{left: r.Len()}
		for i := range r.Len() {
			u := &unit{t: t, part: i, parts: r.Len(), total: total}
			if w := r.Where(i); w != "" {
				u.where = " WHERE " + w
			}
			units = append(units, u)
		}
	}
	return units, nil
}

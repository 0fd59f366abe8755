package dump

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// stmtWriter builds extended statements (prefix, then tuples) up to max
// bytes and writes them to out.
type stmtWriter struct {
	out    io.Writer
	head   []byte // written before the first statement, if any
	max    int
	prefix []byte
	buf    []byte
	n      int // tuples in buf
}

func (s *stmtWriter) raw(ctx context.Context, b []byte) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	if err := s.writeHead(ctx); err != nil {
		return err
	}
	_, err := s.out.Write(b)
	return err
}

func (s *stmtWriter) writeHead(ctx context.Context) error {
	if s.head == nil {
		return nil
	}
	h := s.head
	s.head = nil
	_, err := s.out.Write(h)
	return err
}

// tuple appends one already formatted "(…)".
func (s *stmtWriter) tuple(ctx context.Context, t []byte) error {
	if s.n > 0 && len(s.buf)+1+len(t) > s.max {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if s.n == 0 {
		s.buf = append(s.buf, s.prefix...)
	} else {
		s.buf = append(s.buf, ',')
	}
	s.buf = append(s.buf, t...)
	s.n++
	return nil
}

func (s *stmtWriter) row(ctx context.Context, vals []sql.RawBytes, kinds []kind, hexBlob bool) error {
	return s.tuple(ctx, formatTuple(nil, vals, kinds, hexBlob))
}

func (s *stmtWriter) flush(ctx context.Context) error {
	if s.n == 0 {
		return nil
	}
	if err := s.writeHead(ctx); err != nil {
		return err
	}
	b := append(s.buf, ";\n"...)
	s.buf, s.n = b[:0], 0
	_, err := s.out.Write(b)
	return err
}

func formatTuple(dst []byte, vals []sql.RawBytes, kinds []kind, hexBlob bool) []byte {
	dst = append(dst, '(')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v, kinds[i], hexBlob)
	}
	return append(dst, ')')
}

// differ compares one table's rows, read in key order, with the base's.
type differ struct {
	d       *dumper
	conn    *sql.Conn
	st      *stmtWriter
	bu      *bundle
	key     *chunk.Key
	keyPos  []int
	types   []string
	kinds   []kind
	q, name string
	ordered bool
	dt      *manifest.DeltaTable
	// deletes waiting to be written (encoded keys)
	dels    [][]byte
	delSize int
	// string keys: rows seen on one side only, so far
	pendBase map[string]pendBase
	pendCur  map[string]*pendCur
	pendSize int
	order    []string // pendCur keys in arrival order
	spilled  int      // order[:spilled] were written or matched
	baseKeys []string // pendBase keys in arrival order
	// the base's blocks that held a change
	blocks map[int64]bool
}

type pendBase struct {
	digest uint64
	idx    int64
}

type pendCur struct {
	digest  uint64
	tuple   []byte // nil once written speculatively
	written bool
}

func (f *differ) change(c chunk.Change) { f.bu.change(c) }

func (f *differ) block(idx int64) {
	if idx < 0 {
		return // before the base's first row: no block of it
	}
	if b := idx / chunk.BlockRows; !f.blocks[b] {
		f.blocks[b] = true
		f.dt.ChangedBlocks++
	}
}

func (f *differ) replace(ctx context.Context, tuple []byte) error {
	f.dt.Replaced++
	return f.st.tuple(ctx, tuple)
}

func (f *differ) del(ctx context.Context, key []byte) error {
	f.dt.Deleted++
	f.dels = append(f.dels, append([]byte(nil), key...))
	f.delSize += len(key)*2 + 8
	if f.delSize >= f.st.max/2 || len(f.dels) >= 10000 {
		return f.flushDeletes(ctx)
	}
	return nil
}

func (f *differ) flushDeletes(ctx context.Context) error {
	if len(f.dels) == 0 {
		return nil
	}
	s := []byte("DELETE FROM " + f.q + " WHERE ")
	// Exact bytes: a REPLACE of this table may have written a key that
	// only collates equal to a deleted one (its letter case changed).
	s, err := f.key.AppendKeyInExact(s, f.types, f.dels)
	if err != nil {
		return err
	}
	s = append(s, ";\n"...)
	f.dels, f.delSize = f.dels[:0], 0
	return f.st.raw(ctx, s)
}

// run reads the table and the base side by side. With an ordered key the
// two streams merge like sorted lists. Otherwise the order is the server's
// collation, which the dump does not reimplement: the streams advance in
// lockstep and a key seen on one side waits in a map until the other side
// shows it; both sides list keys in the same order, so a key waits only
// while inserted or deleted keys lie between it and its partner, and the
// maps hold (about) the changed rows. A new row waits with its formatted
// tuple; past maxPending bytes the oldest is written at once (a REPLACE of
// an unchanged row changes nothing), and its change is decided when its
// partner comes or the table ends.
func (f *differ) run(ctx context.Context, sel string, br *baseRows, ncols int, dig *rowhash.Digest, n *int64) error {
	var (
		brow    chunk.Row
		bok           = true
		bidx    int64 = -1
		err     error
		kb      []byte
		nextRow = func() error {
			brow, bok, err = br.r.NextRow()
			if bok {
				bidx++
				brow.Key = append([]byte(nil), brow.Key...)
			}
			return err
		}
	)
	if err := nextRow(); err != nil {
		return err
	}
	f.dt.Blocks = 0
	err = scanRows(ctx, f.conn, sel, ncols, func(vals []sql.RawBytes) error {
		f.d.tick(vals)
		g := dig.AddRawRow(vals)
		*n++
		kb = appendRawKey(kb[:0], vals, f.keyPos)
		f.bu.row(kb, g)
		if f.ordered {
			for bok && cmpInt(brow.Key, kb) < 0 {
				f.block(bidx)
				f.change(chunk.Change{Key: brow.Key, InBase: true, Base: brow.Digest})
				if err := f.del(ctx, brow.Key); err != nil {
					return err
				}
				if err := nextRow(); err != nil {
					return err
				}
			}
			if bok && bytes.Equal(brow.Key, kb) {
				if brow.Digest != g {
					f.block(bidx)
					f.change(chunk.Change{Key: kb, InBase: true, Base: brow.Digest, InNew: true, New: g})
					if err := f.replace(ctx, formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)); err != nil {
						return err
					}
				}
				return nextRow()
			}
			f.block(bidx)
			f.change(chunk.Change{Key: kb, InNew: true, New: g})
			return f.replace(ctx, formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob))
		}
		// Unordered: lockstep.
		if bok && bytes.Equal(brow.Key, kb) {
			if brow.Digest != g {
				f.block(bidx)
				f.change(chunk.Change{Key: kb, InBase: true, Base: brow.Digest, InNew: true, New: g})
				if err := f.replace(ctx, formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)); err != nil {
					return err
				}
			}
			return nextRow()
		}
		if err := f.curRow(ctx, kb, g, vals); err != nil {
			return err
		}
		if bok {
			if err := f.baseRow(ctx, brow, bidx); err != nil {
				return err
			}
			return nextRow()
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Base rows left: gone from the source.
	for bok {
		if f.ordered {
			f.block(bidx)
			f.change(chunk.Change{Key: brow.Key, InBase: true, Base: brow.Digest})
			if err := f.del(ctx, brow.Key); err != nil {
				return err
			}
		} else if err := f.baseRow(ctx, brow, bidx); err != nil {
			return err
		}
		if err := nextRow(); err != nil {
			return err
		}
	}
	for _, k := range f.baseKeys {
		pb, ok := f.pendBase[k]
		if !ok {
			continue
		}
		f.block(pb.idx)
		f.change(chunk.Change{Key: []byte(k), InBase: true, Base: pb.digest})
		if err := f.del(ctx, []byte(k)); err != nil {
			return err
		}
	}
	for _, k := range f.order {
		pc := f.pendCur[k]
		if pc == nil {
			continue
		}
		f.change(chunk.Change{Key: []byte(k), InNew: true, New: pc.digest})
		if !pc.written {
			if err := f.replace(ctx, pc.tuple); err != nil {
				return err
			}
		}
	}
	if err := f.st.flush(ctx); err != nil {
		return err
	}
	if err := f.flushDeletes(ctx); err != nil {
		return err
	}
	f.dt.Blocks = (bidx + chunk.BlockRows) / chunk.BlockRows
	return nil
}

// curRow handles a source row whose key is not the base's current one.
func (f *differ) curRow(ctx context.Context, key []byte, g uint64, vals []sql.RawBytes) error {
	if pb, ok := f.pendBase[string(key)]; ok {
		delete(f.pendBase, string(key))
		if pb.digest != g {
			f.block(pb.idx)
			f.change(chunk.Change{Key: key, InBase: true, Base: pb.digest, InNew: true, New: g})
			return f.replace(ctx, formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob))
		}
		return nil
	}
	t := formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)
	f.pendCur[string(key)] = &pendCur{digest: g, tuple: t}
	f.order = append(f.order, string(key))
	f.pendSize += len(t)
	for f.pendSize > maxPending && f.spilled < len(f.order) {
		pc := f.pendCur[f.order[f.spilled]]
		f.spilled++
		if pc == nil || pc.written {
			continue
		}
		if err := f.st.tuple(ctx, pc.tuple); err != nil {
			return err
		}
		f.pendSize -= len(pc.tuple)
		pc.tuple, pc.written = nil, true
	}
	return nil
}

// baseRow handles a base row whose key is not the source's current one.
func (f *differ) baseRow(ctx context.Context, r chunk.Row, idx int64) error {
	k := string(r.Key)
	if pc, ok := f.pendCur[k]; ok {
		delete(f.pendCur, k)
		f.pendSize -= len(pc.tuple)
		if pc.digest != r.Digest {
			f.block(idx)
			f.change(chunk.Change{Key: r.Key, InBase: true, Base: r.Digest, InNew: true, New: pc.digest})
			if !pc.written {
				return f.replace(ctx, pc.tuple)
			}
			f.dt.Replaced++
		}
		return nil
	}
	f.pendBase[k] = pendBase{digest: r.Digest, idx: idx}
	f.baseKeys = append(f.baseKeys, k)
	return nil
}

// cmpInt compares two encoded one-column integer keys numerically.
func cmpInt(a, b []byte) int {
	av, _ := chunk.DecodeKey(a)
	bv, _ := chunk.DecodeKey(b)
	x, y := string(av[0]), string(bv[0])
	xn, yn := strings.HasPrefix(x, "-"), strings.HasPrefix(y, "-")
	switch {
	case xn && !yn:
		return -1
	case !xn && yn:
		return 1
	}
	c := 0
	switch {
	case len(x) != len(y):
		if len(x) < len(y) {
			c = -1
		} else {
			c = 1
		}
	default:
		c = strings.Compare(x, y)
	}
	if xn {
		return -c
	}
	return c
}

package chunk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ChangesSuffix is appended to a delta archive's name to name its changes
// file: per row the delta replaces or deletes, its key, the digest it has
// in the base (if it is there) and the digest it has after the delta (if
// it is still there). An importer reads it to prove, by content, that a
// target holds the base before it changes anything (see Change.State).
const ChangesSuffix = ".changes.zst"

// ChangesPathFor returns the changes file path for a delta archive path.
func ChangesPathFor(archive string) string { return archive + ChangesSuffix }

const changesMagic = "lamigrate row changes\n"

// Change is one row a delta touches. A key new in the delta has no base
// digest (InBase false); a key the delta deletes has no new digest (InNew
// false).
type Change struct {
	Key    []byte // AppendKey's encoding
	InBase bool
	Base   uint64
	InNew  bool
	New    uint64
}

// State is what a target row says about the delta: present reports whether
// the target holds the key, digest its row digest when it does.
type State int

const (
	// AtBase: the row is as the base has it (the delta has not touched it).
	AtBase State = iota
	// AtNew: the row is as the delta leaves it (already applied).
	AtNew
	// Foreign: neither: the target does not hold the base.
	Foreign
)

// State classifies a target row against the change. A row both at base and
// at new cannot happen (the delta lists only rows whose digests differ).
func (c *Change) State(present bool, digest uint64) State {
	switch {
	case present && c.InBase && digest == c.Base, !present && !c.InBase:
		return AtBase
	case present && c.InNew && digest == c.New, !present && !c.InNew:
		return AtNew
	}
	return Foreign
}

// ChangesWriter writes a changes file: a zstd stream of
//
//	"lamigrate row changes\n" str(Version) str(TimeZone) str(Charset)
//	per table with changed rows, in dump order:
//	  'T' str(name) str(index) uvarint(#key columns) str(column)...
//	  per changed row, in key order:
//	    'C' str(key) flags [base digest] [new digest]
//	  'E' uvarint(rows)
//	'Z' uvarint(tables)
//
// where flags bit 0 says the base digest follows (the key is in the base)
// and bit 1 the new digest (the key is in the delta's result); digests are
// 8 bytes big-endian. Only Close writes 'Z': a file without it is cut.
type ChangesWriter struct {
	*recordWriter
	rows int64
}

// NewChangesWriter starts a changes file in w.
func NewChangesWriter(w io.Writer) (*ChangesWriter, error) {
	rw, err := newRecordWriter(w, changesMagic)
	if err != nil {
		return nil, err
	}
	return &ChangesWriter{recordWriter: rw}, nil
}

// BeginTable starts a table's changes.
func (w *ChangesWriter) BeginTable(name string, key *Key) {
	w.beginTable(name, key)
	w.rows = 0
}

// Add records one changed row.
func (w *ChangesWriter) Add(c Change) {
	b := append(w.buf[:0], tagChange)
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	var f byte
	if c.InBase {
		f |= 1
	}
	if c.InNew {
		f |= 2
	}
	b = append(b, f)
	if c.InBase {
		b = binary.BigEndian.AppendUint64(b, c.Base)
	}
	if c.InNew {
		b = binary.BigEndian.AppendUint64(b, c.New)
	}
	w.buf = b
	w.write(b)
	w.rows++
}

// EndTable ends the table begun last.
func (w *ChangesWriter) EndTable() {
	b := append(w.buf[:0], tagEnd)
	b = binary.AppendUvarint(b, uint64(w.rows))
	w.buf = b
	w.write(b)
	w.in = false
}

const tagChange = 'C'

// ChangesReader reads a changes file in order.
type ChangesReader struct {
	r *Reader
}

// NewChangesReader starts reading a changes file and checks its header.
func NewChangesReader(r io.Reader) (*ChangesReader, error) {
	rd, err := newReader(r, changesMagic, "not a row changes file")
	if err != nil {
		return nil, err
	}
	return &ChangesReader{r: rd}, nil
}

// Header is the file's contract.
func (c *ChangesReader) Header() Header { return c.r.Header }

// Close releases the decoder.
func (c *ChangesReader) Close() { c.r.Close() }

// Next reads the next table's changes, calling fn (may be nil) for each in
// key order (the Change's Key is valid only during the call). It returns
// the table (Rows counts its changes) or io.EOF after a whole file, and
// ErrCorrupt for a damaged or cut file.
func (c *ChangesReader) Next(fn func(Change) error) (*Table, error) {
	r := c.r
	if err := r.tableOrEnd(); err != nil {
		return nil, err
	}
	t, err := r.tableHead()
	if err != nil {
		return nil, err
	}
	if t.Key == nil {
		return nil, r.corrupt("table "+t.Name+" has changes but no key", nil)
	}
	key := make([]byte, 0, 64)
	for {
		tag, err := r.br.ReadByte()
		if err != nil {
			return nil, r.corrupt("cut short in table "+t.Name, err)
		}
		switch tag {
		case tagChange:
			n, err := r.uvarint()
			if err != nil {
				return nil, err
			}
			if n > 64<<20 {
				return nil, r.corrupt("a key is too long", nil)
			}
			key = append(key[:0], make([]byte, n)...)
			if _, err := io.ReadFull(r.br, key); err != nil {
				return nil, r.corrupt("cut short", err)
			}
			f, err := r.br.ReadByte()
			if err != nil {
				return nil, r.corrupt("cut short", err)
			}
			ch := Change{Key: key, InBase: f&1 != 0, InNew: f&2 != 0}
			if f&^3 != 0 || f == 0 {
				return nil, r.corrupt("a change of table "+t.Name+" has bad flags", nil)
			}
			if ch.InBase {
				if ch.Base, err = r.u64(); err != nil {
					return nil, err
				}
			}
			if ch.InNew {
				if ch.New, err = r.u64(); err != nil {
					return nil, err
				}
			}
			t.Rows++
			if fn != nil {
				if err := fn(ch); err != nil {
					return nil, err
				}
			}
		case tagEnd:
			n, err := r.uvarint()
			if err != nil {
				return nil, err
			}
			if int64(n) != t.Rows {
				return nil, r.corrupt(fmt.Sprintf("table %s: its end records %d changes, %d are listed", t.Name, n, t.Rows), nil)
			}
			return t, nil
		default:
			return nil, r.corrupt(fmt.Sprintf("unexpected record %q in table %s", tag, t.Name), nil)
		}
	}
}

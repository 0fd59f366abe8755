package chunk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// ErrCorrupt reports a row digests file that does not follow the format
// (cut short, damaged, or of another contract).
var ErrCorrupt = errors.New("chunk: damaged or incomplete")

// Header is what a row digests file says about its contract.
type Header struct {
	Version, TimeZone, Charset string
}

// Table is one table of a row digests file as Read found it.
type Table struct {
	Name  string
	Key   *Key // nil: no usable key, no rows listed
	Rows  int64
	Sum   uint64 // sum of the rows' digests mod 2^64
	Block []Block
}

// Block is the row count and digest sum of BlockRows rows in key order
// (fewer for a table's last); First is the encoded key of its first row.
type Block struct {
	First []byte
	Rows  int64
	Sum   uint64
}

// Reader reads a row digests file in order.
type Reader struct {
	zr     *zstd.Decoder
	br     *bufio.Reader
	Header Header
	tables int64
	done   bool
	// the table being read (NextTable to its end record)
	cur        *Table
	brows      int64
	bsum       uint64
	first, key []byte
}

// NewReader starts reading a row digests file and checks its header.
func NewReader(r io.Reader) (*Reader, error) {
	return newReader(r, magic, "not a row digests file")
}

// newReader opens a zstd stream that starts with magic and the contract.
func newReader(r io.Reader, magic, notIt string) (*Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	rd := &Reader{zr: zr, br: bufio.NewReaderSize(zr, 256<<10)}
	m := make([]byte, len(magic))
	if _, err := io.ReadFull(rd.br, m); err != nil {
		zr.Close()
		return nil, rd.corrupt("cut short or not zstd", err)
	}
	if string(m) != magic {
		zr.Close()
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, notIt)
	}
	for _, p := range []*string{&rd.Header.Version, &rd.Header.TimeZone, &rd.Header.Charset} {
		s, err := rd.str()
		if err != nil {
			zr.Close()
			return nil, err
		}
		*p = string(s)
	}
	return rd, nil
}

// Close releases the decoder.
func (r *Reader) Close() { r.zr.Close() }

func (r *Reader) corrupt(what string, err error) error {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, what)
}

func (r *Reader) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(r.br)
	if err != nil {
		return 0, r.corrupt("cut short", err)
	}
	return v, nil
}

func (r *Reader) str() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, r.corrupt("a value is too long", nil)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, r.corrupt("cut short", err)
	}
	return b, nil
}

func (r *Reader) u64() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r.br, b[:]); err != nil {
		return 0, r.corrupt("cut short", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// Row is one keyed row.
type Row struct {
	Key    []byte // AppendKey's encoding
	Digest uint64
}

// Next reads the next table; fn (may be nil) sees each of its rows in
// order (the Row's Key is only valid during the call). It returns io.EOF
// after the end record, having checked that the file ends there, and
// ErrCorrupt when the rows do not add up to the blocks and the table's
// counts, or the file is cut short.
func (r *Reader) Next(fn func(Row) error) (*Table, error) {
	t, err := r.NextTable()
	if err != nil {
		return nil, err
	}
	for {
		row, ok, err := r.NextRow()
		if err != nil {
			return nil, err
		}
		if !ok {
			return t, nil
		}
		if fn != nil {
			if err := fn(row); err != nil {
				return nil, err
			}
		}
	}
}

// NextTable reads the head of the next table, or returns io.EOF after the
// end record (having checked that the file ends there). Its rows follow
// through NextRow; the Table's counts and blocks are complete once
// NextRow reported the end. A table's rows must be read (or the table
// skipped with NextRow until it reports the end) before the next table.
func (r *Reader) NextTable() (*Table, error) {
	if r.done {
		return nil, io.EOF
	}
	if r.cur != nil {
		return nil, errors.New("chunk: the rows of table " + r.cur.Name + " were not read")
	}
	if err := r.tableOrEnd(); err != nil {
		return nil, err
	}
	t, err := r.tableHead()
	if err != nil {
		return nil, err
	}
	r.cur, r.brows, r.bsum, r.first = t, 0, 0, r.first[:0]
	return t, nil
}

// tableOrEnd reads the next record's tag: a table's (counted; its head
// follows), or the end record, checked against the tables read and the
// end of the file, after which it returns io.EOF.
func (r *Reader) tableOrEnd() error {
	tag, err := r.br.ReadByte()
	if err != nil {
		return r.corrupt("cut short (no end record)", err)
	}
	switch tag {
	case tagDone:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		if int64(n) != r.tables {
			return r.corrupt(fmt.Sprintf("the end record counts %d tables, the file holds %d", n, r.tables), nil)
		}
		if _, err := r.br.ReadByte(); err != io.EOF {
			return r.corrupt("data after the end record", err)
		}
		r.done = true
		return io.EOF
	case tagTable:
		r.tables++
		return nil
	}
	return r.corrupt(fmt.Sprintf("unexpected record %q", tag), nil)
}

// tableHead reads a table record's name and key (after its tag).
func (r *Reader) tableHead() (*Table, error) {
	name, err := r.str()
	if err != nil {
		return nil, err
	}
	t := &Table{Name: string(name)}
	index, err := r.str()
	if err != nil {
		return nil, err
	}
	ncols, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if ncols > 0 {
		t.Key = &Key{Index: string(index)}
		for range ncols {
			c, err := r.str()
			if err != nil {
				return nil, err
			}
			t.Key.Columns = append(t.Key.Columns, string(c))
		}
	}
	return t, nil
}

// NextRow returns the next row of the table NextTable began, or ok false
// at its end record, having checked that the rows add up to every block
// and to the table's counts. The Row's Key is valid until the next call.
func (r *Reader) NextRow() (row Row, ok bool, err error) {
	t := r.cur
	if t == nil {
		return Row{}, false, errors.New("chunk: NextRow without a table")
	}
	for {
		tag, err := r.br.ReadByte()
		if err != nil {
			return Row{}, false, r.corrupt("cut short in table "+t.Name, err)
		}
		switch tag {
		case tagRow:
			if t.Key == nil {
				return Row{}, false, r.corrupt("a row listed for table "+t.Name+", which has no key", nil)
			}
			n, err := r.uvarint()
			if err != nil {
				return Row{}, false, err
			}
			if n > 64<<20 {
				return Row{}, false, r.corrupt("a key is too long", nil)
			}
			r.key = append(r.key[:0], make([]byte, n)...)
			if _, err := io.ReadFull(r.br, r.key); err != nil {
				return Row{}, false, r.corrupt("cut short", err)
			}
			d, err := r.u64()
			if err != nil {
				return Row{}, false, err
			}
			if r.brows == 0 {
				r.first = append(r.first[:0], r.key...)
			}
			r.brows++
			r.bsum += d
			t.Rows++
			t.Sum += d
			return Row{Key: r.key, Digest: d}, true, nil
		case tagBlock:
			n, err := r.uvarint()
			if err != nil {
				return Row{}, false, err
			}
			s, err := r.u64()
			if err != nil {
				return Row{}, false, err
			}
			if int64(n) != r.brows || s != r.bsum {
				return Row{}, false, r.corrupt(fmt.Sprintf("table %s: a block records %d rows, %d are listed, or its digest sum differs", t.Name, n, r.brows), nil)
			}
			t.Block = append(t.Block, Block{First: append([]byte(nil), r.first...), Rows: r.brows, Sum: r.bsum})
			r.brows, r.bsum = 0, 0
		case tagEnd:
			n, err := r.uvarint()
			if err != nil {
				return Row{}, false, err
			}
			s, err := r.u64()
			if err != nil {
				return Row{}, false, err
			}
			if r.brows != 0 {
				return Row{}, false, r.corrupt("table "+t.Name+": rows after the last block", nil)
			}
			if t.Key != nil && (int64(n) != t.Rows || s != t.Sum) {
				return Row{}, false, r.corrupt(fmt.Sprintf("table %s: its end records %d rows, %d are listed, or its digest sum differs", t.Name, n, t.Rows), nil)
			}
			t.Rows, t.Sum = int64(n), s
			r.cur = nil
			return Row{}, false, nil
		default:
			return Row{}, false, r.corrupt(fmt.Sprintf("unexpected record %q in table %s", tag, t.Name), nil)
		}
	}
}

// ReadAll reads a whole row digests file and returns its header and
// tables (without the rows), checking its structure as Next does.
func ReadAll(r io.Reader) (*Header, []*Table, error) {
	rd, err := NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	defer rd.Close()
	var out []*Table
	for {
		t, err := rd.Next(nil)
		if errors.Is(err, io.EOF) {
			return &rd.Header, out, nil
		}
		if err != nil {
			return &rd.Header, out, err
		}
		out = append(out, t)
	}
}

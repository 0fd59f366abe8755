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
var ErrCorrupt = errors.New("chunk: row digests file is damaged or incomplete")

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
}

// NewReader starts reading a row digests file and checks its header.
func NewReader(r io.Reader) (*Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	rd := &Reader{zr: zr, br: bufio.NewReaderSize(zr, 256<<10)}
	m := make([]byte, len(magic))
	if _, err := io.ReadFull(rd.br, m); err != nil || string(m) != magic {
		zr.Close()
		return nil, fmt.Errorf("%w: not a row digests file", ErrCorrupt)
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
	if r.done {
		return nil, io.EOF
	}
	tag, err := r.br.ReadByte()
	if err != nil {
		return nil, r.corrupt("cut short (no end record)", err)
	}
	switch tag {
	case tagDone:
		n, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		if int64(n) != r.tables {
			return nil, r.corrupt(fmt.Sprintf("the end record counts %d tables, the file holds %d", n, r.tables), nil)
		}
		if _, err := r.br.ReadByte(); err != io.EOF {
			return nil, r.corrupt("data after the end record", err)
		}
		r.done = true
		return nil, io.EOF
	case tagTable:
	default:
		return nil, r.corrupt(fmt.Sprintf("unexpected record %q", tag), nil)
	}
	r.tables++
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
	var brows int64
	var bsum uint64
	var first []byte
	key := make([]byte, 0, 64)
	for {
		tag, err := r.br.ReadByte()
		if err != nil {
			return nil, r.corrupt("cut short in table "+t.Name, err)
		}
		switch tag {
		case tagRow:
			if t.Key == nil {
				return nil, r.corrupt("a row listed for table "+t.Name+", which has no key", nil)
			}
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
			d, err := r.u64()
			if err != nil {
				return nil, err
			}
			if brows == 0 {
				first = append([]byte(nil), key...)
			}
			brows++
			bsum += d
			t.Rows++
			t.Sum += d
			if fn != nil {
				if err := fn(Row{Key: key, Digest: d}); err != nil {
					return nil, err
				}
			}
		case tagBlock:
			n, err := r.uvarint()
			if err != nil {
				return nil, err
			}
			s, err := r.u64()
			if err != nil {
				return nil, err
			}
			if int64(n) != brows || s != bsum {
				return nil, r.corrupt(fmt.Sprintf("table %s: a block records %d rows, %d are listed, or its digest sum differs", t.Name, n, brows), nil)
			}
			t.Block = append(t.Block, Block{First: first, Rows: brows, Sum: bsum})
			brows, bsum = 0, 0
		case tagEnd:
			n, err := r.uvarint()
			if err != nil {
				return nil, err
			}
			s, err := r.u64()
			if err != nil {
				return nil, err
			}
			if brows != 0 {
				return nil, r.corrupt("table "+t.Name+": rows after the last block", nil)
			}
			if t.Key != nil && (int64(n) != t.Rows || s != t.Sum) {
				return nil, r.corrupt(fmt.Sprintf("table %s: its end records %d rows, %d are listed, or its digest sum differs", t.Name, n, t.Rows), nil)
			}
			t.Rows, t.Sum = int64(n), s
			return t, nil
		default:
			return nil, r.corrupt(fmt.Sprintf("unexpected record %q in table %s", tag, t.Name), nil)
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

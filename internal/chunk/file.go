package chunk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// The digest contract. A row's digest depends on all of these; a file or
// manifest that records another value was made under another contract and
// its digests cannot be compared with this one's.
const (
	// Version names the contract: rd1 is rowhash's row encoding (per
	// stored column in ordinal order, generated columns left out: 0xff
	// for NULL, else 0x00, the length as a uvarint and the bytes the
	// server sends over the text protocol, FLOAT as DOUBLE), hashed with
	// XXH3-128, of which the low 64 bits are the row's digest.
	Version = "rd1"
	// TimeZone and Charset are the session's time_zone and character set
	// the values are read in (TIMESTAMP values depend on the first, every
	// text value on the second).
	TimeZone = "+00:00"
	Charset  = "utf8mb4"
	// SQLMode is the session's sql_mode while rows are read.
	SQLMode = ""
	// BlockRows is the number of rows, in key order, of each block whose
	// row count and digest sum the file records (the last block of a
	// table may be shorter).
	BlockRows = 1024
)

// Suffix is appended to an archive's name to name its row digests file.
const Suffix = ".rows.zst"

// PathFor returns the row digests path for an archive path.
func PathFor(archive string) string { return archive + Suffix }

// magic starts the uncompressed file.
const magic = "lamigrate row digests\n"

// Record tags.
const (
	tagTable = 'T'
	tagRow   = 'R'
	tagBlock = 'B'
	tagEnd   = 'E'
	tagDone  = 'Z'
)

// Writer writes a row digests file: a zstd stream of
//
//	"lamigrate row digests\n" str(Version) str(TimeZone) str(Charset)
//	per table, in dump order:
//	  'T' str(name) str(index) uvarint(#key columns) str(column)...
//	  per keyed row, in key order:  'R' str(key) digest
//	  after every BlockRows rows and after the last partial block:
//	                                'B' uvarint(rows) sum
//	  'E' uvarint(rows) sum
//	'Z' uvarint(tables)
//
// where str(s) is uvarint(len(s)) and the bytes, key is AppendKey's
// encoding, digest and sum are 8 bytes big-endian, and sum is the sum mod
// 2^64 of the rows' digests. A table without a usable key has no index
// (""), no key columns and no 'R' or 'B' records: only its 'E' counts. The
// final 'Z' is written by Close only: a file without it is incomplete.
type Writer struct {
	*recordWriter
	keyed bool
	rows  int64
	sum   uint64
	brows int64
	bsum  uint64
}

// NewWriter starts a row digests file in w.
func NewWriter(w io.Writer) (*Writer, error) {
	rw, err := newRecordWriter(w, magic)
	if err != nil {
		return nil, err
	}
	return &Writer{recordWriter: rw}, nil
}

// recordWriter is what a row digests file and a changes file share: a
// zstd stream of a magic line, the contract, and tagged records, ended by
// Close's 'Z' record counting the tables.
type recordWriter struct {
	zw     *zstd.Encoder
	bw     *bufio.Writer
	buf    []byte
	tables int64
	in     bool // a table was begun and not ended
	err    error
}

func newRecordWriter(w io.Writer, magic string) (*recordWriter, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	rw := &recordWriter{zw: zw, bw: bufio.NewWriterSize(zw, 256<<10)}
	b := append([]byte(nil), magic...)
	for _, s := range []string{Version, TimeZone, Charset} {
		b = appendStr(b, s)
	}
	rw.write(b)
	return rw, rw.err
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (w *recordWriter) write(b []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

// beginTable writes a table record: its name and key (nil: none).
func (w *recordWriter) beginTable(name string, key *Key) {
	b := append(w.buf[:0], tagTable)
	b = appendStr(b, name)
	if key == nil {
		b = appendStr(b, "")
		b = binary.AppendUvarint(b, 0)
	} else {
		b = appendStr(b, key.Index)
		b = binary.AppendUvarint(b, uint64(len(key.Columns)))
		for _, c := range key.Columns {
			b = appendStr(b, c)
		}
	}
	w.buf = b
	w.write(b)
	w.in = true
	w.tables++
}

// Close writes the end record and ends the zstd stream; it does not close
// the underlying writer. The file is complete only when Close returned nil.
func (w *recordWriter) Close() error {
	if w.in && w.err == nil {
		w.err = errors.New("chunk: a table was not ended")
	}
	b := append(w.buf[:0], tagDone)
	w.write(binary.AppendUvarint(b, uint64(w.tables)))
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if err := w.zw.Close(); w.err == nil {
		w.err = err
	}
	if w.err != nil {
		return fmt.Errorf("chunk: %w", w.err)
	}
	return nil
}

// Abort releases the encoder without finishing the file.
func (w *recordWriter) Abort() { w.zw.Close() }

// BeginTable starts a table; key is nil for a table without a usable key.
func (w *Writer) BeginTable(name string, key *Key) {
	w.beginTable(name, key)
	w.keyed = key != nil
	w.rows, w.sum, w.brows, w.bsum = 0, 0, 0, 0
}

// Row records one row in key order: its encoded key (AppendKey) and
// digest. For a table without a key, key is ignored and only the count and
// sum grow.
func (w *Writer) Row(key []byte, digest uint64) {
	w.rows++
	w.sum += digest
	if !w.keyed {
		return
	}
	b := append(w.buf[:0], tagRow)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, digest)
	w.brows++
	w.bsum += digest
	if w.brows == BlockRows {
		b = w.appendBlock(b)
	}
	w.buf = b
	w.write(b)
}

func (w *Writer) appendBlock(b []byte) []byte {
	b = append(b, tagBlock)
	b = binary.AppendUvarint(b, uint64(w.brows))
	b = binary.BigEndian.AppendUint64(b, w.bsum)
	w.brows, w.bsum = 0, 0
	return b
}

// EndTable ends the table begun last.
func (w *Writer) EndTable() {
	b := w.buf[:0]
	if w.brows > 0 {
		b = w.appendBlock(b)
	}
	b = append(b, tagEnd)
	b = binary.AppendUvarint(b, uint64(w.rows))
	b = binary.BigEndian.AppendUint64(b, w.sum)
	w.buf = b
	w.write(b)
	w.in = false
}

package dump

import (
	"bufio"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Row digests. Beside the SQL, a dump writes the row digests file of
// internal/chunk (FILE.rows.zst): per table its usable key and, in key
// order, every row's key and 64-bit digest. The digests come free: they are
// the low half of the XXH3-128 that the table digest sums anyway, computed
// by the workers that format the rows. Rows are read in key order (ORDER
// BY the key, which for InnoDB is the clustered index's own order, so no
// sort), and the writer goroutine, which puts the units in output order,
// appends them to the file in that order. An extra connection's unit keeps
// its records in a second unlinked spill file, replayed when its SQL is
// copied. The records are the same whichever connection read a unit.

// RowDigests describes the row digests file of a dump.
type RowDigests struct {
	// Path is FILE.rows.zst (File), or the name WriteArchive was given.
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Contract string `json:"contract"` // chunk.Version
	Tables   int    `json:"tables"`
	// Keyed counts the tables with a usable key, whose rows are listed.
	Keyed int `json:"keyed"`
	// Rows counts the rows listed.
	Rows int64 `json:"rows"`
}

// rowWriter is the writer goroutine's end of the row digests file. Its
// methods do nothing on a nil rowWriter (no file asked for).
type rowWriter struct {
	fh  *hashWriter
	w   *chunk.Writer
	res RowDigests
}

func newRowWriter(w io.Writer) (*rowWriter, error) {
	fh := newHashWriter(w, sha256.New())
	cw, err := chunk.NewWriter(fh)
	if err != nil {
		return nil, fmt.Errorf("dump: row digests: %w", err)
	}
	return &rowWriter{fh: fh, w: cw, res: RowDigests{Contract: chunk.Version}}, nil
}

func (r *rowWriter) begin(j *tableJob) {
	if r == nil || !j.unit.first() {
		return
	}
	r.w.BeginTable(j.name, j.key)
	r.res.Tables++
	if j.key != nil {
		r.res.Keyed++
	}
}

func (r *rowWriter) batch(b *batch) {
	if r == nil {
		return
	}
	if b.job.key == nil {
		for _, d := range b.digs {
			r.w.Row(nil, d)
		}
		return
	}
	var st int32
	for i, d := range b.digs {
		e := b.keyEnd[i]
		r.w.Row(b.keys[st:e], d)
		st = e
	}
	r.res.Rows += int64(len(b.digs))
}

func (r *rowWriter) row(j *tableJob, key []byte, dig uint64) {
	if r == nil {
		return
	}
	r.w.Row(key, dig)
	if j.key != nil {
		r.res.Rows++
	}
}

// record is row for a delta, which writes its own tables.
func (r *rowWriter) record(keyed bool, key []byte, dig uint64) {
	r.w.Row(key, dig)
	if keyed {
		r.res.Rows++
	}
}

func (r *rowWriter) end(j *tableJob) {
	if r != nil && j.unit.last() {
		r.w.EndTable()
	}
}

// spill replays the records an extra connection kept for its unit.
func (r *rowWriter) spill(sp *spill) error {
	if r == nil {
		return nil
	}
	j := sp.job
	r.begin(j)
	if sp.rf != nil {
		if _, err := sp.rf.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := readRecords(sp.rf, func(key []byte, dig uint64) { r.row(j, key, dig) }); err != nil {
			return err
		}
	}
	r.end(j)
	return nil
}

// close finishes the file and records its size and SHA-256.
func (r *rowWriter) close() error {
	if err := r.w.Close(); err != nil {
		msg := ""
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			msg = " (the disk holding the output is full: free space or write the dump to another folder; the partial files were removed)"
		}
		return fmt.Errorf("dump: writing the row digests file: %w%s", errors.Unwrap(err), msg)
	}
	r.res.Size = r.fh.n
	r.res.SHA256 = hex.EncodeToString(r.fh.h.Sum(nil))
	return nil
}

// bigRowDigest adds a big row to d and returns its digest and, when its
// job records keys, its encoded key.
func bigRowDigest(d *rowhash.Digest, j *tableJob, vals []sql.RawBytes) (uint64, []byte) {
	dg := d.AddRawRow(vals)
	if !j.record || j.keyPos == nil {
		return dg, nil
	}
	row := make([][]byte, len(vals))
	for i, v := range vals {
		row[i] = v
	}
	return dg, chunk.AppendKey(nil, row, j.keyPos)
}

// spillRecords is where an extra connection keeps its unit's row records:
// per row the key's length as a uvarint, the key and the digest (8 bytes,
// big-endian), in an unlinked file beside the spill.
type spillRecords struct {
	w   *bufio.Writer
	buf []byte
}

func (s *spillRecords) add(key []byte, dig uint64) error {
	s.buf = appendRecord(s.buf[:0], key, dig)
	_, err := s.w.Write(s.buf)
	return err
}

// appendRecord appends one row record as spills and a delta's bundles
// keep it: the key's length as a uvarint, the key (none without a usable
// key) and the digest, 8 bytes big-endian.
func appendRecord(dst, key []byte, dig uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return binary.BigEndian.AppendUint64(dst, dig)
}

// readRecords calls fn for each record appendRecord wrote to r, in order
// (key nil when empty; valid during the call).
func readRecords(r io.Reader, fn func(key []byte, dig uint64)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var key []byte
	var d [8]byte
	for {
		n, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		key = append(key[:0], make([]byte, n)...)
		if _, err := io.ReadFull(br, key); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, d[:]); err != nil {
			return err
		}
		if n == 0 {
			fn(nil, binary.BigEndian.Uint64(d[:]))
		} else {
			fn(key, binary.BigEndian.Uint64(d[:]))
		}
	}
}

func (s *spillRecords) batch(b *batch) error {
	var st int32
	for i, d := range b.digs {
		var key []byte
		if b.keyEnd != nil && i < len(b.keyEnd) {
			e := b.keyEnd[i]
			key = b.keys[st:e]
			st = e
		}
		if err := s.add(key, d); err != nil {
			return err
		}
	}
	return nil
}

// newSpillRecords creates the unlinked records file of sp in dir.
func newSpillRecords(dir string, sp *spill) (*spillRecords, error) {
	f, err := os.CreateTemp(dir, ".lamigrate-spill-*.rows")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	sp.rf = f
	return &spillRecords{w: bufio.NewWriterSize(f, 64<<10)}, nil
}

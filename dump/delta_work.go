package dump

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// A delta reads its tables over every connection of the snapshot: each
// connection (a deltaWorker, with its own reader of the base's row digests
// file, which it only moves forward) takes the next table in name order and
// reads it into a bundle — its SQL, its row records and its changes, in
// memory up to bundleMem each and beyond that in an unlinked file beside the
// output. The calling goroutine copies the bundles, in name order, into the
// SQL stream, the row digests file and the changes file, so the files are
// the same bytes over one connection or several. At most bundlesAhead
// bundles wait to be copied.
const (
	bundleMem    = 4 << 20
	bundlesAhead = 4
)

// deltaWorker is one connection of a delta's snapshot.
type deltaWorker struct {
	d    *dumper
	conn *sql.Conn
	br   *baseRows
}

// bundle is one table of a delta, read and waiting to be copied.
type bundle struct {
	t    tableInfo
	sql  *spillBuf
	rows *spillBuf // per row: uvarint(len(key)), key, digest (8 bytes)
	chg  *spillBuf // per change: flags, uvarint(len(key)), key, digests
	nchg int64
	nrow int64
	key  *chunk.Key
	res  TableResult
	dt   *manifest.DeltaTable // nil: the table did not change
	err  error
	done chan struct{}
	buf  []byte
}

func newBundle(t tableInfo, dir string) *bundle {
	return &bundle{t: t, sql: &spillBuf{dir: dir}, rows: &spillBuf{dir: dir}, chg: &spillBuf{dir: dir}, done: make(chan struct{})}
}

// row records one row's key (nil without a usable key) and digest.
func (b *bundle) row(key []byte, dig uint64) {
	b.buf = appendRecord(b.buf[:0], key, dig)
	b.rows.Write(b.buf)
	b.nrow++
}

// change records one changed row.
func (b *bundle) change(c chunk.Change) {
	var f byte
	if c.InBase {
		f |= 1
	}
	if c.InNew {
		f |= 2
	}
	x := append(b.buf[:0], f)
	x = binary.AppendUvarint(x, uint64(len(c.Key)))
	x = append(x, c.Key...)
	x = binary.BigEndian.AppendUint64(x, c.Base)
	x = binary.BigEndian.AppendUint64(x, c.New)
	b.buf = x
	b.chg.Write(x)
	b.nchg++
}

func (b *bundle) close() {
	b.sql.close()
	b.rows.close()
	b.chg.close()
}

// readTables reads tables over the workers and copies each bundle, in
// order, with emit. It returns the first error, as a *TableError when a
// table was being read.
func (d *dumper) readTables(ctx context.Context, b *base, workers []*deltaWorker, tables []tableInfo, emit func(*bundle) error) error {
	g, gctx := errgroup.WithContext(ctx)
	bundles := make([]*bundle, len(tables))
	for i, t := range tables {
		bundles[i] = newBundle(t, d.spillDir)
	}
	next := make(chan int)
	ahead := make(chan struct{}, bundlesAhead+len(workers))
	g.Go(func() error {
		defer close(next)
		for i := range tables {
			select {
			case ahead <- struct{}{}:
			case <-gctx.Done():
				return nil
			}
			select {
			case next <- i:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for _, w := range workers {
		g.Go(func() error {
			for i := range next {
				bu := bundles[i]
				err := w.table(gctx, b, bu.t, bu)
				if err != nil {
					var te *TableError
					if !errors.As(err, &te) {
						err = &TableError{Table: bu.t.name, Err: err}
					}
					bu.err = err
				}
				close(bu.done)
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		for _, bu := range bundles {
			select {
			case <-bu.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if bu.err != nil {
				return bu.err
			}
			err := emit(bu)
			bu.close()
			if err != nil {
				return err
			}
			<-ahead
		}
		return nil
	})
	err := g.Wait()
	for _, bu := range bundles {
		bu.close()
	}
	return err
}

// emitBundle copies a read table into the delta's outputs, in order.
func (d *dumper) emitBundle(ctx context.Context, p *pipe, out *deltaOut, bu *bundle) error {
	if err := bu.sql.replay(func(b []byte) error {
		return p.text(ctx, append([]byte(nil), b...))
	}); err != nil {
		return fmt.Errorf("dump: reading back the delta of %s: %w", bu.t.name, err)
	}
	rw := out.rows
	rw.w.BeginTable(bu.t.name, bu.key)
	rw.res.Tables++
	if bu.key != nil {
		rw.res.Keyed++
	}
	if err := readRecords(bu.rows.reader(), func(key []byte, dig uint64) {
		rw.record(bu.key != nil, key, dig)
	}); err != nil {
		return fmt.Errorf("dump: reading back the row digests of %s: %w", bu.t.name, err)
	}
	rw.w.EndTable()
	if bu.nchg > 0 {
		out.changes.BeginTable(bu.t.name, bu.key)
		if err := replayChanges(bu.chg, out.changes.Add); err != nil {
			return fmt.Errorf("dump: reading back the changes of %s: %w", bu.t.name, err)
		}
		out.changes.EndTable()
	}
	if bu.dt != nil {
		out.delta.Tables = append(out.delta.Tables, *bu.dt)
	}
	d.res.Tables = append(d.res.Tables, bu.res)
	d.smu.Lock()
	d.status.TablesDone++
	d.status.Table = bu.t.name
	st := d.status
	d.smu.Unlock()
	if d.prog != nil {
		d.prog.Update(st)
	}
	return nil
}

func replayChanges(s *spillBuf, fn func(chunk.Change)) error {
	r := bufio.NewReaderSize(s.reader(), 64<<10)
	var key []byte
	var dg [16]byte
	for {
		f, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		key = append(key[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, key); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, dg[:]); err != nil {
			return err
		}
		fn(chunk.Change{Key: key, InBase: f&1 != 0, Base: binary.BigEndian.Uint64(dg[:8]),
			InNew: f&2 != 0, New: binary.BigEndian.Uint64(dg[8:])})
	}
}

// spillBuf keeps what is written in memory up to bundleMem bytes and the
// rest in an unlinked temporary file in dir (os.TempDir() when empty).
type spillBuf struct {
	dir string
	mem []byte
	f   *os.File
	w   *bufio.Writer
	err error
}

func (s *spillBuf) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil && len(s.mem)+len(p) <= bundleMem {
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, ".lamigrate-delta-*")
		if err != nil {
			s.err = err
			return 0, err
		}
		os.Remove(f.Name())
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := s.w.Write(s.mem); err != nil {
			s.err = err
			return 0, err
		}
		s.mem = nil
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// reader reads back everything written.
func (s *spillBuf) reader() io.Reader {
	if s.err != nil {
		return errReader{s.err}
	}
	if s.f == nil {
		return bytes.NewReader(s.mem)
	}
	if err := s.w.Flush(); err != nil {
		return errReader{err}
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return errReader{err}
	}
	return s.f
}

// replay calls fn with what was written, in pieces of up to 1 MiB (valid
// during the call).
func (s *spillBuf) replay(fn func([]byte) error) error {
	if s.err != nil {
		return s.err
	}
	if s.f == nil {
		for b := s.mem; len(b) > 0; {
			n := min(len(b), 1<<20)
			if err := fn(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	r := s.reader()
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *spillBuf) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.mem = nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

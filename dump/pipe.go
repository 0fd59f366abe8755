package dump

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// The reading goroutine copies rows into batches of about batchBytes; worker
// goroutines format them into SQL and digest them; one writer goroutine
// stitches them, in order, into INSERT statements. At most inflightBytes of
// row data (or one larger batch) is queued at a time, which bounds memory by
// a small multiple of the largest row.
//
// A row of bigRowBytes or more skips the batches: the reading goroutine
// hands the driver's buffers to the writer, which formats the row into the
// output in pieces of rowChunk bytes while the reader digests it, and the
// reader waits until the writer is done before it reads the next row. Such
// a row is held once (by the driver), never copied or rendered whole, and
// no other row queues behind it.
const (
	batchBytes    = 256 << 10
	batchRows     = 4096
	inflightBytes = 8 << 20
	bigRowBytes   = 4 << 20
	rowChunk      = 64 << 10
)

// tableJob is one unit of a table on its way through the pipe.
type tableJob struct {
	name       string
	unit       *unit
	kinds      []kind
	prefix     []byte // INSERT INTO `t` (`a`, `b`) VALUES
	start, end time.Time
	digest     rowhash.Digest
	res        TableResult // Rows and Bytes of this unit
	// Row digests (see rows.go): record says whether they are kept,
	// key is the table's usable key (nil: none) and keyPos its columns
	// among the stored ones.
	record bool
	key    *chunk.Key
	keyPos []int
}

// unitDone adds a written unit to its table's total and records the table
// once its last unit is written.
func (p *pipe) unitDone(j *tableJob) {
	t := j.unit.total
	if t.res.Name == "" {
		t.res = TableResult{Name: j.res.Name, Engine: j.res.Engine, Consistent: j.res.Consistent,
			Definition: j.res.Definition, AutoIncrement: j.res.AutoIncrement}
		t.start, t.end = j.start, j.end
	}
	t.res.Rows += j.res.Rows
	t.res.Bytes += j.res.Bytes
	t.dig.Merge(&j.digest)
	if j.start.Before(t.start) {
		t.start = j.start
	}
	if j.end.After(t.end) {
		t.end = j.end
	}
	t.left--
	if t.left == 0 {
		t.res.Digest = t.dig.String()
		t.res.Seconds = t.end.Sub(t.start).Seconds()
		p.d.res.Tables = append(p.d.res.Tables, t.res)
		p.d.status.TablesDone++
	}
}

// batch is a run of rows of one table.
type batch struct {
	job   *tableJob
	ncols int
	data  []byte  // the values, back to back
	lens  []int32 // per value; -1 is NULL
	nrows int
	// Filled by a worker:
	out    []byte // "(...),(...)"
	ends   []int  // end of each row in out; row i starts after ends[i-1]+1
	digest rowhash.Digest
	digs   []uint64 // each row's digest, when the job records them
	keys   []byte   // the rows' encoded keys, back to back
	keyEnd []int32  // end of each row's key in keys
	weight int64
	done   chan struct{}
}

// add appends a row whose values are n bytes in all.
func (b *batch) add(vals []sql.RawBytes, n int) {
	if cap(b.data)-len(b.data) < n {
		// One exact allocation for a big row, not append's doublings.
		nd := make([]byte, len(b.data), len(b.data)+n+n/8)
		copy(nd, b.data)
		b.data = nd
	}
	for _, v := range vals {
		if v == nil {
			b.lens = append(b.lens, -1)
			continue
		}
		b.lens = append(b.lens, int32(len(v)))
		b.data = append(b.data, v...)
	}
	b.nrows++
}

// format renders the batch's rows and digests them.
func (b *batch) format(hexBlob bool, row [][]byte) [][]byte {
	out := b.out[:0]
	if need := 2*len(b.data) + 8*len(b.lens) + 64; cap(out) < need && len(b.data) > batchBytes {
		// A big row: size the output once (hex doubles; escaping adds a little).
		if !hexBlob {
			need = len(b.data) + len(b.data)/32 + 8*len(b.lens) + 64
		}
		out = make([]byte, 0, need)
	}
	ends := b.ends[:0]
	kinds := b.job.kinds
	record, keyPos := b.job.record, b.job.keyPos
	b.digs, b.keys, b.keyEnd = b.digs[:0], b.keys[:0], b.keyEnd[:0]
	data := b.data
	p, i := 0, 0
	for r := 0; r < b.nrows; r++ {
		if r > 0 {
			out = append(out, ',')
		}
		out = append(out, '(')
		row = row[:0]
		for c := 0; c < b.ncols; c++ {
			if c > 0 {
				out = append(out, ',')
			}
			l := b.lens[i]
			i++
			if l < 0 {
				out = append(out, "NULL"...)
				row = append(row, nil)
				continue
			}
			v := data[p : p+int(l) : p+int(l)]
			p += int(l)
			row = append(row, v)
			out = appendValue(out, v, kinds[c], hexBlob)
		}
		out = append(out, ')')
		ends = append(ends, len(out))
		dg := b.digest.AddRow(row)
		if record {
			b.digs = append(b.digs, dg)
			if keyPos != nil {
				b.keys = chunk.AppendKey(b.keys, row, keyPos)
				b.keyEnd = append(b.keyEnd, int32(len(b.keys)))
			}
		}
	}
	b.out, b.ends = out, ends
	return row
}

// bigRow is one row of at least bigRowBytes on its way to the writer. Its
// values belong to the driver: they stay valid until the reader resumes,
// which it does only once the writer closed done, or claimed the row first
// (state) when the dump is being cancelled.
type bigRow struct {
	vals   []sql.RawBytes
	size   int
	digest rowhash.Digest
	dig    uint64        // the row's digest
	key    []byte        // its encoded key, when the job records one
	hashed chan struct{} // closed by the reader once digest is set
	done   chan struct{} // closed by the writer once it no longer reads vals
	state  atomic.Int32  // 0 queued, 1 taken by the writer, 2 abandoned by the reader
}

// item is one piece of output, in order.
type item struct {
	text  []byte
	b     *batch
	row   *bigRow
	begin *tableJob
	end   *tableJob
	spill *spill // a table an extra connection read
}

// pipe keeps no context: newPipe returns the one its goroutines run under
// (cancelled on any failure), as errgroup.WithContext does, and producers
// pass it to each call.
type pipe struct {
	cancel context.CancelFunc
	g      *errgroup.Group
	order  chan item
	work   chan *batch
	sem    *semaphore.Weighted
	pool   sync.Pool
	hw     *hashWriter
	bw     *bufio.Writer
	cfg    *Config
	d      *dumper
	chunk  []byte     // the writer's scratch for big rows
	rw     *rowWriter // the row digests file; nil: none
}

func newPipe(ctx context.Context, w io.Writer, cfg *Config, d *dumper) (*pipe, context.Context) {
	cctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(cctx)
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &pipe{cancel: cancel, g: g, cfg: cfg, d: d,
		order: make(chan item, 64), work: make(chan *batch, threads),
		sem: semaphore.NewWeighted(inflightBytes)}
	p.hw = newHashWriter(w, manifest.NewStreamHash())
	p.bw = bufio.NewWriterSize(p.hw, 256<<10)
	for range threads {
		g.Go(func() error { return p.worker(gctx) })
	}
	g.Go(func() error { return p.writer(gctx) })
	return p, gctx
}

// finish waits for the queued output to be written and flushed.
func (p *pipe) finish() error {
	close(p.work)
	close(p.order)
	err := p.g.Wait()
	p.cancel()
	if err != nil {
		return err
	}
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("dump: writing: %w", err)
	}
	return nil
}

func (p *pipe) put(ctx context.Context, it item) error {
	select {
	case p.order <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipe) text(ctx context.Context, b []byte) error { return p.put(ctx, item{text: b}) }
func (p *pipe) begin(ctx context.Context, j *tableJob) error {
	return p.put(ctx, item{begin: j})
}
func (p *pipe) end(ctx context.Context, j *tableJob) error { return p.put(ctx, item{end: j}) }

func (p *pipe) newBatch(j *tableJob, ncols int) *batch {
	b, _ := p.pool.Get().(*batch)
	if b == nil {
		b = &batch{data: make([]byte, 0, batchBytes+batchBytes/4)}
	}
	b.job, b.ncols, b.nrows = j, ncols, 0
	b.data, b.lens = b.data[:0], b.lens[:0]
	b.digest = rowhash.Digest{}
	b.done = make(chan struct{})
	return b
}

func (p *pipe) release(b *batch) {
	p.sem.Release(b.weight)
	b.job = nil
	if cap(b.data) <= 4*batchBytes && cap(b.out) <= 12*batchBytes {
		p.pool.Put(b)
	}
}

// send queues a full batch for formatting and writing.
func (p *pipe) send(ctx context.Context, b *batch) error {
	b.weight = min(int64(len(b.data))+1, inflightBytes)
	if err := p.sem.Acquire(ctx, b.weight); err != nil {
		return err
	}
	if err := p.put(ctx, item{b: b}); err != nil {
		return err
	}
	select {
	case p.work <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// row writes one big row (see bigRowBytes) straight from the driver's
// buffers and returns once vals may be reused.
func (p *pipe) row(ctx context.Context, j *tableJob, vals []sql.RawBytes, size int) error {
	r := &bigRow{vals: vals, size: size, hashed: make(chan struct{}), done: make(chan struct{})}
	if err := p.put(ctx, item{row: r}); err != nil {
		return err
	}
	r.dig, r.key = bigRowDigest(&r.digest, j, vals)
	close(r.hashed)
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		if !r.state.CompareAndSwap(0, 2) {
			<-r.done // the writer is reading vals: let it finish
		}
		return ctx.Err()
	}
}

func (p *pipe) worker(ctx context.Context) error {
	var row [][]byte
	for {
		select {
		case b, ok := <-p.work:
			if !ok {
				return nil
			}
			row = b.format(p.cfg.HexBlob, row)
			close(b.done)
		case <-ctx.Done():
			return nil
		}
	}
}

// writer writes the items in order, cutting rows into INSERT statements of
// at most NetBufferLength bytes (a longer row is a statement of its own).
func (p *pipe) writer(ctx context.Context) error {
	netBuf := p.cfg.netBuffer()
	var (
		cur        *tableJob
		ins        inserter
		lastUpdate time.Time
	)
	w := p.bw
	st := &p.d.status
	report := func(force bool) {
		if p.d.prog == nil {
			return
		}
		if now := time.Now(); force || now.Sub(lastUpdate) >= 100*time.Millisecond {
			lastUpdate = now
			st.SQLBytes = p.hw.n + int64(w.Buffered())
			s := *st
			s.Rows += p.d.spillRows.Load()
			s.DataBytes += p.d.spillData.Load()
			p.d.prog.Update(s)
		}
	}
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-p.order:
			if !ok {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		var err error
		switch {
		case it.text != nil:
			_, err = w.Write(it.text)
		case it.begin != nil:
			cur = it.begin
			ins = inserter{w: w, netBuf: netBuf, prefix: cur.prefix}
			p.rw.begin(cur)
			st.Table = cur.name
			report(true)
		case it.b != nil:
			b := it.b
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			var n int64
			n, err = ins.batch(b)
			cur.res.Bytes += n
			cur.res.Rows += int64(b.nrows)
			cur.digest.Merge(&b.digest)
			p.rw.batch(b)
			st.Rows += int64(b.nrows)
			st.DataBytes += int64(len(b.data))
			p.release(b)
			report(false)
		case it.row != nil:
			r := it.row
			if !r.state.CompareAndSwap(0, 1) {
				return ctx.Err()
			}
			var n int64
			n, err = ins.row(r.vals, cur.kinds, p.cfg.HexBlob, &p.chunk)
			<-r.hashed
			close(r.done)
			cur.res.Bytes += n
			cur.res.Rows++
			cur.digest.Merge(&r.digest)
			p.rw.row(cur, r.key, r.dig)
			st.Rows++
			st.DataBytes += int64(r.size)
			report(false)
		case it.spill != nil:
			sp := it.spill
			select {
			case <-sp.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if sp.err != nil {
				return sp.err
			}
			cur = nil
			st.Table = sp.job.name
			if err = copySpill(w, sp); err != nil {
				err = &TableError{Table: sp.job.name, Err: fmt.Errorf("copying its spill file: %w", err)}
				break
			}
			if err = p.rw.spill(sp); err != nil {
				err = &TableError{Table: sp.job.name, Err: fmt.Errorf("copying its row digests: %w", err)}
				break
			}
			sp.close()
			p.unitDone(sp.job)
			report(true)
		case it.end != nil:
			var n int64
			n, err = ins.finish()
			cur.res.Bytes += n
			j := it.end
			j.end = time.Now()
			p.rw.end(j)
			p.unitDone(j)
			report(true)
		}
		if err != nil {
			var te *TableError
			if errors.As(err, &te) {
				return err
			}
			if cur != nil {
				return &TableError{Table: cur.name, Err: fmt.Errorf("writing: %w", err)}
			}
			return fmt.Errorf("dump: writing: %w", err)
		}
	}
}

// inserter cuts one table's formatted rows into INSERT statements of at
// most netBuf bytes (a longer row is a statement of its own). The main
// writer and the spill files of extra connections use it, so a table's SQL
// is the same bytes whichever connection read it.
type inserter struct {
	w      *bufio.Writer
	netBuf int
	prefix []byte
	open   bool
	total  int
}

// batch writes b's rows and returns the bytes written.
func (s *inserter) batch(b *batch) (int64, error) {
	w := s.w
	var n int64
	write := func(p []byte) error {
		k, err := w.Write(p)
		n += int64(k)
		return err
	}
	var err error
	run := -1
	prevEnd := 0
	for i := 0; i < b.nrows && err == nil; i++ {
		st := 0
		if i > 0 {
			st = b.ends[i-1] + 1
		}
		e := b.ends[i]
		rl := e - st
		switch {
		case !s.open:
			err = write(s.prefix)
			s.open, s.total, run = true, len(s.prefix)+rl+2, st
		case s.total+rl+1 <= s.netBuf:
			s.total += rl + 1
			if run < 0 {
				err = write(comma)
				run = st
			}
		default:
			if run >= 0 {
				err = write(b.out[run:prevEnd])
			}
			if err == nil {
				err = write(stmtEnd)
			}
			if err == nil {
				err = write(s.prefix)
			}
			s.total, run = len(s.prefix)+rl+2, st
		}
		prevEnd = e
	}
	if err == nil && run >= 0 {
		err = write(b.out[run:prevEnd])
	}
	return n, err
}

// row writes one row, formatting it from vals in pieces; chunk is scratch
// space kept between calls. The statements are cut as batch cuts them.
func (s *inserter) row(vals []sql.RawBytes, kinds []kind, hexBlob bool, chunk *[]byte) (int64, error) {
	cw := &stickyWriter{w: s.w}
	rl := rowLen(vals, kinds, hexBlob)
	switch {
	case !s.open:
		cw.Write(s.prefix)
		s.open, s.total = true, len(s.prefix)+rl+2
	case s.total+rl+1 <= s.netBuf:
		s.total += rl + 1
		cw.Write(comma)
	default:
		cw.Write(stmtEnd)
		cw.Write(s.prefix)
		s.total = len(s.prefix) + rl + 2
	}
	if cw.err == nil {
		*chunk = writeRow(cw, vals, kinds, hexBlob, *chunk)
	}
	return cw.n, cw.err
}

// stickyWriter counts what it writes and keeps the first error, after which
// it writes nothing.
type stickyWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *stickyWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	k, err := c.w.Write(p)
	c.n += int64(k)
	c.err = err
	return k, err
}

// finish ends the open statement, if any.
func (s *inserter) finish() (int64, error) {
	if !s.open {
		return 0, nil
	}
	s.open = false
	k, err := s.w.Write(stmtEnd)
	return int64(k), err
}

var (
	comma   = []byte(",")
	stmtEnd = []byte(";\n")
)

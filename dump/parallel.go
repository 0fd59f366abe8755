package dump

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Parallel reading. When the user may LOCK TABLES, a helper connection
// takes LOCK TABLES ... READ on every dumped base table (which waits for
// transactions that wrote to them to commit and holds new writers off),
// every reading connection then starts its REPEATABLE READ transaction WITH
// CONSISTENT SNAPSHOT, and the helper unlocks: all snapshots saw the same
// committed state of the dumped tables. The lock is held for a few round
// trips. Without the privilege (or when the lock is not granted within
// lockWait) the dump reads over its one connection as before.
//
// The work is the units of plan (whole tables, and key ranges of big
// ones), in output order. Every connection takes the first unit nobody has
// taken yet (extra connections only transactional ones). The main
// connection reads its units straight into the pipe; an extra connection
// writes a unit's SQL, formatted exactly as the pipe would, into an
// unlinked spill file beside the output, and the pipe's writer copies the
// spill into the stream when its turn comes. The stream, its hash, the
// per-table digests and the completion marker are the same bytes as a
// one-connection dump of the same state.

// DefaultConnections is the number of reading connections when
// Config.Connections is 0. On the 2-core bench (bench/dump.sh) 4 beat 2
// and 3: the server reads a big table's pages one at a time per
// connection, so more connections keep more reads in flight.
const DefaultConnections = 4

// lockWait bounds how long LOCK TABLES may wait for in-flight writers
// (lock_wait_timeout, seconds) before the dump falls back to one connection.
const lockWait = 5

// sink receives one table's output: the pipe, or a spill file.
type sink interface {
	text(ctx context.Context, b []byte) error
	begin(ctx context.Context, j *tableJob) error
	newBatch(j *tableJob, ncols int) *batch
	send(ctx context.Context, b *batch) error
	// row writes one row of at least bigRowBytes, after the batches sent
	// before it, and returns once vals may be reused.
	row(ctx context.Context, j *tableJob, vals []sql.RawBytes, size int) error
	end(ctx context.Context, j *tableJob) error
}

// sessionSQL prepares a reading connection; the transaction starts later.
func sessionSQL(db string) []string {
	return []string{
		"SET NAMES utf8mb4",
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = ''",
		"SET SESSION net_write_timeout = 3600",
		"SET SESSION net_read_timeout = 3600",
		"/*!100100 SET SESSION max_statement_time = 0 */",
		"USE " + ident.Quote(db),
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
}

const startSnapshot = "START TRANSACTION WITH CONSISTENT SNAPSHOT"

// discard closes conn without returning it to the pool (its session was
// changed).
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// snapshot starts the main connection's transaction and, when possible,
// the extra connections' transactions on the same state.
func (d *dumper) snapshot(ctx context.Context, tables []tableInfo, units []*unit) error {
	n := d.cfg.connections()
	cons := 0
	for _, u := range units {
		if consistentEngine(u.t.engine) {
			cons++
		}
	}
	n = min(n, cons)
	if d.db != nil && n > 1 {
		helpers, err := d.lockedSnapshots(ctx, tables, n-1)
		if err != nil {
			return err
		}
		if helpers != nil {
			d.helpers = helpers
			d.res.Connections = 1 + len(helpers)
			return nil
		}
	}
	d.res.Connections = 1
	return d.exec(ctx, startSnapshot)
}

// lockedSnapshots opens extra connections and starts all snapshots under
// LOCK TABLES. It returns nil helpers (and no error) when the lock cannot be
// had; an error only when the main connection failed.
func (d *dumper) lockedSnapshots(ctx context.Context, tables []tableInfo, extra int) ([]*sql.Conn, error) {
	var opened []*sql.Conn
	// fail closes the extra connections and, unless the dump is being
	// cancelled, says why it reads over one.
	fail := func(why error) ([]*sql.Conn, error) {
		for _, c := range opened {
			discard(c)
		}
		if why != nil && ctx.Err() == nil {
			var me *mysql.MySQLError
			if errors.As(why, &me) {
				why = me
			}
			d.warn("reading over one connection instead of %d: %v (parallel reading needs the LOCK TABLES privilege on the database, held for a moment, and %d free server connections)", extra+1, why, extra+2)
		}
		return nil, ctx.Err()
	}
	for range extra {
		c, err := d.db.Conn(ctx)
		if err != nil {
			return fail(err)
		}
		opened = append(opened, c)
		if err := execOn(ctx, c, sessionSQL(d.cfg.Database)...); err != nil {
			return fail(err)
		}
	}
	lock, err := d.db.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer discard(lock)
	var b strings.Builder
	b.WriteString("LOCK TABLES ")
	for i, t := range tables {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ident.Qualified(d.cfg.Database, t.name) + " READ")
	}
	if err := execOn(ctx, lock, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockWait), b.String()); err != nil {
		// No LOCK TABLES privilege, a writer that does not commit, a table
		// dropped meanwhile: one connection will do.
		return fail(err)
	}
	unlock := func() error {
		_, err := lock.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES")
		return err
	}
	if err := d.exec(ctx, startSnapshot); err != nil {
		unlock()
		fail(nil)
		return nil, err
	}
	d.hooks.snapshotStarted(ctx, 0)
	for i, c := range opened {
		if err := execOn(ctx, c, startSnapshot); err != nil {
			unlock()
			return fail(err)
		}
		d.hooks.snapshotStarted(ctx, i+1)
	}
	if err := unlock(); err != nil {
		fail(nil)
		return nil, fmt.Errorf("dump: UNLOCK TABLES: %w", err)
	}
	return opened, nil
}

// closeHelpers ends the extra connections' transactions.
func (d *dumper) closeHelpers(ctx context.Context) {
	for _, c := range d.helpers {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.ExecContext(rctx, "ROLLBACK")
		cancel()
		discard(c)
	}
	d.helpers = nil
}

// maxSpill bounds the spill files waiting to be copied: an extra
// connection starts a new unit only while less than this is spilled, so
// the disk a dump needs beyond its archive stays bounded when the main
// connection is slow on a big unit (a test lowers it for its dump through
// hooks.maxSpill).
const maxSpill int64 = 512 << 20

// ScratchBytes estimates the most disk space beyond the archive that a
// dump of about sqlBytes of SQL over connections connections (0:
// DefaultConnections) uses for a moment beside it: the spill files of the
// extra connections, at most maxSpill waiting to be copied plus the units
// being read (taken as two split ranges each).
func ScratchBytes(sqlBytes int64, connections int) int64 {
	if connections == 0 {
		connections = DefaultConnections
	}
	if connections <= 1 {
		return 0
	}
	return min(sqlBytes, maxSpill+int64(connections-1)*2*splitBytes)
}

// spill is one unit read by an extra connection.
type spill struct {
	done  chan struct{} // closed when f is complete or err is set
	f     *os.File
	rf    *os.File // its row records (rows.go); nil: none
	err   error
	job   *tableJob
	sched *sched
	n     int64 // bytes written, counted in sched.pending until close
}

// Write appends to the spill file, counting the bytes as pending.
func (s *spill) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.n += int64(n)
	s.sched.grow(int64(n))
	return n, err
}

func (s *spill) close() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
		s.sched.grow(-s.n)
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
}

// sched hands units to connections in output order: each takes the first
// unit nobody has taken (the extra ones only transactional units), so the
// writer can copy spills while later units are still being read. It keeps
// no context: newSched's ctx wakes the waiters (context.AfterFunc, as the
// context package's ExampleAfterFunc_cond does) and extra is given it.
type sched struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when pending falls or ctx ends
	units   []*unit
	owner   []int8 // 0 free, 1 main, 2 extra
	spills  []*spill
	pending int64 // bytes in spill files not yet copied and closed
	limit   int64 // maxSpill, or a test's (hooks.spillLimit)
	peak    int64 // the most pending ever, for tests
	stop    func() bool
}

func newSched(ctx context.Context, units []*unit, limit int64) *sched {
	s := &sched{units: units, owner: make([]int8, len(units)), spills: make([]*spill, len(units)), limit: limit}
	s.cond = sync.NewCond(&s.mu)
	s.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	return s
}

func (s *sched) grow(n int64) {
	s.mu.Lock()
	s.pending += n
	s.peak = max(s.peak, s.pending)
	if n < 0 {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

// main claims unit i for the main connection, or returns the spill an
// extra connection fills with it.
func (s *sched) main(i int) *spill {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner[i] == 0 {
		s.owner[i] = 1
		return nil
	}
	return s.spills[i]
}

// extra claims the first free transactional unit, once less than s.limit
// is spilled; -1 when there is none left or the dump is cancelled (ctx is
// newSched's).
func (s *sched) extra(ctx context.Context) (int, *spill) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending >= s.limit && ctx.Err() == nil {
		s.cond.Wait()
	}
	if ctx.Err() != nil {
		return -1, nil
	}
	for j, u := range s.units {
		if s.owner[j] == 0 && consistentEngine(u.t.engine) {
			s.owner[j] = 2
			s.spills[j] = &spill{done: make(chan struct{}), sched: s}
			return j, s.spills[j]
		}
	}
	return -1, nil
}

// closeAll releases every spill file (after the pipe finished).
func (s *sched) closeAll() {
	s.stop()
	for _, sp := range s.spills {
		if sp != nil {
			sp.close()
		}
	}
}

// helper reads units over an extra connection into spill files.
func (d *dumper) helper(ctx context.Context, conn *sql.Conn, s *sched, triggers map[string][]string) error {
	for {
		j, sp := s.extra(ctx)
		if sp == nil {
			return nil
		}
		u := s.units[j]
		err := d.spillUnit(ctx, conn, sp, u, triggers[u.t.name])
		if err != nil {
			if _, ok := err.(*TableError); !ok {
				err = &TableError{Table: u.t.name, Err: err}
			}
			sp.err = err
		}
		close(sp.done)
		if err != nil {
			return err
		}
	}
}

func (d *dumper) spillUnit(ctx context.Context, conn *sql.Conn, sp *spill, u *unit, triggers []string) error {
	f, err := os.CreateTemp(d.spillDir, ".lamigrate-spill-*.sql")
	if err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	sp.f = f
	os.Remove(f.Name()) // nothing is left behind, whatever happens
	ss := &spillSink{d: d, w: bufio.NewWriterSize(sp, 256<<10)}
	if d.rowsOut != nil {
		if ss.rec, err = newSpillRecords(d.spillDir, sp); err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
	}
	if err := d.unit(ctx, conn, ss, u, triggers); err != nil {
		return err
	}
	if err := ss.w.Flush(); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	if ss.rec != nil {
		if err := ss.rec.w.Flush(); err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
	}
	sp.job = ss.job
	return nil
}

// spillSink formats a table synchronously into a spill file.
type spillSink struct {
	d     *dumper
	w     *bufio.Writer
	ins   inserter
	b     *batch
	vals  [][]byte
	job   *tableJob
	chunk []byte
	rec   *spillRecords // nil: no row digests
}

func (s *spillSink) text(_ context.Context, b []byte) error {
	_, err := s.w.Write(b)
	return err
}

func (s *spillSink) begin(_ context.Context, j *tableJob) error {
	s.job = j
	s.ins = inserter{w: s.w, netBuf: s.d.cfg.netBuffer(), prefix: j.prefix}
	return nil
}

func (s *spillSink) newBatch(j *tableJob, ncols int) *batch {
	if s.b == nil {
		s.b = &batch{data: make([]byte, 0, batchBytes+batchBytes/4)}
	}
	b := s.b
	b.job, b.ncols, b.nrows = j, ncols, 0
	b.data, b.lens = b.data[:0], b.lens[:0]
	b.digest = rowhash.Digest{}
	return b
}

func (s *spillSink) send(ctx context.Context, b *batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.vals = b.format(s.d.cfg.HexBlob, s.vals)
	n, err := s.ins.batch(b)
	j := b.job
	j.res.Bytes += n
	j.res.Rows += int64(b.nrows)
	j.digest.Merge(&b.digest)
	if s.rec != nil && err == nil {
		err = s.rec.batch(b)
	}
	s.d.spillRows.Add(int64(b.nrows))
	s.d.spillData.Add(int64(len(b.data)))
	if cap(b.data) > 4*batchBytes || cap(b.out) > 12*batchBytes {
		s.b = nil // do not keep a big row's buffers
	}
	return err
}

func (s *spillSink) row(ctx context.Context, j *tableJob, vals []sql.RawBytes, size int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var d rowhash.Digest
	dg, key := bigRowDigest(&d, j, vals)
	n, err := s.ins.row(vals, j.kinds, s.d.cfg.HexBlob, &s.chunk)
	if s.rec != nil && err == nil {
		err = s.rec.add(key, dg)
	}
	j.res.Bytes += n
	j.res.Rows++
	j.digest.Merge(&d)
	s.d.spillRows.Add(1)
	s.d.spillData.Add(int64(size))
	return err
}

func (s *spillSink) end(_ context.Context, j *tableJob) error {
	n, err := s.ins.finish()
	j.res.Bytes += n
	j.end = time.Now()
	return err
}

// copySpill writes a finished spill into w.
func copySpill(w io.Writer, sp *spill) error {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, sp.f)
	return err
}

// spillCounters are the rows read by extra connections, for progress.
type spillCounters struct {
	spillRows, spillData atomic.Int64
}

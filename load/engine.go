package load

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// engine is one import: a producer (the goroutine that called run) splits
// the stream into units, one per table, and worker goroutines load units in
// stream order, each on its own connection.
type engine struct {
	c         Config
	db        *sql.DB
	dbName    string
	progress  Progress
	archive   *countingReader
	start     time.Time
	maxPacket int64

	main     *sql.Conn // the producer's connection (lock, global statements)
	mainSess int       // session statements main has replayed
	release  func()    // releases the import lock and main

	// resume state read from the progress table
	resumed bool
	state   map[string]unitState

	mu   sync.Mutex
	cond *sync.Cond
	// space wakes the producer waiting for read-ahead room: statements
	// consumed, a worker waiting for statements, a failure.
	space *sync.Cond
	err   error
	// waiting counts the workers waiting for the producer (for a unit or
	// for their unit's next statement): the producer then reads ahead into
	// spool files instead of waiting for memory to free up.
	waiting int
	// session statements in stream order; every connection replays them
	session []string
	// units not yet taken by a worker, in stream order
	ready    []*unit
	pending  int // units not finished
	noMore   bool
	memUsed  int64
	ahead    int64
	read     int64 // uncompressed bytes split
	loaded   int64
	tables   int
	done     int
	rows     int64
	skipped  int
	loadedN  int
	stmts    int64
	marker   bool
	markerAt int64
	results  []TableResult
}

type unitState struct {
	done  bool
	stmts int64
	rows  int64
}

// unit is the statements of one table, in order.
type unit struct {
	table   string
	key     string
	items   []item
	head    int
	closed  bool
	taken   bool
	skip    int64 // statements an earlier run finished
	rows    int64 // rows an earlier run loaded
	ordinal int64 // statements assigned so far
	file    *os.File
	fileEnd int64
	skipAll bool
	bytes   int64
	started time.Time
	loaded  int64 // rows loaded by this run
}

type item struct {
	data    []byte // nil when spilled to the unit's file
	pos     int64  // position in the unit's file
	n       int
	offset  int64
	sess    int
	cls     class
	ordinal int64
	raw     int64 // bytes of the stream this statement stands for
}

func unitKey(table string) string { return "t:" + table }

const archiveKey = "archive"

func (e *engine) prepare(ctx context.Context, fp string) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: connecting: %w", err)
	}
	e.main = conn
	e.release = func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		conn.ExecContext(ctx, "DO RELEASE_LOCK("+ident.String("lamigrate_import:"+e.dbName)+")")
		conn.Close()
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+ident.String("lamigrate_import:"+e.dbName)+", 0)").Scan(&got); err != nil {
		return fmt.Errorf("load: taking the import lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("load: another import into %s is running: wait for it to end", ident.Quote(e.dbName))
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&e.maxPacket); err != nil {
		return fmt.Errorf("load: reading max_allowed_packet: %w", err)
	}
	if testMaxPacket > 0 {
		e.maxPacket = testMaxPacket
	}
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME")
	if err != nil {
		return fmt.Errorf("load: listing the target's tables: %w", err)
	}
	var tables []string
	hasProgress := false
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("load: listing the target's tables: %w", err)
		}
		if n == ProgressTable {
			hasProgress = true
			continue
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load: listing the target's tables: %w", err)
	}
	pt := ident.Quote(ProgressTable)
	if hasProgress {
		e.state = map[string]unitState{}
		rows, err := conn.QueryContext(ctx, "SELECT unit, state, stmts, `rows` FROM "+pt)
		if err != nil {
			return fmt.Errorf("load: reading the progress of the earlier import: %w", err)
		}
		archive := ""
		for rows.Next() {
			var u, st string
			var s unitState
			if err := rows.Scan(&u, &st, &s.stmts, &s.rows); err != nil {
				rows.Close()
				return fmt.Errorf("load: reading the progress of the earlier import: %w", err)
			}
			if u == archiveKey {
				archive = st
				continue
			}
			s.done = st == "done"
			e.state[u] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load: reading the progress of the earlier import: %w", err)
		}
		if archive != fp {
			return fmt.Errorf("%w (%s); import that archive again, or drop the database's tables and start over", ErrOtherArchive, ident.Quote(e.dbName))
		}
		e.resumed = true
		return nil
	}
	if len(tables) > 0 && !e.c.Force {
		list := tables
		if len(list) > 5 {
			list = append(list[:5:5], "…")
		}
		return fmt.Errorf("%w: %s holds %d (%s): import into an empty database, or force it", ErrTargetNotEmpty, ident.Quote(e.dbName), len(tables), strings.Join(list, ", "))
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE "+pt+" (unit VARBINARY(1024) NOT NULL PRIMARY KEY, state VARCHAR(80) NOT NULL, stmts BIGINT NOT NULL DEFAULT 0, `rows` BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB"); err != nil {
		return fmt.Errorf("load: creating the progress table %s: %w", pt, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+pt+" (unit, state) VALUES ("+ident.String(archiveKey)+", "+ident.String(fp)+")"); err != nil {
		return fmt.Errorf("load: recording the import: %w", err)
	}
	return nil
}

// fail records the first error and wakes everyone.
func (e *engine) fail(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.cond.Broadcast()
	e.space.Broadcast()
	e.mu.Unlock()
}

func (e *engine) run(ctx context.Context, src *bufio.Reader) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { e.fail(ctx.Err()) })
	defer stop()

	var wg sync.WaitGroup
	for i := 0; i < e.c.Threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.worker(ctx); err != nil {
				e.fail(err)
				cancel()
			}
		}()
	}
	tick := make(chan struct{})
	var tickWG sync.WaitGroup
	if e.progress != nil {
		tickWG.Add(1)
		go func() {
			defer tickWG.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-tick:
					return
				case <-t.C:
					e.progress.Update(e.status(false))
				}
			}
		}()
	}
	perr := e.produce(ctx, src)
	if perr != nil {
		e.fail(perr)
		cancel()
	}
	e.mu.Lock()
	e.noMore = true
	e.cond.Broadcast()
	e.mu.Unlock()
	wg.Wait()
	close(tick)
	tickWG.Wait()
	e.mu.Lock()
	err := e.err
	e.mu.Unlock()
	e.releaseSpool()
	if err != nil {
		return nil, err
	}
	if e.c.RequireMarker && !e.marker {
		return nil, fmt.Errorf("%w: the stream does not end with lamigrate's completion marker (cut short, or not a lamigrate dump): the loaded tables stay, run the import again with a whole archive", ErrIncomplete)
	}
	fin := context.WithoutCancel(ctx)
	if _, err := e.main.ExecContext(fin, "DROP TABLE IF EXISTS "+ident.Quote(ProgressTable)); err != nil {
		return nil, fmt.Errorf("load: dropping the progress table: %w", err)
	}
	if e.progress != nil {
		st := e.status(true)
		e.progress.Update(st)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return &Result{Database: e.dbName, Tables: e.loadedN, Skipped: e.skipped, Rows: e.rows,
		Statements: e.stmts, Bytes: e.archive.n.Load(), SQLBytes: e.read, Resumed: e.resumed, Marker: e.marker,
		PerTable: e.results}, nil
}

func (e *engine) status(final bool) Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{ArchiveRead: e.archive.n.Load(), ArchiveSize: e.c.ArchiveSize, Read: e.read, Loaded: e.loaded,
		Tables: e.tables, TablesDone: e.done, Rows: e.rows, Elapsed: time.Since(e.start), Done: final}
	if e.read > 0 && st.Elapsed > 0 {
		// Loaded bytes expressed in archive bytes.
		ratio := float64(st.ArchiveRead) / float64(e.read)
		st.Rate = float64(e.loaded) * ratio / st.Elapsed.Seconds()
		if st.ArchiveSize > 0 && st.Rate > 0 {
			left := float64(st.ArchiveSize) - float64(e.loaded)*ratio
			if left > 0 {
				st.ETA = time.Duration(left / st.Rate * float64(time.Second))
			}
		}
	}
	return st
}

// produce splits the stream and hands statements to units.
func (e *engine) produce(ctx context.Context, src io.Reader) error {
	sp := NewSplitter(src)
	var mode sqlMode
	var cur *unit
	seen := map[string]bool{}
	sp.OnComment = func(off int64, line []byte) {
		if strings.HasPrefix(string(line), manifest.MarkerPrefix) {
			n, _, err := manifest.ParseMarker(string(line))
			e.mu.Lock()
			e.marker = err == nil && n == off
			e.markerAt = off
			e.mu.Unlock()
		}
	}
	closeUnit := func() {
		if cur != nil {
			e.mu.Lock()
			cur.closed = true
			e.cond.Broadcast()
			e.mu.Unlock()
			cur = nil
		}
	}
	defer closeUnit()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		sp.NoBackslashEscapes = mode.nbe
		st, err := sp.Next()
		if err == io.EOF {
			e.mu.Lock()
			e.read = sp.Offset()
			e.mu.Unlock()
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrStatementTooLarge) {
				return e.tooLarge(st)
			}
			return fmt.Errorf("%w (the archive is damaged or cut short: check it with lamigrate verify)", err)
		}
		raw := sp.Offset() - st.Offset // statement and its delimiter
		text := st.Text
		if st.HasComments {
			text = StripComments(text, mode.nbe)
		}
		e.mu.Lock()
		e.read = sp.Offset()
		if e.marker {
			e.marker = false // statements after the marker: not a whole dump
		}
		e.mu.Unlock()
		if len(text) == 0 {
			e.addLoaded(raw)
			continue
		}
		cls := classify(text)
		switch cls.kind {
		case kindSkip:
			e.addLoaded(raw)
			continue
		case kindForbidden:
			return &StatementError{Offset: st.Offset, Text: snippet(text), Err: fmt.Errorf("%w: the archive must not switch, create or drop databases (dump one database without --databases)", ErrUnsupported)}
		case kindSession:
			mode.set(text)
			e.mu.Lock()
			e.session = append(e.session, string(text))
			e.loaded += raw
			e.mu.Unlock()
			continue
		}
		if int64(len(text))+1 > e.maxPacket {
			return e.tooLarge(Statement{Text: text, Offset: st.Offset})
		}
		if cls.kind == kindGlobal || (cur == nil || cur.table != cls.table) && seen[cls.table] {
			closeUnit()
			if err := e.global(ctx, text, st.Offset, cls); err != nil {
				return err
			}
			e.addLoaded(raw)
			continue
		}
		if cur == nil || cur.table != cls.table {
			closeUnit()
			seen[cls.table] = true
			cur = e.newUnit(cls.table)
		}
		if err := e.add(ctx, cur, text, st.Offset, cls, raw); err != nil {
			return err
		}
	}
}

func (e *engine) tooLarge(st Statement) error {
	need := (int64(len(st.Text))+1+(1<<20)-1)/(1<<20)*(1<<20) + 1<<20
	msg := fmt.Errorf("%w: it is %d bytes and the server allows %d: run SET GLOBAL max_allowed_packet=%d on the target server (as an administrator) and run the same import again; finished tables are kept", ErrPacketTooLarge, len(st.Text), e.maxPacket, need)
	if need > 1<<30 {
		msg = fmt.Errorf("%w: it is %d bytes, more than any server accepts (1 GiB)", ErrPacketTooLarge, len(st.Text))
	}
	return &StatementError{Offset: st.Offset, Text: snippet(st.Text), Err: msg}
}

func (e *engine) addLoaded(n int64) {
	e.mu.Lock()
	e.loaded += n
	e.mu.Unlock()
}

func (e *engine) newUnit(table string) *unit {
	u := &unit{table: table, key: unitKey(table)}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tables++
	if s, ok := e.state[u.key]; ok {
		if s.done {
			u.skipAll = true
			e.done++
			e.skipped++
			return u
		}
		u.skip, u.rows = s.stmts, s.rows
	}
	e.pending++
	e.ready = append(e.ready, u)
	e.cond.Broadcast()
	return u
}

// add queues one statement of u, in memory or in u's spool file. It keeps
// statements in memory while they fit in Config.MemoryReadAhead, and spools
// them only while a worker waits for the producer (writing and reading back
// a spool file costs CPU); it waits while too much is read ahead.
func (e *engine) add(ctx context.Context, u *unit, text []byte, off int64, cls class, raw int64) error {
	ord := u.ordinal
	u.ordinal++
	if u.skipAll || ord < u.skip {
		e.addLoaded(raw)
		return nil
	}
	n := int64(len(text))
	e.mu.Lock()
	for e.err == nil && e.ahead > 0 && (e.ahead+n > e.c.ReadAhead || e.memUsed+n > e.c.MemoryReadAhead && e.waiting == 0) {
		e.space.Wait()
	}
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	inMem := e.memUsed+n <= e.c.MemoryReadAhead || e.ahead == 0
	e.ahead += n
	if inMem {
		e.memUsed += n
	}
	sess := len(e.session)
	e.mu.Unlock()
	it := item{n: len(text), offset: off, sess: sess, cls: cls, ordinal: ord, raw: raw}
	if inMem {
		it.data = append([]byte(nil), text...)
	} else {
		if u.file == nil {
			f, err := os.CreateTemp(e.c.SpoolDir, "lamigrate-import-*")
			if err != nil {
				return fmt.Errorf("load: spool file (set the spool folder to one with room): %w", err)
			}
			os.Remove(f.Name())
			u.file = f
		}
		if _, err := u.file.WriteAt(text, u.fileEnd); err != nil {
			return fmt.Errorf("load: writing the spool file: %w", err)
		}
		it.pos = u.fileEnd
		u.fileEnd += n
	}
	e.mu.Lock()
	u.items = append(u.items, it)
	e.cond.Broadcast()
	e.mu.Unlock()
	return nil
}

func (e *engine) releaseSpool() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.ready {
		if u.file != nil {
			u.file.Close()
			u.file = nil
		}
	}
}

// global runs a statement that must see everything before it finished and
// finish before anything after it starts, on the producer's connection.
func (e *engine) global(ctx context.Context, text []byte, off int64, cls class) error {
	e.mu.Lock()
	for e.err == nil && e.pending > 0 {
		e.cond.Wait()
	}
	err := e.err
	sess := e.session
	e.mu.Unlock()
	if err != nil {
		return err
	}
	key := fmt.Sprintf("at:%d", off)
	if s, ok := e.state[key]; ok && s.done {
		return nil
	}
	if err := replay(ctx, e.main, sess, &e.mainSess); err != nil {
		return err
	}
	serr := func(err error) error {
		return &StatementError{Table: cls.table, Offset: off, Text: snippet(text), Err: err}
	}
	if e.resumed {
		if err := dropObject(ctx, e.main, cls); err != nil {
			return serr(err)
		}
	}
	if _, err := e.main.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return serr(err)
	}
	if _, err := e.main.ExecContext(ctx, b2s(text)); err != nil {
		e.main.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return serr(err)
	}
	if err := recordUnit(ctx, e.main, key, "done", 0, 0); err != nil {
		return err
	}
	if _, err := e.main.ExecContext(ctx, "COMMIT"); err != nil {
		return serr(err)
	}
	e.mu.Lock()
	e.stmts++
	n := e.stmts
	e.mu.Unlock()
	if afterStatement != nil {
		afterStatement(n)
	}
	return ctx.Err()
}

// dropObject removes an object a statement creates, when an interrupted run
// may have made it already.
func dropObject(ctx context.Context, c *sql.Conn, cls class) error {
	switch cls.object {
	case "VIEW", "PROCEDURE", "FUNCTION", "EVENT", "TRIGGER", "SEQUENCE", "PACKAGE":
		if cls.name == "" {
			return nil
		}
		_, err := c.ExecContext(ctx, "DROP "+cls.object+" IF EXISTS "+ident.Quote(cls.name))
		return err
	}
	return nil
}

func recordUnit(ctx context.Context, c *sql.Conn, key, state string, stmts, rows int64) error {
	_, err := c.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (unit, state, stmts, `rows`) VALUES (%s, %s, %d, %d) ON DUPLICATE KEY UPDATE state = VALUES(state), stmts = VALUES(stmts), `rows` = VALUES(`rows`)",
		ident.Quote(ProgressTable), ident.String(key), ident.String(state), stmts, rows))
	if err != nil {
		return fmt.Errorf("load: recording progress: %w", err)
	}
	return nil
}

// replay brings a connection's session up to date: it runs the session
// statements from *pos to the end of sess.
func replay(ctx context.Context, c *sql.Conn, sess []string, pos *int) error {
	for *pos < len(sess) {
		if _, err := c.ExecContext(ctx, sess[*pos]); err != nil {
			return &StatementError{Text: snippet([]byte(sess[*pos])), Err: fmt.Errorf("session statement: %w", err)}
		}
		*pos++
	}
	return nil
}

// nextUnit returns the oldest unit no worker has taken, or nil at the end.
func (e *engine) nextUnit() *unit {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.err != nil {
			return nil
		}
		for len(e.ready) > 0 && e.ready[0].taken {
			e.ready = e.ready[1:]
		}
		if len(e.ready) > 0 {
			u := e.ready[0]
			u.taken = true
			e.ready = e.ready[1:]
			return u
		}
		if e.noMore {
			return nil
		}
		e.wait()
	}
}

// pop returns u's next statement, waiting for the producer; ok is false
// when u has no more.
func (e *engine) pop(u *unit) (it item, sess []string, ok bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.err != nil {
			return item{}, nil, false, e.err
		}
		if u.head < len(u.items) {
			it = u.items[u.head]
			u.items[u.head] = item{}
			u.head++
			if u.head > 1024 && u.head*2 > len(u.items) {
				u.items = append(u.items[:0:0], u.items[u.head:]...)
				u.head = 0
			}
			return it, e.session[:it.sess], true, nil
		}
		if u.closed {
			return item{}, nil, false, nil
		}
		e.wait()
	}
}

// wait waits, as a worker, for the producer; e.mu is held.
func (e *engine) wait() {
	e.waiting++
	e.space.Broadcast()
	e.cond.Wait()
	e.waiting--
}

// consumed releases a statement's read-ahead.
func (e *engine) consumed(it item, rows int64) {
	e.mu.Lock()
	e.ahead -= int64(it.n)
	if it.data != nil {
		e.memUsed -= int64(it.n)
	}
	e.loaded += it.raw
	e.rows += rows
	e.stmts++
	n := e.stmts
	e.cond.Broadcast()
	e.space.Broadcast()
	e.mu.Unlock()
	if afterStatement != nil {
		afterStatement(n)
	}
}

// Test hooks: afterStatement is called after each loaded statement;
// testMaxPacket, when set, stands for the server's max_allowed_packet.
var (
	afterStatement func(n int64)
	testMaxPacket  int64
)

func (e *engine) unitDone(u *unit) {
	e.mu.Lock()
	e.results = append(e.results, TableResult{Name: u.table, Rows: u.loaded, Bytes: u.bytes,
		Start: u.started.Sub(e.start), Duration: time.Since(u.started)})
	e.pending--
	e.done++
	e.loadedN++
	if u.file != nil {
		u.file.Close()
		u.file = nil
	}
	e.cond.Broadcast()
	e.mu.Unlock()
}

func (e *engine) worker(ctx context.Context) error {
	c, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: connecting: %w", err)
	}
	defer c.Close()
	pos := 0
	for {
		u := e.nextUnit()
		if u == nil {
			return nil
		}
		if err := e.loadUnit(ctx, c, &pos, u); err != nil {
			return err
		}
		e.unitDone(u)
	}
}

func (e *engine) loadUnit(ctx context.Context, c *sql.Conn, pos *int, u *unit) error {
	serr := func(it item, text []byte, err error) error {
		var se *StatementError
		if errors.As(err, &se) {
			if se.Table == "" {
				se.Table = u.table
			}
			if se.Offset == 0 {
				se.Offset = it.offset
			}
			return se
		}
		return &StatementError{Table: u.table, Offset: it.offset, Text: snippet(text), Err: err}
	}
	if e.resumed && u.skip == 0 {
		if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(u.table)); err != nil {
			return &StatementError{Table: u.table, Err: fmt.Errorf("emptying the table an interrupted import left: %w", err)}
		}
	}
	u.started = time.Now()
	inTx := false
	recorded := u.skip > 0 // a progress row exists
	first := u.skip > 0
	rows := u.rows
	var last int64
	buf := []byte(nil)
	for {
		it, sess, ok, err := e.pop(u)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		text := it.data
		if text == nil {
			if cap(buf) < it.n {
				buf = make([]byte, it.n)
			}
			text = buf[:it.n]
			if _, err := u.file.ReadAt(text, it.pos); err != nil {
				return fmt.Errorf("load: reading the spool file: %w", err)
			}
		}
		if err := replay(ctx, c, sess, pos); err != nil {
			return serr(it, text, err)
		}
		var n int64
		if it.cls.kind == kindData {
			if !inTx {
				if _, err := c.ExecContext(ctx, "START TRANSACTION"); err != nil {
					return serr(it, text, err)
				}
				inTx = true
			}
			res, err := c.ExecContext(ctx, b2s(text))
			if err != nil {
				return serr(it, text, err)
			}
			n, _ = res.RowsAffected()
			rows += n
			u.loaded += n
		} else {
			if inTx {
				if err := recordUnit(ctx, c, u.key, "data", last+1, rows); err != nil {
					return serr(it, text, err)
				}
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					return serr(it, text, err)
				}
				inTx, recorded = false, true
			}
			if first {
				if err := dropObject(ctx, c, it.cls); err != nil {
					return serr(it, text, err)
				}
			}
			if _, err := c.ExecContext(ctx, b2s(text)); err != nil {
				return serr(it, text, err)
			}
			if recorded {
				if err := recordUnit(ctx, c, u.key, "data", it.ordinal+1, rows); err != nil {
					return serr(it, text, err)
				}
				// The stream may have turned autocommit off.
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					return serr(it, text, err)
				}
			}
		}
		first = false
		last = it.ordinal
		u.bytes += it.raw
		e.consumed(it, n)
	}
	if err := recordUnit(ctx, c, u.key, "done", last+1, rows); err != nil {
		return &StatementError{Table: u.table, Err: err}
	}
	// COMMIT even outside our transaction: the stream may have turned
	// autocommit off.
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return &StatementError{Table: u.table, Err: fmt.Errorf("commit: %w", err)}
	}
	return nil
}

package load

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

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

	// account is the importing account; checkDefiners: it may not set
	// every DEFINER, so each one met is checked (Config.StripDefiners off).
	account       account
	checkDefiners bool

	// resume state read from the progress table
	resumed bool
	state   map[string]unitState
	// fresh: no import to resume; begin creates the progress table.
	fresh bool

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
	ready []*unit
	// units taken and not finished, in stream order: idle workers help
	// load their plain INSERTs
	owned []*unit
	// dumpShaped: the stream comes from mysqldump or lamigrate, whose
	// INSERTs carry explicit values and come before the table's triggers
	dumpShaped bool
	// data statements an earlier run committed, per unit key
	stmtDone map[string]map[int64]bool
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
	// done lists the data statements (beyond skip) an earlier run
	// committed; progress says a progress row of the unit exists.
	done     map[int64]bool
	progress bool
	// prefix: statements before it are recorded as done; lastSerial: the
	// ordinal after the last non-INSERT statement the owner ran.
	prefix, lastSerial int64
	// open: other workers may run the unit's plain INSERTs (inflight of
	// them running); serial: no longer (a trigger exists).
	open     bool
	inflight int
	serial   bool
	file     *os.File
	fileEnd  int64
	skipAll  bool
	bytes    int64
	started  time.Time
	loaded   int64 // rows loaded by this run

	// The producer's own: created says the unit's CREATE TABLE came;
	// held is that statement and those after it, held back until the
	// table's first row decides whether its plain keys are deferred
	// (stripped and heldKeys: the statement without them, and them); keys
	// are the deferred keys, to add after the rows (from the CREATE at
	// keysOff, in its session keysSess).
	created  bool
	held     []heldItem
	stripped []byte
	heldKeys *deferredKeys
	keys     *deferredKeys
	keysOff  int64
	keysSess int
}

// heldItem is a statement the producer holds back.
type heldItem struct {
	text   []byte
	offset int64
	cls    class
	raw    int64
	sess   int
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
	// keys: the statement is the ALTER TABLE adding the unit's deferred
	// keys; ordinal is the last row statement's, sess the CREATE's.
	keys *deferredKeys
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
	if !e.c.StripDefiners {
		if e.account, err = currentAccount(ctx, conn); err != nil {
			return err
		}
		e.checkDefiners = !e.account.anyDefiner
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
			if st == "stmt" {
				// A data statement committed: "<unit key>#<ordinal>".
				i := strings.LastIndexByte(u, '#')
				ord, err := strconv.ParseInt(u[i+1:], 10, 64)
				if i < 0 || err != nil {
					rows.Close()
					return fmt.Errorf("load: reading the progress of the earlier import: bad statement record %q", u)
				}
				if e.stmtDone == nil {
					e.stmtDone = map[string]map[int64]bool{}
				}
				if e.stmtDone[u[:i]] == nil {
					e.stmtDone[u[:i]] = map[int64]bool{}
				}
				e.stmtDone[u[:i]][ord] = true
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
		return fmt.Errorf("%w: %s holds %d (%s): import into an empty database", ErrTargetNotEmpty, ident.Quote(e.dbName), len(tables), strings.Join(list, ", "))
	}
	e.fresh = true
	return nil
}

// begin creates the progress table of a new import.
func (e *engine) begin(ctx context.Context, fp string) error {
	if !e.fresh {
		return nil
	}
	conn, pt := e.main, ident.Quote(ProgressTable)
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
	parent := ctx
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
	if perr := parent.Err(); perr != nil && err != nil {
		// Cancelling kills the statements in flight, and one of them may
		// report its dead connection before the cancellation is recorded:
		// the cause is the interruption either way.
		err = perr
	}
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
		if off < 4096 && dumpHeader(line) {
			e.mu.Lock()
			e.dumpShaped = true
			e.mu.Unlock()
		}
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
	// endUnit queues what the producer still holds of the current unit,
	// and closes it.
	endUnit := func() error {
		if cur != nil {
			if err := e.settle(ctx, cur); err != nil {
				return err
			}
		}
		closeUnit()
		return nil
	}
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
			return endUnit()
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
		if definerObjects[cls.object] && (e.c.StripDefiners || e.checkDefiners) {
			if d, ok := findDefiner(text); ok {
				switch {
				case e.c.StripDefiners:
					text = stripDefiner(text, d)
				case !e.account.allows(d):
					return &DefinerError{Account: e.account.String(), Late: true,
						Objects: []Object{{Type: cls.object, Name: cls.name, Definer: d.String()}}}
				}
			}
		}
		if int64(len(text))+1 > e.maxPacket {
			return e.tooLarge(Statement{Text: text, Offset: st.Offset})
		}
		if cls.kind == kindGlobal || (cur == nil || cur.table != cls.table) && seen[cls.table] {
			if err := endUnit(); err != nil {
				return err
			}
			if err := e.global(ctx, text, st.Offset, cls); err != nil {
				return err
			}
			e.addLoaded(raw)
			continue
		}
		if cur == nil || cur.table != cls.table {
			if err := endUnit(); err != nil {
				return err
			}
			seen[cls.table] = true
			cur = e.newUnit(cls.table)
		}
		if err := e.put(ctx, cur, text, st.Offset, cls, raw, mode.nbe); err != nil {
			return err
		}
	}
}

// dumpHeader reports whether line is the first comment line of a mysqldump,
// mariadb-dump or lamigrate dump.
func dumpHeader(line []byte) bool {
	l := string(line)
	return strings.HasPrefix(l, "-- MySQL dump ") || strings.HasPrefix(l, "-- MariaDB dump ") ||
		strings.HasPrefix(l, "-- lamigrate") && strings.Contains(l, " dump (mysqldump-compatible")
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
	u.done = e.stmtDone[u.key]
	u.progress = u.skip > 0 || len(u.done) > 0
	u.prefix, u.lastSerial = u.skip, u.skip
	e.pending++
	e.ready = append(e.ready, u)
	e.cond.Broadcast()
	return u
}

// add gives the stream's next statement of u its ordinal and queues it,
// unless an earlier run did it; sess is the number of session statements
// before it (-1: those read so far).
func (e *engine) add(ctx context.Context, u *unit, text []byte, off int64, cls class, raw int64, sess int) error {
	ord := u.ordinal
	u.ordinal++
	if u.skipAll || ord < u.skip || u.done[ord] {
		e.addLoaded(raw)
		return nil
	}
	return e.queue(ctx, u, text, item{n: len(text), offset: off, sess: sess, cls: cls, ordinal: ord, raw: raw})
}

// queue adds it, whose statement is text, to u's statements (it.sess < 0
// stands for the session statements read so far), in memory or in u's spool
// file. It keeps statements in memory while they fit in
// Config.MemoryReadAhead, and spools them only while a worker waits for the
// producer (writing and reading back a spool file costs CPU); it waits
// while too much is read ahead.
func (e *engine) queue(ctx context.Context, u *unit, text []byte, it item) error {
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
	if it.sess < 0 {
		it.sess = len(e.session)
	}
	e.mu.Unlock()
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

// put hands one statement of u, the table being read, to add, deferring
// the plain keys of its CREATE TABLE when it has rows (see deferKeys): in a
// dump, whose tables' statements come together, the CREATE and what
// follows it are held back until the first row, which makes the CREATE go
// without the keys; the ALTER TABLE adding them goes after the last row,
// before the next statement of the table (ALTER TABLE … ENABLE KEYS, a
// trigger) or, when the table's statements end, before anything later in
// the stream can see the table.
func (e *engine) put(ctx context.Context, u *unit, text []byte, off int64, cls class, raw int64, nbe bool) error {
	switch {
	case u.held != nil && cls.kind != kindData:
		u.held = append(u.held, heldItem{text: append([]byte(nil), text...), offset: off, cls: cls, raw: raw, sess: e.sessions()})
		return nil
	case u.held != nil:
		if err := e.unhold(ctx, u, true); err != nil {
			return err
		}
	case cls.kind == kindCreate && !u.created:
		u.created = true
		e.mu.Lock()
		dump := e.dumpShaped
		e.mu.Unlock()
		// When keys are kept, an import resumed may still have to add the
		// keys an earlier run deferred.
		if dump && !nbe && !u.skipAll && (!e.c.KeepIndexes || e.resumed) {
			if stripped, keys, ok := deferKeys(text); ok {
				u.held = []heldItem{{text: append([]byte(nil), text...), offset: off, cls: cls, raw: raw, sess: e.sessions()}}
				u.stripped, u.heldKeys = stripped, keys
				return nil
			}
		}
	case u.keys != nil && cls.kind != kindData:
		if err := e.queueKeys(ctx, u); err != nil {
			return err
		}
	}
	return e.add(ctx, u, text, off, cls, raw, -1)
}

// sessions returns the number of session statements read so far.
func (e *engine) sessions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.session)
}

// unhold adds the statements held back, the CREATE TABLE without its plain
// keys when rows follow (and keys are not kept).
func (e *engine) unhold(ctx context.Context, u *unit, rows bool) error {
	held := u.held
	u.held = nil
	for i, h := range held {
		text := h.text
		if i == 0 && rows {
			// The CREATE: an earlier run may have made it without the
			// keys, whatever this one does.
			earlier := u.ordinal < u.skip
			if !e.c.KeepIndexes {
				text = u.stripped
			}
			if !e.c.KeepIndexes || earlier {
				u.keys, u.keysOff, u.keysSess = u.heldKeys, h.offset, h.sess
			}
		}
		if err := e.add(ctx, u, text, h.offset, h.cls, h.raw, h.sess); err != nil {
			return err
		}
	}
	u.stripped, u.heldKeys = nil, nil
	return nil
}

// queueKeys adds the ALTER TABLE adding u's deferred keys after the rows
// read so far. An earlier run that recorded the statements up to the
// next one done (u.skip) has added them.
func (e *engine) queueKeys(ctx context.Context, u *unit) error {
	k := u.keys
	u.keys = nil
	if u.skipAll || u.ordinal <= u.skip {
		return nil
	}
	text := []byte(k.alter(nil))
	return e.queue(ctx, u, text, item{n: len(text), offset: u.keysOff, sess: u.keysSess,
		cls: class{kind: kindTable, table: u.table}, ordinal: u.ordinal - 1, keys: k})
}

// settle adds what the producer still holds of u, whose statements end.
func (e *engine) settle(ctx context.Context, u *unit) error {
	if u.held != nil {
		if err := e.unhold(ctx, u, false); err != nil {
			return err
		}
	}
	if u.keys != nil {
		return e.queueKeys(ctx, u)
	}
	return nil
}

func (e *engine) releaseSpool() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range append(e.ready, e.owned...) {
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
	if e.resumed || e.c.Force {
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

// splittable reports whether it, u's next statement, may run on any
// connection, in its own transaction, alongside u's other plain INSERTs: a
// dump's INSERTs carry explicit values and precede the table's triggers, so
// their order does not change the rows.
func (e *engine) splittable(u *unit, it item) bool {
	return e.dumpShaped && it.cls.kind == kindData && it.cls.plain && !u.serial
}

// next returns a worker's next task: a data statement of a unit another
// worker owns (help), or else the oldest unit no worker has taken; u is nil
// at the end. Helping first keeps the connections on the same stretch of the
// stream, so they finish together and little is read ahead.
func (e *engine) next() (u *unit, it item, sess []string, help bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.err != nil {
			return nil, item{}, nil, false
		}
		for _, o := range e.owned {
			if o.open && o.head < len(o.items) && e.splittable(o, o.items[o.head]) {
				it = e.popLocked(o)
				o.inflight++
				return o, it, e.session[:it.sess], true
			}
		}
		for len(e.ready) > 0 && e.ready[0].taken {
			e.ready = e.ready[1:]
		}
		if len(e.ready) > 0 {
			u := e.ready[0]
			u.taken = true
			e.ready = e.ready[1:]
			e.owned = append(e.owned, u)
			return u, item{}, nil, false
		}
		if e.noMore && len(e.owned) == 0 {
			return nil, item{}, nil, false
		}
		e.wait()
	}
}

// popLocked removes u's next statement; e.mu is held.
func (e *engine) popLocked(u *unit) item {
	it := u.items[u.head]
	u.items[u.head] = item{}
	u.head++
	if u.head > 1024 && u.head*2 > len(u.items) {
		u.items = append(u.items[:0:0], u.items[u.head:]...)
		u.head = 0
	}
	return it
}

// pop returns u's next statement for its owner, waiting for the producer;
// ok is false when u has no more. Before a statement that must run alone
// (and before the end) it waits for the helpers' statements to finish.
func (e *engine) pop(u *unit) (it item, sess []string, ok bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.err != nil {
			return item{}, nil, false, e.err
		}
		if u.head < len(u.items) || u.closed {
			if u.head == len(u.items) || !e.splittable(u, u.items[u.head]) {
				u.open = false
				if u.inflight > 0 {
					e.cond.Wait()
					continue
				}
			}
			if u.head == len(u.items) {
				return item{}, nil, false, nil
			}
			it = e.popLocked(u)
			return it, e.session[:it.sess], true, nil
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

// consumed releases a statement's read-ahead and counts it for u.
func (e *engine) consumed(u *unit, it item, rows int64) {
	e.mu.Lock()
	e.ahead -= int64(it.n)
	if it.data != nil {
		e.memUsed -= int64(it.n)
	}
	e.loaded += it.raw
	e.rows += rows
	e.stmts++
	u.loaded += rows
	u.bytes += it.raw
	n := e.stmts
	e.cond.Broadcast()
	e.space.Broadcast()
	e.mu.Unlock()
	if afterStatement != nil {
		afterStatement(n)
	}
}

// Test hooks: afterStatement is called after each loaded statement,
// afterInsert after each committed data statement (from any connection);
// testMaxPacket, when set, stands for the server's max_allowed_packet.
var (
	afterStatement func(n int64)
	afterInsert    func(table string, ordinal int64, helper bool)
	testMaxPacket  int64
	// beforeKeys and afterKeys are called around the ALTER TABLE adding a
	// table's deferred keys.
	beforeKeys, afterKeys func(table string)
)

func (e *engine) unitDone(u *unit) {
	e.mu.Lock()
	e.results = append(e.results, TableResult{Name: u.table, Rows: u.loaded, Bytes: u.bytes,
		Start: u.started.Sub(e.start), Duration: time.Since(u.started)})
	e.pending--
	e.done++
	e.loadedN++
	for i, o := range e.owned {
		if o == u {
			e.owned = append(e.owned[:i:i], e.owned[i+1:]...)
			break
		}
	}
	if u.file != nil {
		u.file.Close()
		u.file = nil
	}
	e.cond.Broadcast()
	e.mu.Unlock()
}

// wconn is a worker's connection, and a second one for helping with a
// statement from earlier in the stream than the first one's session.
type wconn struct {
	c, h      *sql.Conn
	pos, hpos int // session statements each has replayed
	db        *sql.DB
}

// at returns a connection whose session can be brought to the stream's
// session statement sess: the worker's own when it is not past it, else
// the helper connection (made anew when it is past it).
func (w *wconn) at(ctx context.Context, sess int) (*sql.Conn, *int, error) {
	if w.pos <= sess {
		return w.c, &w.pos, nil
	}
	if w.h != nil && w.hpos > sess {
		w.h.Close()
		w.h = nil
	}
	if w.h == nil {
		h, err := w.db.Conn(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("load: connecting: %w", err)
		}
		w.h, w.hpos = h, 0
	}
	return w.h, &w.hpos, nil
}

func (w *wconn) close() {
	w.c.Close()
	if w.h != nil {
		w.h.Close()
	}
}

func (e *engine) worker(ctx context.Context) error {
	c, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: connecting: %w", err)
	}
	w := &wconn{c: c, db: e.db}
	defer w.close()
	for {
		u, it, sess, help := e.next()
		if u == nil {
			return nil
		}
		if help {
			err := e.help(ctx, w, u, it, sess)
			e.mu.Lock()
			u.inflight--
			e.cond.Broadcast()
			e.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		if err := e.loadUnit(ctx, w, u); err != nil {
			return err
		}
		e.unitDone(u)
	}
}

// statementError attaches u's table and it's offset to err.
func statementError(u *unit, it item, text []byte, err error) error {
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

// text returns it's statement, reading it back from u's spool file into
// *buf when it was spooled.
func (u *unit) text(it item, buf *[]byte) ([]byte, error) {
	if it.data != nil {
		return it.data, nil
	}
	if cap(*buf) < it.n {
		*buf = make([]byte, it.n)
	}
	text := (*buf)[:it.n]
	if _, err := u.file.ReadAt(text, it.pos); err != nil {
		return nil, fmt.Errorf("load: reading the spool file: %w", err)
	}
	return text, nil
}

// help runs one of u's plain INSERTs for u's owner.
func (e *engine) help(ctx context.Context, w *wconn, u *unit, it item, sess []string) error {
	var buf []byte
	text, err := u.text(it, &buf)
	if err != nil {
		return err
	}
	c, pos, err := w.at(ctx, it.sess)
	if err != nil {
		return err
	}
	if err := replay(ctx, c, sess, pos); err != nil {
		return statementError(u, it, text, err)
	}
	n, err := e.insert(ctx, c, u, it, text, true)
	if err != nil {
		return err
	}
	e.consumed(u, it, n)
	return nil
}

// insert runs a data statement in its own transaction with its progress
// record, so a resumed import skips exactly the statements committed.
func (e *engine) insert(ctx context.Context, c *sql.Conn, u *unit, it item, text []byte, helper bool) (int64, error) {
	if _, err := c.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return 0, statementError(u, it, text, err)
	}
	res, err := c.ExecContext(ctx, b2s(text))
	if err != nil {
		return 0, statementError(u, it, text, err)
	}
	n, _ := res.RowsAffected()
	if err := recordUnit(ctx, c, u.key+"#"+strconv.FormatInt(it.ordinal, 10), "stmt", 0, n); err != nil {
		return 0, statementError(u, it, text, err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, statementError(u, it, text, err)
	}
	e.mu.Lock()
	u.progress = true
	e.mu.Unlock()
	if afterInsert != nil {
		afterInsert(u.table, it.ordinal, helper)
	}
	return n, nil
}

func (e *engine) loadUnit(ctx context.Context, w *wconn, u *unit) error {
	c, pos := w.c, &w.pos
	e.mu.Lock()
	progress := u.progress
	e.mu.Unlock()
	// earlier: an interrupted run made the table
	earlier := e.resumed && progress
	if e.resumed && !progress {
		if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(u.table)); err != nil {
			return &StatementError{Table: u.table, Err: fmt.Errorf("emptying the table an interrupted import left: %w", err)}
		}
	}
	u.started = time.Now()
	first := progress
	var last int64
	var buf []byte
	for {
		it, sess, ok, err := e.pop(u)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		text, err := u.text(it, &buf)
		if err != nil {
			return err
		}
		if err := replay(ctx, c, sess, pos); err != nil {
			return statementError(u, it, text, err)
		}
		var n int64
		if it.cls.kind == kindData {
			// Everything before this statement is done: record it first,
			// so a resume never runs it again (the table's CREATE).
			if u.prefix < u.lastSerial {
				if err := recordUnit(ctx, c, u.key, "data", u.lastSerial, 0); err != nil {
					return statementError(u, it, text, err)
				}
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					return statementError(u, it, text, err)
				}
				u.prefix = u.lastSerial
			}
			e.mu.Lock()
			if !u.open && e.splittable(u, it) {
				u.open = true
				e.cond.Broadcast()
			}
			e.mu.Unlock()
			if n, err = e.insert(ctx, c, u, it, text, false); err != nil {
				return err
			}
		} else {
			if first {
				if err := dropObject(ctx, c, it.cls); err != nil {
					return statementError(u, it, text, err)
				}
			}
			if e.c.Force && it.cls.kind == kindCreate && it.cls.object == "TABLE" {
				// Force replaces the archive's own tables, nothing else.
				if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(it.cls.table)); err != nil {
					return statementError(u, it, text, fmt.Errorf("replacing the table (--force): %w", err))
				}
			}
			if it.keys != nil {
				if err := e.addKeys(ctx, w, u, it, text, sess, earlier); err != nil {
					return err
				}
			} else if _, err := c.ExecContext(ctx, b2s(text)); err != nil {
				return statementError(u, it, text, err)
			}
			e.mu.Lock()
			progress = u.progress
			if it.cls.object == "TRIGGER" {
				u.serial = true
			}
			e.mu.Unlock()
			if progress {
				if err := recordUnit(ctx, c, u.key, "data", it.ordinal+1, 0); err != nil {
					return statementError(u, it, text, err)
				}
				// The stream may have turned autocommit off.
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					return statementError(u, it, text, err)
				}
				u.prefix = it.ordinal + 1
			}
			u.lastSerial = it.ordinal + 1
		}
		first = false
		last = it.ordinal
		e.consumed(u, it, n)
	}
	if err := recordUnit(ctx, c, u.key, "done", last+1, 0); err != nil {
		return &StatementError{Table: u.table, Err: err}
	}
	// COMMIT even outside our transaction: the stream may have turned
	// autocommit off.
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return &StatementError{Table: u.table, Err: fmt.Errorf("commit: %w", err)}
	}
	return nil
}

// addKeys runs the ALTER TABLE adding u's deferred keys, it, on a
// connection whose session is the CREATE TABLE's (character set, sql_mode),
// as the stock client made the keys with the table. When an earlier run
// made the table (earlier), it adds only the keys the table lacks.
func (e *engine) addKeys(ctx context.Context, w *wconn, u *unit, it item, text []byte, sess []string, earlier bool) error {
	c, pos, err := w.at(ctx, it.sess)
	if err != nil {
		return err
	}
	if err := replay(ctx, c, sess, pos); err != nil {
		return statementError(u, it, text, err)
	}
	stmt := b2s(text)
	for try := 0; ; try++ {
		if earlier {
			have, err := keyNames(ctx, c, u.table)
			if err != nil {
				return statementError(u, it, text, err)
			}
			if stmt = it.keys.alter(have); stmt == "" {
				return nil
			}
		}
		if beforeKeys != nil {
			beforeKeys(u.table)
		}
		_, err := c.ExecContext(ctx, stmt)
		var me *mysql.MySQLError
		if err != nil && earlier && try == 0 && errors.As(err, &me) && me.Number == 1061 {
			// ER_DUP_KEYNAME: the interrupted run's ALTER TABLE, still
			// running on the server, added the keys meanwhile.
			continue
		}
		if err != nil {
			return statementError(u, it, []byte(stmt), err)
		}
		if afterKeys != nil {
			afterKeys(u.table)
		}
		return nil
	}
}

// keyNames returns the names of table's keys, lower-cased.
func keyNames(ctx context.Context, c *sql.Conn, table string) (map[string]bool, error) {
	rows, err := c.QueryContext(ctx, keyNamesQuery(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[strings.ToLower(n)] = true
	}
	return have, rows.Err()
}

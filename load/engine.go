package load

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// engine is one import, wiring its parts: the progress table (progress.go)
// records what is done, the producer (producer.go) splits the stream into
// units and queues them in the read-ahead queue (queue.go), and the
// executor's workers (executor.go) load them; the tally counts what they
// did for Status and Result.
//
// In the order events happen: prepare takes the import lock on main and
// reads an earlier run's progress table (or checks that the target is
// empty, unless the archive is a delta); for a delta Load then checks
// that the target holds its base (CheckBase) and stops there when the
// delta is applied already; Load may then check the archive's definers;
// begin creates the progress table of a new import; run starts the workers and the progress
// ticker, runs the producer on the calling goroutine until the stream ends or
// something fails, waits for the workers, and on success drops the progress
// table; release (deferred by Load) gives the lock and main back.
type engine struct {
	c        Config
	db       *sql.DB
	dbName   string
	progress Progress
	archive  *countingReader
	hooks    hooks
	tally    *tally

	// headFP is the fingerprint a followed import records (the stream's
	// first MiB alone, Config.Followed): an earlier run that recorded it
	// is continued too. A lamigrate dump's first MiB holds its run's id
	// (dumpID), so another run of the dump never matches it.
	headFP string
	// dumpID is the run id in a lamigrate dump's header ("" for any
	// other stream); the progress table records it, so an import of
	// another run is refused naming both.
	dumpID string

	main    *sql.Conn // the producer's connection (lock, global statements)
	release func()    // releases the import lock and main

	// Set by prepare: the server's max_allowed_packet; the importing
	// account, and whether it may not set every DEFINER, so each one met
	// is checked (Config.StripDefiners off); the progress table read
	// (an empty one for a new import).
	maxPacket     int64
	account       account
	checkDefiners bool
	pt            *progressTable

	// delta: the archive is a delta (WithDelta), applied into a target
	// that holds its base; deltaCheck is what CheckBase found there.
	delta      bool
	deltaCheck *BaseCheck
}

// hooks let a test watch and steer one import (withHooks); the zero value
// does nothing. They are called from any worker.
type hooks struct {
	// afterStatement is called after each loaded statement with the
	// number loaded so far, afterInsert after each committed data
	// statement.
	afterStatement func(n int64)
	afterInsert    func(table string, ordinal int64, helper bool)
	// maxPacket, when set, stands for the server's max_allowed_packet.
	maxPacket int64
	// beforeKeys and afterKeys are called around the ALTER TABLE adding a
	// table's deferred keys.
	beforeKeys, afterKeys func(table string)
}

// withHooks installs test hooks.
func withHooks(h hooks) Option { return func(o *options) { o.hooks = h } }

func newEngine(c Config, db *sql.DB, dbName string, o options, archive *countingReader, start time.Time) *engine {
	return &engine{c: c, db: db, dbName: dbName, progress: o.progress, archive: archive, hooks: o.hooks,
		tally: &tally{start: start}, delta: o.delta != nil}
}

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
	if e.hooks.maxPacket > 0 {
		e.maxPacket = e.hooks.maxPacket
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
	if hasProgress {
		pt, err := readProgress(ctx, conn)
		if err != nil {
			return err
		}
		if pt.dumpID != "" && e.dumpID != "" && pt.dumpID != e.dumpID {
			return fmt.Errorf("%w (%s): that import is of dump run %s, this archive is dump run %s, a new snapshot taken by running the dump again, whose rows must not continue the earlier run's; drop the tables of %s and import this archive again",
				ErrOtherArchive, ident.Quote(e.dbName), pt.dumpID, e.dumpID, ident.Quote(e.dbName))
		}
		if pt.archive != fp && pt.archive != e.headFP {
			return fmt.Errorf("%w (%s); import that archive again, or drop the database's tables and start over", ErrOtherArchive, ident.Quote(e.dbName))
		}
		e.pt = pt
		return nil
	}
	// A delta's target holds its base (CheckBase proves it next).
	if len(tables) > 0 && !e.c.Force && !e.delta {
		list := tables
		if len(list) > 5 {
			list = append(list[:5:5], "…")
		}
		return fmt.Errorf("%w: %s holds %d (%s): import into an empty database", ErrTargetNotEmpty, ident.Quote(e.dbName), len(tables), strings.Join(list, ", "))
	}
	e.pt = &progressTable{}
	return nil
}

// begin creates the progress table of a new import.
func (e *engine) begin(ctx context.Context, fp string) error {
	if e.pt.resumed {
		return nil
	}
	return createProgress(ctx, e.main, fp, e.dumpID)
}

// dumpIDPrefix starts the header line naming a lamigrate dump's run
// (dump.DumpIDPrefix), followed by 32 hex digits.
const dumpIDPrefix = "-- lamigrate dump id "

// runID returns the run id a lamigrate dump (full or delta) writes in its
// header, among the comment lines after its first line; "" for any other
// stream (mysqldump, or a lamigrate dump from before run ids).
func runID(head []byte) string {
	if !dumpHeader(firstLine(head)) || !strings.HasPrefix(string(firstLine(head)), "-- lamigrate") {
		return ""
	}
	rest := head[len(firstLine(head)):]
	for range 16 {
		if len(rest) == 0 || rest[0] != '\n' {
			return ""
		}
		line := firstLine(rest[1:])
		rest = rest[1+len(line):]
		l := string(line)
		if !strings.HasPrefix(l, "--") {
			return "" // the header's comments ended
		}
		if id, ok := strings.CutPrefix(l, dumpIDPrefix); ok {
			if len(id) == 32 && strings.Trim(id, "0123456789abcdef") == "" {
				return id
			}
			return ""
		}
	}
	return ""
}

func (e *engine) run(ctx context.Context, src *bufio.Reader) (*Result, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newQueue(e.c)
	stop := context.AfterFunc(ctx, func() { q.fail(ctx.Err()) })
	defer stop()
	p := &producer{c: e.c, q: q, pt: e.pt, tally: e.tally, hooks: &e.hooks, maxPacket: e.maxPacket,
		account: e.account, checkDefiners: e.checkDefiners, main: e.main, delta: e.delta}
	x := &executor{db: e.db, q: q, pt: e.pt, tally: e.tally, hooks: &e.hooks, force: e.c.Force, resumed: e.pt.resumed,
		delta: e.delta}

	var wg sync.WaitGroup
	for i := 0; i < e.c.Threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.worker(ctx); err != nil {
				q.fail(err)
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
	if perr := p.produce(ctx, src); perr != nil {
		q.fail(perr)
		cancel()
	}
	q.end()
	wg.Wait()
	close(tick)
	tickWG.Wait()
	err := q.failed()
	q.releaseSpool()
	if perr := parent.Err(); perr != nil && err != nil {
		// Cancelling kills the statements in flight, and one of them may
		// report its dead connection before the cancellation is recorded:
		// the cause is the interruption either way.
		err = perr
	}
	if err != nil {
		return nil, err
	}
	if e.c.RequireMarker && !p.marker {
		return nil, fmt.Errorf("%w: the stream does not end with lamigrate's completion marker (cut short, or not a lamigrate dump): the loaded tables stay, run the import again with a whole archive", ErrIncomplete)
	}
	if err := dropProgress(context.WithoutCancel(ctx), e.main); err != nil {
		return nil, err
	}
	if e.progress != nil {
		e.progress.Update(e.status(true))
	}
	return e.tally.result(e.dbName, e.archive.n.Load(), e.pt.resumed, p.marker), nil
}

func (e *engine) status(final bool) Status {
	return e.tally.status(e.archive.n.Load(), e.c.ArchiveSize, final)
}

// tally counts what the import did, for Status and Result. Its own lock
// guards it: the producer, every worker and the progress ticker use it.
type tally struct {
	start time.Time

	mu      sync.Mutex
	read    int64 // uncompressed bytes split
	loaded  int64 // uncompressed bytes loaded or skipped
	tables  int   // tables met
	done    int   // tables finished, by this run or an earlier one
	skipped int   // tables an earlier run finished
	loadedN int   // tables this run finished
	rows    int64
	stmts   int64
	results []TableResult
}

// setRead records that n bytes of the stream were split.
func (t *tally) setRead(n int64) {
	t.mu.Lock()
	t.read = n
	t.mu.Unlock()
}

// addLoaded counts n bytes of the stream as loaded (skipped, or session).
func (t *tally) addLoaded(n int64) {
	t.mu.Lock()
	t.loaded += n
	t.mu.Unlock()
}

// table counts a table met; skipped: an earlier run finished it.
func (t *tally) table(skipped bool) {
	t.mu.Lock()
	t.tables++
	if skipped {
		t.done++
		t.skipped++
	}
	t.mu.Unlock()
}

// statement counts a statement loaded, raw bytes of the stream and rows
// of the table, and returns the number of statements loaded so far.
func (t *tally) statement(raw, rows int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loaded += raw
	t.rows += rows
	t.stmts++
	return t.stmts
}

// tableDone counts u, finished.
func (t *tally) tableDone(u *unit) {
	t.mu.Lock()
	t.results = append(t.results, TableResult{Name: u.table, Rows: u.loaded.Load(), Bytes: u.bytes.Load(),
		Start: u.started.Sub(t.start), Duration: time.Since(u.started)})
	t.done++
	t.loadedN++
	t.mu.Unlock()
}

func (t *tally) status(archiveRead, archiveSize int64, final bool) Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Status{ArchiveRead: archiveRead, ArchiveSize: archiveSize, Read: t.read, Loaded: t.loaded,
		Tables: t.tables, TablesDone: t.done, Rows: t.rows, Elapsed: time.Since(t.start), Done: final}
	if t.read > 0 && st.Elapsed > 0 {
		// Loaded bytes expressed in archive bytes.
		ratio := float64(st.ArchiveRead) / float64(t.read)
		st.Rate = float64(t.loaded) * ratio / st.Elapsed.Seconds()
		if st.ArchiveSize > 0 && st.Rate > 0 {
			left := float64(st.ArchiveSize) - float64(t.loaded)*ratio
			if left > 0 {
				st.ETA = time.Duration(left / st.Rate * float64(time.Second))
			}
		}
	}
	return st
}

func (t *tally) result(db string, archiveBytes int64, resumed, marker bool) *Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &Result{Database: db, Tables: t.loadedN, Skipped: t.skipped, Rows: t.rows,
		Statements: t.stmts, Bytes: archiveBytes, SQLBytes: t.read, Resumed: resumed, Marker: marker,
		PerTable: t.results}
}

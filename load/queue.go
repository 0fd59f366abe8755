package load

import (
	"fmt"
	"os"
	"sync"
)

// queue is the read-ahead between the producer and the executor: the units
// in stream order with the statements read for them and not yet run, the
// session statements, and the first error of the import. One lock (mu)
// guards it and the queue's fields of every unit.
//
// In the order events happen: the producer adds a unit (addUnit), then its
// statements (push), which wait while Config.ReadAhead bytes are read
// ahead, stay in memory up to Config.MemoryReadAhead and beyond that go to
// the unit's spool file only while a worker waits; then it closes the unit
// (close). A worker asks for work (next): a plain INSERT of a unit another
// worker owns and opened to helpers (open), or else the oldest unit not
// taken, which it then owns; an owner takes its unit's statements in order
// (pop), which waits for the helpers before a statement that must run alone
// and before the end. Each statement run releases its read-ahead
// (consumed), and the owner finally hands the unit back (unitDone). A
// statement outside any table waits until no unit is pending (drained).
// The first failure (fail) wakes every waiter, and each of them returns it;
// end says the producer added its last unit.
type queue struct {
	limit, memLimit int64  // Config.ReadAhead and Config.MemoryReadAhead
	spoolDir        string // Config.SpoolDir

	mu sync.Mutex
	// cond wakes the workers and the producer waiting for a drain:
	// statements or units added, a unit closed, finished or opened, a
	// helper done, a failure, the end.
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
	pending    int // units added and not finished
	noMore     bool
	memUsed    int64 // bytes read ahead in memory
	ahead      int64 // bytes read ahead, in memory or spooled
}

func newQueue(c Config) *queue {
	q := &queue{limit: c.ReadAhead, memLimit: c.MemoryReadAhead, spoolDir: c.SpoolDir}
	q.cond = sync.NewCond(&q.mu)
	q.space = sync.NewCond(&q.mu)
	return q
}

// fail records the first error and wakes everyone.
func (q *queue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.cond.Broadcast()
	q.space.Broadcast()
	q.mu.Unlock()
}

// failed returns the first error.
func (q *queue) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// end says no unit comes any more.
func (q *queue) end() {
	q.mu.Lock()
	q.noMore = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// setDumpShaped says the stream is a mysqldump or lamigrate dump, whose
// plain INSERTs may run on any connection.
func (q *queue) setDumpShaped() {
	q.mu.Lock()
	q.dumpShaped = true
	q.mu.Unlock()
}

// addSession appends a session statement.
func (q *queue) addSession(text string) {
	q.mu.Lock()
	q.session = append(q.session, text)
	q.mu.Unlock()
}

// sessions returns the number of session statements read so far.
func (q *queue) sessions() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.session)
}

// addUnit queues u for a worker to take.
func (q *queue) addUnit(u *unit) {
	q.mu.Lock()
	q.pending++
	q.ready = append(q.ready, u)
	q.cond.Broadcast()
	q.mu.Unlock()
}

// push adds it, whose statement is text, to u's statements (it.sess < 0
// stands for the session statements read so far), in memory or in u's spool
// file. It keeps statements in memory while they fit in memLimit, and
// spools them only while a worker waits for the producer (writing and
// reading back a spool file costs CPU); it waits while too much is read
// ahead.
func (q *queue) push(u *unit, text []byte, it item) error {
	n := int64(len(text))
	q.mu.Lock()
	for q.err == nil && q.ahead > 0 && (q.ahead+n > q.limit || q.memUsed+n > q.memLimit && q.waiting == 0) {
		q.space.Wait()
	}
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return err
	}
	inMem := q.memUsed+n <= q.memLimit || q.ahead == 0
	q.ahead += n
	if inMem {
		q.memUsed += n
	}
	if it.sess < 0 {
		it.sess = len(q.session)
	}
	q.mu.Unlock()
	if inMem {
		it.data = append([]byte(nil), text...)
	} else {
		if u.file == nil {
			f, err := os.CreateTemp(q.spoolDir, "lamigrate-import-*")
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
	q.mu.Lock()
	u.items = append(u.items, it)
	q.cond.Broadcast()
	q.mu.Unlock()
	return nil
}

// close says u has no more statements.
func (q *queue) close(u *unit) {
	q.mu.Lock()
	u.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// drained waits until every unit added has finished, and returns the
// session statements read so far, or the first error.
func (q *queue) drained() ([]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.err == nil && q.pending > 0 {
		q.cond.Wait()
	}
	return q.session, q.err
}

// splittable reports whether it, u's next statement, may run on any
// connection, in its own transaction, alongside u's other plain INSERTs: a
// dump's INSERTs carry explicit values and precede the table's triggers, so
// their order does not change the rows. q.mu is held.
func (q *queue) splittable(u *unit, it item) bool {
	return q.dumpShaped && it.cls.kind == kindData && it.cls.plain && !u.serial
}

// next returns a worker's next task: a data statement of a unit another
// worker owns (help), or else the oldest unit no worker has taken; u is nil
// at the end. Helping first keeps the connections on the same stretch of the
// stream, so they finish together and little is read ahead. A helper
// reports the statement done with helped.
func (q *queue) next() (u *unit, it item, sess []string, help bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.err != nil {
			return nil, item{}, nil, false
		}
		for _, o := range q.owned {
			if o.open && o.head < len(o.items) && q.splittable(o, o.items[o.head]) {
				it = q.popLocked(o)
				o.inflight++
				return o, it, q.session[:it.sess], true
			}
		}
		for len(q.ready) > 0 && q.ready[0].taken {
			q.ready = q.ready[1:]
		}
		if len(q.ready) > 0 {
			u := q.ready[0]
			u.taken = true
			q.ready = q.ready[1:]
			q.owned = append(q.owned, u)
			return u, item{}, nil, false
		}
		if q.noMore && len(q.owned) == 0 {
			return nil, item{}, nil, false
		}
		q.wait()
	}
}

// helped says a helper's statement of u finished.
func (q *queue) helped(u *unit) {
	q.mu.Lock()
	u.inflight--
	q.cond.Broadcast()
	q.mu.Unlock()
}

// popLocked removes u's next statement; q.mu is held.
func (q *queue) popLocked(u *unit) item {
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
func (q *queue) pop(u *unit) (it item, sess []string, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.err != nil {
			return item{}, nil, false, q.err
		}
		if u.head < len(u.items) || u.closed {
			if u.head == len(u.items) || !q.splittable(u, u.items[u.head]) {
				u.open = false
				if u.inflight > 0 {
					q.cond.Wait()
					continue
				}
			}
			if u.head == len(u.items) {
				return item{}, nil, false, nil
			}
			it = q.popLocked(u)
			return it, q.session[:it.sess], true, nil
		}
		q.wait()
	}
}

// wait waits, as a worker, for the producer; q.mu is held.
func (q *queue) wait() {
	q.waiting++
	q.space.Broadcast()
	q.cond.Wait()
	q.waiting--
}

// open lets other workers run u's plain INSERTs, from it, the statement its
// owner runs, on.
func (q *queue) open(u *unit, it item) {
	q.mu.Lock()
	if !u.open && q.splittable(u, it) {
		u.open = true
		q.cond.Broadcast()
	}
	q.mu.Unlock()
}

// setSerial says u's statements run in order from now on (a trigger on
// its table exists).
func (q *queue) setSerial(u *unit) {
	q.mu.Lock()
	u.serial = true
	q.mu.Unlock()
}

// consumed releases a statement's read-ahead.
func (q *queue) consumed(it item) {
	q.mu.Lock()
	q.ahead -= int64(it.n)
	if it.data != nil {
		q.memUsed -= int64(it.n)
	}
	q.cond.Broadcast()
	q.space.Broadcast()
	q.mu.Unlock()
}

// unitDone removes u, finished, from the queue.
func (q *queue) unitDone(u *unit) {
	q.mu.Lock()
	q.pending--
	for i, o := range q.owned {
		if o == u {
			q.owned = append(q.owned[:i:i], q.owned[i+1:]...)
			break
		}
	}
	if u.file != nil {
		u.file.Close()
		u.file = nil
	}
	q.cond.Broadcast()
	q.mu.Unlock()
}

// releaseSpool closes the spool files of the units left.
func (q *queue) releaseSpool() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range append(q.ready, q.owned...) {
		if u.file != nil {
			u.file.Close()
			u.file = nil
		}
	}
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

package load

import (
	"os"
	"sync/atomic"
	"time"
)

// unit is the statements of one table, in stream order. The producer makes
// it, the queue hands its statements out, the executor runs them; each
// group of fields below belongs to one of them.
type unit struct {
	// Identity, set when the producer makes the unit and never changed.
	table string
	key   string // its progress table key, unitKey(table)

	// What an earlier, interrupted run finished (from the progress table),
	// set by the producer before the unit is queued and only read after.
	// skipAll: the unit is done, nothing of it is queued; skip: its first
	// statements are done; done: its data statements (beyond skip) that
	// committed.
	skipAll bool
	skip    int64
	done    map[int64]bool

	// The producer's own, touched by the producer goroutine only. ordinal
	// counts the statements read for the unit; created says its CREATE
	// TABLE came; held is that statement and those after it, held back
	// until the table's first row decides whether its plain keys are
	// deferred (stripped and heldKeys: the statement without them, and
	// them); keys are the deferred keys, to add after the rows (from the
	// CREATE at keysOff, in its session keysSess).
	ordinal  int64
	created  bool
	held     []heldItem
	stripped []byte
	heldKeys *deferredKeys
	keys     *deferredKeys
	keysOff  int64
	keysSess int

	// The queue's, guarded by queue.mu. items[head:] are the statements
	// read and not yet handed out; closed: the producer has read all of
	// them; taken: a worker owns the unit. open: other workers may run its
	// plain INSERTs (inflight of them running); serial: no longer (a
	// trigger exists). file is the unit's spool file, which the producer
	// writes at fileEnd (outside the lock, at offsets no reader uses yet)
	// and workers read back.
	items    []item
	head     int
	closed   bool
	taken    bool
	open     bool
	inflight int
	serial   bool
	file     *os.File
	fileEnd  int64

	// The executor's. progress: a progress row of the unit exists (any
	// worker's INSERT makes one); loaded and bytes count this run's rows
	// and statement bytes (owner and helpers add to them). started,
	// prefix and lastSerial belong to the owner alone: prefix: statements
	// before it are recorded as done; lastSerial: the ordinal after the
	// last non-INSERT statement the owner ran.
	progress           atomic.Bool
	loaded             atomic.Int64
	bytes              atomic.Int64
	started            time.Time
	prefix, lastSerial int64
}

// heldItem is a statement the producer holds back.
type heldItem struct {
	text   []byte
	offset int64
	cls    class
	raw    int64
	sess   int
}

// item is one statement of a unit in the queue.
type item struct {
	data    []byte // nil when spilled to the unit's file
	pos     int64  // position in the unit's file
	n       int
	offset  int64
	sess    int // session statements before it
	cls     class
	ordinal int64
	raw     int64 // bytes of the stream this statement stands for
	// keys: the statement is the ALTER TABLE adding the unit's deferred
	// keys; ordinal is the last row statement's, sess the CREATE's.
	keys *deferredKeys
}

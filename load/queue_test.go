package load

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// push queues text as u's plain INSERT at ordinal ord, as the producer does.
func push(q *queue, u *unit, text string, ord int64) error {
	return q.push(u, []byte(text), item{n: len(text), sess: -1, ordinal: ord, cls: class{kind: kindData, table: u.table, plain: true}})
}

// waitFor polls cond (under q.mu) until it holds.
func waitFor(t *testing.T, q *queue, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		ok := cond()
		q.mu.Unlock()
		if ok {
			return
		}
		require.True(t, time.Now().Before(deadline), "queue: %s did not happen", what)
		time.Sleep(time.Millisecond)
	}
}

// TestQueueReadAheadLimit: the producer's push waits while ReadAhead bytes
// are read ahead, and goes on once a worker consumed a statement.
func TestQueueReadAheadLimit(t *testing.T) {
	t.Parallel()
	q := newQueue(Config{ReadAhead: 10, MemoryReadAhead: 10})
	u := &unit{table: "t", key: unitKey("t")}
	q.addUnit(u)
	require.NoError(t, push(q, u, "12345678", 0))
	pushed := make(chan error, 1)
	go func() { pushed <- push(q, u, "abcdefgh", 1) }()
	select {
	case err := <-pushed:
		t.Fatalf("push beyond ReadAhead returned %v before any statement was consumed; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	got, _, _, help := q.next()
	require.Same(t, u, got, "next() = another unit; want the one queued")
	require.False(t, help)
	it, _, ok, err := q.pop(u)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "12345678", string(it.data))
	q.consumed(it)
	select {
	case err := <-pushed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("push still waits after a statement was consumed")
	}
	q.close(u)
	it, _, ok, err = q.pop(u)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "abcdefgh", string(it.data))
	_, _, ok, err = q.pop(u)
	require.NoError(t, err)
	assert.False(t, ok, "pop of a closed, empty unit = ok; want the end")
}

// TestQueueSpoolsWhileAWorkerWaits: beyond MemoryReadAhead a statement goes
// to the unit's spool file only while a worker waits, and comes back whole.
func TestQueueSpoolsWhileAWorkerWaits(t *testing.T) {
	t.Parallel()
	q := newQueue(Config{ReadAhead: 100, MemoryReadAhead: 4, SpoolDir: t.TempDir()})
	u := &unit{table: "t", key: unitKey("t")}
	q.addUnit(u)
	_, _, _, _ = q.next() // the worker owns u
	require.NoError(t, push(q, u, "abcd", 0))
	popped := make(chan item, 2)
	go func() {
		for {
			it, _, ok, err := q.pop(u)
			if err != nil || !ok {
				close(popped)
				return
			}
			popped <- it
		}
	}()
	first := <-popped
	waitFor(t, q, "the worker waiting for statements", func() bool { return q.waiting == 1 })
	require.NoError(t, push(q, u, "spooled!", 1))
	second := <-popped
	q.close(u)
	assert.Equal(t, "abcd", string(first.data))
	assert.Nil(t, second.data, "the statement beyond MemoryReadAhead stayed in memory; want it spooled")
	var buf []byte
	text, err := u.text(second, &buf)
	require.NoError(t, err)
	assert.Equal(t, "spooled!", string(text))
	q.unitDone(u)
	assert.Nil(t, u.file, "unitDone left the spool file open")
}

// TestQueueHelpBeforeNewUnit: a worker with nothing of its own runs another
// owner's plain INSERT before it takes a new unit, and the owner waits for
// it before a statement that must run alone.
func TestQueueHelpBeforeNewUnit(t *testing.T) {
	t.Parallel()
	q := newQueue(Config{ReadAhead: 1 << 20, MemoryReadAhead: 1 << 20})
	q.setDumpShaped()
	a, b := &unit{table: "a", key: unitKey("a")}, &unit{table: "b", key: unitKey("b")}
	q.addUnit(a)
	q.addUnit(b)
	got, _, _, _ := q.next()
	require.Same(t, a, got, "first next() is not unit a, the first in the stream")
	for i := int64(0); i < 2; i++ {
		require.NoError(t, push(q, a, "INSERT", i))
	}
	require.NoError(t, q.push(a, []byte("CREATE TRIGGER"), item{n: 14, sess: -1, ordinal: 2, cls: class{kind: kindTable, table: "a", object: "TRIGGER"}}))
	q.close(a)
	it, _, ok, err := q.pop(a)
	require.NoError(t, err)
	require.True(t, ok)
	q.open(a, it) // the owner runs its first INSERT and lets others help

	got, hit, _, help := q.next()
	require.Same(t, a, got, "next() with a opened is not a's INSERT; want help before a new unit")
	require.True(t, help)
	assert.Equal(t, int64(1), hit.ordinal)

	trigger := make(chan item, 1)
	go func() {
		it, _, _, _ := q.pop(a)
		trigger <- it
	}()
	select {
	case <-trigger:
		t.Fatal("the owner popped the trigger while a helper's INSERT ran; want it to wait")
	case <-time.After(50 * time.Millisecond):
	}
	q.helped(a)
	select {
	case it := <-trigger:
		assert.Equal(t, "TRIGGER", it.cls.object)
	case <-time.After(5 * time.Second):
		t.Fatal("the owner still waits after the helper finished")
	}
	got, _, _, help = q.next()
	assert.Same(t, b, got, "next() after a's INSERTs is not unit b")
	assert.False(t, help)
}

// TestQueueFailWakesEveryone: the first failure ends every wait with it.
func TestQueueFailWakesEveryone(t *testing.T) {
	t.Parallel()
	q := newQueue(Config{ReadAhead: 4, MemoryReadAhead: 4})
	u := &unit{table: "t", key: unitKey("t")}
	q.addUnit(u)
	require.NoError(t, push(q, u, "1234", 0))
	errs := make(chan error, 2)
	go func() { errs <- push(q, u, "5678", 1) }()
	go func() {
		_, err := q.drained()
		errs <- err
	}()
	boom := errors.New("boom")
	q.fail(boom)
	q.fail(errors.New("later"))
	for range 2 {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, boom)
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter still waits after fail")
		}
	}
	got, _, _, _ := q.next()
	assert.Nil(t, got, "next() after a failure = a unit; want nil")
	assert.ErrorIs(t, q.failed(), boom)
}

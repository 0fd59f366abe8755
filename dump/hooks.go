package dump

import (
	"context"
	"database/sql"
)

// hooks are callbacks a test sets in Options.hooks to act at a chosen
// moment of one dump (pause it, write to the source, cut a connection),
// and sizes it lowers so that small tables behave as big ones. They belong
// to that dump alone, so tests that set them may run in parallel. A nil
// *hooks, a nil callback and a zero size change nothing.
type hooks struct {
	// beforeRows runs before each table's rows are read, on the reading
	// connection's goroutine.
	beforeRows func(ctx context.Context, conn *sql.Conn, table string)
	// snapshot runs while the tables are locked, after reading
	// connection i (0 = the main one) started its snapshot.
	snapshot func(ctx context.Context, i int)
	// spillPeak receives the most bytes ever spilled and not yet copied.
	spillPeak func(peak int64)
	// splitBytes, when above 0, replaces the constant splitBytes (the
	// size of a table's key ranges, split.go).
	splitBytes int64
	// maxSpill, when above 0, replaces the constant maxSpill (the spill
	// waiting to be copied before an extra connection waits, parallel.go).
	maxSpill int64
}

// split is the size of the key ranges big tables are cut into.
func (h *hooks) split() int64 {
	if h != nil && h.splitBytes > 0 {
		return h.splitBytes
	}
	return splitBytes
}

// spillLimit is the most spilled bytes waiting to be copied before an
// extra connection stops starting units.
func (h *hooks) spillLimit() int64 {
	if h != nil && h.maxSpill > 0 {
		return h.maxSpill
	}
	return maxSpill
}

func (h *hooks) beforeRowsOf(ctx context.Context, conn *sql.Conn, table string) {
	if h != nil && h.beforeRows != nil {
		h.beforeRows(ctx, conn, table)
	}
}

func (h *hooks) snapshotStarted(ctx context.Context, i int) {
	if h != nil && h.snapshot != nil {
		h.snapshot(ctx, i)
	}
}

func (h *hooks) spilled(peak int64) {
	if h != nil && h.spillPeak != nil {
		h.spillPeak(peak)
	}
}

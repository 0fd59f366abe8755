package dump

import (
	"context"
	"database/sql"
)

// hooks are callbacks a test sets in Options.hooks to act at a chosen
// moment of one dump (pause it, write to the source, cut a connection).
// They belong to that dump alone, so tests that set them may run in
// parallel. A nil *hooks, and a nil callback, do nothing.
type hooks struct {
	// beforeRows runs before each table's rows are read, on the reading
	// connection's goroutine.
	beforeRows func(ctx context.Context, conn *sql.Conn, table string)
	// snapshot runs while the tables are locked, after reading
	// connection i (0 = the main one) started its snapshot.
	snapshot func(ctx context.Context, i int)
	// spillPeak receives the most bytes ever spilled and not yet copied.
	spillPeak func(peak int64)
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

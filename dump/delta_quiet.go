package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// quietMarks is what the server says about writes at one moment: the
// global count of row writes to non-temporary tables (Handler_write,
// _update, _delete) and each table's UPDATE_TIME.
type quietMarks struct {
	writes  int64
	now     string // the server's clock, to the second
	updated map[string]string
}

func readQuietMarks(ctx context.Context, conn *sql.Conn, db string) (*quietMarks, error) {
	q := &quietMarks{updated: map[string]string{}}
	rows, err := conn.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')")
	if err != nil {
		return nil, fmt.Errorf("dump: reading the server's write counters: %w", err)
	}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dump: reading the server's write counters: %w", err)
		}
		q.writes += v
	}
	rows.Close()
	if err := conn.QueryRowContext(ctx, "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')").Scan(&q.now); err != nil {
		return nil, fmt.Errorf("dump: reading the server's clock: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(DATE_FORMAT(UPDATE_TIME, '%Y-%m-%d %H:%i:%s'), '')
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'`, db)
	if err != nil {
		return nil, fmt.Errorf("dump: reading the tables' update times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, t string
		if err := rows.Scan(&name, &t); err != nil {
			return nil, fmt.Errorf("dump: reading the tables' update times: %w", err)
		}
		q.updated[name] = t
	}
	return q, rows.Err()
}

// quietStart reads the marks before the snapshot. UPDATE_TIME counts
// seconds: a table written in the current second could be written again
// in it unseen, so while one is, it waits for the next second (at most
// three times).
func (d *dumper) quietStart(ctx context.Context) (*quietMarks, error) {
	for i := 0; ; i++ {
		q, err := readQuietMarks(ctx, d.conn, d.cfg.Database)
		if err != nil || i == 3 {
			return q, err
		}
		busy := false
		for _, u := range q.updated {
			if u >= q.now {
				busy = true
			}
		}
		if !busy {
			return q, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// quiet compares the marks taken before the snapshot with now: nothing on
// the server wrote a row (the counters did not move), or, when something
// did, none of the dumped tables' update times moved and none was updated
// in the second the snapshot started (a write then could hide in the same
// second). It names the tables that may have been written.
func quiet(before, after *quietMarks, tables []string) error {
	if after.writes == before.writes {
		return nil
	}
	start := before.now
	var hit []string
	for _, t := range tables {
		b, a := before.updated[t], after.updated[t]
		if a != b || (a != "" && a >= start) {
			hit = append(hit, fmt.Sprintf("%s (updated %s)", ident.Quote(t), a))
		}
	}
	if len(hit) == 0 {
		return nil
	}
	return &NotQuietError{Tables: hit, Writes: after.writes - before.writes}
}

// NotQuietError names the tables a delta could not prove unwritten during
// its dump (each with its update time) and the row writes the server
// counted meanwhile (on every database). It wraps ErrNotQuiet.
type NotQuietError struct {
	Tables []string
	Writes int64
}

func (e *NotQuietError) Error() string {
	return fmt.Sprintf("%v: %s may have been written after the delta's snapshot (the server counted %d row writes during the dump, on any of its databases): rows committed then would be lost; make sure the help desk is isolated and drained (lamigrate isolate, drain, cron off) and dump again, or pass --live for a pre-copy delta that needs no such proof",
		ErrNotQuiet, strings.Join(e.Tables, ", "), e.Writes)
}

func (e *NotQuietError) Unwrap() error { return ErrNotQuiet }

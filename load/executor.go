package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// executor is the workers: Config.Threads goroutines, each with its own
// connection, loading the queue's units.
//
// In the order events happen, for each task a worker takes from the queue: a
// unit it now owns is loaded statement by statement, in stream order, on the
// worker's connection (loadUnit): the table an interrupted run left without
// a progress row is dropped first (not in a delta, whose tables hold the
// base's rows); before its first INSERT the unit's row records the
// statements done so far (its CREATE TABLE); each INSERT runs in
// its own transaction with its progress row, and opens the unit to helpers
// when they may run its INSERTs; every later statement records, after it
// ran, how many of the unit's statements are done; the unit's row finally
// says it is done, and the unit is counted and handed back to the queue. A
// helper task, one plain INSERT of a unit another worker owns, runs the same
// way on a connection whose session is the statement's (help). Every
// statement brings its connection's session up to the stream's at that point
// first (replay), and is counted in the tally once it ran. The executor's
// fields are not changed while it runs; a worker's own state is its wconn.
type executor struct {
	db      *sql.DB
	q       *queue
	pt      *progressTable
	tally   *tally
	hooks   *hooks
	force   bool // Config.Force
	resumed bool // the progress table is an earlier run's
	// delta: the archive is a delta, whose units change tables of the
	// base: none is dropped for lack of a progress row (a table the delta
	// makes anew starts with its own DROP TABLE IF EXISTS).
	delta bool
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

// worker takes tasks from the queue until there are none.
func (x *executor) worker(ctx context.Context) error {
	c, err := x.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: connecting: %w", err)
	}
	w := &wconn{c: c, db: x.db}
	defer w.close()
	for {
		u, it, sess, help := x.q.next()
		if u == nil {
			return nil
		}
		if help {
			err := x.help(ctx, w, u, it, sess)
			x.q.helped(u)
			if err != nil {
				return err
			}
			continue
		}
		if err := x.loadUnit(ctx, w, u); err != nil {
			return err
		}
		x.tally.tableDone(u)
		x.q.unitDone(u)
	}
}

// consumed counts a statement of u that ran (or was found done) and
// releases its read-ahead.
func (x *executor) consumed(u *unit, it item, rows int64) {
	u.loaded.Add(rows)
	u.bytes.Add(it.raw)
	n := x.tally.statement(it.raw, rows)
	x.q.consumed(it)
	if x.hooks.afterStatement != nil {
		x.hooks.afterStatement(n)
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

// help runs one of u's plain INSERTs for u's owner.
func (x *executor) help(ctx context.Context, w *wconn, u *unit, it item, sess []string) error {
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
	n, err := x.insert(ctx, c, u, it, text, true)
	if err != nil {
		return err
	}
	x.consumed(u, it, n)
	return nil
}

// insert runs a data statement in its own transaction with its progress
// record, so a resumed import skips exactly the statements committed. Any
// failure after START TRANSACTION rolls it back before the connection is
// used again: an INSERT that worked, followed by a progress record that
// failed (a deadlock, a lock wait timeout), must not be committed later by
// the next START TRANSACTION on the same connection without its record,
// or a resume would load its rows twice. A connection that cannot roll
// back is discarded.
//
// A deadlock (1213) or lock wait timeout (1205) before COMMIT is retried a
// few times: the transaction was rolled back, so nothing of it happened
// (two connections loading one table can deadlock on its secondary keys).
// A failed COMMIT is never retried: it may have happened.
func (x *executor) insert(ctx context.Context, c *sql.Conn, u *unit, it item, text []byte, helper bool) (int64, error) {
	for attempt := 1; ; attempt++ {
		n, committing, err := x.insertOnce(ctx, c, u, it, text)
		if err == nil {
			u.progress.Store(true)
			if x.hooks.afterInsert != nil {
				x.hooks.afterInsert(u.table, it.ordinal, helper)
			}
			return n, nil
		}
		if committing || attempt == lockRetries || !lockConflict(err) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		}
	}
}

// lockRetries is how often a statement that hit a lock conflict is tried.
const lockRetries = 5

// lockConflict reports a deadlock (1213) or a lock wait timeout (1205).
func lockConflict(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// insertOnce is one attempt of insert; committing says the error came
// from COMMIT (whose effect is unknown).
func (x *executor) insertOnce(ctx context.Context, c *sql.Conn, u *unit, it item, text []byte) (n int64, committing bool, err error) {
	if _, err := c.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return 0, false, statementError(u, it, text, err)
	}
	fail := func(err error) (int64, bool, error) {
		rollback(ctx, c)
		return 0, false, statementError(u, it, text, err)
	}
	res, err := c.ExecContext(ctx, b2s(text))
	if err != nil {
		return fail(err)
	}
	n, _ = res.RowsAffected()
	if err := record(ctx, c, stmtKey(u.key, it.ordinal), "stmt", 0, n); err != nil {
		return fail(err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		rollback(ctx, c)
		return 0, true, statementError(u, it, text, err)
	}
	return n, false, nil
}

// rollback ends c's open transaction, also when ctx is cancelled; when it
// cannot, it marks c bad so database/sql closes it instead of reusing it.
func rollback(ctx context.Context, c *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// loadUnit runs u's statements in order on the worker's own connection.
func (x *executor) loadUnit(ctx context.Context, w *wconn, u *unit) error {
	c, pos := w.c, &w.pos
	progress := u.progress.Load()
	// earlier: an interrupted run made the table
	earlier := x.resumed && progress
	if x.resumed && !progress && !x.delta {
		if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(u.table)); err != nil {
			return &StatementError{Table: u.table, Err: fmt.Errorf("emptying the table an interrupted import left: %w", err)}
		}
	}
	u.started = time.Now()
	first := progress
	var last int64
	var buf []byte
	for {
		it, sess, ok, err := x.q.pop(u)
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
				if err := record(ctx, c, u.key, "data", u.lastSerial, 0); err != nil {
					return statementError(u, it, text, err)
				}
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					return statementError(u, it, text, err)
				}
				u.prefix = u.lastSerial
			}
			x.q.open(u, it)
			if n, err = x.insert(ctx, c, u, it, text, false); err != nil {
				return err
			}
		} else {
			if first {
				if err := dropObject(ctx, c, it.cls); err != nil {
					return statementError(u, it, text, err)
				}
			}
			if x.force && it.cls.kind == kindCreate && it.cls.object == "TABLE" {
				// Force replaces the archive's own tables, nothing else.
				if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(it.cls.table)); err != nil {
					return statementError(u, it, text, fmt.Errorf("replacing the table (--force): %w", err))
				}
			}
			if it.keys != nil {
				if err := x.addKeys(ctx, w, u, it, text, sess, earlier); err != nil {
					return err
				}
			} else if _, err := c.ExecContext(ctx, b2s(text)); err != nil {
				return statementError(u, it, text, err)
			}
			progress = u.progress.Load()
			if it.cls.object == "TRIGGER" {
				x.q.setSerial(u)
			}
			if progress {
				if err := record(ctx, c, u.key, "data", it.ordinal+1, 0); err != nil {
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
		x.consumed(u, it, n)
	}
	if err := record(ctx, c, u.key, "done", last+1, 0); err != nil {
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
func (x *executor) addKeys(ctx context.Context, w *wconn, u *unit, it item, text []byte, sess []string, earlier bool) error {
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
		if x.hooks.beforeKeys != nil {
			x.hooks.beforeKeys(u.table)
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
		if x.hooks.afterKeys != nil {
			x.hooks.afterKeys(u.table)
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

package load

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// progressTable is the import's record in the target (ProgressTable). Its
// rows, one per key:
//
//	archive        state: the archive's fingerprint
//	dump           state: the run id in a lamigrate dump's header (none
//	               for other streams)
//	t:<table>      a unit: state "data" with stmts its first statements
//	               done, or "done" (unitKey)
//	t:<table>#<n>  the unit's data statement n committed, state "stmt",
//	               with its rows (stmtKey)
//	at:<offset>    the statement outside any table at that stream offset
//	               ran, state "done" (globalKey)
//
// In the order events happen: the engine reads an earlier run's table
// (readProgress) or creates a new one (createProgress) before any
// statement runs; the producer looks up each unit and global statement in
// what was read; every statement that finishes writes its row (record) in
// the transaction that commits it; a finished import drops the table
// (dropProgress). What was read is not changed after readProgress, so every
// goroutine reads it without a lock.
type progressTable struct {
	resumed bool                      // the table of an earlier run was read
	archive string                    // the fingerprint it recorded
	dumpID  string                    // the dump run it recorded ("": none)
	units   map[string]unitState      // per unit key
	stmts   map[string]map[int64]bool // committed data statements, per unit key
	globals map[string]bool           // global statements done, per key
}

// unitState is an earlier run's row of a unit.
type unitState struct {
	done  bool
	stmts int64
	rows  int64
}

const (
	archiveKey = "archive"
	dumpKey    = "dump"
)

func unitKey(table string) string { return "t:" + table }

func stmtKey(unit string, ordinal int64) string {
	return unit + "#" + strconv.FormatInt(ordinal, 10)
}

func globalKey(offset int64) string { return "at:" + strconv.FormatInt(offset, 10) }

// parseStmtKey splits a statement key into its unit key and ordinal.
func parseStmtKey(k string) (unit string, ordinal int64, ok bool) {
	i := strings.LastIndexByte(k, '#')
	if i < 0 {
		return "", 0, false
	}
	ord, err := strconv.ParseInt(k[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return k[:i], ord, true
}

// readProgress reads the progress table an earlier run left.
func readProgress(ctx context.Context, c *sql.Conn) (*progressTable, error) {
	p := &progressTable{resumed: true, units: map[string]unitState{}, stmts: map[string]map[int64]bool{}, globals: map[string]bool{}}
	rows, err := c.QueryContext(ctx, "SELECT unit, state, stmts, `rows` FROM "+ident.Quote(ProgressTable))
	if err != nil {
		return nil, fmt.Errorf("load: reading the progress of the earlier import: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, st string
		var s unitState
		if err := rows.Scan(&k, &st, &s.stmts, &s.rows); err != nil {
			return nil, fmt.Errorf("load: reading the progress of the earlier import: %w", err)
		}
		switch {
		case k == archiveKey:
			p.archive = st
		case k == dumpKey:
			p.dumpID = st
		case st == "stmt":
			u, ord, ok := parseStmtKey(k)
			if !ok {
				return nil, fmt.Errorf("load: reading the progress of the earlier import: bad statement record %q", k)
			}
			if p.stmts[u] == nil {
				p.stmts[u] = map[int64]bool{}
			}
			p.stmts[u][ord] = true
		case strings.HasPrefix(k, "at:"):
			p.globals[k] = st == "done"
		default:
			s.done = st == "done"
			p.units[k] = s
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: reading the progress of the earlier import: %w", err)
	}
	return p, nil
}

// createProgress creates the progress table of a new import, recording the
// archive's fingerprint fp and, for a lamigrate dump, its run id.
func createProgress(ctx context.Context, c *sql.Conn, fp, dumpID string) error {
	pt := ident.Quote(ProgressTable)
	if _, err := c.ExecContext(ctx, "CREATE TABLE "+pt+" (unit VARBINARY(1024) NOT NULL PRIMARY KEY, state VARCHAR(80) NOT NULL, stmts BIGINT NOT NULL DEFAULT 0, `rows` BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB"); err != nil {
		return fmt.Errorf("load: creating the progress table %s: %w", pt, err)
	}
	q := "INSERT INTO " + pt + " (unit, state) VALUES (" + ident.String(archiveKey) + ", " + ident.String(fp) + ")"
	if dumpID != "" {
		q += ", (" + ident.String(dumpKey) + ", " + ident.String(dumpID) + ")"
	}
	if _, err := c.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("load: recording the import: %w", err)
	}
	return nil
}

// dropProgress drops the progress table of a finished import.
func dropProgress(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident.Quote(ProgressTable)); err != nil {
		return fmt.Errorf("load: dropping the progress table: %w", err)
	}
	return nil
}

// Forget drops the progress table an import left in target, so that no
// later import continues it: the next one then finds a database that holds
// tables and refuses it unless Config.Force. For an archive whose dump gave
// up (a followed partial file that vanished, was replaced, or stalled for
// good): its tables belong to a snapshot that will never complete.
func Forget(ctx context.Context, target *mysql.Config) error {
	conn, err := mysql.NewConnector(target)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer c.Close()
	return dropProgress(ctx, c)
}

// record writes key's row, in the caller's transaction when one is open.
func record(ctx context.Context, c *sql.Conn, key, state string, stmts, rows int64) error {
	_, err := c.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (unit, state, stmts, `rows`) VALUES (%s, %s, %d, %d) ON DUPLICATE KEY UPDATE state = VALUES(state), stmts = VALUES(stmts), `rows` = VALUES(`rows`)",
		ident.Quote(ProgressTable), ident.String(key), ident.String(state), stmts, rows))
	if err != nil {
		return fmt.Errorf("load: recording progress: %w", err)
	}
	return nil
}

// unit returns what the earlier run recorded of the unit key; p may be nil
// (a new import).
func (p *progressTable) unit(key string) (unitState, bool) {
	if p == nil {
		return unitState{}, false
	}
	s, ok := p.units[key]
	return s, ok
}

// committed returns the data statements of the unit key the earlier run
// committed.
func (p *progressTable) committed(key string) map[int64]bool {
	if p == nil {
		return nil
	}
	return p.stmts[key]
}

// globalDone reports whether the earlier run ran the global statement at
// offset.
func (p *progressTable) globalDone(offset int64) bool {
	return p != nil && p.globals[globalKey(offset)]
}

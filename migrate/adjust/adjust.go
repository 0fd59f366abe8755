package adjust

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/jsonfile"
	"github.com/qualityunit/lamigrate/internal/sqlvalue"
)

// Config configures Apply.
type Config struct {
	// DryRun applies the rules inside the transaction, reports what
	// changed, and rolls back.
	DryRun bool `json:"dry_run,omitempty"`
	// Params are the values of the rules' ${name} parameters.
	Params map[string]string `json:"params,omitempty"`
}

// MissingParamsError names the rules' parameters that were given no
// value. Callers say how to give them: lamigrate adjust --param NAME=VALUE,
// or run's "adjust": {"params": {"NAME": "VALUE"}}.
type MissingParamsError struct {
	Names []string
}

func (e *MissingParamsError) Error() string {
	if len(e.Names) == 1 {
		return fmt.Sprintf("parameter %s of the rules has no value", e.Names[0])
	}
	return fmt.Sprintf("parameters %s of the rules have no value", strings.Join(e.Names, ", "))
}

// Missing lists the declared parameters params gives no value, in the
// order the rules declare them.
func (r *Rules) Missing(params map[string]string) []string {
	var out []string
	for _, p := range r.Params {
		if _, ok := params[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// Report is what Apply did (or, with DryRun, would do).
type Report struct {
	Database string       `json:"database"`
	DryRun   bool         `json:"dry_run"`
	Time     time.Time    `json:"time"`
	Rules    []RuleResult `json:"rules"`
	// Changed counts the rows changed by set rules plus the rows SQL rules
	// affected.
	Changed int64 `json:"changed"`
}

// RuleResult is one rule's outcome.
type RuleResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "set" or "sql"
	// Table (set rules) and SQL (sql rules, parameters bound).
	Table string `json:"table,omitempty"`
	SQL   string `json:"sql,omitempty"`
	// Matched rows the where selected; Changed rows written; Unchanged
	// rows already at the target value.
	Matched   int64       `json:"matched"`
	Changed   int64       `json:"changed"`
	Unchanged int64       `json:"unchanged"`
	Changes   []RowChange `json:"changes,omitempty"`
}

// RowChange is one row a set rule changed: its key, and the set columns'
// values before and after.
type RowChange struct {
	Rule   string          `json:"rule"`
	Table  string          `json:"table"`
	Key    map[string]Cell `json:"key"`
	Before map[string]Cell `json:"before"`
	After  map[string]Cell `json:"after"`
}

// RecordFormat is the version of the record file's layout.
const RecordFormat = 1

// Record is what adjust changed, kept so it can be shown and undone:
// every row change in the order applied, and the SQL rules that ran (not
// undoable).
type Record struct {
	Format     int               `json:"format"`
	Database   string            `json:"database"`
	Changes    []RowChange       `json:"changes"`
	Statements []StatementRecord `json:"statements,omitempty"`
}

// StatementRecord is one SQL rule as it ran.
type StatementRecord struct {
	Rule     string    `json:"rule"`
	SQL      string    `json:"sql"`
	Affected int64     `json:"affected"`
	Time     time.Time `json:"time"`
}

// Record returns what the report changed as a record. A dry run's report
// gives an empty record.
func (r *Report) Record() *Record {
	rec := &Record{Format: RecordFormat, Database: r.Database, Changes: []RowChange{}}
	if r.DryRun {
		return rec
	}
	for _, rr := range r.Rules {
		rec.Changes = append(rec.Changes, rr.Changes...)
		if rr.Kind == "sql" && rr.Changed > 0 {
			rec.Statements = append(rec.Statements, StatementRecord{Rule: rr.Name, SQL: rr.SQL, Affected: rr.Changed, Time: r.Time})
		}
	}
	return rec
}

// Append adds o's changes after r's (a later run of adjust).
func (r *Record) Append(o *Record) {
	r.Changes = append(r.Changes, o.Changes...)
	r.Statements = append(r.Statements, o.Statements...)
}

// recordFile is the record's kind of versioned file.
var recordFile = jsonfile.Kind{Name: "migrate: adjust record", Format: RecordFormat,
	Damaged: "undo needs the values it holds: mend it by hand, or use a copy of it"}

// ReadRecord reads a record file. A missing file's error wraps
// fs.ErrNotExist, a damaged one's jsonfile.ErrDamaged, one of another
// format's jsonfile.ErrFormat.
func ReadRecord(path string) (*Record, error) {
	var r Record
	if err := recordFile.Read(path, &r); err != nil {
		return nil, err
	}
	for i, c := range r.Changes {
		if checkIdentName(c.Table) != nil || len(c.Key) == 0 || len(c.Before) == 0 || len(c.Before) != len(c.After) {
			return nil, fmt.Errorf("migrate: adjust record %s: change %d is incomplete (table, key, before, after)", path, i)
		}
		for _, m := range []map[string]Cell{c.Key, c.Before} {
			for col := range m {
				if err := checkIdentName(col); err != nil {
					return nil, fmt.Errorf("migrate: adjust record %s: change %d: %v", path, i, err)
				}
			}
		}
	}
	return &r, nil
}

// Write stores the record at path (JSON, mode 0600: it holds data),
// atomically (jsonfile.Write).
func (r *Record) Write(path string) error {
	return jsonfile.Write(path, r)
}

// Apply applies rules in one transaction. Set rules change only rows not
// yet at their target and record each change, so a second run changes
// nothing; SQL rules run as written. Any error rolls everything back. With
// cfg.DryRun the transaction is rolled back after the report is made.
//
// Set rules change the rows one at a time by key (the primary key, or a
// unique key of NOT NULL columns): meant for settings-sized changes, not
// bulk rewrites.
func Apply(ctx context.Context, db *sql.DB, rules *Rules, cfg Config) (*Report, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if missing := rules.Missing(cfg.Params); len(missing) > 0 {
		return nil, fmt.Errorf("migrate: adjust: %w", &MissingParamsError{Names: missing})
	}
	bound := make([]Rule, len(rules.Rules))
	for i, ru := range rules.Rules {
		b, err := ru.Bind(cfg.Params)
		if err != nil {
			return nil, err
		}
		bound[i] = b
	}
	rep := &Report{DryRun: cfg.DryRun, Time: time.Now().UTC(), Rules: []RuleResult{}}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: adjust: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&rep.Database); err != nil {
		return nil, fmt.Errorf("migrate: adjust: %w", err)
	}
	for _, ru := range bound {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var res RuleResult
		var err error
		if ru.SQL != "" {
			res, err = applySQL(ctx, tx, ru)
		} else {
			res, err = applySet(ctx, tx, rep.Database, ru)
		}
		if err != nil {
			return nil, fmt.Errorf("migrate: adjust: rule %q: %w (nothing was changed)", ru.Name, err)
		}
		rep.Changed += res.Changed
		rep.Rules = append(rep.Rules, res)
	}
	if cfg.DryRun {
		if err := tx.Rollback(); err != nil {
			return nil, fmt.Errorf("migrate: adjust: rolling back the dry run: %w", err)
		}
		return rep, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: adjust: commit: %w", err)
	}
	return rep, nil
}

func applySQL(ctx context.Context, tx *sql.Tx, ru Rule) (RuleResult, error) {
	res := RuleResult{Name: ru.Name, Kind: "sql", SQL: ru.SQL}
	r, err := tx.ExecContext(ctx, ru.SQL)
	if err != nil {
		return res, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return res, err
	}
	res.Matched, res.Changed = n, n
	return res, nil
}

// keyColumns returns the primary key's columns, or those of a unique key
// whose columns are all NOT NULL.
func keyColumns(ctx context.Context, tx *sql.Tx, db, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT s.INDEX_NAME, s.COLUMN_NAME, c.IS_NULLABLE
		FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
		  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0
		ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX`, db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[string][]string{}
	nullable := map[string]bool{}
	var order []string
	for rows.Next() {
		var name, col, isNull string
		if err := rows.Scan(&name, &col, &isNull); err != nil {
			return nil, err
		}
		if _, ok := idx[name]; !ok {
			order = append(order, name)
		}
		idx[name] = append(idx[name], col)
		if isNull == "YES" {
			nullable[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range order {
		if !nullable[name] {
			return idx[name], nil
		}
	}
	return nil, fmt.Errorf("table %s has no primary key or NOT NULL unique key, so changes cannot be recorded: use an sql rule", table)
}

func tableColumnSet(ctx context.Context, tx *sql.Tx, db, table string) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols[strings.ToLower(c)] = c
	}
	return cols, rows.Err()
}

func applySet(ctx context.Context, tx *sql.Tx, db string, ru Rule) (RuleResult, error) {
	res := RuleResult{Name: ru.Name, Kind: "set", Table: ru.Table}
	cols, err := tableColumnSet(ctx, tx, db, ru.Table)
	if err != nil {
		return res, err
	}
	if len(cols) == 0 {
		return res, fmt.Errorf("table %s does not exist", ru.Table)
	}
	for _, m := range []map[string]Cell{ru.Set, ru.Where} {
		for c := range m {
			if _, ok := cols[strings.ToLower(c)]; !ok {
				return res, fmt.Errorf("table %s has no column %s", ru.Table, c)
			}
		}
	}
	key, err := keyColumns(ctx, tx, db, ru.Table)
	if err != nil {
		return res, err
	}
	setCols, whereCols := sortedKeys(ru.Set), sortedKeys(ru.Where)

	// Read the matching rows' keys and current values, locking them.
	var sel []string
	for _, k := range key {
		sel = append(sel, ident.Quote(k))
	}
	for _, c := range setCols {
		sel = append(sel, ident.Quote(c))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + ident.Quote(ru.Table)
	var conds []string
	var args []any
	for _, c := range whereCols {
		if v := ru.Where[c]; !v.Valid {
			conds = append(conds, ident.Quote(c)+" IS NULL")
		} else {
			conds = append(conds, ident.Quote(c)+" = ?")
			args = append(args, v.Arg())
		}
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " FOR UPDATE"
	type row struct{ key, cur []Cell }
	var matched []row
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		vals := make([]sql.RawBytes, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return res, err
		}
		cells := make([]Cell, len(vals))
		for i, v := range vals {
			cells[i] = sqlvalue.Raw(v)
		}
		matched = append(matched, row{key: cells[:len(key)], cur: cells[len(key):]})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	res.Matched = int64(len(matched))

	var sets []string
	var setArgs []any
	for _, c := range setCols {
		sets = append(sets, ident.Quote(c)+" = ?")
		setArgs = append(setArgs, ru.Set[c].Arg())
	}
	var keyConds []string
	for _, k := range key {
		keyConds = append(keyConds, ident.Quote(k)+" = ?")
	}
	update := "UPDATE " + ident.Quote(ru.Table) + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(keyConds, " AND ")
	reread := "SELECT " + strings.Join(sel[len(key):], ", ") + " FROM " + ident.Quote(ru.Table) + " WHERE " + strings.Join(keyConds, " AND ")
	for _, m := range matched {
		same := true
		for i, c := range setCols {
			if !m.cur[i].Equal(ru.Set[c]) {
				same = false
			}
		}
		if same {
			res.Unchanged++
			continue
		}
		keyArgs := cellArgs(m.key)
		r, err := tx.ExecContext(ctx, update, append(append([]any{}, setArgs...), keyArgs...)...)
		if err != nil {
			return res, err
		}
		if n, err := r.RowsAffected(); err != nil {
			return res, err
		} else if n == 0 {
			res.Unchanged++ // the server stores the target already (e.g. 5 for "5.0")
			continue
		}
		after, err := readCells(ctx, tx, reread, keyArgs, len(setCols))
		if err != nil {
			return res, err
		}
		ch := RowChange{Rule: ru.Name, Table: ru.Table, Key: map[string]Cell{}, Before: map[string]Cell{}, After: map[string]Cell{}}
		for i, k := range key {
			ch.Key[k] = m.key[i]
		}
		for i, c := range setCols {
			ch.Before[c], ch.After[c] = m.cur[i], after[i]
		}
		res.Changes = append(res.Changes, ch)
		res.Changed++
	}
	return res, nil
}

func cellArgs(cs []Cell) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c.Arg()
	}
	return out
}

// readCells reads one row of n columns; ok=false when there is none.
func readCells(ctx context.Context, tx *sql.Tx, q string, args []any, n int) ([]Cell, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errRowGone
	}
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]Cell, n)
	for i, v := range vals {
		out[i] = sqlvalue.Raw(v)
	}
	return out, rows.Err()
}

var errRowGone = errors.New("row no longer exists")

// UndoReport is what Undo put back and what it left alone.
type UndoReport struct {
	Database string `json:"database"`
	DryRun   bool   `json:"dry_run"`
	// Restored rows got their before values back; AlreadyUndone rows held
	// them already.
	Restored      int64 `json:"restored"`
	AlreadyUndone int64 `json:"already_undone"`
	// Conflicts are rows whose values are no longer what adjust wrote:
	// left as they are.
	Conflicts []UndoConflict `json:"conflicts"`
	// NotUndoable lists the SQL rules the record holds: they cannot be
	// undone automatically.
	NotUndoable []StatementRecord `json:"not_undoable,omitempty"`
}

// UndoConflict is a recorded row that changed since adjust wrote it.
type UndoConflict struct {
	Rule   string          `json:"rule"`
	Table  string          `json:"table"`
	Key    map[string]Cell `json:"key"`
	Reason string          `json:"reason"`
	Wrote  map[string]Cell `json:"wrote,omitempty"`
	Found  map[string]Cell `json:"found,omitempty"`
}

// Undo puts back the before values of rec's changes, newest first, in one
// transaction, but only where a row still holds exactly what adjust wrote;
// any other row is a conflict, reported and left alone. With dryRun the
// transaction is rolled back.
func Undo(ctx context.Context, db *sql.DB, rec *Record, dryRun bool) (*UndoReport, error) {
	rep := &UndoReport{DryRun: dryRun, Conflicts: []UndoConflict{}, NotUndoable: rec.Statements}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: undo: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&rep.Database); err != nil {
		return nil, fmt.Errorf("migrate: undo: %w", err)
	}
	if rec.Database != "" && rec.Database != rep.Database {
		return nil, fmt.Errorf("migrate: undo: the record is of database %s but this is %s: connect to the database adjust changed", rec.Database, rep.Database)
	}
	for i := len(rec.Changes) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ch := rec.Changes[i]
		keys, cols := sortedKeys(ch.Key), sortedKeys(ch.Before)
		var keyConds, sel, sets []string
		var keyArgs, setArgs []any
		for _, k := range keys {
			keyConds = append(keyConds, ident.Quote(k)+" = ?")
			keyArgs = append(keyArgs, ch.Key[k].Arg())
		}
		for _, c := range cols {
			sel = append(sel, ident.Quote(c))
			sets = append(sets, ident.Quote(c)+" = ?")
			setArgs = append(setArgs, ch.Before[c].Arg())
		}
		where := " WHERE " + strings.Join(keyConds, " AND ")
		cur, err := readCells(ctx, tx, "SELECT "+strings.Join(sel, ", ")+" FROM "+ident.Quote(ch.Table)+where+" FOR UPDATE", keyArgs, len(cols))
		if errors.Is(err, errRowGone) {
			rep.Conflicts = append(rep.Conflicts, UndoConflict{Rule: ch.Rule, Table: ch.Table, Key: ch.Key, Reason: "row no longer exists"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("migrate: undo: %s: %w", ch.Table, err)
		}
		isAfter, isBefore := true, true
		found := map[string]Cell{}
		for j, c := range cols {
			found[c] = cur[j]
			if !cur[j].Equal(ch.After[c]) {
				isAfter = false
			}
			if !cur[j].Equal(ch.Before[c]) {
				isBefore = false
			}
		}
		switch {
		case isAfter:
			if _, err := tx.ExecContext(ctx, "UPDATE "+ident.Quote(ch.Table)+" SET "+strings.Join(sets, ", ")+where, append(setArgs, keyArgs...)...); err != nil {
				return nil, fmt.Errorf("migrate: undo: %s: %w", ch.Table, err)
			}
			rep.Restored++
		case isBefore:
			rep.AlreadyUndone++
		default:
			rep.Conflicts = append(rep.Conflicts, UndoConflict{Rule: ch.Rule, Table: ch.Table, Key: ch.Key,
				Reason: "changed since adjust wrote it", Wrote: ch.After, Found: found})
		}
	}
	if dryRun {
		return rep, tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: undo: commit: %w", err)
	}
	return rep, nil
}

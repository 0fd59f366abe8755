package verify

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// objectKey names a routine or event: routine names are per type.
func objectKey(typ, name string) string { return typ + " " + strings.ToLower(name) }

// programs reads the schema's stored procedures and functions (events
// false) or events (true) and their definitions as manifest Objects.
func programs(ctx context.Context, db *sql.DB, schema string, events bool) ([]manifest.Object, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer conn.Close()
	var q string
	if events {
		q = `SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME`
	} else {
		q = `SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
			WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') ORDER BY ROUTINE_TYPE, ROUTINE_NAME`
	}
	rows, err := conn.QueryContext(ctx, q, schema)
	if err != nil {
		return nil, fmt.Errorf("verify: listing the routines and events of %s: %w", ident.Quote(schema), err)
	}
	var out []manifest.Object
	for rows.Next() {
		var o manifest.Object
		if err := rows.Scan(&o.Type, &o.Name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: listing routines: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: listing routines: %w", err)
	}
	rows.Close()
	for i := range out {
		o := &out[i]
		stmt, mode, err := showCreate(ctx, conn, o.Type, schema, o.Name)
		if err != nil {
			return nil, err
		}
		if stmt == "" {
			return nil, fmt.Errorf("verify: cannot read the definition of %s %s: SHOW CREATE shows it only to its definer or to a user with SELECT on mysql.proc (EVENT privilege for an event)",
				strings.ToLower(o.Type), ident.Quote(o.Name))
		}
		o.Definer = manifest.Definer(stmt)
		o.Digest = manifest.DefinitionDigest(o.Type, stmt, mode)
	}
	return out, nil
}

func showCreate(ctx context.Context, conn *sql.Conn, typ, schema, name string) (stmt, sqlMode string, err error) {
	rows, err := conn.QueryContext(ctx, "SHOW CREATE "+typ+" "+ident.Quote(schema)+"."+ident.Quote(name))
	if err != nil {
		return "", "", fmt.Errorf("verify: %s %s: %w", strings.ToLower(typ), ident.Quote(name), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", "", fmt.Errorf("verify: %s %s: %w", strings.ToLower(typ), ident.Quote(name), err)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", "", fmt.Errorf("verify: %s %s: %w", strings.ToLower(typ), ident.Quote(name), err)
		}
		return "", "", fmt.Errorf("verify: %s %s: SHOW CREATE returned nothing", strings.ToLower(typ), ident.Quote(name))
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", "", fmt.Errorf("verify: %s %s: %w", strings.ToLower(typ), ident.Quote(name), err)
	}
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "create " + strings.ToLower(typ):
			stmt = vals[i].String
		case "sql_mode":
			sqlMode = vals[i].String
		}
	}
	return stmt, sqlMode, rows.Err()
}

// checkPrograms compares the database's routines (or events) with the
// manifest's: missing, extra and changed ones are differences; a definer
// that differs is a note, since a copy made or loaded with
// --strip-definers has the loading user as definer.
func checkPrograms(ctx context.Context, db *sql.DB, schema string, want []manifest.Object, events bool, rep *DatabaseReport) error {
	got, err := programs(ctx, db, schema, events)
	if err != nil {
		return err
	}
	have := map[string]manifest.Object{}
	for _, o := range got {
		have[objectKey(o.Type, o.Name)] = o
	}
	listed := map[string]bool{}
	var definers []string
	for _, w := range want {
		k := objectKey(w.Type, w.Name)
		listed[k] = true
		g, ok := have[k]
		switch {
		case !ok:
			rep.Differences = append(rep.Differences, &MismatchError{Table: w.Name, Kind: w.Type, What: ObjectMissing})
		case g.Digest != w.Digest:
			rep.Differences = append(rep.Differences, &MismatchError{Table: w.Name, Kind: w.Type, What: ObjectChanged, Want: w.Digest, Got: g.Digest})
		default:
			if w.Definer != "" && g.Definer != w.Definer {
				definers = append(definers, fmt.Sprintf("%s %s (%s, was %s)", strings.ToLower(w.Type), ident.Quote(w.Name), g.Definer, w.Definer))
			}
		}
	}
	for _, g := range got {
		if !listed[objectKey(g.Type, g.Name)] {
			rep.Differences = append(rep.Differences, &MismatchError{Table: g.Name, Kind: g.Type, What: ObjectExtra})
		}
	}
	if events {
		rep.Events = len(got)
	} else {
		rep.Routines = len(got)
	}
	if len(definers) > 0 {
		sort.Strings(definers)
		rep.Notes = append(rep.Notes, "definer differs from the source (same definition): "+strings.Join(definers, ", "))
	}
	return nil
}

func triggerNames(ctx context.Context, db *sql.DB, schema string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`, schema)
	if err != nil {
		return nil, fmt.Errorf("verify: listing triggers of %s: %w", ident.Quote(schema), err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("verify: listing triggers: %w", err)
		}
		out[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: listing triggers of %s: %w", ident.Quote(schema), err)
	}
	return out, nil
}

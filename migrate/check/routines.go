package check

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// More MySQL/MariaDB error numbers the routines check branches on.
const (
	errNoSuchRoutine = 1305
)

// DefinerFact counts the views, triggers, routines and events one DEFINER
// ("user@host" as information_schema writes it) owns.
type DefinerFact struct {
	Definer    string `json:"definer"`
	Views      int    `json:"views,omitempty"`
	Triggers   int    `json:"triggers,omitempty"`
	Procedures int    `json:"procedures,omitempty"`
	Functions  int    `json:"functions,omitempty"`
	Events     int    `json:"events,omitempty"`
}

// routine is a stored procedure or function, or an event, as check sees it.
type routine struct {
	typ, name, definer, status string
}

// routines counts the stored procedures, functions and events, reports
// the routines whose body the checking user cannot read (the dump fails
// on them), the events it cannot see, the enabled events, and the
// DEFINERs of views, triggers, routines and events.
func (c *checker) routines(ctx context.Context) error {
	f := &c.rep.Facts
	user := c.currentUser(ctx)
	qdb := ident.Quote(c.dbName)

	procs, err := c.listRoutines(ctx)
	if err != nil {
		return err
	}
	full, procTable, err := c.routineAccess(ctx)
	if err != nil {
		return err
	}
	grant := "GRANT SELECT ON mysql.proc TO " + user
	if !procTable {
		grant = "GRANT SHOW_ROUTINE ON *.* TO " + user // MySQL 8: no mysql.proc
	}
	if !full {
		grants, _, gerr := c.readGrants(ctx)
		see := false
		for _, p := range []string{"EXECUTE", "CREATE ROUTINE", "ALTER ROUTINE"} {
			see = see || Allows(grants, p, c.dbName, "*")
		}
		if gerr == nil && !see {
			f.RoutinesHidden = true
			c.add(Warning, "routines_hidden", c.dbName, grant,
				"cannot see the stored procedures and functions of %s defined by other users: this user has none of EXECUTE, CREATE ROUTINE, ALTER ROUTINE on it and no SELECT on mysql.proc, so the server hides them and the dump would leave them out", qdb)
		}
	}
	for _, r := range procs {
		switch r.typ {
		case "PROCEDURE":
			f.Procedures++
		case "FUNCTION":
			f.Functions++
		}
		readable, err := c.routineReadable(ctx, r)
		if err != nil {
			return err
		}
		if readable {
			continue
		}
		what := strings.ToLower(r.typ) + " " + ident.Quote(r.name)
		f.UnreadableRoutines = append(f.UnreadableRoutines, what)
		c.add(Blocker, "routine_unreadable", r.name, grant+", or run as the definer",
			"the dump cannot carry %s (definer %s): SHOW CREATE %s shows its body only to its definer or to a user with SELECT on mysql.proc",
			what, r.definer, r.typ)
	}

	events, hidden, err := c.listEvents(ctx)
	if err != nil {
		return err
	}
	if hidden {
		f.EventsHidden = true
		c.add(Warning, "events_hidden", c.dbName, fmt.Sprintf("GRANT EVENT ON %s.* TO %s", qdb, user),
			"cannot see events: this user lacks the EVENT privilege on %s, so the dump would leave any events out", qdb)
	}
	f.Events = len(events)
	for _, e := range events {
		if !strings.EqualFold(e.status, "ENABLED") {
			continue
		}
		f.EnabledEvents = append(f.EnabledEvents, e.name)
		c.add(Warning, "event_enabled", e.name,
			fmt.Sprintf("if it must not run before the switch-over, run ALTER EVENT %s.%s DISABLE on the source before the dump, and ALTER EVENT %s ENABLE in the cloud database afterwards",
				qdb, ident.Quote(e.name), ident.Quote(e.name)),
			"event %s is enabled: it starts running on the cloud database once loaded (when its event scheduler is on) and changes data there", ident.Quote(e.name))
	}

	var counts []string
	for _, n := range []struct {
		n          int
		one, other string
	}{{f.Procedures, "procedure", "procedures"}, {f.Functions, "function", "functions"}, {f.Events, "event", "events"}} {
		if n.n > 0 {
			counts = append(counts, plural(n.n, n.one, n.other))
		}
	}
	var msg string
	switch {
	case len(counts) > 0 && len(f.UnreadableRoutines) > 0:
		msg = strings.Join(counts, ", ") + fmt.Sprintf(": the dump carries them (after the tables, before the views) once this user can read all of them (%s cannot be read now, see the blockers)", plural(len(f.UnreadableRoutines), "routine", "routines"))
	case len(counts) > 0:
		msg = strings.Join(counts, ", ") + ": the dump carries them (after the tables, before the views)"
	case hidden || f.RoutinesHidden:
		msg = "no stored procedures, functions or events that this user can see"
	default:
		msg = "no stored procedures, functions or events"
	}
	if hidden && len(counts) > 0 {
		msg += "; events not visible"
	}
	c.add(Info, "routines", c.dbName, "", "%s", msg)

	return c.definers(ctx, append(procs, events...))
}

func plural(n int, one, other string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, other)
}

// listRoutines reads the stored procedures and functions information_schema
// shows this user.
func (c *checker) listRoutines(ctx context.Context) ([]routine, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT ROUTINE_TYPE, ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') ORDER BY ROUTINE_TYPE, ROUTINE_NAME`, c.dbName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []routine
	for rows.Next() {
		var r routine
		if err := rows.Scan(&r.typ, &r.name, &r.definer); err != nil {
			return nil, err
		}
		r.typ = strings.ToUpper(r.typ)
		out = append(out, r)
	}
	return out, rows.Err()
}

// routineAccess says whether this user reads every routine's body
// (SELECT on mysql.proc, or MySQL 8's SHOW_ROUTINE) and whether the server
// has mysql.proc at all.
func (c *checker) routineAccess(ctx context.Context) (full, procTable bool, err error) {
	_, err = c.db.ExecContext(ctx, "SELECT 1 FROM mysql.proc LIMIT 0")
	switch {
	case err == nil:
		return true, true, nil
	case isMySQLErr(err, errNoSuchTable):
		grants, _, gerr := c.readGrants(ctx)
		return gerr == nil && Allows(grants, "SHOW_ROUTINE", c.dbName, "*"), false, nil
	case isMySQLErr(err, errTableAccess, errDBAccess, errSpecificPriv):
		return false, true, nil
	}
	return false, true, err
}

// routineReadable runs SHOW CREATE on a routine: its body is NULL when
// this user is neither its definer nor may read mysql.proc.
func (c *checker) routineReadable(ctx context.Context, r routine) (bool, error) {
	rows, err := c.db.QueryContext(ctx, "SHOW CREATE "+r.typ+" "+ident.Qualified(c.dbName, r.name))
	if isMySQLErr(err, errNoSuchRoutine) {
		return true, nil // dropped meanwhile: nothing to carry
	}
	if err != nil {
		return false, fmt.Errorf("show create %s %s: %w", strings.ToLower(r.typ), ident.Quote(r.name), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	readable := false
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return false, err
		}
		for i, col := range cols {
			if strings.EqualFold(col, "Create "+r.typ) {
				readable = vals[i].Valid && vals[i].String != ""
			}
		}
	}
	return readable, rows.Err()
}

// listEvents reads the events with SHOW EVENTS; hidden is true when the
// server refuses it (no EVENT privilege).
func (c *checker) listEvents(ctx context.Context) (events []routine, hidden bool, err error) {
	rows, err := c.db.QueryContext(ctx, "SHOW EVENTS FROM "+ident.Quote(c.dbName))
	if isMySQLErr(err, errDBAccess, errTableAccess, errSpecificPriv) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, false, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, err
		}
		e := routine{typ: "EVENT"}
		for i, col := range cols {
			switch strings.ToLower(col) {
			case "name":
				e.name = vals[i].String
			case "definer":
				e.definer = vals[i].String
			case "status":
				e.status = vals[i].String
			}
		}
		events = append(events, e)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].name < events[j].name })
	return events, false, rows.Err()
}

// definers reports the distinct DEFINERs of the views, triggers, routines
// and events: loading them as another user needs SUPER or SET USER, which
// a managed cloud database does not give.
func (c *checker) definers(ctx context.Context, progs []routine) error {
	f := &c.rep.Facts
	by := map[string]*DefinerFact{}
	get := func(d string) *DefinerFact {
		if by[d] == nil {
			by[d] = &DefinerFact{Definer: d}
		}
		return by[d]
	}
	rows, err := c.db.QueryContext(ctx, `SELECT 'VIEW', DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT 'TRIGGER', DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`, c.dbName, c.dbName)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var typ string
		var d sql.NullString
		if err := rows.Scan(&typ, &d); err != nil {
			return err
		}
		if typ == "VIEW" {
			get(d.String).Views++
		} else {
			get(d.String).Triggers++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range progs {
		switch d := get(p.definer); p.typ {
		case "PROCEDURE":
			d.Procedures++
		case "FUNCTION":
			d.Functions++
		case "EVENT":
			d.Events++
		}
	}
	if len(by) == 0 {
		return nil
	}
	var parts []string
	for _, d := range by {
		f.Definers = append(f.Definers, *d)
	}
	sort.Slice(f.Definers, func(i, j int) bool { return f.Definers[i].Definer < f.Definers[j].Definer })
	for _, d := range f.Definers {
		var n []string
		for _, k := range []struct {
			n          int
			one, other string
		}{{d.Views, "view", "views"}, {d.Triggers, "trigger", "triggers"}, {d.Procedures, "procedure", "procedures"},
			{d.Functions, "function", "functions"}, {d.Events, "event", "events"}} {
			if k.n > 0 {
				n = append(n, plural(k.n, k.one, k.other))
			}
		}
		parts = append(parts, d.Definer+" ("+strings.Join(n, ", ")+")")
	}
	who := strings.Join(parts, ", ")
	if c.cfg.StripDefiners {
		c.add(Info, "definers", "", "",
			"views, triggers, routines and events are defined by %s: the import creates them with the importing user as their definer (strip definers), SQL SECURITY unchanged", who)
		return nil
	}
	c.add(Warning, "definers", "",
		"add --strip-definers to lamigrate import (in lamigrate run: \"import\": {\"strip_definers\": true}) or to lamigrate dump, so the importing user becomes their definer; or import as a user with SUPER or SET USER",
		"views, triggers, routines and events are defined by %s: importing them on a managed cloud database needs SUPER or SET USER there", who)
	return nil
}

// currentUser is the checking account as GRANT names it: 'user'@'host'.
func (c *checker) currentUser(ctx context.Context) string {
	var u string
	if err := c.db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&u); err != nil || u == "" {
		return "the migration user"
	}
	name, host := u, "%"
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		name, host = u[:i], u[i+1:]
	}
	return ident.String(name) + "@" + ident.String(host)
}

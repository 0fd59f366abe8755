package dump

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// definer returns stmt, without its DEFINER clause when Config.StripDefiners.
func (d *dumper) definer(stmt string) string {
	if !d.cfg.StripDefiners {
		return stmt
	}
	s, _ := manifest.StripDefiner(stmt)
	return s
}

// program is a stored routine or event as SHOW CREATE shows it.
type program struct {
	typ, name, definer       string
	stmt, sqlMode, timeZone  string
	csClient, collConnection string
}

// routines writes the events, then the stored procedures and functions, as
// mysqldump --events --routines does: after the tables (their bodies are
// not resolved when they are created) and before the views (which may
// call the functions). Each CREATE runs in the sql_mode, character set and
// collation (and for an event the time zone) it was created with, so the
// server stores the same definition.
func (d *dumper) routines(ctx context.Context, p *pipe) error {
	db := d.cfg.Database
	events, err := d.listEvents(ctx)
	if err != nil {
		return err
	}
	routines, err := d.listRoutines(ctx)
	if err != nil {
		return err
	}
	if d.routinesMayBeHidden(ctx) {
		d.warn("the dumping user may not see the stored procedures and functions of %s defined by other users (it has none of EXECUTE, CREATE ROUTINE, ALTER ROUTINE on it and no SELECT on mysql.proc, so the server hides them): any such routine is not in the dump; to carry them run GRANT SELECT ON mysql.proc TO %s",
			ident.Quote(db), d.currentUser(ctx))
	}
	var b []byte
	if len(events) > 0 {
		b = comment(b, "Dumping events for database '"+strings.ReplaceAll(db, "\n", " ")+"'")
		for _, e := range events {
			b = d.writeProgram(b, e)
			d.res.Events = append(d.res.Events, d.object(e))
		}
	}
	if len(routines) > 0 {
		b = comment(b, "Dumping routines for database '"+strings.ReplaceAll(db, "\n", " ")+"'")
		for _, r := range routines {
			b = d.writeProgram(b, r)
			d.res.Routines = append(d.res.Routines, d.object(r))
		}
	}
	if len(b) == 0 {
		return nil
	}
	return p.text(ctx, b)
}

func (d *dumper) object(x *program) manifest.Object {
	return manifest.Object{Type: x.typ, Name: x.name, Definer: x.definer,
		Digest: manifest.DefinitionDigest(x.typ, x.stmt, x.sqlMode)}
}

// writeProgram appends one routine or event the way mysqldump writes it.
func (d *dumper) writeProgram(b []byte, x *program) []byte {
	set := func(name, value string) {
		b = append(b, fmt.Sprintf("/*!50003 SET %-21s = %s */ ;\n", name, value)...)
	}
	set("@saved_sql_mode", "@@sql_mode")
	set("sql_mode", ident.String(x.sqlMode))
	set("@saved_cs_client", "@@character_set_client")
	set("@saved_cs_results", "@@character_set_results")
	set("@saved_col_connection", "@@collation_connection")
	if x.csClient != "" {
		set("character_set_client", x.csClient)
		set("character_set_results", x.csClient)
	}
	if x.collConnection != "" {
		set("collation_connection", x.collConnection)
	}
	if x.typ == manifest.TypeEvent {
		set("@saved_time_zone", "@@time_zone")
		set("time_zone", ident.String(x.timeZone))
	}
	b = append(b, "DELIMITER ;;\n"...)
	b = append(b, d.definer(x.stmt)...)
	b = append(b, "\n;;\nDELIMITER ;\n"...)
	if x.typ == manifest.TypeEvent {
		set("time_zone", "@saved_time_zone")
	}
	set("sql_mode", "@saved_sql_mode")
	set("character_set_client", "@saved_cs_client")
	set("character_set_results", "@saved_cs_results")
	set("collation_connection", "@saved_col_connection")
	return b
}

// listRoutines reads every stored procedure and function of the database
// (functions first, as mysqldump orders them, each kind by name) with SHOW CREATE.
func (d *dumper) listRoutines(ctx context.Context) ([]*program, error) {
	rows, err := d.conn.QueryContext(ctx, `SELECT ROUTINE_TYPE, ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')
		ORDER BY ROUTINE_TYPE = 'PROCEDURE', ROUTINE_NAME`, d.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("dump: listing routines of %s: %w", ident.Quote(d.cfg.Database), err)
	}
	var out []*program
	for rows.Next() {
		x := &program{}
		if err := rows.Scan(&x.typ, &x.name, &x.definer); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dump: listing routines: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dump: listing routines: %w", err)
	}
	rows.Close()
	var unreadable []string
	for _, x := range out {
		what := x.typ + " " + ident.Quote(x.name)
		sc, err := showCreateOn(ctx, d.conn, "SHOW CREATE "+x.typ+" "+ident.Quote(d.cfg.Database)+"."+ident.Quote(x.name))
		if err != nil {
			return nil, fmt.Errorf("dump: %s: %w", strings.ToLower(what), err)
		}
		x.stmt = sc["create "+strings.ToLower(x.typ)]
		x.sqlMode = sc["sql_mode"]
		x.csClient = sc["character_set_client"]
		x.collConnection = sc["collation_connection"]
		if x.stmt == "" {
			unreadable = append(unreadable, strings.ToLower(x.typ)+" "+ident.Quote(x.name)+" (definer "+x.definer+")")
		}
		if d.definerOf(x) {
			x.definer = manifest.Definer(x.stmt)
		}
	}
	if len(unreadable) > 0 {
		return nil, fmt.Errorf("dump: cannot read the definition of %s: SHOW CREATE shows a routine's body only to its definer or to a user with SELECT on mysql.proc; run GRANT SELECT ON mysql.proc TO %s, or dump as the definer", strings.Join(unreadable, ", "), d.currentUser(ctx))
	}
	return out, nil
}

// definerOf says whether the definer is to be taken from the statement
// (information_schema's user@host is unquoted).
func (d *dumper) definerOf(x *program) bool { return manifest.Definer(x.stmt) != "" }

// listEvents reads every event of the database by name with SHOW CREATE.
// Without the EVENT privilege the server hides events: the dump says so
// and goes on, since it cannot tell whether there are any.
func (d *dumper) listEvents(ctx context.Context) ([]*program, error) {
	rows, err := d.conn.QueryContext(ctx, "SHOW EVENTS FROM "+ident.Quote(d.cfg.Database))
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142 || me.Number == 1227) {
			d.warn("the dumping user may not see the events of %s (it lacks the EVENT privilege): events, if there are any, are not in the dump; to carry them run GRANT EVENT ON %s.* TO %s",
				ident.Quote(d.cfg.Database), ident.Quote(d.cfg.Database), d.currentUser(ctx))
			return nil, nil
		}
		return nil, fmt.Errorf("dump: listing events of %s: %w", ident.Quote(d.cfg.Database), err)
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, fmt.Errorf("dump: listing events: %w", err)
	}
	var out []*program
	for rows.Next() {
		vals := make([]any, len(cols))
		strs := make([][]byte, len(cols))
		for i := range vals {
			vals[i] = &strs[i]
		}
		if err := rows.Scan(vals...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dump: listing events: %w", err)
		}
		x := &program{typ: manifest.TypeEvent}
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "name":
				x.name = string(strs[i])
			case "definer":
				x.definer = string(strs[i])
			}
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dump: listing events: %w", err)
	}
	rows.Close()
	for _, x := range out {
		sc, err := showCreateOn(ctx, d.conn, "SHOW CREATE EVENT "+ident.Quote(d.cfg.Database)+"."+ident.Quote(x.name))
		if err != nil {
			return nil, fmt.Errorf("dump: event %s: %w", ident.Quote(x.name), err)
		}
		x.stmt = sc["create event"]
		x.sqlMode = sc["sql_mode"]
		x.timeZone = sc["time_zone"]
		x.csClient = sc["character_set_client"]
		x.collConnection = sc["collation_connection"]
		if x.stmt == "" {
			return nil, fmt.Errorf("dump: cannot read the definition of event %s: SHOW CREATE EVENT needs the EVENT privilege on %s", ident.Quote(x.name), ident.Quote(d.cfg.Database))
		}
		if d.definerOf(x) {
			x.definer = manifest.Definer(x.stmt)
		}
	}
	return out, nil
}

// currentUser is the dumping account as GRANT names it: 'user'@'host'.
func (d *dumper) currentUser(ctx context.Context) string {
	var u string
	if err := d.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&u); err != nil || u == "" {
		return "the dumping user"
	}
	name, host := u, "%"
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		name, host = u[:i], u[i+1:]
	}
	return ident.String(name) + "@" + ident.String(host)
}

// routinesMayBeHidden reports whether the server may hide routines from the
// dumping user: MariaDB lists another definer's routine only to a user with
// EXECUTE, CREATE ROUTINE or ALTER ROUTINE on the database (or globally),
// or SELECT on mysql.proc. A privilege query that fails counts as "no".
func (d *dumper) routinesMayBeHidden(ctx context.Context) bool {
	var n int
	if err := d.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.proc WHERE db = ?", d.cfg.Database).Scan(&n); err == nil {
		return false
	}
	err := d.conn.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('EXECUTE', 'CREATE ROUTINE', 'ALTER ROUTINE'))
		+ (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('EXECUTE', 'CREATE ROUTINE', 'ALTER ROUTINE')
			AND ? LIKE TABLE_SCHEMA)`, d.cfg.Database).Scan(&n)
	return err == nil && n == 0
}

package manifest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/sqlhead"
)

// TestStripDefinerShowCreate reads SHOW CREATE as dump and verify do
// (session sql_mode empty), of routines, triggers, views and events made with
// several definers, some under ANSI_QUOTES (SHOW CREATE then quotes a
// routine's or trigger's definer with "). Definer names the account; the
// statement StripDefiner returns runs, and the object it makes, whose
// definer is the running account, has the same DefinitionDigest.
func TestStripDefinerShowCreate(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE tt (a INT)")
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	require.NoError(t, err, "a connection to the test database")
	defer conn.Close()
	exec := func(q string) {
		t.Helper()
		_, err := conn.ExecContext(ctx, q)
		require.NoError(t, err, "running %s", q)
	}
	var me string
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&me), "reading the running account")
	i := strings.LastIndexByte(me, '@')
	meUser, meHost := me[:i], me[i+1:]

	showCreate := func(typ, name string) (stmt, mode string) {
		t.Helper()
		rows, err := conn.QueryContext(ctx, "SHOW CREATE "+typ+" "+name)
		require.NoError(t, err, "SHOW CREATE %s %s", typ, name)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		require.True(t, rows.Next(), "SHOW CREATE %s %s returns a row", typ, name)
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "create " + strings.ToLower(typ), "sql original statement":
				stmt = vals[i].String
			case "sql_mode":
				mode = vals[i].String
			}
		}
		require.NotEmpty(t, stmt, "SHOW CREATE %s %s has the statement", typ, name)
		return stmt, mode
	}

	// A role as definer must exist (else the server takes it for
	// role@'%'); roles are the server's, so this one is the test's.
	role := "r_" + db.Name
	_, err = db.ExecContext(ctx, "CREATE ROLE `"+role+"`")
	require.NoError(t, err, "creating a role")
	t.Cleanup(func() { db.Exec("DROP ROLE IF EXISTS `" + role + "`") })

	type account struct{ user, host string }
	n := 0
	for _, mode := range []string{"", "ANSI_QUOTES"} {
		quote := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
		if mode != "" {
			quote = func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
		}
		for _, a := range []account{{"root", "localhost"}, {"la other", "%"}, {"we'ird", "1.2.3.%"}, {"a`b", "h-1"}, {role, ""}} {
			definer := quote(a.user)
			if a.host != "" {
				definer += "@" + quote(a.host)
			}
			n++
			for _, o := range []struct{ typ, create string }{
				{"PROCEDURE", "CREATE DEFINER=%s PROCEDURE p%d() SELECT 'DEFINER=`x`@`y`'"},
				{"FUNCTION", "CREATE DEFINER=%s FUNCTION p%d() RETURNS INT RETURN 1"},
				{"TRIGGER", "CREATE DEFINER=%s TRIGGER p%d BEFORE INSERT ON tt FOR EACH ROW SET @a = 1"},
				{"VIEW", "CREATE DEFINER=%s SQL SECURITY INVOKER VIEW p%d AS SELECT 1 AS x"},
				{"EVENT", "CREATE DEFINER=%s EVENT p%d ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1"},
			} {
				name := fmt.Sprintf("p%d", n)
				what := fmt.Sprintf("%s made with DEFINER=%s under sql_mode %q", o.typ, definer, mode)
				exec("SET SESSION sql_mode = '" + mode + "'")
				exec(fmt.Sprintf(o.create, definer, n))
				exec("SET SESSION sql_mode = ''")
				stmt, objMode := showCreate(o.typ, name)

				d, ok := sqlhead.FindDefiner([]byte(stmt))
				require.True(t, ok, "%s: SHOW CREATE shows its definer: %s", what, stmt)
				assert.Equal(t, a.user, d.User, "%s: the user of %s", what, stmt)
				assert.Equal(t, a.host, d.Host, "%s: the host of %s", what, stmt)
				stripped, written := StripDefiner(stmt)
				assert.Equal(t, written, Definer(stmt), "%s: Definer is what StripDefiner removes", what)
				assert.Equal(t, stmt[d.Account:d.End], written, "%s: the definer as SHOW CREATE writes it", what)
				assert.NotContains(t, stripped, written, "%s: stripped", what)

				exec("DROP " + o.typ + " " + name)
				exec("SET SESSION sql_mode = '" + objMode + "'")
				exec(stripped)
				exec("SET SESSION sql_mode = ''")
				again, _ := showCreate(o.typ, name)
				d2, ok := sqlhead.FindDefiner([]byte(again))
				require.True(t, ok, "%s: the copy shows its definer: %s", what, again)
				assert.Equal(t, [2]string{meUser, meHost}, [2]string{d2.User, d2.Host}, "%s: the copy's definer is the running account", what)
				assert.Equal(t, DefinitionDigest(o.typ, stmt, objMode), DefinitionDigest(o.typ, again, objMode),
					"%s: the copy made from the stripped statement has the same digest:\n%s\n%s", what, stmt, again)
			}
		}
	}
}

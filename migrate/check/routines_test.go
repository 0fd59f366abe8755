package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// routineDB is newCheckDB (2 views and a trigger by root@localhost) plus a
// procedure and two events by root@localhost and a function defined by a
// second user, la_other_<suffix>@localhost, created and dropped with the
// test. It returns the database, an admin connection and the other
// definer as information_schema names it.
func routineDB(t *testing.T) (*mysqltest.DB, *sql.DB, string) {
	t.Helper()
	db := newCheckDB(t)
	admin, err := sql.Open("mysql", mysqltest.Server(t).FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	other := "la_other_" + db.Name[len(db.Name)-8:]
	_, err = admin.Exec("CREATE USER '" + other + "'@'localhost'")
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec("DROP USER '" + other + "'@'localhost'") })
	db.MustExec(t,
		"CREATE PROCEDURE p_touch() MODIFIES SQL DATA UPDATE qu_g_logs SET message = message",
		"CREATE DEFINER='"+other+"'@'localhost' FUNCTION f_twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
		"CREATE EVENT ev_on ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ENABLE DO DELETE FROM qu_g_logs WHERE 0",
		"CREATE EVENT ev_off ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO CALL p_touch()",
	)
	return db, admin, other + "@localhost"
}

var quietCron = Config{CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1}

func TestCheckRoutinesEventsDefiners(t *testing.T) {
	db, _, other := routineDB(t)
	rep, err := Run(context.Background(), db.DB, quietCron)
	require.NoError(t, err)

	f := rep.Facts
	assert.Equal(t, 1, f.Procedures)
	assert.Equal(t, 1, f.Functions)
	assert.Equal(t, 2, f.Events)
	assert.False(t, f.RoutinesHidden)
	assert.False(t, f.EventsHidden)
	assert.Equal(t, []string{"ev_on"}, f.EnabledEvents)
	assert.Empty(t, f.UnreadableRoutines)
	assert.Equal(t, []DefinerFact{
		{Definer: other, Functions: 1},
		{Definer: "root@localhost", Views: 2, Triggers: 1, Procedures: 1, Events: 2},
	}, f.Definers)

	fs := rep.Find("routines", db.Name)
	require.Len(t, fs, 1)
	assert.Equal(t, Info, fs[0].Severity)
	assert.Equal(t, "1 procedure, 1 function, 2 events: the dump carries them (after the tables, before the views)", fs[0].Message)

	fs = rep.Find("definers", "")
	require.Len(t, fs, 1)
	assert.Equal(t, Warning, fs[0].Severity)
	assert.Equal(t, "views, triggers, routines and events are defined by "+other+" (1 function), root@localhost (2 views, 1 trigger, 1 procedure, 2 events): importing them on a managed cloud database needs SUPER or SET USER there", fs[0].Message)
	assert.Contains(t, fs[0].Action, "add --strip-definers to lamigrate import")

	fs = rep.Find("event_enabled", "")
	require.Len(t, fs, 1, codes(rep))
	assert.Equal(t, Finding{Severity: Warning, Code: "event_enabled", Subject: "ev_on",
		Message: "event `ev_on` is enabled: it starts running on the cloud database once loaded (when its event scheduler is on) and changes data there",
		Action:  "if it must not run before the switch-over, run ALTER EVENT `" + db.Name + "`.`ev_on` DISABLE on the source before the dump, and ALTER EVENT `ev_on` ENABLE in the cloud database afterwards"},
		fs[0])
	// The hint works as printed.
	_, err = db.Exec("ALTER EVENT `" + db.Name + "`.`ev_on` DISABLE")
	require.NoError(t, err)

	for _, code := range []string{"routine_unreadable", "routines_hidden", "events_hidden"} {
		assert.Empty(t, rep.Find(code, ""), code)
	}

	b, err := json.Marshal(rep.Facts)
	require.NoError(t, err)
	for _, k := range []string{`"procedures":1`, `"functions":1`, `"events":2`, `"enabled_events":["ev_on"]`,
		`"definers":[{"definer":"` + other + `","functions":1}`} {
		assert.Contains(t, string(b), k)
	}

	// With strip definers the definers are information.
	cfg := quietCron
	cfg.StripDefiners = true
	rep, err = Run(context.Background(), db.DB, cfg)
	require.NoError(t, err)
	fs = rep.Find("definers", "")
	require.Len(t, fs, 1)
	assert.Equal(t, Info, fs[0].Severity)
	assert.Contains(t, fs[0].Message, "the import creates them with the importing user as their definer")
	assert.Empty(t, rep.Find("event_enabled", ""), "ev_on was disabled by the hint")
}

func TestCheckRoutinesEmpty(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	rep, err := Run(context.Background(), db.DB, quietCron)
	require.NoError(t, err)
	fs := rep.Find("routines", db.Name)
	require.Len(t, fs, 1)
	assert.Equal(t, "no stored procedures, functions or events", fs[0].Message)
	assert.Empty(t, rep.Find("definers", ""), "no view, trigger, routine or event: nothing to say about definers")
	assert.Nil(t, rep.Facts.Definers)
}

// TestCheckRoutinesLimitedUser checks as a user that is neither a definer
// nor may read mysql.proc: with only SELECT and SHOW VIEW the server hides
// the routines altogether; with EXECUTE too it lists them but SHOW CREATE
// hides their bodies, which the dump cannot carry. Neither may see events.
func TestCheckRoutinesLimitedUser(t *testing.T) {
	db, admin, other := routineDB(t)
	tests := []struct {
		name, privs    string
		hidden         bool
		procs, funcs   int
		unreadableSubj []string
	}{
		{"select only", "SELECT, SHOW VIEW", true, 0, 0, nil},
		{"with execute", "SELECT, SHOW VIEW, EXECUTE", false, 1, 1, []string{"f_twice", "p_touch"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "lr" + string(rune('a'+i)) + "_" + db.Name[len(db.Name)-8:]
			acct := "'" + user + "'@'localhost'"
			_, err := admin.Exec("CREATE USER " + acct + " IDENTIFIED BY 'pw-" + user + "'")
			require.NoError(t, err)
			t.Cleanup(func() { admin.Exec("DROP USER " + acct) })
			_, err = admin.Exec("GRANT " + tt.privs + " ON `" + db.Name + "`.* TO " + acct)
			require.NoError(t, err)
			cfg := db.Config()
			cfg.User, cfg.Passwd = user, "pw-"+user
			c, err := mysql.NewConnector(cfg)
			require.NoError(t, err)
			limited := sql.OpenDB(c)
			defer limited.Close()

			rep, err := Run(context.Background(), limited, quietCron)
			require.NoError(t, err)
			f := rep.Facts
			assert.Equal(t, tt.procs, f.Procedures)
			assert.Equal(t, tt.funcs, f.Functions)
			assert.Equal(t, tt.hidden, f.RoutinesHidden)
			assert.True(t, f.EventsHidden)
			assert.Equal(t, 0, f.Events)

			fs := rep.Find("events_hidden", db.Name)
			require.Len(t, fs, 1)
			assert.Equal(t, Warning, fs[0].Severity)
			assert.Equal(t, "cannot see events: this user lacks the EVENT privilege on `"+db.Name+"`, so the dump would leave any events out", fs[0].Message)
			assert.Equal(t, "GRANT EVENT ON `"+db.Name+"`.* TO "+acct, fs[0].Action)

			fs = rep.Find("routines_hidden", "")
			if tt.hidden {
				require.Len(t, fs, 1)
				assert.Equal(t, Warning, fs[0].Severity)
				assert.Equal(t, "GRANT SELECT ON mysql.proc TO "+acct, fs[0].Action)
				assert.Equal(t, "no stored procedures, functions or events that this user can see", rep.Find("routines", "")[0].Message)
			} else {
				assert.Empty(t, fs)
			}

			hints := []string{fs0Action(t, rep, "events_hidden")}
			if tt.hidden {
				hints = append(hints, fs0Action(t, rep, "routines_hidden"))
			}

			var subjects []string
			for _, f := range rep.Find("routine_unreadable", "") {
				assert.Equal(t, Blocker, f.Severity)
				assert.Equal(t, "GRANT SELECT ON mysql.proc TO "+acct+", or run as the definer", f.Action)
				subjects = append(subjects, f.Subject)
			}
			assert.Equal(t, tt.unreadableSubj, subjects)
			if tt.unreadableSubj != nil {
				assert.Equal(t, Blocker, rep.Worst)
				fs := rep.Find("routine_unreadable", "f_twice")
				require.Len(t, fs, 1)
				assert.Equal(t, "the dump cannot carry function `f_twice` (definer "+other+"): SHOW CREATE FUNCTION shows its body only to its definer or to a user with SELECT on mysql.proc", fs[0].Message)
				assert.Equal(t, []string{"function `f_twice`", "procedure `p_touch`"}, f.UnreadableRoutines)
				if info := rep.Find("routines", ""); assert.Len(t, info, 1) {
					assert.Contains(t, info[0].Message, "2 routines cannot be read now, see the blockers", "the info line agrees with the blockers")
				}
				hints = append(hints, "GRANT SELECT ON mysql.proc TO "+acct)
			}

			// The hints work as printed: after them everything is seen and readable.
			for _, h := range hints {
				_, err = admin.Exec(h)
				require.NoError(t, err, h)
			}
			// A new connection: the server caches database privileges per connection.
			fresh := sql.OpenDB(c)
			defer fresh.Close()
			rep, err = Run(context.Background(), fresh, quietCron)
			require.NoError(t, err)
			for _, code := range []string{"routine_unreadable", "routines_hidden", "events_hidden"} {
				assert.Empty(t, rep.Find(code, ""), code)
			}
			assert.Equal(t, 1, rep.Facts.Functions)
			assert.Equal(t, 1, rep.Facts.Procedures)
			assert.Equal(t, 2, rep.Facts.Events)
			assert.Equal(t, []string{"ev_on"}, rep.Facts.EnabledEvents)
		})
	}
}

// fs0Action is the action of the one finding with code.
func fs0Action(t *testing.T, rep *Report, code string) string {
	t.Helper()
	fs := rep.Find(code, "")
	require.Len(t, fs, 1, code)
	return fs[0].Action
}

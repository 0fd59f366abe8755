package dump

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/verify"
)

// loadSample loads gzipped sample files into db with the stock client
// (see mysqltest.SampleSQL).
func loadSample(t *testing.T, db *mysqltest.DB, schema string, files ...string) {
	t.Helper()
	loadWithClient(t, "cat", mysqltest.SampleSQL(t, db, schema, files...), db)
}

// definitions returns SHOW CREATE of every view, trigger, routine and
// event of db, without DEFINER, by "TYPE name".
func definitions(t *testing.T, db *mysqltest.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	lists := map[string]string{
		"VIEW":      "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()",
		"TRIGGER":   "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
		"EVENT":     "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
		"PROCEDURE": "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE'",
		"FUNCTION":  "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'",
	}
	for typ, q := range lists {
		for _, name := range queryStrings(t, db, q) {
			rows := queryStrings(t, db, "SHOW CREATE "+typ+" `"+name+"`")
			require.Len(t, rows, 1)
			stmt := rows[0]
			// Columns: name, [sql_mode, [time_zone,]] statement, ...: keep
			// all but the definer.
			parts := strings.Split(stmt, "|")
			for i, p := range parts {
				parts[i], _ = manifest.StripDefiner(p)
			}
			if typ == "TRIGGER" && len(parts) == 7 {
				// Not when it was created; nor its character_set_client,
				// which the dump does not carry for triggers (as for views).
				parts = append(parts[:3], parts[4:6]...)
			}
			if typ == "VIEW" && len(parts) == 4 {
				// A view is created in the dump's utf8mb4 (its
				// collation_connection is kept): its character_set_client
				// is not carried, as before routines were dumped.
				parts = append(parts[:2], parts[3])
			}
			out[typ+" "+name] = strings.Join(parts, "|")
		}
	}
	return out
}

// roundTrip dumps src, loads the archive into a fresh database with the
// stock client, proves with verify that every table, view, trigger,
// routine and event is there, and compares the definitions.
func roundTrip(t *testing.T, src *mysqltest.DB, cfg Config) (string, *manifest.Manifest, *Result, *verify.DatabaseReport) {
	t.Helper()
	path, m, res := dumpFile(t, src, "rt.sql.gz", cfg, Options{})
	dst := mysqltest.New(t)
	loadWithClient(t, "gzip -dc", path, dst)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := verify.Database(ctx, dst.DB, m, verify.Options{Connections: 2})
	require.NoError(t, err)
	require.True(t, rep.OK)
	want, got := definitions(t, src), definitions(t, dst)
	assert.Equal(t, want, got)
	return path, m, res, rep
}

func objectNames(objs []manifest.Object, typ string) []string {
	var out []string
	for _, o := range objs {
		if o.Type == typ {
			out = append(out, o.Name)
		}
	}
	return out
}

func TestRoutinesSakilaRoundTrip(t *testing.T) {
	src := mysqltest.New(t)
	loadSample(t, src, "sakila", "sakila-schema.sql.gz", "sakila-data.sql.gz")
	src.MustExec(t, "CREATE EVENT `purge_nothing` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM payment WHERE 1 = 0")
	_, m, res, rep := roundTrip(t, src, Config{NoDefaultIgnores: true, Connections: 2})

	assert.Equal(t, []string{"film_in_stock", "film_not_in_stock", "rewards_report"}, objectNames(res.Routines, manifest.TypeProcedure))
	assert.Equal(t, []string{"get_customer_balance", "inventory_held_by_customer", "inventory_in_stock"}, objectNames(res.Routines, manifest.TypeFunction))
	assert.Equal(t, []string{"purge_nothing"}, objectNames(res.Events, manifest.TypeEvent))
	assert.Len(t, m.Routines, 6)
	assert.Len(t, m.Events, 1)
	assert.Len(t, m.Triggers, 6)
	assert.Len(t, m.Views, 7)
	assert.Len(t, m.Tables, 16)
	assert.Equal(t, 6, rep.Routines)
	assert.Equal(t, 1, rep.Events)
	var rows int64
	for _, tb := range m.Tables {
		rows += tb.Rows
	}
	assert.Equal(t, rows, rep.Rows)
	assert.Greater(t, rows, int64(40000))
	t.Logf("sakila: %d tables, %d rows, %d views, %d triggers, %d routines, %d events", len(m.Tables), rows, len(m.Views), len(m.Triggers), len(m.Routines), len(m.Events))
}

func TestRoutinesEmployeesRoundTrip(t *testing.T) {
	src := mysqltest.New(t)
	loadSample(t, src, "", "world-geo.sql.gz", "employees-large.sql.gz")
	path, m, res, rep := roundTrip(t, src, Config{NoDefaultIgnores: true, Connections: 2})
	assert.Len(t, objectNames(res.Routines, manifest.TypeFunction), 5)
	assert.Len(t, objectNames(res.Routines, manifest.TypeProcedure), 2)
	assert.Equal(t, 7, rep.Routines)
	assert.NotEmpty(t, m.Views)
	// The views that call the functions come after them.
	b, err := exec.Command("sh", "-c", `gzip -dc "$0" | grep -n -e '^-- Dumping routines' -e '^-- Final view structure' | head -2`, path).Output()
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]+:-- Dumping routines.*\n[0-9]+:-- Final view structure`, string(b))
	t.Logf("employees: %d tables, %d rows, %d views, %d routines", len(m.Tables), rep.Rows, len(m.Views), len(m.Routines))
}

func mysqlOpen(cfg *mysql.Config) (*sql.DB, error) { return sql.Open("mysql", cfg.FormatDSN()) }

// loadAs pipes a gzipped archive into the stock client as user/password.
func loadAs(t *testing.T, path string, cfg *mysql.Config, user, password string) (string, error) {
	t.Helper()
	client := mysqltest.Tool(t, "mariadb", "mysql")
	c := cfg.Clone()
	c.User = user
	args := append(clientArgs(c), cfg.DBName)
	cmd := exec.Command("sh", append([]string{"-c", `gzip -dc < "$0" | "$@"`, path, client}, args...)...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+password)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestStripDefinersLoadsWithoutSuper: objects of another definer load as a
// user with every privilege on its database but no SUPER / SET USER only
// from a dump made with StripDefiners; the other dump fails as the issue
// saw (why the flag exists).
func TestStripDefinersLoadsWithoutSuper(t *testing.T) {
	src := mysqltest.New(t)
	admin, err := mysqlOpen(mysqltest.Server(t))
	require.NoError(t, err)
	defer admin.Close()
	var rnd [4]byte
	rand.Read(rnd[:])
	loader, pw := "la_load_"+hex.EncodeToString(rnd[:]), "pw-"+hex.EncodeToString(rnd[:])
	_, err = admin.Exec("CREATE USER IF NOT EXISTS 'la_other'@'localhost'")
	require.NoError(t, err)
	src.MustExec(t,
		"CREATE TABLE t (id INT PRIMARY KEY, n INT)",
		"CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(20))",
		"INSERT INTO t VALUES (1, 10), (2, 20)",
		"CREATE DEFINER='la_other'@'localhost' SQL SECURITY INVOKER VIEW v AS SELECT id, n * 2 AS n2 FROM t",
		"CREATE DEFINER='la_other'@'localhost' TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO log (what) VALUES ('insert')",
		"CREATE DEFINER='la_other'@'localhost' FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
		"CREATE DEFINER='la_other'@'localhost' PROCEDURE bump() MODIFIES SQL DATA UPDATE t SET n = n + 1",
		"CREATE DEFINER='la_other'@'localhost' EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO CALL bump()",
	)
	newDst := func() *mysqltest.DB {
		dst := mysqltest.New(t)
		_, err := admin.Exec("GRANT ALL ON `" + dst.Name + "`.* TO '" + loader + "'@'localhost'")
		require.NoError(t, err)
		return dst
	}
	_, err = admin.Exec("CREATE USER '" + loader + "'@'localhost' IDENTIFIED BY '" + pw + "'")
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec("DROP USER IF EXISTS '" + loader + "'@'localhost'") })

	// Without the flag the definers stay, and the user may not set them.
	path, _, _ := dumpFile(t, src, "keep.sql.gz", Config{Connections: 1}, Options{})
	dst := newDst()
	out, err := loadAs(t, path, dst.Config(), loader, pw)
	require.Error(t, err, "loading foreign definers without SUPER must fail")
	assert.Contains(t, out, "ERROR 1227")
	assert.Contains(t, out, "SUPER")

	// With it, everything loads as the user, and verify agrees, noting
	// that the definers differ.
	path, m, res := dumpFile(t, src, "strip.sql.gz", Config{Connections: 1, StripDefiners: true}, Options{})
	assert.True(t, m.Options.StripDefiners)
	assert.Equal(t, "`la_other`@`localhost`", res.Routines[0].Definer)
	text, err := exec.Command("sh", "-c", `gzip -dc < "$0"`, path).Output()
	require.NoError(t, err)
	assert.NotContains(t, string(text), "DEFINER=")
	dst = newDst()
	out, err = loadAs(t, path, dst.Config(), loader, pw)
	require.NoError(t, err, out)
	ctx := context.Background()
	rep, err := verify.Database(ctx, dst.DB, m, verify.Options{})
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.Equal(t, 2, rep.Routines)
	assert.Equal(t, 1, rep.Events)
	notes := strings.Join(rep.Notes, "\n")
	assert.Contains(t, notes, "function `twice` (`"+loader+"`@`localhost`, was `la_other`@`localhost`)")
	assert.Contains(t, notes, "event `ev` (`"+loader+"`@`localhost`, was `la_other`@`localhost`)")
	got := definitions(t, dst)
	assert.Equal(t, definitions(t, src), got)
	assert.Contains(t, got["VIEW v"], "SQL SECURITY INVOKER")
	// They work as the loading user: the function, the view, the trigger.
	dst.MustExec(t, "INSERT INTO t VALUES (3, 30)")
	assert.Equal(t, []string{"1|20", "2|40", "3|60"}, queryStrings(t, dst, "SELECT id, n2 FROM v ORDER BY id"))
	assert.Equal(t, []string{"8"}, queryStrings(t, dst, "SELECT twice(4)"))
	assert.Equal(t, []string{"1"}, queryStrings(t, dst, "SELECT COUNT(*) FROM log"))
}

// TestRoutineBodyHiddenFailsTheDump: a user who may not read a routine's
// body cannot carry it; the dump says which and what to grant.
func TestRoutineBodyHiddenFailsTheDump(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)",
		"CREATE FUNCTION f1() RETURNS INT DETERMINISTIC RETURN 1")
	admin, err := mysqlOpen(mysqltest.Server(t))
	require.NoError(t, err)
	defer admin.Close()
	var rnd [4]byte
	rand.Read(rnd[:])
	user, pw := "la_dump_"+hex.EncodeToString(rnd[:]), "pw-"+hex.EncodeToString(rnd[:])
	_, err = admin.Exec("CREATE USER '" + user + "'@'localhost' IDENTIFIED BY '" + pw + "'")
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec("DROP USER IF EXISTS '" + user + "'@'localhost'") })
	_, err = admin.Exec("GRANT SELECT, SHOW VIEW, TRIGGER, EXECUTE ON `" + src.Name + "`.* TO '" + user + "'@'localhost'")
	require.NoError(t, err)
	cfg := src.Config()
	cfg.User, cfg.Passwd = user, pw
	db, err := mysqlOpen(cfg)
	require.NoError(t, err)
	defer db.Close()
	w := &warnings{}
	_, err = File(context.Background(), db, filepath.Join(t.TempDir(), "x.sql"), Config{Database: src.Name, Connections: 1}, Options{Progress: w})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot read the definition of function `f1`")
	assert.Contains(t, err.Error(), "GRANT SELECT ON mysql.proc TO '"+user+"'@'localhost'")
	assert.Contains(t, strings.Join(w.msgs, "\n"), "GRANT EVENT ON `"+src.Name+"`.* TO '"+user+"'@'localhost'")
}

type warnings struct{ msgs []string }

func (w *warnings) Update(Status)   {}
func (w *warnings) Warn(msg string) { w.msgs = append(w.msgs, msg) }

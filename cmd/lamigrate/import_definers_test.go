package main

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// cloudAccount creates an account like a managed cloud database's (every
// privilege on db, no SUPER or SET USER) and returns its configuration and
// its name as MariaDB writes definers (user@host); it is dropped after the
// test.
func cloudAccount(t *testing.T, db *mysqltest.DB) (*mysql.Config, string) {
	t.Helper()
	cfg := db.Config()
	host := "localhost"
	if cfg.Net != "unix" {
		host = "%"
	}
	user := "la_cloud_" + strings.TrimPrefix(db.Name, "lt_")
	acct := ident.String(user) + "@" + ident.String(host)
	conn, err := mysql.NewConnector(mysqltest.Server(t))
	require.NoError(t, err)
	admin := sql.OpenDB(conn)
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP USER IF EXISTS " + acct); err != nil {
			t.Errorf("dropping %s: %v", acct, err)
		}
		admin.Close()
	})
	for _, q := range []string{"DROP USER IF EXISTS " + acct, "CREATE USER " + acct, "GRANT ALL ON " + ident.Quote(db.Name) + ".* TO " + acct} {
		_, err := admin.Exec(q)
		require.NoError(t, err, q)
	}
	cfg.User, cfg.Passwd = user, ""
	return cfg, user + "@" + host
}

// definers lists the definer and SQL SECURITY of db's views, triggers,
// routines and events.
func definers(t *testing.T, db *mysqltest.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, q := range []string{
		"SELECT CONCAT('view ', TABLE_NAME), CONCAT(DEFINER, ' ', SECURITY_TYPE) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()",
		"SELECT CONCAT('trigger ', TRIGGER_NAME), DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
		"SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME), CONCAT(DEFINER, ' ', SECURITY_TYPE) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
		"SELECT CONCAT('event ', EVENT_NAME), DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
	} {
		rows, err := db.Query(q)
		require.NoError(t, err, q)
		for rows.Next() {
			var k, v string
			require.NoError(t, rows.Scan(&k, &v))
			out[k] = v
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

func definersOf(definer string) map[string]string {
	return map[string]string{
		"view v_def": definer + " DEFINER", "view v_inv": definer + " INVOKER",
		"trigger actor_bi":  definer,
		"procedure p_count": definer + " DEFINER",
		"function f_up":     definer + " INVOKER",
		"event e_tick":      definer,
	}
}

func TestImportStripDefiners(t *testing.T) {
	// mysqldump --routines --events --triggers of a schema whose view,
	// trigger, procedure, function and event root@localhost made.
	text, err := os.ReadFile("../../load/testdata/definers.mysqldump.txt")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "plain.sql")
	require.NoError(t, os.WriteFile(path, text, 0o600))

	stock := mysqltest.New(t)
	cmd := exec.Command(mysqltest.Tool(t, "mariadb", "mysql"), "--no-defaults", "--user="+stock.Config().User, stock.Name)
	if c := stock.Config(); c.Net == "unix" {
		cmd.Args = append(cmd.Args, "--socket="+c.Addr)
	} else {
		host, port, _ := strings.Cut(c.Addr, ":")
		cmd.Args = append(cmd.Args, "--protocol=tcp", "--host="+host, "--port="+port, "--password="+c.Passwd)
	}
	cmd.Stdin = strings.NewReader(string(text))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "stock client: %s", out)
	want := digests(t, stock, "actor", "log")

	target := mysqltest.New(t)
	cloud, me := cloudAccount(t, target)
	dsn := cloud.FormatDSN()
	user := "'" + strings.Replace(me, "@", "'@'", 1) + "'"

	// Without the flag: refused before anything is made, naming the
	// objects and the flag.
	code, _, stderr := runCLI(t, nil, "import", "--dsn", dsn, path)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "lamigrate import: the archive creates 2 views, 1 trigger, 2 routines and 1 event with DEFINER='root'@'localhost' "+
		"(trigger `actor_bi`, event `e_tick`, function `f_up`, procedure `p_count`, view `v_def` and view `v_inv`), which user "+user+
		" may not set (that needs SUPER or SET USER): run the same command with --strip-definers to create them as "+user+"\n", stderr)
	var tables int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", target.Name).Scan(&tables))
	assert.Zero(t, tables, "tables made by the refused import")

	// The same command with --strip-definers, as the message says.
	code, _, stderr = runCLI(t, nil, "import", "--dsn", dsn, path, "--strip-definers")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, definersOf(me), definers(t, target))
	assert.Equal(t, want, digests(t, target, "actor", "log"))

	// root imports as before, definers kept.
	root := mysqltest.New(t)
	code, _, stderr = runCLI(t, nil, "import", "--dsn", root.Config().FormatDSN(), path)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, definersOf("root@localhost"), definers(t, root))
	assert.Equal(t, want, digests(t, root, "actor", "log"))
}

func TestImportOurDumpStripDefiners(t *testing.T) {
	src := importFixture(t) // a trigger and a view, made by the test's admin
	var admin string
	require.NoError(t, src.QueryRow("SELECT CURRENT_USER()").Scan(&admin))
	path := filepath.Join(t.TempDir(), "d.sql.zst")
	code, _, stderr := runCLI(t, nil, "dump", "--dsn", src.Config().FormatDSN(), "-o", path)
	require.Equal(t, 0, code, stderr)

	target := mysqltest.New(t)
	cloud, me := cloudAccount(t, target)
	user := "'" + strings.Replace(me, "@", "'@'", 1) + "'"
	code, _, stderr = runCLI(t, nil, "import", "--dsn", cloud.FormatDSN(), path)
	assert.Equal(t, exitFailure, code)
	assert.NotContains(t, stderr, "failed", "a progress line for the refused import")
	assert.Contains(t, stderr, "lamigrate import: the archive creates 1 view and 1 trigger with DEFINER='"+strings.Replace(admin, "@", "'@'", 1)+
		"' (trigger `users_bi` and view `v_users`), which user "+user+" may not set (that needs SUPER or SET USER): run the same command with --strip-definers")
	var tables int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", target.Name).Scan(&tables))
	assert.Zero(t, tables, "tables made by the refused import")

	code, _, stderr = runCLI(t, nil, "import", "--dsn", cloud.FormatDSN(), path, "--strip-definers")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, map[string]string{"view v_users": me + " DEFINER", "trigger users_bi": me}, definers(t, target))
	tables2 := []string{"qu_la_users", "qu_g_files"}
	assert.Equal(t, digests(t, src, tables2...), digests(t, target, tables2...))
}

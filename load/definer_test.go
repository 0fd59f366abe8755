package load

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/sqlhead"
)

func TestFindDefiner(t *testing.T) {
	tests := []struct {
		name, in     string
		want         string // the account as String writes it; "" for none
		stripped     string
		user, host   string
		current, off bool
	}{
		{name: "mysqldump trigger", in: "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 1 */",
			want: "'root'@'localhost'", stripped: "/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 1 */"},
		{name: "mysqldump view", in: "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL SECURITY INVOKER */\n/*!50001 VIEW `v` AS select 1 AS `x` */",
			want: "'root'@'localhost'", stripped: "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013  SQL SECURITY INVOKER */\n/*!50001 VIEW `v` AS select 1 AS `x` */"},
		{name: "mysqldump event", in: "/*!50106 CREATE*/ /*!50117 DEFINER=`ro``ot`@`%`*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1 */",
			want: "'ro`ot'@'%'", stripped: "/*!50106 CREATE*/ /*!50117 */ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1 */"},
		{name: "procedure", in: "CREATE DEFINER=`admin`@`10.0.0.%` PROCEDURE `p`() BEGIN SELECT 1; END",
			want: "'admin'@'10.0.0.%'", stripped: "CREATE  PROCEDURE `p`() BEGIN SELECT 1; END"},
		{name: "quoted strings, blanks", in: "CREATE OR REPLACE DEFINER = 'a\\'b' @ 'h' FUNCTION f() RETURNS INT RETURN 1",
			want: "'a\\'b'@'h'", stripped: "CREATE OR REPLACE  FUNCTION f() RETURNS INT RETURN 1"},
		{name: "bare", in: "CREATE DEFINER=root@localhost VIEW v AS SELECT 1",
			want: "'root'@'localhost'", stripped: "CREATE  VIEW v AS SELECT 1"},
		{name: "role", in: "CREATE DEFINER=`r1` PROCEDURE p() SELECT 1", want: "'r1'", stripped: "CREATE  PROCEDURE p() SELECT 1"},
		{name: "current user", in: "CREATE DEFINER=CURRENT_USER() VIEW v AS SELECT 1", want: "CURRENT_USER", stripped: "CREATE  VIEW v AS SELECT 1", current: true},
		{name: "none", in: "CREATE VIEW v AS SELECT 'DEFINER=`root`@`localhost`'", off: true},
		{name: "only in the body", in: "CREATE PROCEDURE p() SELECT 'x' AS DEFINER", off: true},
		{name: "not a create", in: "INSERT INTO t VALUES ('CREATE DEFINER=`root`@`localhost` VIEW')", off: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := findDefiner([]byte(tt.in))
			require.Equal(t, !tt.off, ok, "findDefiner(%q) found a definer", tt.in)
			if tt.off {
				return
			}
			assert.Equal(t, tt.want, d.String())
			assert.Equal(t, tt.current, d.Current)
			assert.Equal(t, tt.stripped, string(stripDefiner([]byte(tt.in), d)))
		})
	}
}

func TestAccountAllows(t *testing.T) {
	me := account{user: "cloud", host: "%"}
	tests := []struct {
		d    sqlhead.Definer
		want bool
	}{
		{sqlhead.Definer{User: "cloud", Host: "%"}, true},
		{sqlhead.Definer{Current: true}, true},
		{sqlhead.Definer{User: "root", Host: "localhost"}, false},
		{sqlhead.Definer{User: "cloud", Host: "localhost"}, false},
		{sqlhead.Definer{User: "Cloud", Host: "%"}, false},
		{sqlhead.Definer{User: "cloud"}, false}, // a role
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, me.allows(tt.d), "%s allows %s", me, tt.d)
		super := me
		super.anyDefiner = true
		assert.True(t, super.allows(tt.d), "an account with SET USER allows %s", tt.d)
	}
}

func TestGrantsAnyDefiner(t *testing.T) {
	tests := map[string]bool{
		"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION": true,
		"GRANT SELECT, SUPER ON *.* TO `a`@`%`":                               true,
		"GRANT RELOAD, SET USER ON *.* TO `a`@`%`":                            true,
		"GRANT SET_USER_ID ON *.* TO `a`@`%`":                                 true,
		"GRANT USAGE ON *.* TO `cloud`@`%`":                                   false,
		"GRANT ALL PRIVILEGES ON `cloud`.* TO `cloud`@`%`":                    false,
		"GRANT SUPER ON `db`.* TO `a`@`%`":                                    false,
		"GRANT `superrole` TO `cloud`@`%`":                                    false,
		"GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION":       false,
	}
	for g, want := range tests {
		assert.Equal(t, want, grantsAnyDefiner(g), "grantsAnyDefiner(%q)", g)
	}
}

func TestDefinerErrorNamesAFewObjects(t *testing.T) {
	e := &DefinerError{Account: "'cloud'@'%'"}
	for _, o := range []Object{{"VIEW", "v1", "'root'@'localhost'"}, {"VIEW", "v2", "'root'@'localhost'"},
		{"TRIGGER", "t1", "'root'@'localhost'"}, {"PROCEDURE", "p1", "'admin'@'%'"}, {"FUNCTION", "f1", "'root'@'localhost'"},
		{"EVENT", "e1", "'root'@'localhost'"}, {"EVENT", "e2", "'root'@'localhost'"}} {
		e.Objects = append(e.Objects, o)
	}
	assert.Equal(t, "load: the archive creates 2 views, 1 trigger, 2 routines and 2 events with DEFINER='root'@'localhost' or 'admin'@'%' "+
		"(view `v1`, view `v2`, trigger `t1`, procedure `p1`, function `f1` and 2 more), which user 'cloud'@'%' may not set "+
		"(that needs SUPER or SET USER): import with StripDefiners to create them as 'cloud'@'%'", e.Error())
}

// definersDump is `mysqldump --routines --events --triggers` of MariaDB
// 10.11 on a schema whose view, trigger, procedure, function and event
// root@localhost created (one view SQL SECURITY INVOKER, one DEFINER; a
// row holds DEFINER text, which is data). It is kept as .txt since *.sql
// files are git-ignored (dumps never enter the repository).
func definersDump(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/definers.mysqldump.txt")
	require.NoError(t, err)
	return b
}

// cloudUser creates an account like a managed cloud database's: every
// privilege on db, no SUPER or SET USER; it is dropped after the test.
func cloudUser(t testing.TB, db *mysqltest.DB) *mysql.Config {
	t.Helper()
	cfg := db.Config()
	host := "localhost"
	if cfg.Net != "unix" {
		host = "%"
	}
	user := "la_cloud_" + strings.TrimPrefix(db.Name, "lt_")
	acct := ident.String(user) + "@" + ident.String(host)
	admin := mysqltest.Server(t)
	a, err := sqlOpen(admin)
	require.NoError(t, err)
	defer a.Close()
	for _, q := range []string{"DROP USER IF EXISTS " + acct, "CREATE USER " + acct, "GRANT ALL ON " + ident.Quote(db.Name) + ".* TO " + acct} {
		_, err := a.Exec(q)
		require.NoError(t, err, q)
	}
	t.Cleanup(func() {
		a, err := sqlOpen(admin)
		if err != nil {
			t.Errorf("dropping %s: %v", acct, err)
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP USER IF EXISTS " + acct); err != nil {
			t.Errorf("dropping %s: %v", acct, err)
		}
	})
	cfg.User, cfg.Passwd = user, ""
	return cfg
}

// objectDefiners lists the definer (and SQL SECURITY) of every view,
// trigger, routine and event of db.
func objectDefiners(t testing.TB, db *mysqltest.DB) map[string]string {
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

// definersWant is objectDefiners after the dump is loaded with definer as
// the definer of everything.
func definersWant(definer string) map[string]string {
	return map[string]string{
		"view v_def": definer + " DEFINER", "view v_inv": definer + " INVOKER",
		"trigger actor_bi":  definer,
		"procedure p_count": definer + " DEFINER",
		"function f_up":     definer + " INVOKER",
		"event e_tick":      definer,
	}
}

func tableCount(t testing.TB, db *mysqltest.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", db.Name).Scan(&n))
	return n
}

// eventShow is SHOW CREATE EVENT of every event but its definer.
func eventShow(t testing.TB, db *mysqltest.DB, definer string) string {
	t.Helper()
	var name, mode, tz, create, cs, cc, coll string
	require.NoError(t, db.QueryRow("SHOW CREATE EVENT e_tick").Scan(&name, &mode, &tz, &create, &cs, &cc, &coll))
	return strings.Replace(create, definer, "DEFINER", 1) + "|" + mode + "|" + tz
}

// onlyReader hides a reader's Seek, as a pipe's.
type onlyReader struct{ io.Reader }

func TestLoadDefinersRefusedBeforeAnyRow(t *testing.T) {
	ctx := context.Background()
	dump := gz(t, definersDump(t))
	target := mysqltest.New(t)
	cloud := cloudUser(t, target)

	_, err := Load(ctx, cloud, bytes.NewReader(dump), Config{Threads: 2})
	var de *DefinerError
	require.ErrorAs(t, err, &de)
	assert.False(t, de.Late)
	assert.Len(t, de.Objects, 6)
	assert.Contains(t, err.Error(), "the archive creates 2 views, 1 trigger, 2 routines and 1 event with DEFINER='root'@'localhost' (trigger `actor_bi`, event `e_tick`, function `f_up`, procedure `p_count`, view `v_def` and view `v_inv`), which user '"+cloud.User+"'@")
	assert.Contains(t, err.Error(), "StripDefiners")
	assert.Zero(t, tableCount(t, target), "tables in the target after the refusal (not even the progress table)")
}

func TestLoadStripDefiners(t *testing.T) {
	ctx := context.Background()
	text := definersDump(t)
	stock := mysqltest.New(t)
	stockLoad(t, stock, text)
	require.Equal(t, definersWant("root@localhost"), objectDefiners(t, stock))

	for _, tt := range []struct {
		name string
		r    func([]byte) io.Reader
	}{
		{"file", func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"pipe", func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := mysqltest.New(t)
			cloud := cloudUser(t, target)
			res, err := Load(ctx, cloud, tt.r(gz(t, text)), Config{Threads: 2, StripDefiners: true})
			require.NoError(t, err)
			assert.Equal(t, int64(4), res.Rows)
			me := cloud.User + "@" + map[bool]string{true: "localhost", false: "%"}[cloud.Net == "unix"]
			assert.Equal(t, definersWant(me), objectDefiners(t, target))
			// Everything else is what the stock client made as root.
			quoted := "`" + strings.Replace(me, "@", "`@`", 1) + "`"
			got := snapshot(t, target)
			for k, v := range got {
				got[k] = strings.ReplaceAll(v, quoted, "`root`@`localhost`")
			}
			compare(t, got, snapshot(t, stock))
			assert.Equal(t, eventShow(t, stock, "`root`@`localhost`"), eventShow(t, target, quoted))
		})
	}
}

func TestLoadDefinersFromAPipe(t *testing.T) {
	// A stream that cannot be read twice is checked as it is loaded: the
	// trigger after the first table's rows is refused, and the same import
	// with StripDefiners continues.
	ctx := context.Background()
	text := definersDump(t)
	target := mysqltest.New(t)
	cloud := cloudUser(t, target)
	_, err := Load(ctx, cloud, onlyReader{bytes.NewReader(gz(t, text))}, Config{Threads: 2})
	var de *DefinerError
	require.ErrorAs(t, err, &de)
	assert.True(t, de.Late)
	assert.Equal(t, []Object{{Type: "TRIGGER", Name: "actor_bi", Definer: "'root'@'localhost'"}}, de.Objects)
	var me *mysql.MySQLError
	assert.False(t, errors.As(err, &me), "the server was asked to create the trigger: %v", err)

	res, err := Load(ctx, cloud, onlyReader{bytes.NewReader(gz(t, text))}, Config{Threads: 2, StripDefiners: true})
	require.NoError(t, err)
	assert.True(t, res.Resumed)
	stock := mysqltest.New(t)
	stockLoad(t, stock, text)
	want := snapshot(t, stock)
	got := snapshot(t, target)
	for _, k := range []string{"rows actor", "rows log", "table actor", "table log"} {
		assert.Equal(t, want[k], got[k], k)
	}
}

func TestLoadDefinersAsRoot(t *testing.T) {
	// An account that may set any definer imports as before, definers kept.
	ctx := context.Background()
	text := definersDump(t)
	target := mysqltest.New(t)
	_, err := Load(ctx, target.Config(), bytes.NewReader(gz(t, text)), Config{Threads: 2})
	require.NoError(t, err)
	assert.Equal(t, definersWant("root@localhost"), objectDefiners(t, target))
	stock := mysqltest.New(t)
	stockLoad(t, stock, text)
	compare(t, snapshot(t, target), snapshot(t, stock))
}

func sqlOpen(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// TestLoadDefinersBigGzipFile: the definer scan of a file must not disturb
// the import's own reader. A gzip archive of several MB (the parallel gzip
// reader reads ahead on its own goroutines) is refused for its definers,
// loads with StripDefiners, and without definers loads as it is — never
// "flate: corrupt input".
func TestLoadDefinersBigGzipFile(t *testing.T) {
	ctx := context.Background()
	var big bytes.Buffer
	big.WriteString("CREATE TABLE `big` (`id` int NOT NULL PRIMARY KEY, `v` text NOT NULL) ENGINE=InnoDB;\n")
	rnd := make([]byte, 512)
	for i := 0; i < 6000; i++ {
		if i%100 == 0 {
			if i > 0 {
				big.WriteString(";\n")
			}
			big.WriteString("INSERT INTO `big` VALUES ")
		} else {
			big.WriteString(",")
		}
		_, _ = crand.Read(rnd)
		fmt.Fprintf(&big, "(%d,'%x')", i, rnd)
	}
	big.WriteString(";\n")
	file := func(t *testing.T, sql []byte) *os.File {
		p := filepath.Join(t.TempDir(), "a.sql.gz")
		require.NoError(t, os.WriteFile(p, gz(t, sql), 0o600))
		f, err := os.Open(p)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		fi, err := f.Stat()
		require.NoError(t, err)
		require.Greater(t, fi.Size(), int64(2<<20), "the archive must be big enough for the reader to read ahead")
		return f
	}
	withDefiners := append(append([]byte{}, big.Bytes()...), definersDump(t)...)

	target := mysqltest.New(t)
	cloud := cloudUser(t, target)
	_, err := Load(ctx, cloud, file(t, withDefiners), Config{Threads: 2})
	var de *DefinerError
	require.ErrorAs(t, err, &de, "want the definer refusal, not a read error")
	assert.Zero(t, tableCount(t, target))

	res, err := Load(ctx, cloud, file(t, withDefiners), Config{Threads: 2, StripDefiners: true})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.Rows, int64(6000))

	plain := mysqltest.New(t)
	_, err = Load(ctx, cloudUser(t, plain), file(t, big.Bytes()), Config{Threads: 2})
	require.NoError(t, err, "an archive without definers loads as the cloud user")
	var n int
	require.NoError(t, plain.QueryRow("SELECT COUNT(*) FROM `big`").Scan(&n))
	assert.Equal(t, 6000, n)
}

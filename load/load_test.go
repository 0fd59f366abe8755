package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// clientArgs are the connection arguments of the stock command-line tools
// for cfg.
func clientArgs(cfg *mysql.Config) []string {
	args := []string{"--no-defaults", "--user=" + cfg.User}
	if cfg.Passwd != "" {
		args = append(args, "--password="+cfg.Passwd)
	}
	if cfg.Net == "unix" {
		args = append(args, "--socket="+cfg.Addr)
	} else {
		host, port, _ := strings.Cut(cfg.Addr, ":")
		args = append(args, "--host="+host, "--protocol=tcp")
		if port != "" {
			args = append(args, "--port="+port)
		}
	}
	return args
}

// documented is the documented mysqldump command's options.
var documented = []string{"--single-transaction", "--skip-add-drop-table", "--max_allowed_packet=1G",
	"--hex-blob", "--no-create-db", "--net_buffer_length=16M"}

func mysqldump(t testing.TB, db *mysqltest.DB, extra ...string) []byte {
	t.Helper()
	bin := mysqltest.Tool(t, "mysqldump", "mariadb-dump")
	args := append(clientArgs(db.Config()), documented...)
	args = append(args, extra...)
	args = append(args, db.Name)
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mysqldump: %v: %s", err, errb.String())
	}
	return out.Bytes()
}

// stockLoad loads dump with the stock client, as `mariadb DB < dump`.
func stockLoad(t testing.TB, db *mysqltest.DB, dump []byte) {
	t.Helper()
	bin := mysqltest.Tool(t, "mariadb", "mysql")
	args := append(clientArgs(db.Config()), db.Name)
	var errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stderr = bytes.NewReader(dump), &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mariadb < dump: %v: %s", err, errb.String())
	}
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	require.NoError(t, w.Close(), "gzip of a test dump")
	return out.Bytes()
}

// source fills db with tables that exercise the importer: quoting, binary
// data, NULLs, zero AUTO_INCREMENT values, many rows (several INSERTs with
// a small net_buffer_length), a trigger, views and routines.
func source(t testing.TB, db *mysqltest.DB, objects bool) {
	t.Helper()
	db.MustExec(t,
		"CREATE TABLE `qu_g_users` (id CHAR(8) NOT NULL PRIMARY KEY, name VARCHAR(100), note TEXT, flag CHAR(1) NOT NULL DEFAULT 'N', KEY name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3",
		"INSERT INTO qu_g_users VALUES ('a1b2c3d4', 'O''Brien; \"x\" `y`', 'line1\nline2\\\\ \\'q\\' -- not a comment /* nor this */ # nor', 'Y'), ('00000000', NULL, '', 'N'), ('ffffffff', 'žluťoučký kůň', 'DELIMITER ;;', 'E')",
		"CREATE TABLE `qu_g_filecontents` (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, fileid CHAR(8), content LONGBLOB, f FLOAT, d DATETIME, KEY fileid (fileid)) ENGINE=InnoDB",
		"INSERT INTO qu_g_filecontents VALUES (0, 'zero', 0x00, 1.5, '2020-01-01 00:00:00')",
		"INSERT INTO qu_g_filecontents (fileid, content, f, d) SELECT LPAD(seq, 8, '0'), CONCAT(REPEAT(CHAR(seq % 256), seq % 500), 0x00275C0A0D1A22), seq / 7, '2021-06-01' + INTERVAL seq MINUTE FROM seq_1_to_3000",
		"CREATE TABLE `odd ``name`` ;` (`a;b` INT PRIMARY KEY, `c-d` VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO `odd ``name`` ;` VALUES (1, ';'), (2, '--'), (3, '😀')",
		"CREATE TABLE empty_one (id INT PRIMARY KEY) ENGINE=InnoDB",
		"CREATE TABLE myisam_t (id INT PRIMARY KEY, v VARCHAR(20), KEY v (v)) ENGINE=MyISAM",
		"INSERT INTO myisam_t VALUES (1, 'a'), (2, 'b')",
	)
	if !objects {
		return
	}
	db.MustExec(t,
		"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100)) ENGINE=InnoDB",
		"CREATE TRIGGER users_ai AFTER INSERT ON qu_g_users FOR EACH ROW BEGIN\n  -- audit every insert; really\n  INSERT INTO audit (what) VALUES (CONCAT('user ', NEW.id, ';'));\nEND",
		"SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
		"CREATE TRIGGER files_bi BEFORE INSERT ON qu_g_filecontents FOR EACH ROW SET NEW.fileid = IFNULL(NEW.fileid, 'c:\\x')",
		"SET SESSION sql_mode = DEFAULT",
		"CREATE VIEW a_view AS SELECT u.id, u.name, COUNT(f.id) AS files FROM qu_g_users u LEFT JOIN qu_g_filecontents f ON f.fileid = u.id GROUP BY u.id, u.name",
		"CREATE VIEW z_view AS SELECT id FROM a_view WHERE files = 0",
		"CREATE PROCEDURE p_count(OUT n INT) BEGIN /* count; */ SELECT COUNT(*) INTO n FROM qu_g_users; END",
		"CREATE FUNCTION f_twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
	)
}

// snapshot describes everything a load produced, for comparison: the
// SHOW CREATE of every table, view, trigger and routine, and the row digest
// of every table (mysqltest.DB.Digests).
func snapshot(t testing.TB, db *mysqltest.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	q := func(query string) [][]string {
		rows, err := db.QueryContext(ctx, query)
		require.NoError(t, err, "snapshot: %s", query)
		defer rows.Close()
		cols, _ := rows.Columns()
		var res [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...), "snapshot: %s", query)
			var r []string
			for _, v := range vals {
				r = append(r, v.String)
			}
			res = append(res, r)
		}
		return res
	}
	var tables []string
	for _, r := range q("SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, '') FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") {
		name := r[0]
		if r[1] == "VIEW" {
			c := q("SHOW CREATE VIEW " + ident.Quote(name))
			out["view "+name] = strings.Join(c[0], "|")
			continue
		}
		c := q("SHOW CREATE TABLE " + ident.Quote(name))
		out["table "+name] = c[0][1]
		tables = append(tables, name)
	}
	if len(tables) > 0 {
		for name, d := range db.Digests(t, tables...) {
			out["rows "+name] = d
		}
	}
	for _, r := range q("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()") {
		c := q("SHOW CREATE TRIGGER " + ident.Quote(r[0]))
		out["trigger "+r[0]] = strings.Join(c[0][:6], "|")
	}
	for _, r := range q("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()") {
		c := q("SHOW CREATE " + r[0] + " " + ident.Quote(r[1]))
		out[strings.ToLower(r[0])+" "+r[1]] = strings.Join(c[0][:6], "|")
	}
	return out
}

func compare(t testing.TB, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s:\n got %q\nwant %q", k, got[k], want[k])
		}
	}
}

func TestLoadMatchesStockClient(t *testing.T) {
	src := mysqltest.New(t)
	source(t, src, true)
	tests := []struct {
		name  string
		extra []string
		gzip  bool
		cfg   Config
	}{
		{"documented", nil, false, Config{}},
		{"documented gzip", nil, true, Config{}},
		{"routines, small inserts", []string{"--routines", "--events", "--net_buffer_length=16k"}, true, Config{}},
		{"skip triggers", []string{"--skip-triggers"}, false, Config{}},
		{"add-drop-table, no-autocommit", []string{"--add-drop-table", "--no-autocommit", "--routines"}, false, Config{}},
		// 1 KiB in memory: statements read ahead go to spool files.
		{"spooled read-ahead", []string{"--net_buffer_length=16k"}, true, Config{MemoryReadAhead: 1 << 10}},
		{"spooled, one thread", []string{"--net_buffer_length=16k"}, false, Config{Threads: 1, MemoryReadAhead: 1 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dump := mysqldump(t, src, tt.extra...)
			want := mysqltest.New(t)
			stockLoad(t, want, dump)
			in := dump
			if tt.gzip {
				in = gz(t, dump)
			}
			got := mysqltest.New(t)
			cfg := tt.cfg
			if cfg.Threads == 0 {
				cfg.Threads = 2
			}
			res, err := Load(context.Background(), got.Config(), bytes.NewReader(in), cfg)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			compare(t, snapshot(t, got), snapshot(t, want))
			if res.Tables < 5 || res.Rows != 3001+3+2+2 && res.Rows < 3008 {
				t.Errorf("Load = %+v; want at least 5 tables and 3008 rows", res)
			}
		})
	}
}

func TestLoadRefusesNonEmptyTarget(t *testing.T) {
	src := mysqltest.New(t)
	source(t, src, false)
	dump := mysqldump(t, src)
	target := mysqltest.New(t)
	target.MustExec(t, "CREATE TABLE existing (id INT)")
	_, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{})
	if !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("Load into a database with a table = %v; want ErrTargetNotEmpty", err)
	}
	if _, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{Force: true}); err != nil {
		t.Fatalf("Load with Force = %v; want nil", err)
	}
	var n int
	target.QueryRow("SELECT COUNT(*) FROM qu_g_filecontents").Scan(&n)
	if n != 3001 {
		t.Errorf("rows after a forced load = %d; want 3001", n)
	}
}

func TestLoadStatementError(t *testing.T) {
	dump := "SET NAMES utf8mb4;\nCREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1),(2);\nINSERT INTO t VALUES (3),(3);\n"
	target := mysqltest.New(t)
	_, err := Load(context.Background(), target.Config(), strings.NewReader(dump), Config{})
	var se *StatementError
	if !errors.As(err, &se) {
		t.Fatalf("Load of a duplicate key = %v; want a *StatementError", err)
	}
	want := int64(strings.Index(dump, "INSERT INTO t VALUES (3)"))
	var me *mysql.MySQLError
	if se.Table != "t" || se.Offset != want || !errors.As(err, &me) || me.Number != 1062 {
		t.Errorf("error = table %q offset %d (%v); want table t offset %d, MySQL error 1062", se.Table, se.Offset, se.Err, want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("at byte %d", want)) || !strings.Contains(err.Error(), "Duplicate entry") {
		t.Errorf("message %q does not name the offset and the server's message", err)
	}
}

func TestLoadPacketTooLarge(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	var b strings.Builder
	b.WriteString("CREATE TABLE t (v LONGTEXT);\nINSERT INTO t VALUES ('")
	b.WriteString(strings.Repeat("x", 2<<20))
	b.WriteString("');\n")
	target := mysqltest.New(t)
	// 1 MiB stands for the server's limit (the real one is shared: not changed).
	_, err := Load(context.Background(), target.Config(), strings.NewReader(b.String()), Config{}, withHooks(hooks{maxPacket: 1 << 20}))
	var se *StatementError
	if !errors.Is(err, ErrPacketTooLarge) || !errors.As(err, &se) || se.Offset != 29 ||
		!strings.Contains(err.Error(), "SET GLOBAL max_allowed_packet=4194304") {
		t.Fatalf("Load of a 2 MiB statement with a 1 MiB limit = %v; want ErrPacketTooLarge at byte 29 saying SET GLOBAL max_allowed_packet=4194304", err)
	}
}

func TestLoadTruncatedArchive(t *testing.T) {
	src := mysqltest.New(t)
	source(t, src, false)
	in := gz(t, mysqldump(t, src))
	target := mysqltest.New(t)
	_, err := Load(context.Background(), target.Config(), bytes.NewReader(in[:len(in)*2/3]), Config{})
	if err == nil || !strings.Contains(err.Error(), "damaged or cut short") {
		t.Fatalf("Load of a cut gzip archive = %v; want an error saying it is damaged or cut short", err)
	}
}

func TestLoadMarker(t *testing.T) {
	body := "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n"
	marker := func(n int) string {
		return fmt.Sprintf("-- lamigrate dump completed bytes=%d xxh3=%s\n", n, strings.Repeat("0", 32))
	}
	tests := []struct {
		name   string
		in     string
		marker bool
		err    error
	}{
		{"marker", body + marker(len(body)), true, nil},
		{"no marker", body, false, ErrIncomplete},
		{"marker of another length", body + marker(len(body)-1), false, ErrIncomplete},
		{"marker of the old sha256 form", body + fmt.Sprintf("-- lamigrate dump completed bytes=%d sha256=%s\n", len(body), strings.Repeat("0", 64)), false, ErrIncomplete},
		{"statement after the marker", body + marker(len(body)) + "INSERT INTO t VALUES (2);\n", false, ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := mysqltest.New(t)
			res, err := Load(context.Background(), target.Config(), strings.NewReader(tt.in), Config{RequireMarker: true})
			if !errors.Is(err, tt.err) || (err == nil && res.Marker != tt.marker) {
				t.Errorf("Load(%s) = %+v, %v; want marker %v, error %v", tt.name, res, err, tt.marker, tt.err)
			}
		})
	}
}

// TestLoadResume interrupts imports after a growing number of statements
// and runs the same import again: the result must equal the stock client's
// load, with no row twice.
func TestLoadResume(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	src := mysqltest.New(t)
	source(t, src, true)
	dump := mysqldump(t, src, "--routines", "--net_buffer_length=16k")
	want := mysqltest.New(t)
	stockLoad(t, want, dump)
	wantSnap := snapshot(t, want)
	in := gz(t, dump)

	full := mysqltest.New(t)
	res, err := Load(context.Background(), full.Config(), bytes.NewReader(in), Config{Threads: 2})
	require.NoError(t, err, "an import without a cut, to count the statements")
	n := res.Statements
	step := max(1, n/10)
	for cut := int64(1); cut < n; cut += step {
		t.Run(fmt.Sprintf("cut after %d of %d", cut, n), func(t *testing.T) {
			target := mysqltest.New(t)
			ctx, cancel := context.WithCancel(context.Background())
			cutAt := hooks{afterStatement: func(k int64) {
				if k >= cut {
					cancel()
				}
			}}
			_, err := Load(ctx, target.Config(), bytes.NewReader(in), Config{Threads: 2, ReadAhead: 1}, withHooks(cutAt))
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Load = %v; want context.Canceled", err)
			}
			var left int
			target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", ProgressTable).Scan(&left)
			if left != 1 {
				t.Fatalf("after an interrupted load the progress table is missing")
			}
			res, err := Load(context.Background(), target.Config(), bytes.NewReader(in), Config{Threads: 2})
			if err != nil {
				t.Fatalf("resumed Load: %v", err)
			}
			if !res.Resumed {
				t.Errorf("resumed Load: Resumed = false")
			}
			compare(t, snapshot(t, target), wantSnap)
		})
	}

	t.Run("other archive", func(t *testing.T) {
		target := mysqltest.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		Load(ctx, target.Config(), bytes.NewReader(in), Config{Threads: 1, ReadAhead: 1}, withHooks(hooks{afterStatement: func(int64) { cancel() }}))
		_, err := Load(context.Background(), target.Config(), bytes.NewReader(in), Config{Fingerprint: "another"})
		if !errors.Is(err, ErrOtherArchive) {
			t.Errorf("resuming with another archive = %v; want ErrOtherArchive", err)
		}
	})
}

// TestLoadResumeSplitTable interrupts an import while both connections load
// one table's INSERTs, each in its own transaction, possibly committed out
// of order: the same import run again loads every statement exactly once.
func TestLoadResumeSplitTable(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE big (id CHAR(8) NOT NULL PRIMARY KEY, n INT AUTO_INCREMENT, v VARBINARY(300), KEY n (n)) ENGINE=InnoDB",
		"INSERT INTO big (id, v) SELECT LPAD(HEX(seq), 8, '0'), REPEAT(CHAR(seq % 256), seq % 300) FROM seq_1_to_8000",
		"CREATE TABLE after_big (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO after_big VALUES (1), (2)",
	)
	dump := mysqldump(t, src, "--net_buffer_length=16k")
	want := mysqltest.New(t)
	stockLoad(t, want, dump)
	wantSnap := snapshot(t, want)
	for _, cut := range []int{1, 5, 30} {
		t.Run(fmt.Sprintf("cut after %d helped statements", cut), func(t *testing.T) {
			target := mysqltest.New(t)
			ctx, cancel := context.WithCancel(context.Background())
			var mu sync.Mutex
			helped := 0
			cutAt := hooks{afterInsert: func(table string, _ int64, helper bool) {
				mu.Lock()
				defer mu.Unlock()
				if table == "big" && helper {
					if helped++; helped >= cut {
						cancel()
					}
				}
			}}
			_, err := Load(ctx, target.Config(), bytes.NewReader(dump), Config{Threads: 2}, withHooks(cutAt))
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Load = %v; want context.Canceled", err)
			}
			var stmts, done int
			var before int64
			pt := ident.Quote(ProgressTable)
			target.QueryRow("SELECT COUNT(*) FROM " + pt + " WHERE unit LIKE 't:big#%' AND state = 'stmt'").Scan(&stmts)
			target.QueryRow("SELECT COUNT(*) FROM " + pt + " WHERE unit = 't:big' AND state = 'done'").Scan(&done)
			target.QueryRow("SELECT IFNULL(SUM(`rows`), 0) FROM " + pt + " WHERE state = 'stmt'").Scan(&before)
			if stmts < cut || done != 0 {
				t.Fatalf("after the interruption: %d statements of big recorded, done %d; want at least %d, not done", stmts, done, cut)
			}
			res, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{Threads: 2})
			if err != nil {
				t.Fatalf("resumed Load: %v", err)
			}
			if !res.Resumed || res.Rows != 8002-before {
				t.Errorf("resumed Load = %d rows, resumed %v; want %d rows (8002 less %d committed before), resumed", res.Rows, res.Resumed, 8002-before, before)
			}
			compare(t, snapshot(t, target), wantSnap)
		})
	}
}

package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSnapshotWithConcurrentWriters moves money between two tables while
// the dump runs: the loaded dump must hold exactly the starting total and
// differ from the live tables, proving it is one snapshot taken before the
// writes and not a mix. With two connections acct_a and acct_b are read
// over different ones, and the writers are shown to be waiting on the lock
// between the two snapshots, so the totals prove the snapshots are one
// state.
func TestSnapshotWithConcurrentWriters(t *testing.T) {
	for _, conns := range []int{1, 2} {
		t.Run(fmt.Sprintf("connections=%d", conns), func(t *testing.T) { testSnapshot(t, conns) })
	}
}

func testSnapshot(t *testing.T, conns int) {
	src := mysqltest.New(t)
	const rows, start = 2000, 1000
	src.MustExec(t,
		"CREATE TABLE acct_a (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE acct_b (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE log_c (id INT PRIMARY KEY AUTO_INCREMENT, amount BIGINT) ENGINE=InnoDB")
	var vals []string
	for i := range rows {
		vals = append(vals, fmt.Sprintf("(%d, %d)", i, start))
	}
	src.MustExec(t, "INSERT INTO acct_a VALUES "+strings.Join(vals, ","), "INSERT INTO acct_b VALUES "+strings.Join(vals, ","))
	const total = 2 * rows * start

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var commits, target atomic.Int64
	target.Store(1 << 62)
	progressed := make(chan struct{})
	var once sync.Once
	wait := startWriters(ctx, src.DB, 3, 1, &commits, func(n int64) {
		if n >= target.Load() {
			once.Do(func() { close(progressed) })
		}
	})
	// The dump reads acct_a, then waits (before acct_b and log_c) until the
	// writers committed 200 more transfers, all after the snapshot began.
	// With two connections the one reading acct_a holds it until the other
	// started acct_b, which then waits for the 200 transfers.
	var mu sync.Mutex
	readBy := map[string]*sql.Conn{}
	extraStarted := make(chan struct{})
	opt := beforeRows(func(ctx context.Context, conn *sql.Conn, table string) {
		mu.Lock()
		readBy[table] = conn
		mu.Unlock()
		if table == "acct_a" {
			target.Store(commits.Load() + 200)
			if conns > 1 {
				select {
				case <-extraStarted:
				case <-ctx.Done():
				}
			}
		}
		if table == "acct_b" {
			if conns > 1 {
				close(extraStarted)
			}
			select {
			case <-progressed:
			case <-ctx.Done():
			}
		}
	})
	lockWaited := false
	opt.hooks.snapshot = func(ctx context.Context, i int) {
		if i == 0 {
			lockWaited = waitForLockWaiter(ctx, t, src)
		}
	}
	path, m, res := dumpFile(t, src, "c.sql.gz", Config{Connections: conns}, opt)
	if res.Connections != conns {
		t.Errorf("Result.Connections = %d; want %d", res.Connections, conns)
	}
	if conns > 1 {
		if !lockWaited {
			t.Errorf("no writer waited for the table lock between the snapshots")
		}
		if readBy["acct_a"] == readBy["acct_b"] {
			t.Errorf("acct_a and acct_b read over the same connection %p; want two", readBy["acct_a"])
		}
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}

	dst := mysqltest.New(t)
	loadWithClient(t, "gzip -dc", path, dst)
	var got, sumA, logged, loggedSum int64
	if err := dst.QueryRow(`SELECT (SELECT SUM(bal) FROM acct_a) + (SELECT SUM(bal) FROM acct_b),
		(SELECT SUM(bal) FROM acct_a), (SELECT COUNT(*) FROM log_c), (SELECT COALESCE(SUM(amount), 0) FROM log_c)`).
		Scan(&got, &sumA, &logged, &loggedSum); err != nil {
		require.NoError(t, err, "Scan")
	}
	if got != total {
		t.Errorf("total in the loaded dump = %d; want %d (the dump mixes states)", got, total)
	}
	if want := int64(rows*start) - loggedSum; sumA != want {
		t.Errorf("acct_a in the loaded dump = %d; want %d (the %d transfers its log holds)", sumA, want, logged)
	}
	var live int64
	err := src.QueryRow("SELECT COUNT(*) FROM log_c").Scan(&live)
	require.NoError(t, err, "src.QueryRow")
	if live < logged+200 {
		t.Errorf("live log has %d transfers, the dump %d; want at least 200 made during the dump", live, logged)
	}
	if m.Table("acct_b").Rows != rows {
		t.Errorf("acct_b rows = %d; want %d", m.Table("acct_b").Rows, rows)
	}
}

// startWriters runs n goroutines that call transfer on db until ctx is
// done, counting commits in commits and calling after (when not nil) with
// each new count. wait waits for them and returns the first error.
func startWriters(ctx context.Context, db *sql.DB, n int, seed uint64, commits *atomic.Int64, after func(int64)) (wait func() error) {
	var wg sync.WaitGroup
	werr := make(chan error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), seed))
			for ctx.Err() == nil {
				if err := transfer(ctx, db, r); err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						werr <- err
					}
					return
				}
				c := commits.Add(1)
				if after != nil {
					after(c)
				}
			}
		}()
	}
	return func() error {
		wg.Wait()
		close(werr)
		return <-werr
	}
}

// transfer moves a random amount from acct_a to acct_b (or back) and logs it,
// in one transaction.
func transfer(ctx context.Context, db *sql.DB, r *rand.Rand) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	amt := r.Int64N(100) - 50
	from, to := r.IntN(2000), r.IntN(2000)
	if _, err := tx.ExecContext(ctx, "UPDATE acct_a SET bal = bal - ? WHERE id = ?", amt, from); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct_b SET bal = bal + ? WHERE id = ?", amt, to); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO log_c (amount) VALUES (?)", amt); err != nil {
		return err
	}
	return tx.Commit()
}

// waitForLockWaiter polls the process list until a writer of src waits for
// the dump's table lock (the writers run all the time, so one soon does);
// false after 30 s.
func waitForLockWaiter(ctx context.Context, t *testing.T, src *mysqltest.DB) bool {
	admin, err := sql.Open("mysql", mysqltest.Server(t).FormatDSN())
	if err != nil {
		t.Error(err)
		return false
	}
	defer admin.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST
			WHERE DB = ? AND STATE = 'Waiting for table metadata lock'`, src.Name).Scan(&n); err != nil {
			t.Error(err)
			return false
		}
		if n > 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// TestConnectionsSameStream dumps a quiet database over one and over three
// connections: the SQL (but for the dump's own timestamp line) and the
// manifest's tables must be identical, whichever connection read a table.
// The MyISAM table is outside the snapshot and stays on the main connection.
func TestConnectionsSameStream(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE a (id INT PRIMARY KEY, s VARCHAR(100), b BLOB)",
		"CREATE TABLE b (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT) ENGINE=MyISAM",
		"CREATE TABLE c (id INT PRIMARY KEY, d DATETIME(3))",
		"CREATE TABLE d (x INT)",
		"CREATE TRIGGER c_bi BEFORE INSERT ON c FOR EACH ROW SET NEW.d = NOW()",
		"CREATE VIEW v AS SELECT id FROM a",
		"INSERT INTO b (v) VALUES ('it''s'), (NULL)",
		"INSERT INTO d VALUES (1), (1), (NULL)",
		// Rows above bigRowBytes take the big-row path, between small ones.
		"CREATE TABLE e (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT)",
		`INSERT INTO e VALUES (1, 'x', 'y'), (2, REPEAT(UNHEX('00275C1A0D0A41'), 700000), REPEAT('it''s \\ ', 900000)),
			(3, NULL, REPEAT('z', 4200000)), (4, '', NULL), (5, REPEAT(UNHEX('FF27'), 2100000), 'w')`)
	for i := range 20 {
		src.MustExec(t, fmt.Sprintf(`INSERT INTO a SELECT seq + %d, CONCAT('row ', seq, ' \'x\\'), UNHEX(SHA2(seq, 256))
			FROM seq_1_to_1000`, i*1000),
			fmt.Sprintf("INSERT INTO c SELECT seq + %d, '2024-01-02 03:04:05.678' FROM seq_1_to_500", i*500))
	}
	var dumps [2]string
	var ms [2]*manifest.Manifest
	for i, conns := range []int{1, 3} {
		dumps[i], _, ms[i] = dumpSQL(t, src, "s.sql", Config{Connections: conns, NetBufferLength: 64 << 10}, Options{})
	}
	if dumps[0] != dumps[1] {
		t.Errorf("SQL over 1 and 3 connections differs (%d and %d bytes)", len(dumps[0]), len(dumps[1]))
	}
	if len(dumps[0]) < 100<<10 {
		t.Errorf("dump is %d bytes; want enough rows for several statements", len(dumps[0]))
	}
	if !reflect.DeepEqual(ms[0].Tables, ms[1].Tables) || !reflect.DeepEqual(ms[0].Triggers, ms[1].Triggers) {
		t.Errorf("manifest tables over 1 connection = %+v\nover 3 = %+v", ms[0].Tables, ms[1].Tables)
	}
	if ms[0].SQL.Bytes != ms[1].SQL.Bytes {
		t.Errorf("SQL bytes = %d, %d; want equal", ms[0].SQL.Bytes, ms[1].SQL.Bytes)
	}
}

// TestConnectionsWithoutLockPrivilege dumps as a user who may SELECT but
// not LOCK TABLES (it may see events and routines: without EVENT or
// EXECUTE the dump warns about those too, see TestHiddenRoutinesWarn): the
// dump must fall back to one connection and succeed.
func TestConnectionsWithoutLockPrivilege(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)",
		"INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (2)")
	user := "lm_nolock_" + src.Name[len(src.Name)-8:]
	src.MustExec(t, fmt.Sprintf("CREATE USER '%s'@'localhost' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON %s.* TO '%s'@'localhost'", ident.Quote(src.Name), user))
	t.Cleanup(func() { src.Exec(fmt.Sprintf("DROP USER '%s'@'localhost'", user)) })
	cfg := src.Config()
	cfg.User, cfg.Passwd = user, "pw"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		require.NoError(t, err, "sql.Open")
	}
	defer db.Close()
	var warns []string
	res, err := File(context.Background(), db, filepath.Join(t.TempDir(), "n.sql"), Config{Database: src.Name, Connections: 2},
		Options{Progress: progressFunc(func(msg string) { warns = append(warns, msg) })})
	if err != nil {
		t.Fatalf("File without LOCK TABLES = %v", err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "one connection instead of 2") || !strings.Contains(warns[0], "1044") ||
		!strings.Contains(warns[0], "LOCK TABLES privilege") || strings.Contains(warns[0], "\n") {
		t.Errorf("warnings = %q; want one line saying why one connection reads, with the server's error", warns)
	}
	if res.Connections != 1 || len(res.Tables) != 2 || res.Tables[1].Rows != 1 {
		t.Errorf("File without LOCK TABLES = %d connections, tables %+v; want 1 connection, a and b with a row each", res.Connections, res.Tables)
	}
}

// TestHiddenRoutinesWarn dumps as a user the server hides other definers'
// routines from (no EXECUTE, CREATE ROUTINE, ALTER ROUTINE, no SELECT on
// mysql.proc): the dump cannot tell whether there are any, so it says so.
func TestHiddenRoutinesWarn(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1")
	user := "lm_norout_" + src.Name[len(src.Name)-8:]
	src.MustExec(t, fmt.Sprintf("CREATE USER '%s'@'localhost' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON %s.* TO '%s'@'localhost'", ident.Quote(src.Name), user))
	t.Cleanup(func() { src.Exec(fmt.Sprintf("DROP USER '%s'@'localhost'", user)) })
	cfg := src.Config()
	cfg.User, cfg.Passwd = user, "pw"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	defer db.Close()
	var warns []string
	res, err := File(context.Background(), db, filepath.Join(t.TempDir(), "n.sql"), Config{Database: src.Name, Connections: 1},
		Options{Progress: progressFunc(func(msg string) { warns = append(warns, msg) })})
	require.NoError(t, err)
	assert.Empty(t, res.Routines, "the server hid the function, so the dump has none")
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0], "may not see the stored procedures and functions of "+ident.Quote(src.Name))
	assert.Contains(t, warns[0], "GRANT SELECT ON mysql.proc TO")

	// With EXECUTE the routine is visible: no warning.
	src.MustExec(t, fmt.Sprintf("GRANT EXECUTE ON %s.* TO '%s'@'localhost'", ident.Quote(src.Name), user))
	warns = nil
	_, err = File(context.Background(), db, filepath.Join(t.TempDir(), "m.sql"), Config{Database: src.Name, Connections: 1},
		Options{Progress: progressFunc(func(msg string) { warns = append(warns, msg) })})
	require.Error(t, err, "EXECUTE shows the function but not its body: the dump refuses to leave it out")
	assert.Contains(t, err.Error(), "cannot read the definition of function `f`")
	assert.Empty(t, warns)
}

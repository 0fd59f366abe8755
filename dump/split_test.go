package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// sized returns opt with its hooks' sizes set: splitBytes (key ranges) and
// maxSpill (spill waiting to be copied), each 0 for the default. The sizes
// belong to that dump alone (see hooks.go).
func sized(opt Options, split, spill int64) Options {
	h := hooks{}
	if opt.hooks != nil {
		h = *opt.hooks
	}
	h.splitBytes, h.maxSpill = split, spill
	opt.hooks = &h
	return opt
}

// TestSplitTables dumps tables cut into key ranges (splitBytes lowered so
// that every table splits) over one and over three connections: both
// streams must be the same bytes, every row must be there exactly once, and
// the stock client must load it into the same rows. The keys cover signed
// and unsigned integer limits, strings that a case-insensitive collation
// orders differently from their bytes, non-ASCII and latin1 keys, and a
// composite key whose first column repeats.
func TestSplitTables(t *testing.T) {

	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE i (id BIGINT PRIMARY KEY, v INT)",
		`INSERT INTO i VALUES (-9223372036854775808, 1), (9223372036854775807, 2), (0, 3), (-1, 4)`,
		"INSERT INTO i SELECT CAST(seq AS SIGNED) * 7919 - 400000, seq FROM seq_1_to_3000",
		"CREATE TABLE u (id BIGINT UNSIGNED PRIMARY KEY)",
		"INSERT INTO u VALUES (0), (18446744073709551615), (9223372036854775808)",
		"INSERT INTO u SELECT seq * 1000003 FROM seq_1_to_2000",
		"CREATE TABLE s (k VARCHAR(40) PRIMARY KEY, n INT) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
		"CREATE TABLE l (k CHAR(12) PRIMARY KEY) DEFAULT CHARSET=latin1",
		"CREATE TABLE c (a CHAR(8), b INT, x TEXT, PRIMARY KEY (a, b))",
		"INSERT INTO c SELECT LPAD(HEX(seq % 37), 8, '0'), seq, REPEAT('x', seq % 50) FROM seq_1_to_2000",
		"CREATE TABLE one (k VARCHAR(5) PRIMARY KEY)",
		"INSERT INTO one VALUES ('only')",
		"CREATE TABLE nopk (x INT, y TEXT)",
		"INSERT INTO nopk SELECT seq % 10, 'y' FROM seq_1_to_500",
	)
	var vals, lat []string
	for i, k := range []string{"a", "B", "c", "Z", "_u", "`q", "~t", " lead", "ö", "Ärger", "中文", "😀", "zz", "Y", "0", "9x", "it's", `back\slash`} {
		vals = append(vals, fmt.Sprintf("('%s', %d)", strings.NewReplacer(`\`, `\\`, "'", "''").Replace(k), i))
	}
	for i := range 2000 {
		vals = append(vals, fmt.Sprintf("('k%06x%s', %d)", i*2654435761%(1<<24), []string{"", "A", "é", "_"}[i%4], i+100))
		lat = append(lat, fmt.Sprintf("('%c%05d')", []rune("aBcDéF")[i%6], i))
	}
	src.MustExec(t, "INSERT INTO s VALUES "+strings.Join(vals, ", "), "INSERT INTO l VALUES "+strings.Join(lat, ", "))

	var streams [2]string
	var digests [2]string
	for i, conns := range []int{1, 3} {
		sqlText, path, m := dumpSQL(t, src, fmt.Sprintf("split%d.sql", conns), Config{Connections: conns}, sized(Options{}, 1, 0))
		streams[i] = sqlText
		// The row digests: the same file whichever connection read which
		// range, every row once, in the server's key order.
		digests[i] = m.RowDigests.SHA256
		rows := readRowDigests(t, path)
		for _, tb := range []string{"i", "u", "s", "l", "one"} {
			want := queryStrings(t, src, "SELECT `"+map[string]string{"i": "id", "u": "id", "one": "k"}[tb]+map[string]string{"s": "k", "l": "k"}[tb]+"` FROM `"+tb+"` ORDER BY 1")
			if got := rows[tb].keys(t); !assert.Equal(t, want, got, "%d connections: keys of %s in key order", conns, tb) {
				break
			}
		}
		require.NotNil(t, rows["c"].Key)
		assert.Equal(t, []string{"a", "b"}, rows["c"].Key.Columns)
		assert.Len(t, rows["c"].rows, 2000)
		assert.Nil(t, rows["nopk"].Key, "a table without a key lists no key")
		assert.Empty(t, rows["nopk"].rows, "nor rows")
		assert.EqualValues(t, 500, rows["nopk"].Rows, "but counts them")
		// Split tables start a statement per range.
		for _, tb := range []string{"i", "u", "s", "l", "c"} {
			if n := strings.Count(sqlText, "INSERT INTO `"+tb+"`"); n < 3 {
				t.Errorf("table %s: %d INSERT statements; want one per key range (>= 3)", tb, n)
			}
		}
		if n := strings.Count(sqlText, "CREATE TABLE `s`"); n != 1 {
			t.Errorf("CREATE TABLE `s` appears %d times; want 1", n)
		}
		dst := mysqltest.New(t)
		loadWithClient(t, "cat", path, dst)
		compareTables(t, m, src, dst)
		for _, tb := range m.Tables {
			var want int64
			err := src.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM `"+tb.Name+"`").Scan(&want)
			require.NoError(t, err, "src.QueryRowContext")
			if tb.Rows != want {
				t.Errorf("%d connections: manifest says %d rows in %s; the source has %d", conns, tb.Rows, tb.Name, want)
			}
		}
	}
	if streams[0] != streams[1] {
		t.Errorf("split dump over 1 and 3 connections differs (%d and %d bytes)", len(streams[0]), len(streams[1]))
	}
	assert.Equal(t, digests[0], digests[1], "the row digests files over 1 and 3 connections differ")
}

// TestSplitSnapshotWithConcurrentWriters dumps two account tables, each cut
// into key ranges read over four connections, while writers move money
// between them: every range must come from the one snapshot, so the loaded
// balances add up and match the transfer log, although transfers commit
// between the ranges' reads.
func TestSplitSnapshotWithConcurrentWriters(t *testing.T) {

	src := mysqltest.New(t)
	const rows, start = 2000, 1000
	src.MustExec(t,
		"CREATE TABLE acct_a (id INT PRIMARY KEY, bal BIGINT NOT NULL)",
		"CREATE TABLE acct_b (id INT PRIMARY KEY, bal BIGINT NOT NULL)",
		"CREATE TABLE log_c (id INT PRIMARY KEY AUTO_INCREMENT, amount BIGINT)",
		fmt.Sprintf("INSERT INTO acct_a SELECT seq, %d FROM seq_0_to_%d", start, rows-1),
		fmt.Sprintf("INSERT INTO acct_b SELECT seq, %d FROM seq_0_to_%d", start, rows-1))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var commits atomic.Int64
	wait := startWriters(ctx, src.DB, 2, 7, &commits, nil)
	// Every range waits for 20 more commits before it is read.
	var mu sync.Mutex
	readBy := map[string]map[*sql.Conn]bool{}
	opt := sized(beforeRows(func(ctx context.Context, conn *sql.Conn, table string) {
		mu.Lock()
		if readBy[table] == nil {
			readBy[table] = map[*sql.Conn]bool{}
		}
		readBy[table][conn] = true
		mu.Unlock()
		target := commits.Load() + 20
		for commits.Load() < target && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}), 1, 0)
	path, m, res := dumpFile(t, src, "split.sql.gz", Config{Connections: 4}, opt)
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if res.Connections != 4 {
		t.Errorf("Result.Connections = %d; want 4", res.Connections)
	}
	if n := len(readBy["acct_a"]); n < 2 {
		t.Errorf("acct_a's ranges were read over %d connection(s); want several", n)
	}

	dst := mysqltest.New(t)
	loadWithClient(t, "gzip -dc", path, dst)
	var got, sumA, loggedSum int64
	if err := dst.QueryRow(`SELECT (SELECT SUM(bal) FROM acct_a) + (SELECT SUM(bal) FROM acct_b),
		(SELECT SUM(bal) FROM acct_a), (SELECT COALESCE(SUM(amount), 0) FROM log_c)`).Scan(&got, &sumA, &loggedSum); err != nil {
		require.NoError(t, err, "SUM")
	}
	if got != 2*rows*start {
		t.Errorf("total in the loaded dump = %d; want %d (the ranges mix states)", got, 2*rows*start)
	}
	if want := int64(rows*start) - loggedSum; sumA != want {
		t.Errorf("acct_a in the loaded dump = %d; want %d (what its log says)", sumA, want)
	}
	if m.Table("acct_a").Rows != rows || m.Table("acct_b").Rows != rows {
		t.Errorf("rows = %d, %d; want %d each", m.Table("acct_a").Rows, m.Table("acct_b").Rows, rows)
	}
}

// TestSplitFailures fails a dump in the middle of a table cut into key
// ranges over three connections: a reading connection killed, and the
// context cancelled. Either must name the table and leave no file.
func TestSplitFailures(t *testing.T) {
	for _, kill := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			db := failureDB(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var calls atomic.Int32
			opt := sized(beforeRows(func(ctx context.Context, conn *sql.Conn, table string) {
				if table != "t1" || calls.Add(1) != 3 {
					return
				}
				if !kill {
					cancel()
					return
				}
				var id int64
				if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
					t.Error(err)
				}
				if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
					t.Error(err)
				}
			}), 1, 0)
			dir := t.TempDir()
			res, err := File(ctx, db.DB, dir+"/d.sql.gz", Config{Database: db.Name, Connections: 3}, opt)
			if err == nil {
				t.Fatalf("File = %d tables, nil error; want a failure", len(res.Tables))
			}
			if calls.Load() < 3 {
				t.Fatalf("t1 was read in %d ranges; want at least 3", calls.Load())
			}
			var te *TableError
			if !errors.As(err, &te) || te.Table != "t1" {
				t.Errorf("File error = %v; want a TableError naming t1", err)
			}
			if !kill && !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left after a failed dump: %v", entries)
			}
		})
	}
}

// TestSpillLimit dumps with maxSpill lowered to one byte (and every table
// split): an extra
// connection may start a unit only when nothing spilled waits to be
// copied. The dump must still finish (nothing waits on a connection that
// waits), write the same bytes as over one connection, and never hold more
// spilled than the units the extra connections were already reading.
func TestSpillLimit(t *testing.T) {
	src := mysqltest.New(t)
	for i := range 6 {
		src.MustExec(t, fmt.Sprintf("CREATE TABLE t%d (id INT PRIMARY KEY, s VARCHAR(200))", i),
			fmt.Sprintf("INSERT INTO t%d SELECT seq, REPEAT('x', seq %% 200) FROM seq_1_to_3000", i))
	}
	var peak int64
	var streams [2]string
	for i, conns := range []int{1, 4} {
		// The first range read stalls, as a big unit on a slow connection
		// would, while the other connections could run ahead.
		var first atomic.Bool
		opt := beforeRows(func(ctx context.Context, _ *sql.Conn, table string) {
			if first.CompareAndSwap(false, true) {
				select {
				case <-time.After(500 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		})
		opt = sized(opt, 1, 1)
		opt.hooks.spillPeak = func(p int64) { peak = p }
		streams[i], _, _ = dumpSQL(t, src, fmt.Sprintf("limit%d.sql", conns), Config{Connections: conns}, opt)
	}
	if streams[0] != streams[1] {
		t.Errorf("dump over 4 connections with a spill limit differs from one over 1 (%d and %d bytes)", len(streams[1]), len(streams[0]))
	}
	// Each of the 3 extra connections may have claimed one unit while
	// nothing was pending; one unit's SQL is well under 64 KiB here.
	if peak <= 0 || peak > 3*(64<<10) {
		t.Errorf("peak spilled = %d bytes; want some, and at most three units' worth", peak)
	}
}

func TestScratchBytes(t *testing.T) {
	for _, tt := range []struct {
		sql   int64
		conns int
		want  int64
	}{
		{10 << 30, 1, 0},
		{100 << 20, 0, 100 << 20},
		{10 << 30, 0, maxSpill + 3*2*splitBytes},
		{10 << 30, 8, maxSpill + 7*2*splitBytes},
	} {
		if got := ScratchBytes(tt.sql, tt.conns); got != tt.want {
			t.Errorf("ScratchBytes(%d, %d) = %d; want %d", tt.sql, tt.conns, got, tt.want)
		}
	}
}

// TestSpillLimitCancel cancels a dump whose extra connections wait for the
// spill limit: they must stop waiting, and File must fail with the
// cancellation and leave no file.
func TestSpillLimitCancel(t *testing.T) {
	db := failureDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first atomic.Bool
	opt := beforeRows(func(ctx context.Context, _ *sql.Conn, table string) {
		if first.CompareAndSwap(false, true) {
			time.AfterFunc(300*time.Millisecond, cancel)
			<-ctx.Done()
		}
	})
	opt = sized(opt, 1, 1)
	dir := t.TempDir()
	start := time.Now()
	_, err := File(ctx, db.DB, dir+"/d.sql.gz", Config{Database: db.Name, Connections: 4}, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("File = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("File took %v to give up after the cancellation", d)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left after a cancelled dump: %v", entries)
	}
}

// TestHookSizes: a dump cuts ranges of splitBytes and lets maxSpill wait
// unless its own hooks lower them; a zero size, or no hooks, is the
// default.
func TestHookSizes(t *testing.T) {
	assert.Equal(t, int64(48<<20), splitBytes, "the default range size")
	assert.Equal(t, int64(512<<20), maxSpill, "the default spill limit")
	for _, h := range []*hooks{nil, {}, {spillPeak: func(int64) {}}} {
		assert.Equal(t, splitBytes, h.split(), "hooks %+v: the range size", h)
		assert.Equal(t, maxSpill, h.spillLimit(), "hooks %+v: the spill limit", h)
	}
	opt := sized(Options{}, 1, 2)
	assert.Equal(t, int64(1), opt.hooks.split(), "a lowered range size")
	assert.Equal(t, int64(2), opt.hooks.spillLimit(), "a lowered spill limit")
	other := sized(opt, 0, 0)
	assert.Equal(t, splitBytes, other.hooks.split(), "sized copies the hooks: one dump's sizes leave another's alone")
	assert.Equal(t, int64(1), opt.hooks.split(), "the first dump's range size is kept")
}

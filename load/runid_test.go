package load

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestRunID(t *testing.T) {
	t.Parallel()
	const id = "0123456789abcdef0123456789abcdef"
	require.Equal(t, dump.DumpIDPrefix, dumpIDPrefix, "load reads the line dump writes")
	for _, tt := range []struct {
		name, head, want string
	}{
		{"full dump", "-- lamigrate 1.2 dump (mysqldump-compatible; load with the mariadb/mysql client)\n" + dumpIDPrefix + id + "\n--\n-- Host: h\n", id},
		{"delta", "-- lamigrate delta dump (mysqldump-compatible; load with the mariadb/mysql client after its base)\n" + dumpIDPrefix + id + "\n--\n", id},
		{"further down the header", "-- lamigrate dump (mysqldump-compatible; x)\n--\n-- Host: h\n" + dumpIDPrefix + id + "\n\n/*!40101 SET NAMES utf8mb4 */;\n", id},
		{"a dump from before run ids", "-- lamigrate dump (mysqldump-compatible; x)\n--\n-- Host: h\n\n/*!40101 SET NAMES utf8mb4 */;\n" + dumpIDPrefix + id + "\n", ""},
		{"mysqldump", "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n" + dumpIDPrefix + id + "\n", ""},
		{"not hex", "-- lamigrate dump (mysqldump-compatible; x)\n" + dumpIDPrefix + strings.ToUpper(id) + "\n", ""},
		{"too short", "-- lamigrate dump (mysqldump-compatible; x)\n" + dumpIDPrefix + id[:31] + "\n", ""},
		{"no newline yet", "-- lamigrate dump (mysqldump-compatible; x)", ""},
		{"at the end of what was read", "-- lamigrate dump (mysqldump-compatible; x)\n" + dumpIDPrefix + id, id},
	} {
		assert.Equal(t, tt.want, runID([]byte(tt.head)), tt.name)
	}
}

// TestFollowedRerunRefused: a followed import of a dump is interrupted;
// the dump then runs again into the same path, over the same data: a new
// snapshot, whose stream differs from the first only in its run id. An
// import of the new run, followed or not, refuses the target naming both
// runs and changes nothing; the first run's archive still continues it;
// and what the message says to do (drop the tables, import again) loads
// the new run.
func TestFollowedRerunRefused(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE a (id INT PRIMARY KEY, s VARCHAR(200)) ENGINE=InnoDB",
		"INSERT INTO a SELECT seq, REPEAT(SHA2(seq, 256), 2) FROM seq_1_to_6000",
		"CREATE TABLE b (id INT PRIMARY KEY, v INT, KEY v (v)) ENGINE=InnoDB",
		"INSERT INTO b SELECT seq, seq % 7 FROM seq_1_to_5000",
		"CREATE TABLE c (id INT PRIMARY KEY, t TEXT) ENGINE=InnoDB",
		"INSERT INTO c SELECT seq, REPEAT('x', seq % 300) FROM seq_1_to_3000")
	want := snapshot(t, src)
	dir := t.TempDir()
	path := filepath.Join(dir, "d.sql.zst")
	dumpRun := func() *manifest.Manifest {
		_, err := dump.File(context.Background(), src.DB, path, dump.Config{Database: src.Name, NetBufferLength: 16 << 10}, dump.Options{})
		require.NoError(t, err, "the dump")
		m, err := manifest.Read(manifest.PathFor(path))
		require.NoError(t, err)
		return m
	}
	follow := func(ctx context.Context, t *testing.T, target *mysqltest.DB, archive string, opts ...Option) (*Result, error) {
		fl, err := Follow(ctx, archive, FollowOptions{Stall: 10 * time.Second, Poll: 10 * time.Millisecond})
		require.NoError(t, err)
		defer fl.Close()
		return Load(ctx, target.Config(), fl, Config{Threads: 2, Followed: true, RequireMarker: true}, append(opts, WithStreamCheck(nil))...)
	}
	// Two targets, each with a followed import of the first run cut
	// after a few statements; the first run is written as the imports
	// follow it.
	runA := make(chan *manifest.Manifest, 1)
	go func() { runA <- dumpRun() }()
	targets := [2]*mysqltest.DB{mysqltest.New(t), mysqltest.New(t)}
	for _, target := range targets {
		ctx, cancel := context.WithCancel(context.Background())
		var once atomic.Bool
		cut := withHooks(hooks{afterStatement: func(k int64) {
			if k >= 20 && once.CompareAndSwap(false, true) {
				cancel()
			}
		}})
		_, err := follow(ctx, t, target, path, cut)
		cancel()
		require.ErrorIs(t, err, context.Canceled, "the interrupted followed import")
		require.True(t, hasProgressTable(t, target), "an interrupted import keeps its progress table")
	}
	mA := <-runA
	keepA := filepath.Join(t.TempDir(), "d.sql.zst")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keepA, b, 0o600), "a copy of the first run's archive")

	mB := dumpRun() // the dump run again, same path, same data
	require.NotEqual(t, mA.DumpID, mB.DumpID, "each run has its id")
	require.Equal(t, mA.SQL.Bytes, mB.SQL.Bytes, "same data: streams of one size")

	for _, target := range targets {
		before := snapshot(t, target)
		_, err := follow(context.Background(), t, target, path)
		require.ErrorIs(t, err, ErrOtherArchive, "a followed import of the new run")
		t.Logf("refused: %v", err)
		for _, s := range []string{"dump run " + mA.DumpID, "dump run " + mB.DumpID, "running the dump again", "drop the tables of", "import this archive again"} {
			assert.Contains(t, err.Error(), s)
		}
		assert.NotContains(t, err.Error(), "\n", "one line")

		f, err := os.Open(path)
		require.NoError(t, err)
		_, err = Load(context.Background(), target.Config(), f, Config{Threads: 2, Fingerprint: mB.SQL.XXH3, RequireMarker: true})
		f.Close()
		require.ErrorIs(t, err, ErrOtherArchive, "an import of the new run's whole archive")
		assert.Contains(t, err.Error(), "dump run "+mB.DumpID)
		assert.Equal(t, before, snapshot(t, target), "a refused import changes nothing")
	}

	// The first run still continues the first target's import.
	res, err := follow(context.Background(), t, targets[0], keepA)
	require.NoError(t, err, "the first run's archive")
	assert.True(t, res.Resumed, "it continued the interrupted import")
	compare(t, snapshot(t, targets[0]), want)
	assert.False(t, hasProgressTable(t, targets[0]))

	// What the message says: drop the tables, import the new run again.
	for tb := range snapshot(t, targets[1]) {
		if name, ok := strings.CutPrefix(tb, "table "); ok {
			targets[1].MustExec(t, "DROP TABLE `"+name+"`")
		}
	}
	res, err = follow(context.Background(), t, targets[1], path)
	require.NoError(t, err, "the new run into the emptied database")
	assert.False(t, res.Resumed)
	compare(t, snapshot(t, targets[1]), want)
}

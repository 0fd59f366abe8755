package dump

import (
	"bytes"
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// noMemoryLimit runs the test as a process without a memory limit, and
// puts the limit it had back at the end.
func noMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

// TestMemoryLimit: File and WriteArchive run under MemoryLimit when the
// process has no limit, and put the previous one back; a limit the
// process has, GOMEMLIMIT=off included, stays.
func TestMemoryLimit(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	// during dumps with File, then with WriteArchive, and returns the
	// limit the process had while each read its rows.
	during := func(t *testing.T) (file, archive int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var seen int64
		opt := beforeRows(func(context.Context, *sql.Conn, string) { seen = debug.SetMemoryLimit(-1) })
		cfg := Config{Database: db.Name, Connections: 1}
		_, err := File(ctx, db.DB, filepath.Join(t.TempDir(), "m.sql.zst"), cfg, opt)
		require.NoError(t, err, "File")
		file, seen = seen, 0
		var buf bytes.Buffer
		_, err = WriteArchive(ctx, db.DB, &buf, "m.sql.zst", cfg, opt)
		require.NoError(t, err, "WriteArchive")
		return file, seen
	}
	t.Run("no limit", func(t *testing.T) {
		noMemoryLimit(t)
		file, archive := during(t)
		assert.Equal(t, int64(MemoryLimit), file, "the limit while File dumps")
		assert.Equal(t, int64(MemoryLimit), archive, "the limit while WriteArchive dumps")
		assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "no limit after the dumps")
	})
	t.Run("a limit set by the program", func(t *testing.T) {
		noMemoryLimit(t)
		debug.SetMemoryLimit(1 << 30)
		file, archive := during(t)
		assert.Equal(t, int64(1<<30), file, "the program's limit while File dumps")
		assert.Equal(t, int64(1<<30), archive, "the program's limit while WriteArchive dumps")
		assert.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1), "the program's limit after the dumps")
	})
	t.Run("GOMEMLIMIT=off", func(t *testing.T) {
		noMemoryLimit(t)
		t.Setenv("GOMEMLIMIT", "off")
		file, archive := during(t)
		assert.Equal(t, int64(math.MaxInt64), file, "no limit while File dumps")
		assert.Equal(t, int64(math.MaxInt64), archive, "no limit while WriteArchive dumps")
	})
	t.Run("dumps at once", func(t *testing.T) {
		noMemoryLimit(t)
		first := limitMemory()
		second := limitMemory()
		first()
		assert.Equal(t, int64(MemoryLimit), debug.SetMemoryLimit(-1), "the limit while the second dump still runs")
		second()
		assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "no limit once both ended")
		restore := limitMemory()
		debug.SetMemoryLimit(256 << 20)
		restore()
		assert.Equal(t, int64(256<<20), debug.SetMemoryLimit(-1), "a limit set during the dump stays")
	})
}

package dump

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// failingWriter fails every write after n bytes.
type failingWriter struct {
	w io.Writer
	n int64
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > f.n {
		return 0, syscall.ENOSPC
	}
	f.n -= int64(len(p))
	return f.w.Write(p)
}

// beforeRows returns the Options of a dump that calls h before each
// table's rows are read (hooks.beforeRows).
func beforeRows(h func(ctx context.Context, conn *sql.Conn, table string)) Options {
	return Options{hooks: &hooks{beforeRows: h}}
}

// failureDB has three tables with enough incompressible data to need many writes.
func failureDB(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t1 (id INT PRIMARY KEY, b MEDIUMBLOB)",
		"CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE t3 (id INT PRIMARY KEY)",
		"INSERT INTO t2 VALUES (1, 'x')", "INSERT INTO t3 VALUES (1)")
	for i := range 8 {
		b := make([]byte, 256<<10)
		rand.Read(b)
		_, err := db.Exec("INSERT INTO t1 VALUES (?, ?)", i, b)
		require.NoError(t, err, "db.Exec")
	}
	return db
}

func TestFileFailures(t *testing.T) {
	var db *mysqltest.DB
	admin := func() *sql.DB { return db.DB }
	tests := []struct {
		name    string
		conns   int // Config.Connections; 0: 1 (the one-connection path)
		hook    func(cancel context.CancelFunc) func(ctx context.Context, conn *sql.Conn, table string)
		wrap    func(io.Writer) io.Writer
		wantErr []string
		check   func(t *testing.T, err error)
	}{
		{
			name: "disk full",
			wrap: func(w io.Writer) io.Writer { return &failingWriter{w: w, n: 300 << 10} },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("error %v does not wrap ENOSPC", err)
				}
			},
		},
		{
			name: "table dropped",
			hook: func(context.CancelFunc) func(context.Context, *sql.Conn, string) {
				return func(_ context.Context, _ *sql.Conn, table string) {
					if table == "t1" {
						if _, err := admin().Exec("DROP TABLE t2"); err != nil {
							t.Error(err)
						}
					}
				}
			},
			wantErr: []string{"`t2`", "dropped"},
		},
		{
			name: "table altered",
			hook: func(context.CancelFunc) func(context.Context, *sql.Conn, string) {
				return func(_ context.Context, _ *sql.Conn, table string) {
					if table == "t1" {
						if _, err := admin().Exec("ALTER TABLE t3 FORCE"); err != nil {
							t.Error(err)
						}
					}
				}
			},
			wantErr: []string{"`t3`", "1412"},
		},
		{
			name: "connection killed",
			hook: func(context.CancelFunc) func(context.Context, *sql.Conn, string) {
				return func(ctx context.Context, conn *sql.Conn, table string) {
					if table != "t2" {
						return
					}
					var id int64
					if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
						t.Error(err)
					}
					if _, err := admin().Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
						t.Error(err)
					}
				}
			},
			wantErr: []string{"`t2`"},
		},
		{
			// The connection that reads t1 waits until another one has
			// started t3: killing that one must fail the dump with t3's
			// name.
			name:  "extra connection killed",
			conns: 2,
			hook: func(context.CancelFunc) func(context.Context, *sql.Conn, string) {
				started := make(chan struct{})
				return func(ctx context.Context, conn *sql.Conn, table string) {
					switch table {
					case "t1":
						select {
						case <-started:
						case <-ctx.Done():
						}
					case "t3":
						var id int64
						if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
							t.Error(err)
						}
						if _, err := admin().Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
							t.Error(err)
						}
						close(started)
					}
				}
			},
			wantErr: []string{"`t3`"},
		},
		{
			name:  "disk full, two connections",
			conns: 2,
			wrap:  func(w io.Writer) io.Writer { return &failingWriter{w: w, n: 300 << 10} },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("error %v does not wrap ENOSPC", err)
				}
			},
		},
		{
			name:  "cancelled while the extra connection reads",
			conns: 2,
			hook: func(cancel context.CancelFunc) func(context.Context, *sql.Conn, string) {
				return func(_ context.Context, _ *sql.Conn, table string) {
					if table == "t3" {
						cancel()
					}
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap context.Canceled", err)
				}
			},
		},
		{
			name: "cancelled",
			hook: func(cancel context.CancelFunc) func(context.Context, *sql.Conn, string) {
				return func(_ context.Context, _ *sql.Conn, table string) {
					if table == "t2" {
						cancel()
					}
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap context.Canceled", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db = failureDB(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var opt Options
			if tt.hook != nil {
				opt = beforeRows(tt.hook(cancel))
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "d.sql.gz")
			conns := max(tt.conns, 1)
			res, err := toFile(ctx, db.DB, path, Config{Database: db.Name, Connections: conns}, opt, tt.wrap)
			if err == nil {
				t.Fatalf("File = %d tables read over %d connections, nil error; want a failure", len(res.Tables), res.Connections)
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("File error = %q; want it to mention %s", err, w)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("files left after a failed dump: %v", entries)
			}
		})
	}
	var te *TableError
	_, err := toFile(context.Background(), mysqltest.New(t).DB, filepath.Join(t.TempDir(), "x.sql"), Config{Database: "no_such_db_lamigrate"}, Options{}, nil)
	if err == nil || errors.As(err, &te) {
		t.Errorf("File(missing database) = %v; want a non-table error", err)
	}
}

func TestStreamWriterFails(t *testing.T) {
	db := failureDB(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		require.NoError(t, err, "db.Conn")
	}
	defer conn.Close()
	var n atomic.Int64
	_, err = Stream(context.Background(), conn, &failingWriter{w: countWriter{&n}, n: 100 << 10}, Config{Database: db.Name}, Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Stream to a failing writer = %v; want ENOSPC", err)
	}
	if !strings.Contains(fmt.Sprint(err), "free space or write the dump to another folder") {
		t.Errorf("Stream to a full disk = %v; want it to say what to do", err)
	}
}

type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

func TestFileReplacesOldManifestAndEncrypts(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	path := filepath.Join(t.TempDir(), "d.sql.gz.age")
	if _, err := File(context.Background(), db.DB, path, Config{Database: db.Name}, Options{}); !errors.Is(err, ErrNeedPassphrase) {
		t.Fatalf("File(.age without passphrase) = %v; want ErrNeedPassphrase", err)
	}
	res, err := File(context.Background(), db.DB, path, Config{Database: db.Name}, Options{Passphrase: func() (string, error) { return "secret", nil }, ToolVersion: "test"})
	if err != nil {
		require.NoError(t, err, "File")
	}
	m, err := manifest.Read(manifest.PathFor(path))
	if err != nil {
		require.NoError(t, err, "manifest.Read")
	}
	if !m.Options.Encrypted || m.Options.Compression != "gzip" || m.ToolVersion != "test" || m.File.Name != "d.sql.gz.age" {
		t.Errorf("manifest options = %+v, file %+v; want encrypted gzip d.sql.gz.age", m.Options, m.File)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "age-encryption.org/v1\n") || int64(len(b)) != res.File.Size {
		t.Errorf("archive starts %q, %d bytes; want an age file of %d bytes", b[:min(len(b), 20)], len(b), res.File.Size)
	}
}

var _ = mysql.MySQLError{}

// TestFileManifestFails: File writes the manifest last, after the archive
// and its row digests file are in place; a manifest that cannot be written
// must remove them, as the package promises that a failed File leaves
// nothing. The fault is the file system's: an archive named so that every
// file File writes fits the 255-byte limit on a name, but the manifest's
// temporary file (atomicfile: "." + FILE.manifest.json + ".tmp" + digits)
// does not.
func TestFileManifestFails(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	dir := t.TempDir()
	name := strings.Repeat("m", 236-len(".sql.gz")) + ".sql.gz"
	path := filepath.Join(dir, name)
	for _, p := range []string{path + PartialSuffix, chunk.PathFor(path) + PartialSuffix, manifest.PathFor(path)} {
		require.LessOrEqual(t, len(filepath.Base(p)), 255, "%s must be a valid name for the dump to get as far as its manifest", filepath.Base(p))
	}
	require.Greater(t, len(".")+len(filepath.Base(manifest.PathFor(path)))+len(".tmp")+1, 255, "the manifest's temporary file must be too long a name")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := File(ctx, db.DB, path, Config{Database: db.Name, Connections: 1}, Options{})
	require.Error(t, err, "File must fail when its manifest cannot be written")
	assert.Nil(t, res, "no Result from a failed File")
	assert.ErrorIs(t, err, syscall.ENAMETOOLONG, "the failure is the manifest's temporary file")
	assert.Contains(t, err.Error(), "dump: writing the manifest "+filepath.Base(manifest.PathFor(path)))
	assert.Contains(t, err.Error(), "the archive was removed")
	assert.NotContains(t, err.Error(), "\n", "one line")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err, "reading the output folder")
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.Empty(t, left, "a dump whose manifest failed left files (the archive, its row digests, a partial or temporary file)")
}

package dump

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// asker is an Options.Passphrase that counts its calls and records what
// the dump had done when it was asked: the connections open in db and the
// files in dir.
type asker struct {
	answer string
	err    error
	db     *sql.DB
	dir    string

	calls     int
	openConns int
	files     []string
}

func (a *asker) ask() (string, error) {
	a.calls++
	if a.db != nil {
		a.openConns = a.db.Stats().OpenConnections
	}
	if a.dir != "" {
		entries, _ := os.ReadDir(a.dir)
		for _, e := range entries {
			a.files = append(a.files, e.Name())
		}
	}
	return a.answer, a.err
}

// freshDB is a pool on db's database that has not connected yet.
func freshDB(t *testing.T, db *mysqltest.DB) *sql.DB {
	t.Helper()
	pool, err := sql.Open("mysql", db.Config().FormatDSN())
	require.NoError(t, err, "opening a pool on the test database")
	t.Cleanup(func() { pool.Close() })
	return pool
}

// decrypts reports whether the archive at path opens with passphrase.
func decrypts(t *testing.T, path, passphrase string) bool {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err, "opening %s", path)
	defer f.Close()
	r, info, err := codec.NewReader(f, func() (string, error) { return passphrase, nil })
	if err != nil {
		return false
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err == nil && info.Encrypted
}

// TestFilePassphrase: File asks Options.Passphrase once, before it opens a
// connection or a file, and only for an encrypted archive (a .age name, in
// any case, or Config.Encrypt); a missing function or an empty answer is
// ErrNeedPassphrase, the function's error comes back as it is, and either
// leaves no file.
func TestFilePassphrase(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	ctx := context.Background()

	t.Run("encrypted", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			encrypt bool
		}{{"d.sql.gz.age", false}, {"d.sql.zst.AGE", false}, {"d.sql.gz", true}} {
			dir := t.TempDir()
			pool := freshDB(t, db)
			a := &asker{answer: "secret", db: pool, dir: dir}
			path := filepath.Join(dir, tc.name)
			res, err := File(ctx, pool, path, Config{Database: db.Name, Encrypt: tc.encrypt}, Options{Passphrase: a.ask})
			require.NoError(t, err, "File(%s, Encrypt %v)", tc.name, tc.encrypt)
			assert.Equal(t, 1, a.calls, "%s: the passphrase is asked once", tc.name)
			assert.Zero(t, a.openConns, "%s: asked before the dump opened a connection", tc.name)
			assert.Empty(t, a.files, "%s: asked before the dump created a file", tc.name)
			assert.True(t, res.File.Encrypted, "%s: the result says encrypted", tc.name)
			assert.True(t, decrypts(t, path, "secret"), "%s opens with the passphrase given", tc.name)
		}
	})

	t.Run("not encrypted", func(t *testing.T) {
		a := &asker{answer: "secret"}
		path := filepath.Join(t.TempDir(), "d.sql.gz")
		res, err := File(ctx, db.DB, path, Config{Database: db.Name}, Options{Passphrase: a.ask})
		require.NoError(t, err, "File(d.sql.gz)")
		assert.Zero(t, a.calls, "a plain archive does not ask for a passphrase")
		assert.False(t, res.File.Encrypted, "the result says not encrypted")
		b, err := os.ReadFile(path)
		require.NoError(t, err, "reading the archive")
		assert.False(t, bytes.HasPrefix(b, []byte("age-encryption.org/")), "a plain archive is not an age file")
	})

	denied := errors.New("no terminal to ask on")
	for _, tc := range []struct {
		name  string
		ask   func() (string, error)
		want  error
		calls int
	}{
		{"no function", nil, ErrNeedPassphrase, 0},
		{"empty answer", (&asker{}).ask, ErrNeedPassphrase, 1},
		{"function fails", (&asker{answer: "ignored", err: denied}).ask, denied, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pool := freshDB(t, db)
			_, err := File(ctx, pool, filepath.Join(dir, "d.sql.gz.age"), Config{Database: db.Name}, Options{Passphrase: tc.ask})
			require.ErrorIs(t, err, tc.want, "File(.age) with %s", tc.name)
			assert.Equal(t, tc.want.Error(), err.Error(), "the error comes back as it is")
			assert.Zero(t, pool.Stats().OpenConnections, "no connection was opened")
			entries, _ := os.ReadDir(dir)
			assert.Empty(t, entries, "a dump refused for its passphrase leaves no file")
		})
	}
}

// TestWriteArchivePassphrase: WriteArchive asks as File does, before it
// connects or writes a byte, and encrypts with the answer.
func TestWriteArchivePassphrase(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	pool := freshDB(t, db)
	var buf bytes.Buffer
	a := &asker{answer: "secret", db: pool}
	written := -1
	ask := func() (string, error) { written = buf.Len(); return a.ask() }
	res, err := WriteArchive(context.Background(), pool, &buf, "d.sql.zst.age", Config{Database: db.Name}, Options{Passphrase: ask})
	require.NoError(t, err, "WriteArchive(d.sql.zst.age)")
	assert.Equal(t, 1, a.calls, "the passphrase is asked once")
	assert.Zero(t, a.openConns, "asked before the dump opened a connection")
	assert.Zero(t, written, "asked before a byte was written")
	assert.True(t, res.File.Encrypted, "the result says encrypted")
	path := filepath.Join(t.TempDir(), "d.sql.zst.age")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600), "saving the archive")
	assert.True(t, decrypts(t, path, "secret"), "the archive opens with the passphrase given")

	_, err = WriteArchive(context.Background(), pool, &buf, "d.sql.zst.age", Config{Database: db.Name}, Options{})
	assert.ErrorIs(t, err, ErrNeedPassphrase, "WriteArchive(.age) without a passphrase")
}

// TestAskPassphrase: AskPassphrase asks as File would, once, and returns
// Options whose Passphrase answers without asking again, so the dump that
// follows does not ask; for a plain archive it asks nothing.
func TestAskPassphrase(t *testing.T) {
	a := &asker{answer: "secret"}
	cfg := Config{}
	opt, err := cfg.AskPassphrase("d.sql.gz.age", Options{Passphrase: a.ask, ToolVersion: "test"})
	require.NoError(t, err, "AskPassphrase(.age)")
	assert.Equal(t, 1, a.calls, "asked once")
	assert.Equal(t, "test", opt.ToolVersion, "the other options are kept")
	require.NotNil(t, opt.Passphrase, "the returned options hold a passphrase")
	for range 2 {
		pw, err := opt.Passphrase()
		require.NoError(t, err, "the returned Passphrase")
		assert.Equal(t, "secret", pw, "the returned Passphrase answers what was typed")
	}
	assert.Equal(t, 1, a.calls, "the returned Passphrase does not ask again")

	plain := &asker{answer: "secret"}
	opt, err = cfg.AskPassphrase("d.sql.gz", Options{Passphrase: plain.ask})
	require.NoError(t, err, "AskPassphrase(plain)")
	assert.Zero(t, plain.calls, "a plain archive asks nothing")
	_, err = opt.Passphrase()
	assert.Equal(t, 1, plain.calls, "the options come back as they were")
	require.NoError(t, err)

	enc := Config{Encrypt: true}
	_, err = enc.AskPassphrase("d.sql.gz", Options{})
	assert.ErrorIs(t, err, ErrNeedPassphrase, "Config.Encrypt without a function")
	_, err = enc.AskPassphrase("d.sql.gz", Options{Passphrase: (&asker{}).ask})
	assert.ErrorIs(t, err, ErrNeedPassphrase, "an empty answer")
	denied := errors.New("denied")
	_, err = enc.AskPassphrase("d.sql.gz", Options{Passphrase: (&asker{err: denied}).ask})
	assert.Equal(t, denied, err, "the function's error comes back as it is")
}

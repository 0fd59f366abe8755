package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/load"
)

// followDump dumps a fixture of a few MB of SQL with lamigrate dump and
// returns the finished archive's bytes, its manifest's and the manifest.
func followDump(t *testing.T) (archive, mbytes []byte, m *manifest.Manifest) {
	t.Helper()
	src := importFixture(t)
	src.MustExec(t,
		"CREATE TABLE qu_la_messages (id INT PRIMARY KEY, body TEXT)",
		"INSERT INTO qu_la_messages SELECT seq, REPEAT(SHA2(seq, 256), 10) FROM seq_1_to_8000")
	path := filepath.Join(t.TempDir(), "d.sql.gz")
	code, _, stderr := runCLI(t, nil, "dump", "--dsn", src.Config().FormatDSN(), "-o", path)
	require.Equal(t, 0, code, stderr)
	archive, err := os.ReadFile(path)
	require.NoError(t, err)
	mbytes, err = os.ReadFile(manifest.PathFor(path))
	require.NoError(t, err)
	m, err = manifest.Read(manifest.PathFor(path))
	require.NoError(t, err)
	return archive, mbytes, m
}

// slowWriter writes archive into path+".partial" in chunks, as a dump
// does; upto < len(archive) stops there (the writer killed), otherwise it
// renames it to path and writes the manifest last. It closes done.
func slowWriter(t *testing.T, path string, archive, mbytes []byte, upto int, delay time.Duration) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(delay)
		f, err := os.OpenFile(path+".partial", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if !assert.NoError(t, err) {
			return
		}
		chunk := len(archive)/20 + 1
		for off := 0; off < upto; off += chunk {
			end := min(off+chunk, upto)
			if _, err := f.Write(archive[off:end]); !assert.NoError(t, err) {
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
		f.Close()
		if upto < len(archive) {
			return // killed: never renamed
		}
		assert.NoError(t, os.Rename(path+".partial", path))
		if mbytes == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the manifest comes last
		assert.NoError(t, os.WriteFile(manifest.PathFor(path), mbytes, 0o600))
	}()
	return done
}

func checkImported(t *testing.T, target *mysqltest.DB, m *manifest.Manifest) {
	t.Helper()
	for _, tb := range m.Tables {
		got := digests(t, target, tb.Name)[tb.Name]
		assert.Equal(t, tb.Digest, got, "table %s", tb.Name)
	}
	var left int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", load.ProgressTable).Scan(&left))
	assert.Zero(t, left, "the progress table is dropped after a whole import")
}

func TestImportFollow(t *testing.T) {
	archive, mbytes, m := followDump(t)
	tests := []struct {
		name  string
		delay time.Duration // before the writer starts
	}{
		{"writer already writing", 0},
		{"follower started before the writer", 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.sql.gz")
			done := slowWriter(t, path, archive, mbytes, len(archive), tt.delay)
			if tt.delay == 0 {
				for _, err := os.Stat(path + ".partial"); err != nil; _, err = os.Stat(path + ".partial") {
					time.Sleep(5 * time.Millisecond)
				}
			}
			target := mysqltest.New(t)
			code, stdout, stderr := runCLI(t, nil, "--json", "import", "--follow", "--stall", "2s", "--dsn", target.Config().FormatDSN(), path, "--threads", "2")
			<-done
			require.Equal(t, 0, code, stderr)
			var res importResult
			require.NoError(t, json.Unmarshal([]byte(stdout), &res))
			assert.True(t, res.Marker)
			assert.Equal(t, manifest.PathFor(path), res.Manifest, "the manifest that came last was checked")
			assert.Equal(t, int64(len(archive)), res.ArchiveBytes)
			checkImported(t, target, m)
		})
	}
}

// TestImportFollowWriterKilled: the writer stops mid-way and never
// renames; the import stops after --stall, keeps what it committed, and a
// later import of the finished archive (not followed) continues it.
func TestImportFollowWriterKilled(t *testing.T) {
	archive, mbytes, m := followDump(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "d.sql.gz")
	done := slowWriter(t, path, archive, mbytes, len(archive)*3/4, 0)
	for _, err := os.Stat(path + ".partial"); err != nil; _, err = os.Stat(path + ".partial") {
		time.Sleep(5 * time.Millisecond)
	}
	target := mysqltest.New(t)
	dsn := target.Config().FormatDSN()
	start := time.Now()
	code, _, stderr := runCLI(t, nil, "import", "--follow", "--stall", "1s", "--dsn", dsn, path, "--threads", "2")
	<-done
	require.Equal(t, exitFailure, code, stderr)
	assert.Contains(t, stderr, "d.sql.gz.partial has not grown for 1s")
	assert.Contains(t, stderr, "its dump stopped or was killed; the tables loaded so far are kept")
	assert.Contains(t, stderr, "run the same command again")
	assert.Less(t, time.Since(start), 20*time.Second)
	var done1 int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM "+load.ProgressTable+" WHERE state = 'done'").Scan(&done1))
	assert.Positive(t, done1, "tables finished before the writer stopped stay committed")

	// The same dump finishes after all: the import continues after what it
	// committed (same command, the archive is now complete).
	require.NoError(t, os.WriteFile(path+".partial", archive, 0o600))
	require.NoError(t, os.Rename(path+".partial", path))
	require.NoError(t, os.WriteFile(manifest.PathFor(path), mbytes, 0o600))
	code, stdout, stderr := runCLI(t, nil, "--json", "import", "--dsn", dsn, path, "--threads", "2")
	require.Equal(t, 0, code, stderr)
	var res importResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.True(t, res.Resumed)
	assert.Positive(t, res.Skipped)
	checkImported(t, target, m)
}

func TestImportFollowFailures(t *testing.T) {
	archive, mbytes, _ := followDump(t)
	t.Run("partial vanished", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.sql.gz")
		done := slowWriter(t, path, archive, mbytes, len(archive)/2, 0)
		go func() {
			<-done
			os.Remove(path + ".partial") // a failed dump removes its partial file
		}()
		target := mysqltest.New(t)
		dsn := target.Config().FormatDSN()
		code, _, stderr := runCLI(t, nil, "import", "--follow", "--stall", "5s", "--dsn", dsn, path)
		require.Equal(t, exitFailure, code, stderr)
		assert.Contains(t, stderr, "d.sql.gz.partial vanished at ")
		assert.Contains(t, stderr, "without d.sql.gz taking its place: its dump failed")
		assert.Contains(t, stderr, "run the same command with --force")
		var left int
		require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", load.ProgressTable).Scan(&left))
		assert.Zero(t, left, "the progress of a dump that can never finish is dropped")
	})
	t.Run("no dump starts", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.sql.gz")
		target := mysqltest.New(t)
		code, _, stderr := runCLI(t, nil, "import", "--follow", "--stall", "1s", "--dsn", target.Config().FormatDSN(), path)
		require.Equal(t, exitFailure, code, stderr)
		assert.Contains(t, stderr, "d.sql.gz.partial did not appear (or stayed empty) for 1s: no dump is writing d.sql.gz: start the dump, then run the same command again")
	})
	t.Run("manifest of another dump", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.sql.gz")
		other, err := manifest.Parse(mbytes, "m")
		require.NoError(t, err)
		other.SQL.XXH3 = "0123456789abcdef0123456789abcdef"
		done := slowWriter(t, path, archive, nil, len(archive), 0)
		go func() {
			<-done
			assert.NoError(t, manifest.Write(manifest.PathFor(path), other))
		}()
		target := mysqltest.New(t)
		code, _, stderr := runCLI(t, nil, "import", "--follow", "--stall", "3s", "--dsn", target.Config().FormatDSN(), path)
		require.Equal(t, exitFailure, code, stderr)
		assert.Contains(t, stderr, "the manifest belongs to another dump")
	})
}

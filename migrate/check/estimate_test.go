package check

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// TestSizeEstimateWithinAFifthOfTheDump compares check's estimate of the
// SQL stream with what dump.File then writes, on the demo's database
// (lagen, 64 MiB, seed 1), on a lagen database whose attachments the old
// eight-place sample missed by 31%, and on public samples no one here
// wrote (every table's rows in the publishers' own shape).
func TestSizeEstimateWithinAFifthOfTheDump(t *testing.T) {
	cases := []struct {
		name string
		load func(t *testing.T, db *mysqltest.DB)
	}{
		{"demo database (lagen 64 MiB, seed 1)", lagenDB(64<<20, 1)},
		{"uneven attachments (lagen 64 MiB, seed 3)", lagenDB(64<<20, 3)},
		{"world-geo and employees samples", sampleDB("", "world-geo.sql.gz", "employees-large.sql.gz")},
		{"sakila sample", sampleDB("sakila", "sakila-schema.sql.gz", "sakila-data.sql.gz")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := mysqltest.New(t)
			tc.load(t, db)
			rep, err := Run(context.Background(), db.DB, Config{Cron: &isolate.CronOptions{Files: []string{}}, CrontabCommand: []string{}})
			require.NoError(t, err, "check")
			res, err := dump.File(context.Background(), db.DB, filepath.Join(t.TempDir(), "d.sql.gz"), dump.Config{Database: db.Name}, dump.Options{})
			require.NoError(t, err, "the dump the estimate is compared with")
			s := rep.Facts.Size
			r := float64(s.SQLBytes) / float64(res.SQL.Bytes)
			t.Logf("check: SQL %d, archive %d; dump: SQL %d, archive %d; SQL %.3f×, archive %.3f×",
				s.SQLBytes, s.ArchiveBytes, res.SQL.Bytes, res.File.Size, r, float64(s.ArchiveBytes)/float64(res.File.Size))
			assert.Positive(t, s.SampledTables, "tables sampled")
			assert.InDelta(t, 1, r, 0.2, "check's SQL estimate %d against the dump's %d bytes", s.SQLBytes, res.SQL.Bytes)
		})
	}
}

func lagenDB(size int64, seed uint64) func(t *testing.T, db *mysqltest.DB) {
	return func(t *testing.T, db *mysqltest.DB) {
		_, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: size, Seed: seed})
		require.NoError(t, err, "lagen.Generate")
	}
}

// sampleDB loads public sample files with the stock client (see
// mysqltest.SampleSQL).
func sampleDB(schema string, files ...string) func(t *testing.T, db *mysqltest.DB) {
	return func(t *testing.T, db *mysqltest.DB) {
		file := mysqltest.SampleSQL(t, db, schema, files...)
		client := mysqltest.Tool(t, "mariadb", "mysql")
		cfg := db.Config()
		args := []string{"--user=" + cfg.User, "--max-allowed-packet=1G"}
		if cfg.Net == "unix" {
			args = append(args, "--socket="+cfg.Addr)
		} else {
			host, port, _ := strings.Cut(cfg.Addr, ":")
			args = append(args, "--host="+host, "--port="+port)
		}
		cmd := exec.Command(client, append(args, db.Name)...)
		in, err := os.Open(file)
		require.NoError(t, err, "opening the sample SQL")
		defer in.Close()
		cmd.Stdin = in
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "loading %s with %s: %s", strings.Join(files, ", "), client, out)
	}
}

// TestSizeEstimateSamplesTheTablesLargestOnDisk: right after a load
// InnoDB can show 16 KiB of DATA_LENGTH for a table of megabytes (here
// made to last: no automatic recalculation); the tables to sample are
// chosen by what their tablespace files hold, so that table is still
// measured rather than taken at 16 KiB.
func TestSizeEstimateSamplesTheTablesLargestOnDisk(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE a_small (id INT PRIMARY KEY, note VARCHAR(40))",
		"INSERT INTO a_small VALUES (1, 'one'), (2, 'two')",
		"CREATE TABLE b_small (id INT PRIMARY KEY, note VARCHAR(40))",
		"INSERT INTO b_small VALUES (1, 'one')",
		"CREATE TABLE z_large (id INT PRIMARY KEY, body TEXT) STATS_PERSISTENT=1 STATS_AUTO_RECALC=0",
		"INSERT INTO z_large SELECT seq, REPEAT(MD5(seq), 40) FROM seq_1_to_2000")
	var data int64
	require.NoError(t, db.QueryRow("SELECT DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'z_large'").Scan(&data), "z_large's DATA_LENGTH")
	t.Logf("z_large: DATA_LENGTH %d", data)
	rep, err := Run(context.Background(), db.DB, Config{Cron: &isolate.CronOptions{Files: []string{}}, CrontabCommand: []string{}, SampleTables: 2})
	require.NoError(t, err, "check")
	res, err := dump.File(context.Background(), db.DB, filepath.Join(t.TempDir(), "d.sql.gz"), dump.Config{Database: db.Name}, dump.Options{})
	require.NoError(t, err, "the dump the estimate is compared with")
	for _, tf := range rep.Facts.Tables {
		if tf.Name == "z_large" {
			assert.True(t, tf.Sampled, "z_large (%d bytes on disk by DATA_LENGTH, %d rows) was not sampled", tf.DataBytes, tf.Rows)
		}
	}
	s := rep.Facts.Size
	assert.InDelta(t, 1, float64(s.SQLBytes)/float64(res.SQL.Bytes), 0.2, "check's SQL estimate %d against the dump's %d bytes", s.SQLBytes, res.SQL.Bytes)
}

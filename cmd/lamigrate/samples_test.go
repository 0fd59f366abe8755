package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestSakilaToAManagedCloudUser is the issue-17 path end to end through
// the CLI, on a schema no one here wrote: MySQL's sakila sample (views,
// triggers, procedures, functions, GEOMETRY, FULLTEXT) is dumped, refused
// to a cloud-style user (no SUPER / SET USER) before any table exists,
// imported with --strip-definers, and proved equal row for row.
func TestSakilaToAManagedCloudUser(t *testing.T) {
	src := mysqltest.New(t)
	sample := mysqltest.SampleSQL(t, src, "sakila", "sakila-schema.sql.gz", "sakila-data.sql.gz")
	client := mysqltest.Tool(t, "mariadb", "mysql")
	cfg := src.Config()
	load := exec.Command("sh", "-c", `"$0" --user="$1" --socket="$2" "$3" < "$4"`, client, cfg.User, cfg.Addr, src.Name, sample)
	load.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	if cfg.Net != "unix" {
		host, port, _ := strings.Cut(cfg.Addr, ":")
		load = exec.Command("sh", "-c", `"$0" --user="$1" --host="$2" --port="$3" "$4" < "$5"`, client, cfg.User, host, port, src.Name, sample)
		load.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	}
	out, err := load.CombinedOutput()
	require.NoError(t, err, "loading sakila: %s", out)

	archive := filepath.Join(t.TempDir(), "sakila.sql.zst")
	code, stdout, stderr := runCLI(t, map[string]string{"MYSQL_PWD": cfg.Passwd}, "-q", "dump", "--dsn", dsnWithoutPassword(cfg), "-o", archive)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "3 procedures, 3 functions")

	dst := mysqltest.New(t)
	cloud, account := cloudAccount(t, dst)
	code, _, stderr = runCLI(t, nil, "-q", "import", "--dsn", cloud.FormatDSN(), archive)
	require.Equal(t, exitFailure, code, stderr)
	assert.Contains(t, stderr, "--strip-definers")
	assert.Equal(t, 0, tableCountOf(t, dst), "a refused import created tables")

	code, _, stderr = runCLI(t, nil, "-q", "import", "--dsn", cloud.FormatDSN(), "--strip-definers", archive)
	require.Equal(t, 0, code, stderr)
	code, stdout, stderr = runCLI(t, nil, "-q", "verify", archive, "--dsn", cloud.FormatDSN())
	require.Equal(t, 0, code, "verify --dsn: %s\n%s", stderr, stdout)
	assert.Contains(t, stdout, "note: definer differs from the source (same definition)")
	for what, definer := range definers(t, dst) {
		assert.True(t, strings.HasPrefix(definer, account), "%s has definer %s; want %s", what, definer, account)
	}
}

func dsnWithoutPassword(cfg interface{ FormatDSN() string }) string {
	d, _ := withoutPassword(cfg.FormatDSN())
	return d
}

func tableCountOf(t *testing.T, db *mysqltest.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n))
	return n
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
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

// TestSakilaDeltaToAManagedCloudUser: after the full copy, a day of changes
// on sakila (its triggers fire on the source, its foreign keys cascade and
// set NULL) travels as a delta: dump --since, imported by the cloud-style
// user with --strip-definers after the base check, and verified row for
// row; the triggers did not fire again in the cloud.
func TestSakilaDeltaToAManagedCloudUser(t *testing.T) {
	src := mysqltest.New(t)
	sample := mysqltest.SampleSQL(t, src, "sakila", "sakila-schema.sql.gz", "sakila-data.sql.gz")
	client := mysqltest.Tool(t, "mariadb", "mysql")
	cfg := src.Config()
	if cfg.Net != "unix" {
		t.Fatalf("this test loads sakila over the server's socket; the test server is at %s %s", cfg.Net, cfg.Addr)
	}
	load := exec.Command("sh", "-c", `"$0" --user="$1" --socket="$2" "$3" < "$4"`, client, cfg.User, cfg.Addr, src.Name, sample)
	load.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	out, err := load.CombinedOutput()
	require.NoError(t, err, "loading sakila: %s", out)
	env := map[string]string{"MYSQL_PWD": cfg.Passwd}
	dsn := dsnWithoutPassword(cfg)
	dir := t.TempDir()
	base := filepath.Join(dir, "sakila.sql.zst")
	code, _, stderr := runCLI(t, env, "-q", "dump", "--dsn", dsn, "-o", base)
	require.Equal(t, 0, code, stderr)
	dst := mysqltest.New(t)
	cloud, _ := cloudAccount(t, dst)
	code, _, stderr = runCLI(t, nil, "-q", "import", "--dsn", cloud.FormatDSN(), "--strip-definers", base)
	require.Equal(t, 0, code, stderr)

	src.MustExec(t,
		// film's triggers keep film_text in step on the source
		"UPDATE film SET title = CONCAT(title, ' II'), last_update = '2026-12-07 10:00:00' WHERE film_id % 50 = 0",
		"INSERT INTO film (title, language_id, last_update) VALUES ('A NEW FILM', 1, '2026-12-07 10:00:00')",
		// rental → payment is ON DELETE SET NULL: payments change too
		"DELETE FROM rental WHERE rental_id % 500 = 0",
		"INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id, last_update) VALUES ('2026-12-07 09:00:00', 1, 1, 1, '2026-12-07 10:00:00')",
		"UPDATE customer SET email = LOWER(email), last_update = '2026-12-07 10:00:00' WHERE customer_id < 40",
		"DELETE FROM film_actor WHERE actor_id = 1",
	)
	delta := filepath.Join(dir, "sakila.delta.sql.zst")
	code, stdout, stderr := runCLI(t, env, "-q", "dump", "--dsn", dsn, "-o", delta, "--since", manifest.PathFor(base))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "delta:    since sakila.sql.zst: ")
	assert.Contains(t, stdout, "quiet:    nothing wrote")

	var filmTextBefore int
	require.NoError(t, dst.QueryRow("SELECT COUNT(*) FROM film_text").Scan(&filmTextBefore))
	code, stdout, stderr = runCLI(t, nil, "-q", "import", "--dsn", cloud.FormatDSN(), "--strip-definers", delta)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "delta: the target held its base")
	code, stdout, stderr = runCLI(t, nil, "-q", "verify", delta, "--dsn", cloud.FormatDSN())
	require.Equal(t, 0, code, "verify --dsn of the delta: %s\n%s", stderr, stdout)
	var filmText, films int
	require.NoError(t, dst.QueryRow("SELECT COUNT(*) FROM film_text").Scan(&filmText))
	require.NoError(t, dst.QueryRow("SELECT COUNT(*) FROM film").Scan(&films))
	assert.Equal(t, filmTextBefore+1, filmText, "film_text: the source's trigger row came with the delta, no second one from the cloud's trigger")
	assert.Equal(t, films, filmText)
	// Again: nothing to do.
	code, stdout, stderr = runCLI(t, nil, "-q", "import", "--dsn", cloud.FormatDSN(), "--strip-definers", delta)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "is already applied to")
}

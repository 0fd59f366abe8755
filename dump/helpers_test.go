package dump

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// setup runs statements on one connection (session settings carry over).
func setup(t *testing.T, db *mysqltest.DB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err, "a connection to %s", db.Name)
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("exec %.300s: %v", s, err)
		}
	}
}

// clientArgs are the stock client's connection options for cfg.
func clientArgs(cfg *mysql.Config) []string {
	args := []string{"--user=" + cfg.User}
	switch cfg.Net {
	case "unix":
		args = append(args, "--socket="+cfg.Addr)
	default:
		host, port, _ := strings.Cut(cfg.Addr, ":")
		args = append(args, "--protocol=tcp", "--host="+host)
		if port != "" {
			args = append(args, "--port="+port)
		}
	}
	return args
}

// loadWithClient pipes shell decompression of file into the stock client,
// as a person following the procedure would.
func loadWithClient(t *testing.T, decompress, file string, dst *mysqltest.DB) {
	t.Helper()
	client := mysqltest.Tool(t, "mariadb", "mysql")
	cfg := dst.Config()
	args := append(clientArgs(cfg), "--max-allowed-packet=1G", cfg.DBName)
	cmd := exec.Command("sh", append([]string{"-c", decompress + ` < "$0" | "$@"`, file, client}, args...)...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("loading %s with %s: %v\n%s", filepath.Base(file), client, err, out)
	}
}

// utcConn is a connection to db with a UTC session, as verify reads.
func utcConn(t *testing.T, db *mysqltest.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err, "a connection to %s", db.Name)
	t.Cleanup(func() { conn.Close() })
	_, err = conn.ExecContext(context.Background(), "SET time_zone = '+00:00'")
	require.NoError(t, err, "setting the time zone of a connection to %s", db.Name)
	return conn
}

// compareTables checks that every table of the manifest has the same rows
// (by count and digest, mysqltest.DB.Digests) in src, in dst and in the
// manifest, and the same structure.
func compareTables(t *testing.T, m *manifest.Manifest, src, dst *mysqltest.DB) {
	t.Helper()
	if len(m.Tables) == 0 {
		return
	}
	var names []string
	for _, tb := range m.Tables {
		names = append(names, tb.Name)
	}
	sds, dds := src.Digests(t, names...), dst.Digests(t, names...)
	sc, dc := utcConn(t, src), utcConn(t, dst)
	for _, tb := range m.Tables {
		sd, dd := sds[tb.Name], dds[tb.Name]
		sr, dr := rowCount(t, sc, tb.Name), rowCount(t, dc, tb.Name)
		if sd != tb.Digest || sr != tb.Rows {
			t.Errorf("manifest table %s = %s (%d rows); source has %s (%d rows)", tb.Name, tb.Digest, tb.Rows, sd, sr)
		}
		if dd != sd || dr != sr {
			t.Errorf("loaded table %s = %s (%d rows); want %s (%d rows)", tb.Name, dd, dr, sd, sr)
		}
		if a, b := showCreate(t, sc, tb.Name), showCreate(t, dc, tb.Name); a != b {
			t.Errorf("SHOW CREATE TABLE %s differs:\nsource: %s\nloaded: %s", tb.Name, a, b)
		}
	}
}

// rowCount counts the rows of table over c.
func rowCount(t *testing.T, c *sql.Conn, table string) int64 {
	t.Helper()
	var n int64
	err := c.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM `"+strings.ReplaceAll(table, "`", "``")+"`").Scan(&n)
	require.NoError(t, err, "counting the rows of %s", table)
	return n
}

func showCreate(t *testing.T, c *sql.Conn, table string) string {
	t.Helper()
	var n, s string
	if err := c.QueryRowContext(context.Background(), "SHOW CREATE TABLE `"+strings.ReplaceAll(table, "`", "``")+"`").Scan(&n, &s); err != nil {
		t.Fatalf("SHOW CREATE TABLE %s: %v", table, err)
	}
	return s
}

func queryStrings(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string) []string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...), "%s", query)
		var parts []string
		for _, v := range vals {
			if !v.Valid {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, v.String)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rows.Err(), "%s", query)
	return out
}

// dumpFile runs File into a temp folder and returns the archive's path and manifest.
func dumpFile(t *testing.T, db *mysqltest.DB, name string, cfg Config, opt Options) (string, *manifest.Manifest, *Result) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	cfg.Database = db.Name
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := File(ctx, db.DB, path, cfg, opt)
	if err != nil {
		t.Fatalf("File(%s) = %v", name, err)
	}
	m, err := manifest.Read(manifest.PathFor(path))
	require.NoError(t, err, "reading the manifest of %s", name)
	return path, m, res
}

// dumpSQL is dumpFile into a plain .sql file that also checks the number
// of connections used, and returns the SQL without the dump's own
// timestamp line and what follows it (the marker), and with its run's id
// blanked, for comparing dumps.
func dumpSQL(t *testing.T, db *mysqltest.DB, name string, cfg Config, opt Options) (text, path string, m *manifest.Manifest) {
	t.Helper()
	path, m, res := dumpFile(t, db, name, cfg, opt)
	if res.Connections != cfg.Connections {
		t.Errorf("%s: Result.Connections = %d; want %d", name, res.Connections, cfg.Connections)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err, "reading the dump %s", name)
	return withoutRunID(dumpTail.ReplaceAllString(string(b), "")), path, m
}

var dumpTail = regexp.MustCompile(`(?m)^-- Dump completed on .*\n(.|\n)*`)

// runIDLine is the header line that identifies a dump's run.
var runIDLine = regexp.MustCompile(`(?m)^` + DumpIDPrefix + `[0-9a-f]{32}$`)

// withoutRunID blanks the run's id in a dump's text: the one line in
// which two dumps of the same data differ (but for the time at the end).
func withoutRunID(s string) string { return runIDLine.ReplaceAllString(s, DumpIDPrefix+"…") }

package mysqltest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/rowhash"
)

func TestNewGivesEmptyPrivateDatabase(t *testing.T) {
	a := New(t)
	b := New(t)
	require.NotEqual(t, a.Name, b.Name, "New twice must give two databases")
	a.MustExec(t, "CREATE TABLE x (id INT)", "INSERT INTO x VALUES (1)")
	var n int
	require.NoError(t, b.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n),
		"counting the tables of the second database")
	assert.Zero(t, n, "a fresh database has no tables, whatever another test database holds")
	assert.Equal(t, a.Name, a.Config().DBName, "Config() selects the test database")
}

// The fallback used on machines without a running server must itself work.
func TestThrowawayServer(t *testing.T) {
	if _, err := lookSbin("mariadbd", "mysqld"); err != nil {
		Unavailable(t, "mariadbd: %v", err)
	}
	cfg, err := startThrowaway()
	require.NoError(t, err, "starting a throwaway mariadbd")
	db, err := open(cfg)
	require.NoError(t, err, "connecting to the throwaway mariadbd")
	db.Close()
}

// Digests reads TIMESTAMPs in UTC whatever the session time zone of the
// pool, and lists every base table (not views) when none is named.
func TestDigests(t *testing.T) {
	db := New(t)
	db.MustExec(t,
		"CREATE TABLE ts (id INT PRIMARY KEY, at TIMESTAMP NULL)",
		"INSERT INTO ts VALUES (1, '2025-03-12 09:00:00'), (2, NULL)",
		"CREATE TABLE plain (id INT PRIMARY KEY, s VARCHAR(10))",
		"INSERT INTO plain VALUES (1, 'a')",
		"CREATE VIEW v AS SELECT id FROM plain")

	ctx := context.Background()
	digestAt := func(tz string) string {
		conn, err := db.Conn(ctx)
		require.NoError(t, err, "a connection for the digest at %s", tz)
		defer conn.Close()
		_, err = conn.ExecContext(ctx, "SET time_zone = '"+tz+"'")
		require.NoError(t, err, "setting time_zone %s", tz)
		d, err := rowhash.Table(ctx, conn, db.Name, "ts")
		require.NoError(t, err, "digesting ts at %s", tz)
		return d.String()
	}
	utc, east := digestAt("+00:00"), digestAt("+05:00")
	require.NotEqual(t, utc, east, "the test needs a table whose digest depends on the time zone")

	all := db.Digests(t)
	assert.Equal(t, []string{"plain", "ts"}, keys(all), "every base table, not the view")
	assert.Equal(t, utc, all["ts"], "the digest is read at +00:00")
	assert.Equal(t, map[string]string{"ts": utc}, db.Digests(t, "ts"), "only the named table")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

package mysqltest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Digests returns the row digest (rowhash.Table) of each named table, or
// of every base table of the database when none is named, keyed by table
// name. It reads them on one connection with time_zone '+00:00', which the
// row digest needs: a TIMESTAMP reads differently in another time zone.
// The digests of a database before and after a change, or of a source and
// its imported copy, are equal exactly when the rows are.
func (d *DB) Digests(t testing.TB, tables ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := d.Conn(ctx)
	require.NoError(t, err, "mysqltest: a connection to digest %s", d.Name)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET time_zone = '+00:00'")
	require.NoError(t, err, "mysqltest: setting the time zone the row digest needs")
	if len(tables) == 0 {
		rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1")
		require.NoError(t, err, "mysqltest: listing the tables of %s", d.Name)
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n), "mysqltest: listing the tables of %s", d.Name)
			tables = append(tables, n)
		}
		require.NoError(t, rows.Err(), "mysqltest: listing the tables of %s", d.Name)
		rows.Close()
	}
	out := make(map[string]string, len(tables))
	for _, tb := range tables {
		dg, err := rowhash.Table(ctx, conn, d.Name, tb)
		require.NoError(t, err, "mysqltest: digesting table %s", tb)
		out[tb] = dg.String()
	}
	return out
}

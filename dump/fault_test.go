package dump

// Faults a real MariaDB cannot be made to produce at a chosen moment,
// injected with go-sqlmock: the connection lost in the middle of a table's
// rows, and error 1412 inside the snapshot. The mock plays the whole
// one-connection dump (File and Stream with Connections 1), so the error
// travels the real path: rows → unit → produce → the pipe → File's cleanup.
// The same failures against the real server (KILL, ALTER TABLE during the
// dump) are in failure_test.go.

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// faultRows is how many rows the mocked table yields before the fault:
// more than batchRows, so a batch is on its way to the writer when the
// connection goes.
const faultRows = batchRows + 100

// expectDumpUntilRows scripts, in order, every statement a one-connection
// dump of database db holding the one table `t` (id INT, v VARCHAR) issues
// up to the SELECT of its rows, and returns that SELECT's expectation.
func expectDumpUntilRows(mock sqlmock.Sqlmock, db string) *sqlmock.ExpectedQuery {
	q := regexp.QuoteMeta
	ok := sqlmock.NewResult(0, 0)
	for _, s := range sessionSQL(db) {
		mock.ExpectExec("^" + q(s) + "$").WillReturnResult(ok)
	}
	mock.ExpectExec("^" + q(startSnapshot) + "$").WillReturnResult(ok)
	mock.ExpectQuery(`^SELECT VERSION\(\), @@version_comment`).WillReturnRows(
		sqlmock.NewRows([]string{"VERSION()", "@@version_comment", "@@hostname", "@@global.time_zone", "@@system_time_zone"}).
			AddRow("10.11.6-MariaDB", "mariadb.org binary distribution", "mock", "SYSTEM", "UTC"))
	mock.ExpectQuery(`FROM information_schema\.TABLES WHERE TABLE_SCHEMA = \?`).WithArgs(db).WillReturnRows(
		sqlmock.NewRows([]string{"TABLE_NAME", "TABLE_TYPE", "ENGINE", "TABLE_ROWS", "DATA_LENGTH"}).
			AddRow("t", "BASE TABLE", "InnoDB", int64(faultRows), int64(16384)))
	mock.ExpectQuery(`FROM information_schema\.TRIGGERS`).WithArgs(db).WillReturnRows(
		sqlmock.NewRows([]string{"TRIGGER_NAME", "EVENT_OBJECT_TABLE"}))
	mock.ExpectQuery(`FROM information_schema\.STATISTICS\s+WHERE TABLE_SCHEMA = \?`).WithArgs(db).WillReturnRows(
		sqlmock.NewRows([]string{"TABLE_NAME", "INDEX_NAME", "COLUMN_NAME", "NON_UNIQUE", "PREFIX", "NULLABLE"}).
			AddRow("t", "PRIMARY", "id", 0, false, ""))
	mock.ExpectExec(`^SAVEPOINT lamigrate_sp$`).WillReturnResult(ok)
	mock.ExpectQuery("^SHOW CREATE TABLE `t`$").WillReturnRows(
		sqlmock.NewRows([]string{"Table", "Create Table"}).
			AddRow("t", "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `v` varchar(10) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB"))
	mock.ExpectQuery(`FROM information_schema\.COLUMNS WHERE TABLE_SCHEMA = \? AND TABLE_NAME = \?`).WithArgs(db, "t").WillReturnRows(
		sqlmock.NewRows([]string{"COLUMN_NAME", "DATA_TYPE", "COLUMN_TYPE", "EXTRA"}).
			AddRow("id", "int", "int(11)", "").
			AddRow("v", "varchar", "varchar(10)", ""))
	return mock.ExpectQuery("^SELECT .* FROM `t` ORDER BY `id`$")
}

// rowsThenFault yields faultRows rows of `t`, then err from rows.Next.
func rowsThenFault(err error) *sqlmock.Rows {
	r := sqlmock.NewRows([]string{"id", "v"})
	for i := range faultRows + 1 {
		r.AddRow([]byte(strconv.Itoa(i)), []byte("row"+strconv.Itoa(i)))
	}
	return r.RowError(faultRows, err)
}

func newMock(t *testing.T) (*sql.DB, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, mock
}

var error1412 = &mysql.MySQLError{Number: 1412, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
	Message: "Table definition has changed, please retry transaction"}

// faultCases are the injected faults and what the error must say.
var faultCases = []struct {
	name   string
	script func(sel *sqlmock.ExpectedQuery)
	err    error    // errors.Is target
	want   []string // in the message
}{
	{
		name:   "bad connection mid-rows",
		script: func(sel *sqlmock.ExpectedQuery) { sel.WillReturnRows(rowsThenFault(driver.ErrBadConn)) },
		err:    driver.ErrBadConn,
		want:   []string{"dump: table `t`: lost the connection to the server", "run the dump again"},
	},
	{
		name:   "invalid connection mid-rows",
		script: func(sel *sqlmock.ExpectedQuery) { sel.WillReturnRows(rowsThenFault(mysql.ErrInvalidConn)) },
		err:    mysql.ErrInvalidConn,
		want:   []string{"dump: table `t`: lost the connection to the server", "run the dump again"},
	},
	{
		name:   "unexpected EOF mid-rows",
		script: func(sel *sqlmock.ExpectedQuery) { sel.WillReturnRows(rowsThenFault(io.ErrUnexpectedEOF)) },
		err:    io.ErrUnexpectedEOF,
		want:   []string{"dump: table `t`: lost the connection to the server", "run the dump again"},
	},
	{
		name:   "1412 on the rows' SELECT",
		script: func(sel *sqlmock.ExpectedQuery) { sel.WillReturnError(error1412) },
		err:    error1412,
		want:   []string{"dump: table `t`:", "1412", "altered or re-created during the dump", "run the dump again"},
	},
	{
		name:   "1412 mid-rows",
		script: func(sel *sqlmock.ExpectedQuery) { sel.WillReturnRows(rowsThenFault(error1412)) },
		err:    error1412,
		want:   []string{"dump: table `t`:", "1412", "altered or re-created during the dump", "run the dump again"},
	},
}

func checkFaultError(t *testing.T, err error, target error, want []string) {
	t.Helper()
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.ErrorIs(t, err, target)
	var te *TableError
	if assert.ErrorAs(t, err, &te) {
		assert.Equal(t, "t", te.Table)
	}
	assert.NotContains(t, err.Error(), "\n", "one line")
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

// TestFileFaultMidRows: File leaves neither FILE, FILE.partial nor a
// manifest, and returns one error naming the table.
func TestFileFaultMidRows(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			db, mock := newMock(t)
			tc.script(expectDumpUntilRows(mock, "app"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dir := t.TempDir()
			path := filepath.Join(dir, "app.sql.gz")
			res, err := File(ctx, db, path, Config{Database: "app", Connections: 1}, Options{})
			assert.Nil(t, res)
			checkFaultError(t, err, tc.err, tc.want)
			entries, rerr := os.ReadDir(dir)
			require.NoError(t, rerr)
			assert.Empty(t, entries, "files left after a failed dump")
			// The fault struck the rows' SELECT: nothing after it ran
			// (the snapshot's ROLLBACK may or may not reach a dead
			// connection, so it is not scripted).
			assert.NoError(t, mock.ExpectationsWereMet())
		})
	}
}

// TestStreamFaultMidRows: what Stream wrote before the fault carries no
// completion marker and no "Dump completed" line.
func TestStreamFaultMidRows(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			db, mock := newMock(t)
			tc.script(expectDumpUntilRows(mock, "app"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			var out bytes.Buffer
			res, err := Stream(ctx, conn, &out, Config{Database: "app"}, Options{})
			assert.Nil(t, res)
			checkFaultError(t, err, tc.err, tc.want)
			assert.NotContains(t, out.String(), manifest.MarkerPrefix)
			assert.NotContains(t, out.String(), "Dump completed")
			assert.NoError(t, mock.ExpectationsWereMet())
		})
	}
}

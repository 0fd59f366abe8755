package verify

// The server gone during a database check (verify --dsn), injected with
// go-sqlmock at each query the check makes: the driver's "invalid
// connection" returned by rows.Next in the middle of a result. The check
// must end with an error and its report as far as it got: never OK, the
// tables read whole judged, the others unchecked, never a difference (a
// table, trigger or routine the broken result did not list is not
// "missing"). The real-server checks are in database_test.go.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

const (
	mockSchema = "app"
	mockRows   = 50
	funcStmt   = "CREATE DEFINER=`root`@`localhost` FUNCTION `f`() RETURNS int(11)\nRETURN 1"
	funcMode   = "STRICT_TRANS_TABLES"
)

// mockTable is row i of the mocked tables `t` and `u`.
func mockRow(i int) []driver.Value {
	return []driver.Value{[]byte(strconv.Itoa(i)), []byte("v" + strconv.Itoa(i))}
}

// mockManifest records the mocked database as it is: checked to the end,
// it verifies OK.
func mockManifest() *Manifest {
	var d rowhash.Digest
	for i := range mockRows {
		r := mockRow(i)
		d.AddRaw([]sql.RawBytes{r[0].([]byte), r[1].([]byte)})
	}
	return &Manifest{Format: manifest.FormatVersion, Database: mockSchema,
		Tables: []manifest.Table{
			{Name: "t", Rows: mockRows, Digest: d.String(), Consistent: true},
			{Name: "u", Rows: mockRows, Digest: d.String(), Consistent: true},
		},
		Triggers: []string{"t_ai", "u_ai"},
		Routines: []manifest.Object{{Type: "FUNCTION", Name: "f", Definer: "`root`@`localhost`",
			Digest: manifest.DefinitionDigest("FUNCTION", funcStmt, funcMode)}},
	}
}

// Where the connection breaks.
const (
	noFault = iota
	faultTables
	faultRowsOfT
	faultRowsOfU
	faultTriggers
	faultRoutines
	faultShowCreate
)

// rowsBreakingAt returns rows of cols whose row k breaks the connection
// (k < 0: no fault).
func rowsBreakingAt(cols []string, rows [][]driver.Value, k int) *sqlmock.Rows {
	r := sqlmock.NewRows(cols)
	for _, row := range rows {
		r.AddRow(row...)
	}
	if k >= 0 {
		if k >= len(rows) {
			r.AddRow(make([]driver.Value, len(cols))...)
		}
		r.RowError(k, mysql.ErrInvalidConn)
	}
	return r
}

// scriptCheck expects, in order, what Database(Connections 1, Schema app)
// asks of the mocked database, the connection breaking at fault (nothing
// is expected after it).
func scriptCheck(mock sqlmock.Sqlmock, fault int) {
	at := func(f, k int) int {
		if f == fault {
			return k
		}
		return -1
	}
	mock.ExpectQuery(`FROM information_schema\.TABLES WHERE TABLE_SCHEMA = \?`).WithArgs(mockSchema).WillReturnRows(
		rowsBreakingAt([]string{"TABLE_NAME", "TABLE_TYPE", "DATA_LENGTH"},
			[][]driver.Value{{"t", "BASE TABLE", int64(32768)}, {"u", "BASE TABLE", int64(16384)}}, at(faultTables, 1)))
	if fault == faultTables {
		return
	}
	mock.ExpectExec(`^SET time_zone = '\+00:00'$`).WillReturnResult(sqlmock.NewResult(0, 0))
	var data [][]driver.Value
	for i := range mockRows {
		data = append(data, mockRow(i))
	}
	for _, tc := range []struct {
		name  string
		fault int
	}{{"t", faultRowsOfT}, {"u", faultRowsOfU}} {
		mock.ExpectQuery(`FROM information_schema\.COLUMNS`).WithArgs(mockSchema, tc.name).WillReturnRows(
			sqlmock.NewRows([]string{"COLUMN_NAME", "DATA_TYPE", "COLUMN_TYPE", "EXTRA"}).
				AddRow("id", "int", "int(11)", "").AddRow("v", "varchar", "varchar(10)", ""))
		mock.ExpectQuery("^SELECT .* FROM `app`.`" + tc.name + "`$").WillReturnRows(
			rowsBreakingAt([]string{"id", "v"}, data, at(tc.fault, mockRows/2)))
		if fault == tc.fault {
			return
		}
	}
	mock.ExpectQuery(`FROM information_schema\.TRIGGERS`).WithArgs(mockSchema).WillReturnRows(
		rowsBreakingAt([]string{"TRIGGER_NAME"}, [][]driver.Value{{"t_ai"}, {"u_ai"}}, at(faultTriggers, 1)))
	if fault == faultTriggers {
		return
	}
	mock.ExpectQuery(`FROM information_schema\.ROUTINES`).WithArgs(mockSchema).WillReturnRows(
		rowsBreakingAt([]string{"ROUTINE_TYPE", "ROUTINE_NAME"}, [][]driver.Value{{"FUNCTION", "f"}}, at(faultRoutines, 1)))
	if fault == faultRoutines {
		return
	}
	mock.ExpectQuery("^SHOW CREATE FUNCTION `app`.`f`$").WillReturnRows(
		rowsBreakingAt([]string{"Function", "sql_mode", "Create Function", "character_set_client", "collation_connection", "Database Collation"},
			[][]driver.Value{{"f", funcMode, funcStmt, "utf8mb4", "utf8mb4_general_ci", "utf8mb4_general_ci"}}, at(faultShowCreate, 0)))
}

func TestDatabaseServerGone(t *testing.T) {
	t.Run("no fault: the script is the whole check", func(t *testing.T) {
		db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
		require.NoError(t, err)
		defer db.Close()
		scriptCheck(mock, noFault)
		rep, err := Database(context.Background(), db, mockManifest(), Options{Schema: mockSchema, Connections: 1})
		require.NoError(t, err)
		assert.True(t, rep.OK)
		assert.Equal(t, int64(2*mockRows), rep.Rows)
		assert.NoError(t, mock.ExpectationsWereMet())
	})
	cases := []struct {
		name   string
		fault  int
		want   string   // what the check was doing
		tables []string // the statuses of t and u in the report
	}{
		{"listing tables", faultTables, "verify: listing tables of `app`: invalid connection", []string{StatusUnchecked, StatusUnchecked}},
		{"reading the first table's rows", faultRowsOfT, "verify: reading `t`: invalid connection", []string{StatusUnchecked, StatusUnchecked}},
		{"reading the second table's rows", faultRowsOfU, "verify: reading `u`: invalid connection", []string{StatusOK, StatusUnchecked}},
		{"listing triggers", faultTriggers, "verify: listing triggers of `app`: invalid connection", []string{StatusOK, StatusOK}},
		{"listing routines", faultRoutines, "verify: listing routines: invalid connection", []string{StatusOK, StatusOK}},
		{"reading a routine's definition", faultShowCreate, "verify: function `f`: invalid connection", []string{StatusOK, StatusOK}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
			require.NoError(t, err)
			defer db.Close()
			scriptCheck(mock, tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Database(ctx, db, mockManifest(), Options{Schema: mockSchema, Connections: 1})
			require.Error(t, err)
			t.Logf("error: %v", err)
			require.NotNil(t, rep, "the report of a check that did not finish, as far as it got")
			assert.False(t, rep.OK, "no verdict from a check that did not finish")
			assert.Equal(t, err.Error(), rep.Failure, "the report's failure is the error")
			assert.Equal(t, mockSchema, rep.Database)
			assert.Empty(t, rep.Differences, "no difference for what could not be read")
			var statuses []string
			var rows int64
			for _, tb := range rep.Tables {
				statuses = append(statuses, tb.Status)
				if tb.Status == StatusUnchecked {
					assert.Equal(t, int64(-1), tb.Rows, "an unchecked table's rows are unknown: %+v", tb)
					assert.Empty(t, tb.Digest, "an unchecked table has no digest: %+v", tb)
				} else {
					rows += mockRows
				}
			}
			assert.Equal(t, tc.tables, statuses, "the statuses of t and u")
			assert.Equal(t, rows, rep.Rows, "the rows of the tables read whole")
			assert.ErrorIs(t, err, mysql.ErrInvalidConn)
			assert.NotErrorIs(t, err, ErrMismatch, "a broken connection is not a difference")
			var de *DiffError
			assert.False(t, errors.As(err, &de), "no DiffError")
			assert.NotContains(t, err.Error(), "differs")
			assert.NotContains(t, err.Error(), "missing")
			assert.NotContains(t, err.Error(), "\n")
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "lost the connection to the server")
			assert.Contains(t, err.Error(), "no verdict")
			assert.NoError(t, mock.ExpectationsWereMet())
		})
	}
	t.Run("a difference read before the connection broke", func(t *testing.T) {
		db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
		require.NoError(t, err)
		defer db.Close()
		scriptCheck(mock, faultRowsOfU)
		m := mockManifest()
		m.Tables[0].Rows++
		rep, err := Database(context.Background(), db, m, Options{Schema: mockSchema, Connections: 1})
		require.Error(t, err)
		assert.ErrorIs(t, err, mysql.ErrInvalidConn, "the error is the lost connection, not the difference")
		require.NotNil(t, rep, "the report as far as the check got")
		assert.False(t, rep.OK)
		require.Len(t, rep.Tables, 2, "t and u")
		assert.Equal(t, RowCount, rep.Tables[0].Status, "t was read whole: its row count differs")
		assert.Equal(t, StatusUnchecked, rep.Tables[1].Status, "u was not read whole")
		require.Len(t, rep.Differences, 1, "t's difference, and none for u")
		assert.Equal(t, "t", rep.Differences[0].Table)
		assert.Equal(t, RowCount, rep.Differences[0].What)
		assert.NoError(t, mock.ExpectationsWereMet())
	})
}

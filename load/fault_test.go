package load

// A deadlock (1213) or lock wait timeout (1205) during an INSERT of the
// import. Load opens its own connections from a *mysql.Config, so a mock
// *sql.DB cannot stand in for the whole import: go-sqlmock drives the one
// function that runs a data statement (engine.insert, on a *sql.Conn), and
// the real server produces a real lock wait timeout in a whole import,
// which is then resumed.

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestInsertLockErrors: the INSERT fails with 1213 or 1205 every time;
// insert rolls back and tries again lockRetries times, never reaching the
// progress record or the COMMIT, then returns one
// *StatementError naming the table, the statement's offset and the
// server's error. A resumed import runs the statement again (it has no
// progress record) and the server did not commit its rows: 1213 rolls
// the transaction back, 1205 the statement.
func TestInsertLockErrors(t *testing.T) {
	const stmt = "INSERT INTO `t` VALUES (1,'a'),(2,'b')"
	for _, tc := range []struct {
		name string
		err  *mysql.MySQLError
	}{
		{"deadlock", &mysql.MySQLError{Number: 1213, SQLState: [5]byte{'4', '0', '0', '0', '1'},
			Message: "Deadlock found when trying to get lock; try restarting transaction"}},
		{"lock wait timeout", &mysql.MySQLError{Number: 1205, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
			Message: "Lock wait timeout exceeded; try restarting transaction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
			require.NoError(t, err)
			defer db.Close()
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			for i := 0; i < lockRetries; i++ { // each attempt rolled back, then tried again
				mock.ExpectExec("START TRANSACTION").WillReturnResult(sqlmock.NewResult(0, 0))
				mock.ExpectExec(stmt).WillReturnError(tc.err)
				mock.ExpectExec("ROLLBACK").WillReturnResult(sqlmock.NewResult(0, 0))
			}

			x := &executor{hooks: &hooks{}}
			u := &unit{table: "t", key: unitKey("t")}
			n, err := x.insert(ctx, conn, u, item{offset: 1234, ordinal: 1}, []byte(stmt), false)
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.Zero(t, n)
			var se *StatementError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "t", se.Table)
			assert.Equal(t, int64(1234), se.Offset)
			var me *mysql.MySQLError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tc.err.Number, me.Number)
			assert.Contains(t, err.Error(), "load: table `t`: statement at byte 1234")
			assert.Contains(t, err.Error(), "run the same import again")
			assert.NotContains(t, err.Error(), "\n")
			assert.False(t, u.progress.Load(), "no progress recorded for a statement that did not commit")
			assert.NoError(t, mock.ExpectationsWereMet())
		})
	}
}

// TestInsertRetriesALockConflict: a deadlock, then the same statement
// goes through: one commit, its rows counted once, progress recorded.
func TestInsertRetriesALockConflict(t *testing.T) {
	const stmt = "INSERT INTO `t` VALUES (1,'a'),(2,'b')"
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	mock.ExpectExec("^START TRANSACTION$").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(regexp.QuoteMeta(stmt)).WillReturnError(&mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"})
	mock.ExpectExec("^ROLLBACK$").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("^START TRANSACTION$").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(regexp.QuoteMeta(stmt)).WillReturnResult(sqlmock.NewResult(0, 2))
	mock.ExpectExec("^INSERT INTO `" + ProgressTable + "`").WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec("^COMMIT$").WillReturnResult(sqlmock.NewResult(0, 0))
	x := &executor{hooks: &hooks{}}
	u := &unit{table: "t", key: unitKey("t")}
	n, err := x.insert(ctx, conn, u, item{offset: 10, ordinal: 1}, []byte(stmt), false)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.True(t, u.progress.Load())
	assert.NoError(t, mock.ExpectationsWereMet())
}

// TestInsertRecordFailsRollsBack: the INSERT worked, its progress record
// failed (here: the disk is full): insert rolls the transaction back before the
// connection serves anything else (else the next START TRANSACTION would
// commit the rows without their record, and a resume load them twice).
// A connection that cannot roll back is not used again.
func TestInsertRecordFailsRollsBack(t *testing.T) {
	const stmt = "INSERT INTO `t` VALUES (1,'a')"
	for _, rollbackFails := range []bool{false, true} {
		db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherRegexp))
		require.NoError(t, err)
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		mock.ExpectExec("^START TRANSACTION$").WillReturnResult(sqlmock.NewResult(0, 0))
		mock.ExpectExec(regexp.QuoteMeta(stmt)).WillReturnResult(sqlmock.NewResult(0, 1))
		mock.ExpectExec("^INSERT INTO `" + ProgressTable + "`").WillReturnError(&mysql.MySQLError{Number: 1114, Message: "The table '_lamigrate_import' is full"})
		rb := mock.ExpectExec("^ROLLBACK$")
		if rollbackFails {
			rb.WillReturnError(mysql.ErrInvalidConn)
		} else {
			rb.WillReturnResult(sqlmock.NewResult(0, 0))
		}
		x := &executor{hooks: &hooks{}}
		u := &unit{table: "t", key: unitKey("t")}
		_, err = x.insert(ctx, conn, u, item{offset: 10, ordinal: 1}, []byte(stmt), false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is full")
		assert.False(t, u.progress.Load())
		assert.NoError(t, mock.ExpectationsWereMet(), "rollback fails %v", rollbackFails)
		if rollbackFails {
			_, err := conn.ExecContext(ctx, "SELECT 1")
			assert.Error(t, err, "a connection that could not roll back was used again")
		}
		conn.Close()
		db.Close()
	}
}

// TestLoadLockWaitTimeoutResumes: another session holds a row lock on a
// key the import's second INSERT writes; that INSERT fails with a real
// 1205 after the stream's innodb_lock_wait_timeout. The import stops with
// one error naming the table, keeps the first INSERT's committed rows, and
// the same import run again loads the rest: every row once.
func TestLoadLockWaitTimeoutResumes(t *testing.T) {
	dump := []byte("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n" +
		"/*!40101 SET NAMES utf8mb4 */;\n" +
		"SET SESSION innodb_lock_wait_timeout = 1;\n" +
		"CREATE TABLE `t` (`id` int(11) NOT NULL, `v` varchar(10) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB;\n" +
		"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n" +
		"INSERT INTO `t` VALUES (3,'c'),(4,'d');\n" +
		"INSERT INTO `t` VALUES (5,'e');\n" +
		"CREATE TABLE `after` (`id` int(11) NOT NULL PRIMARY KEY) ENGINE=InnoDB;\n" +
		"INSERT INTO `after` VALUES (1);\n")
	target := mysqltest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	locker, err := target.Conn(ctx)
	require.NoError(t, err)
	defer locker.Close()

	var hookErr error
	locked := false
	hook := withHooks(hooks{afterInsert: func(table string, _ int64, _ bool) {
		if table != "t" || hookErr != nil || locked {
			return
		}
		locked = true
		// Lock key 3, which the next INSERT writes.
		if _, err := locker.ExecContext(ctx, "BEGIN"); err != nil {
			hookErr = err
			return
		}
		_, hookErr = locker.ExecContext(ctx, "INSERT INTO `t` VALUES (3, 'locker')")
	}})
	_, err = Load(ctx, target.Config(), bytes.NewReader(dump), Config{Threads: 1}, hook)
	require.NoError(t, hookErr)
	require.Error(t, err)
	t.Logf("error: %v", err)
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1205), me.Number)
	var se *StatementError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "t", se.Table)
	assert.NotContains(t, err.Error(), "\n")
	_, err = locker.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)

	var committed int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM `t`").Scan(&committed))
	assert.Equal(t, 2, committed, "the first INSERT's rows stay, the failed one's are not there")

	res, err := Load(ctx, target.Config(), bytes.NewReader(dump), Config{Threads: 1})
	require.NoError(t, err)
	assert.True(t, res.Resumed)
	assert.Equal(t, int64(4), res.Rows, "the resumed import loads the 3 rows of t left and the row of after")

	rows, err := target.Query("SELECT id, v FROM `t` ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id int
		var v string
		require.NoError(t, rows.Scan(&id, &v))
		got = append(got, v)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, got)
	var pt int
	require.NoError(t, target.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "+ident.String(ProgressTable)).Scan(&pt))
	assert.Zero(t, pt, "the finished import dropped its progress table")
}

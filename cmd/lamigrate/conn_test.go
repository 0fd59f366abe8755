package main

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/dbconn"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// captureFD2 runs f with the process's file descriptor 2 sent to a file and
// returns what was written there: the go-sql-driver's default logger writes
// to it directly, past the CLI's own stderr writer.
func captureFD2(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "fd2")
	require.NoError(t, err)
	defer tmp.Close()
	saved, err := syscall.Dup(2)
	require.NoError(t, err)
	require.NoError(t, syscall.Dup2(int(tmp.Fd()), 2))
	func() {
		defer syscall.Dup2(saved, 2)
		f()
	}()
	syscall.Close(saved)
	b, err := os.ReadFile(tmp.Name())
	require.NoError(t, err)
	return string(b)
}

// TestConnHandshakeClosed: a service that closes the connection during the
// handshake gives one line saying so, and the driver prints nothing itself.
func TestConnHandshakeClosed(t *testing.T) {
	assert.Equal(t, dbconn.DiscardLogger{}, mysql.NewConfig().Logger, "the CLI installs its driver logger")
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT, v TEXT)", "INSERT INTO t VALUES (1,'a'),(2,NULL),(3,'')")
	gz := verifyFixture(t, db, t.TempDir(), "dump.sql.gz", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := l.Addr().String()
	var code int
	var stdout, stderr string
	fd2 := captureFD2(t, func() {
		code, stdout, stderr = runCLI(t, nil, "verify", gz, "--dsn", "root@tcp("+addr+")/x")
	})
	assert.Equal(t, exitFailure, code)
	assert.Empty(t, stdout)
	assert.Empty(t, fd2, "nothing reaches the process's stderr past the CLI")
	assert.Equal(t, "lamigrate verify: the server at "+addr+" closed the connection during the handshake (address from --dsn): "+
		"check that a MySQL or MariaDB server listens there and accepts this client (its error log says why it refused)\n", stderr)
}

// TestConnPasswordInDSN: a password inside --dsn works and warns once; one
// from MYSQL_PWD, --defaults-file or LAMIGRATE_DSN (not visible to other
// users) does not.
func TestConnPasswordInDSN(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT, v TEXT)", "INSERT INTO t VALUES (1,'a'),(2,NULL),(3,'')")
	admin := mysqltest.Server(t)
	var rnd [4]byte
	rand.Read(rnd[:])
	user, pass := "lt_c_"+hex.EncodeToString(rnd[:]), "pw"+hex.EncodeToString(rnd[:])
	host := "localhost"
	if admin.Net == "tcp" {
		host = "%"
	}
	db.MustExec(t, "CREATE USER '"+user+"'@'"+host+"' IDENTIFIED BY '"+pass+"'", "GRANT ALL ON `"+db.Name+"`.* TO '"+user+"'@'"+host+"'")
	t.Cleanup(func() { db.Exec("DROP USER IF EXISTS '" + user + "'@'" + host + "'") })
	gz := verifyFixture(t, db, t.TempDir(), "dump.sql.gz", "")
	where := "@" + admin.Net + "(" + admin.Addr + ")/" + db.Name
	warning := "lamigrate: warning: " + dsnPasswordWarning

	tests := []struct {
		name string
		env  map[string]string
		args []string
		warn bool
	}{
		{"password in --dsn", nil, []string{"--dsn", user + ":" + pass + where}, true},
		{"password in MYSQL_PWD", map[string]string{"MYSQL_PWD": pass}, []string{"--dsn", user + where}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, append([]string{"-q", "verify", gz}, tt.args...)...)
			require.Equal(t, 0, code, "stderr: %s", stderr)
			assert.Contains(t, stdout, "Database verdict: OK")
			if tt.warn {
				assert.Equal(t, warning+"\n", stderr, "the warning, once")
			} else {
				assert.Empty(t, stderr)
			}
		})
	}

	// LAMIGRATE_DSN is not on the command line: no warning. Resolving twice
	// (a verb that connects twice) warns once.
	for _, dsnEnv := range []bool{true, false} {
		var out, errb strings.Builder
		e := &env{ui: newUI(&out, &errb, false, true), getenv: func(k string) string {
			if k == "LAMIGRATE_DSN" && dsnEnv {
				return user + ":" + pass + where
			}
			return ""
		}}
		c := &connFlags{}
		if !dsnEnv {
			c.DSN = user + ":" + pass + where
		}
		for range 2 {
			r, err := c.resolve(e)
			require.NoError(t, err)
			assert.Equal(t, pass, r.Config.Passwd)
		}
		if dsnEnv {
			assert.Empty(t, errb.String(), "LAMIGRATE_DSN with a password")
		} else {
			assert.Equal(t, warning+"\n", errb.String(), "--dsn with a password, resolved twice")
		}
	}

	// With --json the warning is a JSON event; a wrong password still warns
	// first, then fails naming where the password came from.
	code, _, stderr := runCLI(t, nil, "--json", "verify", gz, "--dsn", user+":wrong"+where)
	assert.Equal(t, exitFailure, code)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 2, "stderr: %s", stderr)
	assert.Contains(t, lines[0], `"event":"warning"`)
	assert.Contains(t, lines[0], "visible to other users of this machine")
	assert.Contains(t, lines[1], "with the password from --dsn")

	// The warning names the alternatives, and they work as it says.
	assert.Contains(t, dsnPasswordWarning, "MYSQL_PWD")
	assert.Contains(t, dsnPasswordWarning, "--defaults-file")
	cnf := filepath.Join(t.TempDir(), "my.cnf")
	require.NoError(t, os.WriteFile(cnf, []byte("[client]\npassword="+pass+"\n"), 0o600))
	code, _, stderr = runCLI(t, nil, "-q", "verify", gz, "--dsn", user+where, "--defaults-file", cnf)
	assert.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Empty(t, stderr)
}

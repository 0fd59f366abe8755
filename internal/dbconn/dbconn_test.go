package dbconn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// account creates a user with a password that may use db, and returns a
// DSN address part reaching the test server.
func account(t *testing.T, db *mysqltest.DB) (user, pass, addr string, admin *mysql.Config) {
	t.Helper()
	admin = mysqltest.Server(t)
	var rnd [4]byte
	rand.Read(rnd[:])
	user = "lt_u_" + hex.EncodeToString(rnd[:])
	pass = "pa'ss wo#rd\"" + hex.EncodeToString(rnd[:])
	host := "localhost"
	if admin.Net == "tcp" {
		host = "%"
	}
	db.MustExec(t,
		"CREATE USER '"+user+"'@'"+host+"' IDENTIFIED BY "+quote(pass),
		"GRANT ALL ON `"+db.Name+"`.* TO '"+user+"'@'"+host+"'")
	t.Cleanup(func() { db.Exec("DROP USER IF EXISTS '" + user + "'@'" + host + "'") })
	return user, pass, admin.Net + "(" + admin.Addr + ")", admin
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	err := os.WriteFile(path, []byte(body), 0o600)
	require.NoError(t, err, "os.WriteFile")
	return path
}

func connect(t *testing.T, s Sources) (string, error) {
	t.Helper()
	r, err := s.Resolve()
	if err != nil {
		return "", err
	}
	db, err := Open(context.Background(), r)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var name string
	err = db.QueryRow("SELECT DATABASE()").Scan(&name)
	return name, err
}

func TestSourcesConnect(t *testing.T) {
	db := mysqltest.New(t)
	user, pass, addr, admin := account(t, db)
	dir := t.TempDir()

	// A my.cnf that reaches the server the way the test harness does.
	sock, hostLines := "", ""
	if admin.Net == "unix" {
		sock = "socket=" + admin.Addr + "\n"
	} else {
		h, p, _ := strings.Cut(admin.Addr, ":")
		hostLines = "host=" + h + "\nport=" + p + "\n"
	}
	cnf := writeFile(t, filepath.Join(dir, "my.cnf"), "# comment\n[mysqld]\nuser=mysql\n[client]\n"+hostLines+sock+
		"user="+user+"\npassword=\""+strings.ReplaceAll(pass, `"`, `\"`)+"\"\ndatabase="+db.Name+"\n")
	install := filepath.Join(dir, "la")
	writeFile(t, SettingsPath(install), "<?php /*\r\nDB_HOSTNAME=localhost\r\nDB_USERNAME="+user+"\r\nDB_PASSWORD="+pass+"   \r\nDB_DATABASE="+db.Name+"\r\nENCRYPTION_KEY=abc\r\n*/ ?>")

	tests := []struct {
		name string
		src  Sources
	}{
		{"dsn with password", Sources{DSN: user + ":" + pass + "@" + addr + "/" + db.Name}},
		{"dsn plus MYSQL_PWD", Sources{DSN: user + "@" + addr + "/" + db.Name, Password: pass}},
		{"defaults file", Sources{DefaultsFile: cnf}},
		{"defaults file, dsn overrides database only", Sources{DefaultsFile: cnf, DSN: "/" + db.Name}},
		// settings.php says localhost (the Debian socket); the DSN's
		// address points at the test server in case it is elsewhere.
		{"settings.php", Sources{InstallDir: install, DSN: "@" + addr + "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connect(t, tt.src)
			if err != nil {
				t.Fatalf("connect(%+v) error: %v", tt.src, err)
			}
			if got != db.Name {
				t.Errorf("connect(%+v) database = %q; want %q", tt.src, got, db.Name)
			}
		})
	}
}

func TestSourcesBadInput(t *testing.T) {
	db := mysqltest.New(t)
	user, _, addr, _ := account(t, db)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad", "accounts", "settings.php"), "<?php echo 'hello'; ?>")
	writeFile(t, filepath.Join(dir, "unclosed", "accounts", "settings.php"), "<?php /*\nDB_USERNAME=x\n")
	writeFile(t, filepath.Join(dir, "port.cnf"), "[client]\nhost=db.example\nport=eighty\n")
	nopw := writeFile(t, filepath.Join(dir, "nopw.cnf"), "[client]\nuser="+user+"\n")
	// A socket file nobody listens on, as a crashed server leaves it.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		name  string
		src   Sources
		fault Fault    // of the *ConnectError; -1: not a connection error
		want  []string // substrings of the one-line error
	}{
		{"unreadable defaults file", Sources{DefaultsFile: filepath.Join(dir, "nope.cnf")}, -1, []string{"--defaults-file", "nope.cnf"}},
		{"missing settings.php", Sources{InstallDir: filepath.Join(dir, "nothing")}, -1, []string{"settings.php", "--install-dir"}},
		{"malformed settings.php", Sources{InstallDir: filepath.Join(dir, "bad")}, -1, []string{"settings.php", "no /* ... */ settings block"}},
		{"unclosed settings.php", Sources{InstallDir: filepath.Join(dir, "unclosed")}, -1, []string{"never closed"}},
		{"bad port in my.cnf", Sources{DefaultsFile: filepath.Join(dir, "port.cnf")}, -1, []string{"port.cnf", "port \"eighty\""}},
		{"malformed dsn", Sources{DSN: "user@tcp(host:3306"}, -1, []string{"--dsn is not a valid DSN"}},
		{"malformed dsn from the environment", Sources{DSN: "user@tcp(host:3306", DSNOrigin: "LAMIGRATE_DSN"}, -1, []string{"LAMIGRATE_DSN is not a valid DSN"}},
		{"wrong password", Sources{DSN: user + ":wrong@" + addr + "/" + db.Name}, FaultAccessDenied,
			[]string{"access denied for user \"" + user + "\"", "with the password from --dsn (user from --dsn): check the user name and the password in --dsn"}},
		{"wrong password from MYSQL_PWD", Sources{DSN: user + "@" + addr + "/" + db.Name, Password: "wrong"}, FaultAccessDenied,
			[]string{"access denied", "check the user name and the password in MYSQL_PWD"}},
		{"no password at all", Sources{DefaultsFile: nopw, DSN: "@" + addr + "/" + db.Name}, FaultAccessDenied,
			[]string{"with no password (user from " + nopw + "; none in the option files read: " + nopw + "): check the user name, and give its password in MYSQL_PWD, in the [client] section of ~/.my.cnf or of a --defaults-file, or read settings.php with --install-dir"}},
		{"unknown database", Sources{DSN: "root@" + addr + "/lt_no_such_db_x"}, FaultUnknownDatabase,
			[]string{"database \"lt_no_such_db_x\" does not exist on", "(database from --dsn): check the database name"}},
		{"refused port", Sources{DSN: "root@tcp(127.0.0.1:1)/x"}, FaultRefused,
			[]string{"nothing accepts connections at 127.0.0.1:1 (connection refused, address from --dsn): check the host and port, and that the database server runs"}},
		{"missing socket", Sources{DSN: "root@unix(" + filepath.Join(dir, "no.sock") + ")/x"}, FaultNoSocket,
			[]string{"socket " + filepath.Join(dir, "no.sock") + " does not exist (address from --dsn): check that the database server runs and that this is its socket"}},
		{"stale socket", Sources{DSN: "root@unix(" + stale + ")/x"}, FaultRefused,
			[]string{"no server listens on socket " + stale + " (connection refused, address from --dsn)"}},
		{"unknown host", Sources{DSN: "root@tcp(no-such-host..invalid:3306)/x"}, FaultUnknownHost,
			[]string{"cannot resolve host \"no-such-host..invalid\"", "address from --dsn): check the host name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect(t, tt.src)
			require.Error(t, err)
			msg := err.Error()
			assert.NotContains(t, msg, "\n")
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			var ce *ConnectError
			if tt.fault < 0 {
				assert.False(t, errors.As(err, &ce), "a configuration error is not a *ConnectError: %v", err)
			} else if assert.True(t, errors.As(err, &ce), "want a *ConnectError, got %T %v", err, err) {
				assert.Equal(t, tt.fault, ce.Fault, "fault of %q", msg)
			}
		})
	}
}

func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	install := filepath.Join(dir, "la")
	writeFile(t, SettingsPath(install), "<?php /*\nDB_HOSTNAME=db1:3307\nDB_USERNAME=la\nDB_PASSWORD=fromphp\nDB_DATABASE=ladb\n*/ ?>")
	cnf := writeFile(t, filepath.Join(dir, "my.cnf"), "[client]\nuser=cnfuser\n")
	r, err := Sources{InstallDir: install, DefaultsFile: cnf, DSN: "/otherdb", Password: "env"}.Resolve()
	if err != nil {
		require.NoError(t, err, "Sources{InstallDir: install, DefaultsFil")
	}
	c := r.Config
	if c.Net != "tcp" || c.Addr != "db1:3307" || c.User != "cnfuser" || c.Passwd != "fromphp" || c.DBName != "otherdb" {
		t.Errorf("Resolve = %s %s user %s pass %s db %s; want tcp db1:3307 cnfuser fromphp otherdb", c.Net, c.Addr, c.User, c.Passwd, c.DBName)
	}
	if r.Origin["password"] != SettingsPath(install) || r.Origin["user"] != cnf || r.Origin["database"] != "--dsn" {
		t.Errorf("Origin = %v", r.Origin)
	}
	if r.Settings.HasEncryptionKey {
		t.Errorf("no ENCRYPTION_KEY line, but HasEncryptionKey")
	}
	r, _ = Sources{DSN: "u@tcp(h:1)/d", Password: "env"}.Resolve()
	if r.Config.Passwd != "env" || r.Origin["password"] != "MYSQL_PWD" {
		t.Errorf("MYSQL_PWD not used when nothing else sets a password: %q from %q", r.Config.Passwd, r.Origin["password"])
	}
	r, _ = Sources{DSN: "u:dsnpw@tcp(h:1)/d", Password: "env"}.Resolve()
	if r.Config.Passwd != "dsnpw" {
		t.Errorf("MYSQL_PWD overrode the DSN's password")
	}
}

package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestCLIOptionFiles: an administrator whose credentials sit in ~/.my.cnf
// dumps with no connection flag at all; --no-defaults then says it read no
// option file; --defaults-extra-file is read; a wrong password in ~/.my.cnf
// is blamed on that file.
func TestCLIOptionFiles(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1,'a'),(2,NULL)")
	admin := mysqltest.Server(t)
	var rnd [4]byte
	rand.Read(rnd[:])
	user, pass := "lt_o_"+hex.EncodeToString(rnd[:]), "pw#"+hex.EncodeToString(rnd[:])
	host := "localhost"
	if admin.Net == "tcp" {
		host = "%"
	}
	db.MustExec(t, "CREATE USER '"+user+"'@'"+host+"' IDENTIFIED BY '"+pass+"'", "GRANT ALL ON `"+db.Name+"`.* TO '"+user+"'@'"+host+"'")
	t.Cleanup(func() { db.Exec("DROP USER IF EXISTS '" + user + "'@'" + host + "'") })
	where := "socket=" + admin.Addr + "\n"
	if admin.Net == "tcp" {
		h, p, _ := strings.Cut(admin.Addr, ":")
		where = "host=" + h + "\nport=" + p + "\n"
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	require.NoError(t, os.MkdirAll(home, 0o700))
	mycnf := filepath.Join(home, ".my.cnf")
	require.NoError(t, os.WriteFile(mycnf, []byte("[client]\n"+where+"user="+user+"\npassword=\""+pass+"\"\ndatabase="+db.Name+"\n"), 0o600))
	env := map[string]string{"HOME": home}

	out := filepath.Join(dir, "dump.sql.gz")
	code, _, stderr := runCLI(t, env, "-q", "dump", "-o", out)
	require.Equal(t, 0, code, "dump with ~/.my.cnf only: %s", stderr)
	assert.FileExists(t, out)

	// --no-defaults: no password, and the error says no option file was read.
	code, _, stderr = runCLI(t, env, "-q", "dump", "-o", filepath.Join(dir, "b.sql.gz"), "--no-defaults", "--dsn", user+"@"+admin.Net+"("+admin.Addr+")/"+db.Name)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr, "access denied for user \""+user+"\"")
	assert.Contains(t, stderr, "with no password (user from --dsn; --no-defaults: no option file read)")
	code, _, stderr = runCLI(t, env, "-q", "dump", "-o", filepath.Join(dir, "b.sql.gz"), "--no-defaults")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "no database given")
	assert.Contains(t, stderr, "(--no-defaults: none read)")

	// A wrong password in ~/.my.cnf names the file; --defaults-extra-file
	// is read before ~/.my.cnf, so a password there does not win over it.
	require.NoError(t, os.WriteFile(mycnf, []byte("[client]\n"+where+"user="+user+"\npassword=wrong\ndatabase="+db.Name+"\n"), 0o600))
	code, _, stderr = runCLI(t, env, "-q", "dump", "-o", filepath.Join(dir, "c.sql.gz"))
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr, "with the password from "+mycnf+" (user from "+mycnf+"): check the user name and the password in "+mycnf)

	extra := filepath.Join(dir, "extra.cnf")
	require.NoError(t, os.WriteFile(extra, []byte("[client-mariadb]\n"+where+"user="+user+"\npassword=\""+pass+"\"\ndatabase="+db.Name+"\n"), 0o600))
	code, _, stderr = runCLI(t, map[string]string{"HOME": filepath.Join(dir, "empty")}, "-q", "dump", "-o", filepath.Join(dir, "d.sql.gz"), "--defaults-extra-file", extra)
	assert.Equal(t, 0, code, "dump with --defaults-extra-file: %s", stderr)

	// A world-writable option file is ignored with a warning, as the client does.
	require.NoError(t, os.Chmod(extra, 0o666))
	code, _, stderr = runCLI(t, map[string]string{"HOME": filepath.Join(dir, "empty")}, "-q", "dump", "-o", filepath.Join(dir, "e.sql.gz"), "--defaults-extra-file", extra)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "lamigrate: warning: option file "+extra+" is ignored because anyone may write it (as the mysql client ignores it): chmod o-w "+extra+"\n")

	// The flags that exclude each other say so.
	code, _, stderr = runCLI(t, env, "-q", "dump", "-o", filepath.Join(dir, "f.sql.gz"), "--no-defaults", "--defaults-file", extra)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--no-defaults reads no option file: drop it, or drop --defaults-file / --defaults-extra-file")
}

func TestConnOptionFileArgs(t *testing.T) {
	c := &connFlags{NoDefaults: true, DefaultsFile: "/a b.cnf", DefaultsExtraFile: "/x.cnf"}
	assert.Equal(t, []string{"--no-defaults", "--defaults-file", "'/a b.cnf'", "--defaults-extra-file", "/x.cnf"}, c.optionFileArgs())
	s := (&connFlags{}).sources(&env{getenv: func(k string) string {
		return map[string]string{"HOME": "/h", "MYSQL_HOME": "/m", "MYSQL_PWD": "pw"}[k]
	}})
	assert.Equal(t, []string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/m/my.cnf", "/h/.my.cnf"}, s.OptionFiles().List())
	assert.Equal(t, "pw", s.Password)
	s = (&connFlags{}).sources(&env{getenv: func(k string) string {
		return map[string]string{"MARIADB_HOME": "/mdb", "MYSQL_HOME": "/m"}[k]
	}})
	assert.Equal(t, []string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/mdb/my.cnf"}, s.OptionFiles().List(), "MARIADB_HOME first; no HOME, no ~/.my.cnf")
}

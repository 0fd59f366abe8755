// Package mysqltest gives each test a fresh database on a real MariaDB or
// MySQL server and drops it afterwards.
//
// The server is, in order: the one LAMIGRATE_TEST_DSN names (a go-sql-driver
// DSN with a user allowed to create databases), the local server on
// /run/mysqld/mysqld.sock as root, or a throwaway mariadbd started in a temp
// folder for the life of the test binary. When none can be had the test is
// skipped, except under CI=true, where it fails: CI never skips.
//
// DB.Digests gives every table's row digest, read as the digest needs it
// (time_zone '+00:00'), for tests that compare a database before and after
// a change, or a source with its imported copy.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DB is a fresh, empty database for one test.
type DB struct {
	*sql.DB
	// Name is the database's name.
	Name string
	// Config connects to the database (a copy: change it freely).
	cfg *mysql.Config
}

// Config returns a fresh copy of the configuration that reaches the test
// database, for code under test that opens its own connections.
func (d *DB) Config() *mysql.Config { return d.cfg.Clone() }

// Exec runs statements one after another and fails the test on an error.
func (d *DB) MustExec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.DB.Exec(s); err != nil {
			t.Fatalf("exec %.200s: %v", s, err)
		}
	}
}

var (
	once      sync.Once
	serverCfg *mysql.Config
	serverErr error
)

// Server returns the configuration of the server's admin user (no database
// selected), failing or skipping the test when there is none.
func Server(t testing.TB) *mysql.Config {
	t.Helper()
	once.Do(func() { serverCfg, serverErr = find() })
	if serverErr != nil {
		Unavailable(t, "no MariaDB/MySQL server for tests: %v", serverErr)
	}
	return serverCfg.Clone()
}

// Unavailable skips the test, or fails it under CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", msg)
	}
	t.Skip(msg)
}

// Tool returns the path of an external program the test needs (mysqldump,
// sshd...), skipping or, under CI=true, failing when it is not installed.
func Tool(t testing.TB, name string, alternatives ...string) string {
	t.Helper()
	for _, n := range append([]string{name}, alternatives...) {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	Unavailable(t, "%s is not installed (scripts/test.sh installs it)", name)
	return ""
}

// New creates a fresh database and registers its removal.
func New(t testing.TB) *DB {
	t.Helper()
	cfg := Server(t)
	admin, err := open(cfg)
	if err != nil {
		t.Fatalf("mysqltest: %v", err)
	}
	defer admin.Close()
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "lt_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatalf("mysqltest: create database: %v", err)
	}
	dcfg := cfg.Clone()
	dcfg.DBName = name
	db, err := open(dcfg)
	if err != nil {
		t.Fatalf("mysqltest: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := open(cfg)
		if err != nil {
			t.Errorf("mysqltest: dropping %s: %v", name, err)
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("mysqltest: dropping %s: %v", name, err)
		}
	})
	return &DB{DB: db, Name: name, cfg: dcfg}
}

func open(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// LocalSocket is the Debian default server socket.
const LocalSocket = "/run/mysqld/mysqld.sock"

func find() (*mysql.Config, error) {
	if dsn := os.Getenv("LAMIGRATE_TEST_DSN"); dsn != "" {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("LAMIGRATE_TEST_DSN: %w", err)
		}
		cfg.DBName = ""
		db, err := open(cfg)
		if err != nil {
			return nil, fmt.Errorf("LAMIGRATE_TEST_DSN: %w", err)
		}
		db.Close()
		return cfg, nil
	}
	var errs []error
	if _, err := os.Stat(LocalSocket); err == nil {
		cfg := mysql.NewConfig()
		cfg.User = "root"
		cfg.Net = "unix"
		cfg.Addr = LocalSocket
		db, err := open(cfg)
		if err == nil {
			db.Close()
			return cfg, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", LocalSocket, err))
	}
	cfg, err := startThrowaway()
	if err == nil {
		return cfg, nil
	}
	errs = append(errs, fmt.Errorf("throwaway mariadbd: %w", err))
	return nil, errors.Join(errs...)
}

// startThrowaway initialises a data folder and starts mariadbd on a private
// socket. The server gets SIGKILL when the test binary exits (Pdeathsig on a
// thread that never ends).
func startThrowaway() (*mysql.Config, error) {
	server, err := lookSbin("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	install, err := lookSbin("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lamigrate-mariadb-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "mysqld.sock")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", install, err, lastLine(out))
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // Pdeathsig follows this thread: never unlock it.
		cmd := exec.Command(server, "--no-defaults", "--datadir="+data, "--socket="+sock,
			"--skip-networking", "--user=root", "--innodb-buffer-pool-size=256M",
			"--max-allowed-packet=1G", "--log-error="+filepath.Join(dir, "error.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		errc <- cmd.Start()
		cmd.Wait()
		select {} // keep the thread
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "unix"
	cfg.Addr = sock
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := open(cfg)
		if err == nil {
			db.Close()
			return cfg, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("did not come up: %v: %s", err, lastLine(log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lookSbin(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin"} {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not installed", names[0])
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

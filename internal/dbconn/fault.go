package dbconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Fault is the kind of a failed connection attempt.
type Fault int

const (
	FaultOther           Fault = iota
	FaultRefused               // nothing listens at the address (or a stale socket)
	FaultUnknownHost           // the host name does not resolve
	FaultNoSocket              // the socket file does not exist
	FaultSocketDenied          // the socket exists but this user may not open it
	FaultTimeout               // no answer in time: the connect or the server's greeting
	FaultClosed                // the server closed the connection during the handshake
	FaultReset                 // the connection was reset during the handshake
	FaultNotMySQL              // the service on the port does not speak the MySQL protocol
	FaultRejected              // the server refused this client (host not allowed, too many connections, ...)
	FaultAccessDenied          // 1045: wrong user or password
	FaultUnknownDatabase       // 1049
	FaultNoPrivileges          // 1044: the user may not use the database
)

// ConnectError is a failed connection attempt explained: Error is one line
// saying what happened and what to check; Err is the driver's error.
type ConnectError struct {
	Fault Fault
	Addr  string // "socket /run/mysqld/mysqld.sock" or "host:port"
	msg   string
	Err   error
}

func (e *ConnectError) Error() string { return e.msg }
func (e *ConnectError) Unwrap() error { return e.Err }

// driverLog collects what go-sql-driver logs for connections built from one
// Resolved (the driver would print it to stderr): the driver logs the real
// cause of a lost connection (EOF, reset, timeout) and returns only
// "invalid connection". Explain reads it; nothing prints it.
type driverLog struct {
	mu      sync.Mutex
	n       int // entries ever logged
	entries [][]any
}

const driverLogKeep = 16

// Print implements mysql.Logger.
func (l *driverLog) Print(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.entries = append(l.entries, v)
	if len(l.entries) > driverLogKeep {
		l.entries = l.entries[len(l.entries)-driverLogKeep:]
	}
}

// mark returns a position to pass to since.
func (l *driverLog) mark() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// since returns the entries logged after mark (at most the last few kept).
func (l *driverLog) since(mark int) [][]any {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.n-mark, len(l.entries))
	return append([][]any(nil), l.entries[len(l.entries)-k:]...)
}

// DiscardLogger is a mysql.Logger that drops the driver's lines. A program
// installs it with mysql.SetLogger so connections not built here print
// nothing either; connections built from a Resolved log to it instead.
type DiscardLogger struct{}

// Print implements mysql.Logger.
func (DiscardLogger) Print(...any) {}

var _ mysql.Logger = DiscardLogger{}
var _ mysql.Logger = (*driverLog)(nil)

// explain classifies err, from connecting with r's configuration, using the
// driver's log lines written meanwhile.
func (r *Resolved) explain(err error, logged [][]any, budget time.Duration) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	cfg := r.Config
	where := cfg.Addr
	if cfg.Net == "unix" {
		where = "socket " + cfg.Addr
	}
	addrFrom := "address from " + r.Origin["address"]
	fail := func(f Fault, format string, args ...any) error {
		return &ConnectError{Fault: f, Addr: where, msg: fmt.Sprintf(format, args...), Err: err}
	}
	sorry := "check that a MySQL or MariaDB server listens there and accepts this client (its error log says why it refused)"

	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1698:
			if o, ok := r.Origin["password"]; ok {
				return fail(FaultAccessDenied, "access denied for user %q at %s with the password from %s (user from %s): check the user name and the password in %s",
					cfg.User, where, o, r.Origin["user"], o)
			}
			give := "give its password in MYSQL_PWD, in the [client] section of ~/.my.cnf or of a --defaults-file, or read settings.php with --install-dir"
			if r.NoDefaults {
				give = "give its password in MYSQL_PWD, or drop --no-defaults and put it in the [client] section of ~/.my.cnf, or read settings.php with --install-dir"
			}
			return fail(FaultAccessDenied, "access denied for user %q at %s with no password (user from %s; %s): check the user name, and %s",
				cfg.User, where, r.Origin["user"], r.lookedFor(), give)
		case 1049:
			return fail(FaultUnknownDatabase, "database %q does not exist on %s (database from %s): check the database name", cfg.DBName, where, r.Origin["database"])
		case 1044:
			return fail(FaultNoPrivileges, "user %q may not use database %q on %s: grant it the privileges or use another user", cfg.User, cfg.DBName, where)
		case 1130:
			return fail(FaultRejected, "the server at %s does not let this client connect (%s, error 1130): create the user for the host the server sees, or connect from a host it allows", where, strings.TrimSuffix(me.Message, "."))
		case 1129:
			return fail(FaultRejected, "the server at %s blocks this host after too many failed connections (error 1129): run mariadb-admin flush-hosts (mysqladmin flush-hosts) on the server", where)
		case 1040, 1203:
			return fail(FaultRejected, "the server at %s refused the connection: too many connections (error %d): wait for others to finish, or raise max_connections / max_user_connections", where, me.Number)
		}
		return fail(FaultRejected, "the server at %s refused the connection: %s (error %d)", where, strings.TrimSuffix(me.Message, "."), me.Number)
	}

	// What the driver logged is the real cause behind "invalid connection".
	var cause error
	garbled := false
	for _, e := range logged {
		for _, v := range e {
			switch v := v.(type) {
			case error:
				if errors.Is(v, mysql.ErrMalformPkt) {
					garbled = true
				} else {
					cause = v
				}
			case string:
				if strings.Contains(v, "unexpected sequence nr") {
					garbled = true
				}
			}
		}
	}

	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fail(FaultUnknownHost, "cannot resolve host %q (%s, %s): check the host name", dns.Name, dns.Err, addrFrom)
	case cfg.Net == "unix" && errors.Is(err, os.ErrNotExist):
		return fail(FaultNoSocket, "socket %s does not exist (%s): check that the database server runs and that this is its socket (the socket= line of its my.cnf)", cfg.Addr, addrFrom)
	case cfg.Net == "unix" && errors.Is(err, syscall.ECONNREFUSED):
		return fail(FaultRefused, "no server listens on socket %s (connection refused, %s): check that the database server runs and that this is its socket (the socket= line of its my.cnf)", cfg.Addr, addrFrom)
	case cfg.Net == "unix" && errors.Is(err, os.ErrPermission):
		return fail(FaultSocketDenied, "may not open socket %s (permission denied, %s): run as a user who may, or connect over TCP", cfg.Addr, addrFrom)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(FaultRefused, "nothing accepts connections at %s (connection refused, %s): check the host and port, and that the database server runs", where, addrFrom)
	case garbled || errors.Is(err, mysql.ErrMalformPkt) || errors.Is(err, mysql.ErrPktSync) || errors.Is(err, mysql.ErrPktSyncMul) ||
		errors.Is(err, mysql.ErrOldProtocol) || strings.HasPrefix(err.Error(), "unsupported protocol version"):
		return fail(FaultNotMySQL, "the service at %s does not speak the MySQL protocol (%s): check the port, MySQL and MariaDB listen on 3306 unless configured otherwise", where, addrFrom)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(cause, syscall.ECONNRESET):
		return fail(FaultReset, "the server at %s reset the connection during the handshake (%s): %s", where, addrFrom, sorry)
	case isTimeout(err) || isTimeout(cause):
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return fail(FaultTimeout, "no answer from %s within %s (%s): check the host, the port, and any firewall between", where, cfg.Timeout, addrFrom)
		}
		return fail(FaultTimeout, "the service at %s accepted the connection but sent no MySQL greeting within %s (%s): check that the port is the database server's and that the server is not hung", where, budget, addrFrom)
	case errors.Is(err, mysql.ErrInvalidConn) && (cause == nil || errors.Is(cause, io.EOF) || errors.Is(cause, io.ErrUnexpectedEOF)):
		return fail(FaultClosed, "the server at %s closed the connection during the handshake (%s): %s", where, addrFrom, sorry)
	case errors.Is(err, mysql.ErrInvalidConn):
		return fail(FaultClosed, "the connection to %s broke during the handshake (%v, %s): %s", where, cause, addrFrom, sorry)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fail(FaultOther, "cannot reach the database server at %s (%v, %s): check the address and that the server runs", where, rootCause(err), addrFrom)
	}
	return fail(FaultOther, "connecting to %s: %v", where, err)
}

// lookedFor says which option files were read, for an error about a
// setting none of them gave.
func (r *Resolved) lookedFor() string {
	switch {
	case r.NoDefaults:
		return "--no-defaults: no option file read"
	case r.Options == nil || len(r.Options.Looked) == 0:
		return "no option file read"
	case len(r.Options.Read) == 0:
		return "no option file found: looked for " + strings.Join(r.Options.Looked, ", ")
	}
	return "none in the option files read: " + strings.Join(r.Options.Read, ", ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()))
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

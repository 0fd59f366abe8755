// Package dbconn turns the places a MySQL client looks for connection settings
// into one *mysql.Config: a go-sql-driver DSN, the option files (my.cnf) the
// mariadb client reads, LiveAgent's accounts/settings.php (--install-dir) and
// the MYSQL_PWD password. It never needs a password on a command line, and
// every error names where the offending setting came from.
//
// # Option files
//
// ReadOptionFiles reads option files as MariaDB 10.11's client library does
// on Linux ("mariadb --help --verbose" lists them):
//
//   - by default /etc/my.cnf, /etc/mysql/my.cnf, $MARIADB_HOME/my.cnf (else
//     $MYSQL_HOME/my.cnf) when set, then ~/.my.cnf, each skipped when absent
//     or unreadable; a setting read later overrides one read earlier;
//   - --defaults-extra-file: that file too, after the others but before
//     ~/.my.cnf; --defaults-file: only that file; either must exist;
//     --no-defaults: none (neither may be combined with it, nor with each
//     other);
//   - "!include FILE" reads FILE there (skipped when absent, as the client
//     does); "!includedir DIR" reads DIR's *.cnf files in byte order (a
//     missing DIR is an error, as with the client); 10 levels at most;
//   - a world-writable file is ignored with a warning, as the client does;
//   - the groups [client], [client-server] and [client-mariadb]: those every
//     client program and the client library read. [mysql] and
//     [mariadb-client] are the mysql program's own, [mysqldump] mysqldump's;
//     lamigrate is neither;
//   - the keys host, port, socket, user, password and database, in any case,
//     with '_' for '-' and a "loose-" prefix; other keys are ignored, and
//     abbreviations ("pass") are not recognised. Values are parsed as
//     ParseOptionFile says (quotes, escapes, '#' comments). An empty value
//     leaves the setting to the next source. A bare "password" line, which
//     makes the client prompt, is an error: lamigrate never prompts.
//
// The caller passes HOME and MARIADB_HOME / MYSQL_HOME in Sources: this
// package never reads the environment.
//
// # Precedence
//
// Field by field, each source overrides the ones before it:
//
//  1. the option files, when none was named (--defaults-file or
//     --defaults-extra-file);
//  2. settings.php (--install-dir): its DB_HOSTNAME is a whole address, so a
//     port from an option file does not apply to it;
//  3. the option files, when one was named;
//  4. the DSN (--dsn or LAMIGRATE_DSN), for the fields it names;
//  5. MYSQL_PWD, only when nothing above gave a password (as with the
//     client, an option file's password wins over MYSQL_PWD).
//
// host, port and socket are merged key by key before they make the
// address: with no host (or localhost) the socket is used, as the client
// does. A user none of them names is the login name (DefaultUser).
//
// # Errors
//
// Open turns a failed connection into a *ConnectError: one line saying what
// happened (wrong password, unknown database, refused port, unknown host,
// missing socket, a timeout, a handshake the server closed or reset, a
// service that does not speak the MySQL protocol, a server refusing the
// client) and what to check. The driver logs the real cause of a broken
// connection and returns only "invalid connection"; every configuration
// Resolve builds therefore carries its own mysql.Logger, which collects those
// lines for Open and Explain instead of printing them. A program that also
// builds connections elsewhere installs DiscardLogger with mysql.SetLogger.
package dbconn

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultSocket is where Debian's MariaDB and MySQL listen.
const DefaultSocket = "/run/mysqld/mysqld.sock"

// Sources are the places settings come from. Later sources override earlier
// ones field by field: the option files the client reads by default, then
// settings.php, then the DSN. When an option file is named (DefaultsFile or
// DefaultsExtraFile) the option files come after settings.php instead.
// Password, the MYSQL_PWD value, is used only when no other source sets one.
type Sources struct {
	DSN       string // go-sql-driver DSN (--dsn, LAMIGRATE_DSN)
	DSNOrigin string // where DSN came from, for errors; default "--dsn"

	DefaultsFile      string // --defaults-file: read only this option file
	DefaultsExtraFile string // --defaults-extra-file: read it after the global option files
	NoDefaults        bool   // --no-defaults: read no option file
	Home              string // $HOME: read ~/.my.cnf from it (empty: skip it)
	MySQLHome         string // $MARIADB_HOME, else $MYSQL_HOME: read its my.cnf
	// GlobalOptionFiles replaces GlobalOptionFiles() when not nil.
	GlobalOptionFiles []string

	InstallDir  string // LiveAgent installation (reads accounts/settings.php)
	Password    string // MYSQL_PWD
	DefaultUser string // used when no source names a user
}

// OptionFiles returns the option files s reads.
func (s Sources) OptionFiles() OptionFiles {
	return OptionFiles{NoDefaults: s.NoDefaults, File: s.DefaultsFile, ExtraFile: s.DefaultsExtraFile,
		Home: s.Home, MySQLHome: s.MySQLHome, Global: s.GlobalOptionFiles}
}

// Resolved is a connection configuration and where each part came from.
type Resolved struct {
	Config *mysql.Config
	// Origin maps "user", "password", "address", "database" to the source
	// that set it ("--dsn", "MYSQL_PWD", "/root/.my.cnf", ".../settings.php").
	Origin map[string]string
	// Settings is LiveAgent's settings.php when InstallDir was given.
	Settings *Settings
	// Options are what the option files gave, and which files were
	// looked for and read; Options.Warnings are for the user.
	Options *ClientOptions
	// NoDefaults: no option file was read on purpose.
	NoDefaults bool

	log *driverLog // Config.Logger: what the driver logs, for Explain
}

// Resolve merges the sources into a configuration. It reads files but does
// not connect.
func (s Sources) Resolve() (*Resolved, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "unix", DefaultSocket
	r := &Resolved{Config: cfg, Origin: map[string]string{"address": "default"}, NoDefaults: s.NoDefaults, log: &driverLog{}}
	set := func(field, origin string) { r.Origin[field] = origin }

	opts := s.OptionFiles()
	c, err := ReadOptionFiles(opts)
	if err != nil {
		return nil, err
	}
	r.Options = c
	// host, port and socket are merged key by key, then make the address.
	var host, port, socket, hostFrom, portFrom, socketFrom string
	fromOptions := func() {
		from := func(k string) string { return c.Origin[k].File }
		if c.Host != "" {
			host, hostFrom = c.Host, from("host")
		}
		if c.Port != "" {
			port, portFrom = c.Port, from("port")
		}
		if c.Socket != "" {
			socket, socketFrom = c.Socket, from("socket")
		}
		if c.User != "" {
			cfg.User = c.User
			set("user", from("user"))
		}
		if c.HasPassword {
			cfg.Passwd = c.Password
			set("password", from("password"))
		}
		if c.Database != "" {
			cfg.DBName = c.Database
			set("database", from("database"))
		}
	}
	if !opts.Named() {
		fromOptions()
	}
	if s.InstallDir != "" {
		path := SettingsPath(s.InstallDir)
		st, err := ReadSettings(path)
		if err != nil {
			return nil, err
		}
		r.Settings = st
		if st.Hostname != "" {
			// DB_HOSTNAME is the whole address: a port of an option
			// file does not apply to it.
			host, port, hostFrom, portFrom = st.Hostname, "", path, path
			if h, p, err := net.SplitHostPort(st.Hostname); err == nil {
				host, port = h, p
			}
		}
		if st.Username != "" {
			cfg.User = st.Username
			set("user", path)
		}
		if st.HasPassword {
			cfg.Passwd = st.Password
			set("password", path)
		}
		if st.Database != "" {
			cfg.DBName = st.Database
			set("database", path)
		}
	}
	if opts.Named() {
		fromOptions()
	}
	if host != "" || port != "" || socket != "" {
		n, addr, err := hostAddr(host, port, socket)
		if err != nil {
			o := portFrom
			if port == "" {
				o = hostFrom
			}
			return nil, fmt.Errorf("dbconn: %s: %w", o, err)
		}
		cfg.Net, cfg.Addr = n, addr
		switch {
		case n == "unix" && addr == socket:
			set("address", socketFrom)
		case n == "unix" && hostFrom != "":
			set("address", hostFrom)
		case n == "tcp":
			o := hostFrom
			if o == "" || (portFrom != "" && portFrom != o) {
				o = strings.TrimPrefix(o+" and "+portFrom, " and ")
			}
			set("address", o)
		}
	}
	dsnFrom := s.DSNOrigin
	if dsnFrom == "" {
		dsnFrom = "--dsn"
	}
	if s.DSN != "" {
		d, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			return nil, fmt.Errorf("dbconn: %s is not a valid DSN (want user@unix(/run/mysqld/mysqld.sock)/db or user@tcp(host:3306)/db): %v", dsnFrom, err)
		}
		// Keep the DSN's parameters (timeouts, TLS, ...), then lay the
		// fields it really names over what the files said.
		base := *cfg
		*cfg = *d
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = base.User, base.Passwd, base.Net, base.Addr, base.DBName
		if d.User != "" {
			cfg.User = d.User
			set("user", dsnFrom)
		}
		if d.Passwd != "" {
			cfg.Passwd = d.Passwd
			set("password", dsnFrom)
		}
		if strings.Contains(s.DSN, "(") {
			cfg.Net, cfg.Addr = d.Net, d.Addr
			set("address", dsnFrom)
		}
		if d.DBName != "" {
			cfg.DBName = d.DBName
			set("database", dsnFrom)
		}
	}
	if _, ok := r.Origin["password"]; !ok && s.Password != "" {
		cfg.Passwd = s.Password
		set("password", "MYSQL_PWD")
	}
	if cfg.User == "" {
		cfg.User = s.DefaultUser
		set("user", "default")
	}
	if c.PasswordPrompt && r.Origin["password"] == c.Origin["password"].File {
		return nil, fmt.Errorf("dbconn: %s: password has no value, which makes the mysql client prompt for it; lamigrate never prompts: write password=... there, or remove the line and set MYSQL_PWD", c.Origin["password"])
	}
	// Settings lamigrate relies on everywhere. The driver's log lines go
	// to r, never to stderr: Open and Explain turn them into the error.
	cfg.Logger = r.log
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	cfg.MultiStatements = false
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	return r, nil
}

// hostAddr turns a host (maybe "host:port"), port and socket into a
// go-sql-driver network and address, the way the mysql client does:
// "localhost" without a port means the socket.
func hostAddr(host, port, socket string) (string, string, error) {
	if h, p, err := net.SplitHostPort(host); err == nil && port == "" {
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if socket != "" && (host == "" || host == "localhost") {
		return "unix", socket, nil
	}
	if (host == "" || host == "localhost") && port == "" {
		return "unix", DefaultSocket, nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// Open connects with r's configuration and checks the connection, turning the
// usual failures into one *ConnectError that says what happened and what to
// check. The connect and the server's greeting each get Config.Timeout.
func Open(ctx context.Context, r *Resolved) (db *sql.DB, err error) {
	c, err := mysql.NewConnector(r.Config)
	if err != nil {
		return nil, fmt.Errorf("dbconn: %w", err)
	}
	db = sql.OpenDB(c)
	budget := 2 * r.Config.Timeout
	pctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	mark := r.log.mark()
	defer func() {
		// The driver indexes into the server's greeting without checking
		// its length: a service that answers with a short packet panics it.
		if p := recover(); p != nil {
			db.Close()
			db, err = nil, r.explain(fmt.Errorf("%w: the driver failed on it: %v", mysql.ErrMalformPkt, p), nil, budget)
		}
	}()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, r.explain(err, r.log.since(mark), budget)
	}
	return db, nil
}

// Explain rewrites an error from connecting with r's configuration as one
// line saying what happened and what to check (a *ConnectError), reading
// what the driver logged for r's connections.
func (r *Resolved) Explain(err error) error {
	return r.explain(err, r.log.since(0), 2*r.Config.Timeout)
}

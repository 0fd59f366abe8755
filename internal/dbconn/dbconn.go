// Package dbconn turns the places a MySQL client looks for connection settings
// into one *mysql.Config: a go-sql-driver DSN, the [client] section of a
// my.cnf (--defaults-file), LiveAgent's accounts/settings.php (--install-dir)
// and the MYSQL_PWD password. It never needs a password on a command line,
// and every error names where the offending setting came from.
package dbconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultSocket is where Debian's MariaDB and MySQL listen.
const DefaultSocket = "/run/mysqld/mysqld.sock"

// Sources are the places settings come from. Later sources override earlier
// ones field by field: settings.php, then the defaults file, then the DSN.
// Password, the MYSQL_PWD value, is used only when no other source sets one.
type Sources struct {
	DSN          string // go-sql-driver DSN (--dsn, LAMIGRATE_DSN)
	DefaultsFile string // my.cnf with a [client] section
	InstallDir   string // LiveAgent installation (reads accounts/settings.php)
	Password     string // MYSQL_PWD
	DefaultUser  string // used when no source names a user
}

// Resolved is a connection configuration and where each part came from.
type Resolved struct {
	Config *mysql.Config
	// Origin maps "user", "password", "address", "database" to the source
	// that set it ("--dsn", "MYSQL_PWD", "/etc/my.cnf", ".../settings.php").
	Origin map[string]string
	// Settings is LiveAgent's settings.php when InstallDir was given.
	Settings *Settings
}

// Resolve merges the sources into a configuration. It reads files but does
// not connect.
func (s Sources) Resolve() (*Resolved, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "unix", DefaultSocket
	r := &Resolved{Config: cfg, Origin: map[string]string{"address": "default"}}
	set := func(field, origin string) { r.Origin[field] = origin }

	if s.InstallDir != "" {
		path := SettingsPath(s.InstallDir)
		st, err := ReadSettings(path)
		if err != nil {
			return nil, err
		}
		r.Settings = st
		if st.Hostname != "" {
			net, addr, err := hostAddr(st.Hostname, "", "")
			if err != nil {
				return nil, fmt.Errorf("dbconn: %s: DB_HOSTNAME: %w", path, err)
			}
			cfg.Net, cfg.Addr = net, addr
			set("address", path)
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
	if s.DefaultsFile != "" {
		c, err := ReadDefaultsFile(s.DefaultsFile)
		if err != nil {
			return nil, err
		}
		o := s.DefaultsFile
		if c.Host != "" || c.Port != "" || c.Socket != "" {
			net, addr, err := hostAddr(c.Host, c.Port, c.Socket)
			if err != nil {
				return nil, fmt.Errorf("dbconn: %s: %w", o, err)
			}
			cfg.Net, cfg.Addr = net, addr
			set("address", o)
		}
		if c.User != "" {
			cfg.User = c.User
			set("user", o)
		}
		if c.HasPassword {
			cfg.Passwd = c.Password
			set("password", o)
		}
		if c.Database != "" {
			cfg.DBName = c.Database
			set("database", o)
		}
	}
	if s.DSN != "" {
		d, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			return nil, fmt.Errorf("dbconn: --dsn/LAMIGRATE_DSN is not a valid DSN (want user@unix(/run/mysqld/mysqld.sock)/db or user@tcp(host:3306)/db): %v", err)
		}
		// Keep the DSN's parameters (timeouts, TLS, ...), then lay the
		// fields it really names over what the files said.
		base := *cfg
		*cfg = *d
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = base.User, base.Passwd, base.Net, base.Addr, base.DBName
		if d.User != "" {
			cfg.User = d.User
			set("user", "--dsn")
		}
		if d.Passwd != "" {
			cfg.Passwd = d.Passwd
			set("password", "--dsn")
		}
		if strings.Contains(s.DSN, "(") {
			cfg.Net, cfg.Addr = d.Net, d.Addr
			set("address", "--dsn")
		}
		if d.DBName != "" {
			cfg.DBName = d.DBName
			set("database", "--dsn")
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
	// Settings lamigrate relies on everywhere.
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
// usual failures into one actionable sentence.
func Open(ctx context.Context, r *Resolved) (*sql.DB, error) {
	c, err := mysql.NewConnector(r.Config)
	if err != nil {
		return nil, fmt.Errorf("dbconn: %w", err)
	}
	db := sql.OpenDB(c)
	pctx, cancel := context.WithTimeout(ctx, r.Config.Timeout+5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, r.Explain(err)
	}
	return db, nil
}

// Explain rewrites a connection error as what failed and what to do.
func (r *Resolved) Explain(err error) error {
	cfg := r.Config
	where := cfg.Addr
	if cfg.Net == "unix" {
		where = "socket " + cfg.Addr
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045:
			pw := "no password"
			if o, ok := r.Origin["password"]; ok {
				pw = "the password from " + o
			}
			return fmt.Errorf("access denied for user %q at %s with %s (user from %s): check the user and password", cfg.User, where, pw, r.Origin["user"])
		case 1049:
			return fmt.Errorf("database %q does not exist on %s (database from %s): check the database name", cfg.DBName, where, r.Origin["database"])
		case 1044:
			return fmt.Errorf("user %q may not use database %q on %s: grant it the privileges or use another user", cfg.User, cfg.DBName, where)
		}
		return fmt.Errorf("server at %s refused the connection: %v", where, me)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, os.ErrNotExist) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot reach the database server at %s (address from %s): %v: is it running, and is the address right?", where, r.Origin["address"], rootCause(err))
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("connecting to %s: %v", where, err)
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

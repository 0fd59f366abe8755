package main

import (
	"context"
	"database/sql"
	"os/user"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/qualityunit/lamigrate/internal/dbconn"
	"github.com/qualityunit/lamigrate/internal/shquote"
)

// The driver prints what it logs on stderr ("[mysql] ... packets.go:100
// unexpected EOF"). Connections built by dbconn log to their Resolved, which
// turns the lines into the error; this drops what any other connection of
// this process would print.
func init() { mysql.SetLogger(dbconn.DiscardLogger{}) }

// connFlags are the connection sources every database verb takes. No
// password flag on purpose: it comes from MYSQL_PWD, a my.cnf or LiveAgent's
// settings.php (a password inside --dsn works, with a warning).
type connFlags struct {
	DSN               string `name:"dsn" help:"go-sql-driver DSN, e.g. user@unix(/run/mysqld/mysqld.sock)/db or user@tcp(host:3306)/db (env LAMIGRATE_DSN). Give the password in MYSQL_PWD or ~/.my.cnf, not here: the command line is visible to other users." placeholder:"DSN"`
	DefaultsFile      string `name:"defaults-file" help:"Read only this option file, not /etc/my.cnf, /etc/mysql/my.cnf and ~/.my.cnf (host, port, socket, user, password and database of its [client], [client-server] and [client-mariadb] groups)." placeholder:"FILE"`
	DefaultsExtraFile string `name:"defaults-extra-file" help:"Also read this option file, after /etc/my.cnf and /etc/mysql/my.cnf and before ~/.my.cnf." placeholder:"FILE"`
	NoDefaults        bool   `name:"no-defaults" help:"Read no option file (my.cnf)."`
	InstallDir        string `name:"install-dir" help:"LiveAgent installation folder: read the database settings from accounts/settings.php." placeholder:"DIR"`

	warned bool // the password-in---dsn and option file warnings were printed
}

// dsnPasswordWarning is printed once when --dsn carries a password.
const dsnPasswordWarning = "the password in --dsn is visible to other users of this machine (ps, /proc): " +
	"leave it out of --dsn and set MYSQL_PWD, or put password= in the [client] section of ~/.my.cnf (or of a file given with --defaults-file)"

// sources are the connection sources the flags and the environment give:
// LAMIGRATE_DSN, MYSQL_PWD, and HOME, MARIADB_HOME or MYSQL_HOME for the
// option files.
func (c *connFlags) sources(e *env) dbconn.Sources {
	dsn, from := c.DSN, "--dsn"
	if dsn == "" {
		dsn, from = e.getenv("LAMIGRATE_DSN"), "LAMIGRATE_DSN"
	}
	def := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		def = u.Username
	}
	myHome := e.getenv("MARIADB_HOME")
	if myHome == "" {
		myHome = e.getenv("MYSQL_HOME")
	}
	return dbconn.Sources{DSN: dsn, DSNOrigin: from,
		DefaultsFile: c.DefaultsFile, DefaultsExtraFile: c.DefaultsExtraFile, NoDefaults: c.NoDefaults,
		Home: e.getenv("HOME"), MySQLHome: myHome,
		InstallDir: c.InstallDir, Password: e.getenv("MYSQL_PWD"), DefaultUser: def}
}

// optionFileArgs repeats the option file flags the user gave, for hints
// that must work when pasted.
func (c *connFlags) optionFileArgs() []string {
	var a []string
	if c.NoDefaults {
		a = append(a, "--no-defaults")
	}
	if c.DefaultsFile != "" {
		a = append(a, "--defaults-file", shquote.Quote(c.DefaultsFile))
	}
	if c.DefaultsExtraFile != "" {
		a = append(a, "--defaults-extra-file", shquote.Quote(c.DefaultsExtraFile))
	}
	return a
}

// resolve merges the flags with LAMIGRATE_DSN, MYSQL_PWD and the option
// files.
func (c *connFlags) resolve(e *env) (*dbconn.Resolved, error) {
	s := c.sources(e)
	r, err := s.Resolve()
	if err != nil {
		return nil, withStatus(exitUsage, err)
	}
	if s.DSN == "" && c.DefaultsFile == "" && c.DefaultsExtraFile == "" && c.InstallDir == "" && r.Config.DBName == "" {
		return nil, usageErr("no database given: use --dsn, LAMIGRATE_DSN, --defaults-file or --install-dir, or put database= in the [client] section of ~/.my.cnf (%s)", optionFilesRead(r))
	}
	if !c.warned && e.ui != nil {
		// Like the mysql client's "Using a password on the command line
		// interface can be insecure": it works, and says so once. The
		// environment is not visible to other users, so LAMIGRATE_DSN is
		// fine.
		if r.Origin["password"] == "--dsn" {
			e.ui.warn(dsnPasswordWarning)
		}
		for _, w := range r.Options.Warnings {
			e.ui.warn("%s", w)
		}
		c.warned = true
	}
	return r, nil
}

// optionFilesRead says which option files r read.
func optionFilesRead(r *dbconn.Resolved) string {
	switch {
	case r.NoDefaults:
		return "--no-defaults: none read"
	case len(r.Options.Read) == 0:
		return "none found: looked for " + strings.Join(r.Options.Looked, ", ")
	}
	return "read: " + strings.Join(r.Options.Read, ", ")
}

// open resolves and connects; the database name is required.
func (c *connFlags) open(ctx context.Context, e *env) (*sql.DB, *dbconn.Resolved, error) {
	r, err := c.resolve(e)
	if err != nil {
		return nil, nil, err
	}
	if r.Config.DBName == "" {
		return nil, nil, usageErr("no database name: put it in the DSN (.../dbname), an option file ([client] database=, %s) or settings.php (DB_DATABASE)", optionFilesRead(r))
	}
	db, err := dbconn.Open(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return db, r, nil
}

package main

import (
	"database/sql"
	"os/user"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/dbconn"
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
	DSN          string `name:"dsn" help:"go-sql-driver DSN, e.g. user@unix(/run/mysqld/mysqld.sock)/db or user@tcp(host:3306)/db (env LAMIGRATE_DSN). Give the password in MYSQL_PWD or --defaults-file, not here: the command line is visible to other users." placeholder:"DSN"`
	DefaultsFile string `name:"defaults-file" help:"Read host, port, socket, user, password and database from the [client] section of this my.cnf." placeholder:"FILE"`
	InstallDir   string `name:"install-dir" help:"LiveAgent installation folder: read the database settings from accounts/settings.php." placeholder:"DIR"`

	warned bool // the password-in---dsn warning was printed
}

// dsnPasswordWarning is printed once when --dsn carries a password.
const dsnPasswordWarning = "the password in --dsn is visible to other users of this machine (ps, /proc): " +
	"leave it out of --dsn and set MYSQL_PWD, or put password= in the [client] section of a my.cnf and pass --defaults-file"

// resolve merges the flags with LAMIGRATE_DSN and MYSQL_PWD.
func (c *connFlags) resolve(e *env) (*dbconn.Resolved, error) {
	dsn, from := c.DSN, "--dsn"
	if dsn == "" {
		dsn, from = e.getenv("LAMIGRATE_DSN"), "LAMIGRATE_DSN"
	}
	if dsn == "" && c.DefaultsFile == "" && c.InstallDir == "" {
		return nil, usageErr("no database given: use --dsn, LAMIGRATE_DSN, --defaults-file or --install-dir")
	}
	def := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		def = u.Username
	}
	r, err := dbconn.Sources{DSN: dsn, DSNOrigin: from, DefaultsFile: c.DefaultsFile, InstallDir: c.InstallDir,
		Password: e.getenv("MYSQL_PWD"), DefaultUser: def}.Resolve()
	if err != nil {
		return nil, withStatus(exitUsage, err)
	}
	// Like the mysql client's "Using a password on the command line
	// interface can be insecure": it works, and says so once. The
	// environment is not visible to other users, so LAMIGRATE_DSN is fine.
	if r.Origin["password"] == "--dsn" && !c.warned && e.ui != nil {
		c.warned = true
		e.ui.warn(dsnPasswordWarning)
	}
	return r, nil
}

// open resolves and connects; the database name is required.
func (c *connFlags) open(e *env) (*sql.DB, *dbconn.Resolved, error) {
	r, err := c.resolve(e)
	if err != nil {
		return nil, nil, err
	}
	if r.Config.DBName == "" {
		return nil, nil, usageErr("no database name: put it in the DSN (.../dbname), the defaults file (database=) or settings.php (DB_DATABASE)")
	}
	db, err := dbconn.Open(e.ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return db, r, nil
}

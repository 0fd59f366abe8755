package main

import (
	"database/sql"
	"os/user"

	"github.com/qualityunit/lamigrate/internal/dbconn"
)

// connFlags are the connection sources every database verb takes. No
// password flag on purpose: it comes from the DSN file sources, MYSQL_PWD,
// a my.cnf or LiveAgent's settings.php.
type connFlags struct {
	DSN          string `name:"dsn" help:"go-sql-driver DSN, e.g. user@unix(/run/mysqld/mysqld.sock)/db or user@tcp(host:3306)/db (env LAMIGRATE_DSN)." placeholder:"DSN"`
	DefaultsFile string `name:"defaults-file" help:"Read host, port, socket, user, password and database from the [client] section of this my.cnf." placeholder:"FILE"`
	InstallDir   string `name:"install-dir" help:"LiveAgent installation folder: read the database settings from accounts/settings.php." placeholder:"DIR"`
}

// resolve merges the flags with LAMIGRATE_DSN and MYSQL_PWD.
func (c *connFlags) resolve(e *env) (*dbconn.Resolved, error) {
	dsn := c.DSN
	if dsn == "" {
		dsn = e.getenv("LAMIGRATE_DSN")
	}
	if dsn == "" && c.DefaultsFile == "" && c.InstallDir == "" {
		return nil, usageErr("no database given: use --dsn, LAMIGRATE_DSN, --defaults-file or --install-dir")
	}
	def := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		def = u.Username
	}
	r, err := dbconn.Sources{DSN: dsn, DefaultsFile: c.DefaultsFile, InstallDir: c.InstallDir,
		Password: e.getenv("MYSQL_PWD"), DefaultUser: def}.Resolve()
	if err != nil {
		return nil, withStatus(exitUsage, err)
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

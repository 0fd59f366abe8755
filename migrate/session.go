package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/dbconn"
)

// Session is what a step sees while it runs: the configuration, what
// earlier steps produced, the database, and the progress sink.
type Session struct {
	// Config is the plan's configuration, with defaults applied.
	Config Config

	opt     RunOptions
	journal *Journal
	db      *sql.DB
	dbRes   *dbconn.Resolved
	step    string
	index   int
	count   int
	out     *Output
	est     *basis
}

// Getenv reads an environment variable through RunOptions.Getenv.
func (s *Session) Getenv(name string) string {
	if s.opt.Getenv == nil || name == "" {
		return ""
	}
	return s.opt.Getenv(name)
}

// Secret returns a function yielding the secret in the environment
// variable env (or prompting, when the caller allows it).
func (s *Session) Secret(env, prompt string) func() (string, error) {
	if s.opt.Secret != nil {
		return s.opt.Secret(env, prompt)
	}
	return func() (string, error) {
		if v := s.Getenv(env); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("migrate: %s needed: set the environment variable %s", strings.ToLower(prompt), env)
	}
}

// Output returns what the named step produced in this run or an earlier
// one, if it is done.
func (s *Session) Output(step string) (Output, bool) {
	if s.journal == nil {
		return Output{}, false
	}
	r := s.journal.Step(step)
	if r == nil || r.Status != Done || r.Output == nil {
		return Output{}, false
	}
	return *r.Output, true
}

// Path returns name inside the output folder.
func (s *Session) Path(name string) string { return filepath.Join(s.Config.OutputDir, name) }

// Progress reports the current step's progress.
func (s *Session) Progress(done, total int64, bytes bool, note string) {
	s.emit(Event{Kind: EventStepProgress, Step: s.step, Index: s.index, Count: s.count,
		Done: done, Total: total, Bytes: bytes, Message: note})
}

// Info reports something worth knowing.
func (s *Session) Info(format string, args ...any) {
	s.emit(Event{Kind: EventInfo, Step: s.step, Message: fmt.Sprintf(format, args...)})
}

// Warn reports something a person should read; it is also recorded in the
// step's output.
func (s *Session) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.out != nil {
		s.out.Warnings = append(s.out.Warnings, msg)
	}
	s.emit(Event{Kind: EventWarning, Step: s.step, Message: msg})
}

func (s *Session) emit(e Event) {
	if s.opt.Progress != nil {
		s.opt.Progress.Event(e)
	}
}

func (s *Session) now() time.Time {
	if s.opt.Now != nil {
		return s.opt.Now()
	}
	return time.Now()
}

// Resolve returns the configured connection without connecting.
func (s *Session) Resolve() (*dbconn.Resolved, error) {
	if s.dbRes != nil {
		return s.dbRes, nil
	}
	c := s.Config.Connection
	dsn := c.DSN
	if c.DSNEnv != "" {
		if v := s.Getenv(c.DSNEnv); v != "" {
			dsn = v
		} else if dsn == "" {
			return nil, fmt.Errorf("migrate: connection.dsn_env names %s, which is not set", c.DSNEnv)
		}
	}
	def := s.opt.DefaultUser
	if def == "" {
		def = "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			def = u.Username
		}
	}
	from := "connection.dsn"
	if c.DSNEnv != "" && dsn != c.DSN {
		from = c.DSNEnv
	}
	myHome := s.Getenv("MARIADB_HOME")
	if myHome == "" {
		myHome = s.Getenv("MYSQL_HOME")
	}
	r, err := dbconn.Sources{DSN: dsn, DSNOrigin: from,
		DefaultsFile: c.DefaultsFile, DefaultsExtraFile: c.DefaultsExtraFile, NoDefaults: c.NoDefaults,
		Home: s.Getenv("HOME"), MySQLHome: myHome,
		InstallDir: c.InstallDir, Password: s.Getenv(c.PasswordEnv), DefaultUser: def}.Resolve()
	if err != nil {
		return nil, err
	}
	if r.Config.DBName == "" {
		return nil, errors.New("migrate: the connection names no database: put it in connection.dsn (.../dbname), the defaults file (database=) or settings.php (DB_DATABASE)")
	}
	s.dbRes = r
	return r, nil
}

// DB returns the configured database, connecting on first use. The run
// closes it at its end.
func (s *Session) DB(ctx context.Context) (*sql.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, err
	}
	db, err := dbconn.Open(ctx, r)
	if err != nil {
		return nil, err
	}
	s.db = db
	return db, nil
}

func (s *Session) close() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

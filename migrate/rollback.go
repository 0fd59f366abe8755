package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/qualityunit/lamigrate/internal/shquote"
)

// rollback undoes, in reverse order, every step up to index last that has
// an Undo and did something, unless the configuration says to stay
// isolated. It returns cause joined with any rollback failure.
func (p *Plan) rollback(ctx context.Context, s *Session, last int, cause error, rep *Report) error {
	cfg := s.Config
	var todo []int
	for i := last; i >= 0; i-- {
		r := s.journal.Step(p.Steps[i].Name)
		if p.Steps[i].Undo != nil && (r.Status == Done || r.Status == Started || r.Status == Failed) {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return cause
	}
	if cfg.Isolate.StayIsolatedOnFailure {
		s.step = ""
		rep.StayedIsolated, rep.RestoreCommand = true, cfg.RestoreCommand()
		s.Warn("not rolling back (isolate.stay_isolated_on_failure): the installation stays isolated; undo it with %s", rep.RestoreCommand)
		return cause
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RollbackTimeout.D())
	defer cancel()
	rep.RolledBack = true
	errs := []error{cause}
	first := -1
	for _, i := range todo {
		st := &p.Steps[i]
		r := s.journal.Step(st.Name)
		s.step, s.index = st.Name, i+1
		s.emit(Event{Kind: EventUndoStart, Step: st.Name, Index: i + 1, Count: len(p.Steps), Message: "rolling back " + st.Name})
		u := &UndoRecord{Started: s.now()}
		err := st.Undo(rctx, s)
		u.Ended = s.now()
		r.Undo = u
		if err != nil {
			u.Error = err.Error()
			errs = append(errs, fmt.Errorf("rolling back %s failed: %w", st.Name, err))
		} else {
			r.Status = Undone
			first = i
		}
		s.journal.save(u.Ended)
		s.emit(Event{Kind: EventUndoEnd, Step: st.Name, Index: i + 1, Count: len(p.Steps), Record: copyRec(r)})
	}
	// What ran after a rolled-back step depended on it: run it again.
	if first >= 0 {
		for i := first + 1; i < len(p.Steps); i++ {
			r := s.journal.Step(p.Steps[i].Name)
			if r.Status == Done {
				r.Status, r.Note = Pending, "to redo: "+p.Steps[first].Name+" was rolled back"
			}
		}
		s.journal.save(s.now())
	}
	return errors.Join(errs...)
}

// RestoreCommand is the lamigrate restore command that puts back what the
// source side isolated, with the configured connection and state file,
// quoted for a POSIX shell. A DSN held in an environment variable is
// referred to by name ("$SRC_DSN"), and so is a password variable other
// than MYSQL_PWD, so the command works where those variables are set.
func (c Config) RestoreCommand() string {
	conn := c.Connection
	var b strings.Builder
	if conn.PasswordEnv != "" && conn.PasswordEnv != "MYSQL_PWD" {
		fmt.Fprintf(&b, `MYSQL_PWD="$%s" `, conn.PasswordEnv)
	}
	b.WriteString("lamigrate restore")
	switch {
	case conn.DSNEnv != "":
		fmt.Fprintf(&b, ` --dsn "$%s"`, conn.DSNEnv)
	case conn.DSN != "":
		b.WriteString(" --dsn " + shquote.Quote(conn.DSN))
	}
	if conn.NoDefaults {
		b.WriteString(" --no-defaults")
	}
	if conn.DefaultsFile != "" {
		b.WriteString(" --defaults-file " + shquote.Quote(conn.DefaultsFile))
	}
	if conn.DefaultsExtraFile != "" {
		b.WriteString(" --defaults-extra-file " + shquote.Quote(conn.DefaultsExtraFile))
	}
	if conn.InstallDir != "" {
		b.WriteString(" --install-dir " + shquote.Quote(conn.InstallDir))
	}
	b.WriteString(" --state " + shquote.Quote(c.StatePath()))
	return b.String()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/qualityunit/lamigrate/internal/shquote"
	"github.com/qualityunit/lamigrate/migrate/adjust"
)

type adjustCmd struct {
	connFlags
	Rules  string            `name:"rules" help:"Reviewed rules file of cloud-specific changes (JSON)." placeholder:"FILE"`
	DryRun bool              `name:"dry-run" help:"Show what would change, change nothing."`
	Param  map[string]string `name:"param" help:"Value of the rules parameter NAME (repeatable)." placeholder:"NAME=VALUE"`
	Record string            `name:"record" help:"Record what changed in FILE (appended when it exists), for --undo." placeholder:"FILE"`
	Undo   string            `name:"undo" help:"Put back what a --record FILE says adjust changed, where the values are still what adjust wrote." placeholder:"FILE"`
}

func (c *adjustCmd) Run(ctx context.Context, e *env) error {
	switch {
	case c.Rules == "" && c.Undo == "":
		return usageErr("give --rules FILE (or --undo RECORD to take changes back)")
	case c.Rules != "" && c.Undo != "":
		return usageErr("--rules and --undo do not go together: run one, then the other")
	case c.Undo != "" && (c.Record != "" || len(c.Param) > 0):
		return usageErr("--undo takes no --record or --param")
	}
	if c.Undo != "" {
		return c.undo(ctx, e)
	}
	rules, err := adjust.LoadRules(c.Rules)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	if missing := rules.Missing(c.Param); len(missing) > 0 {
		var flags []string
		for _, m := range missing {
			flags = append(flags, "--param "+m+"=VALUE")
		}
		return usageErr("%v (rules %s): add %s to the command", &adjust.MissingParamsError{Names: missing}, c.Rules, strings.Join(flags, " "))
	}
	for name := range c.Param {
		if !slices.Contains(rules.Params, name) {
			declared := "none"
			if len(rules.Params) > 0 {
				declared = strings.Join(rules.Params, ", ")
			}
			return usageErr("--param %s: the rules %s have no parameter %s (they declare: %s)", name, c.Rules, name, declared)
		}
	}
	var prior *adjust.Record
	if c.Record != "" && !c.DryRun {
		switch r, err := adjust.ReadRecord(c.Record); {
		case err == nil:
			prior = r
		case errors.Is(err, fs.ErrNotExist):
		default:
			return fmt.Errorf("%v: give another --record FILE", err)
		}
	}
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := adjust.Apply(ctx, db, rules, adjust.Config{DryRun: c.DryRun, Params: c.Param})
	if err != nil {
		return err
	}
	if c.Record != "" && !c.DryRun {
		rec := rep.Record()
		if prior != nil {
			if prior.Database != rec.Database {
				return fmt.Errorf("changes committed, but not recorded: %s records database %s, not %s; the changes are listed in this run's --json output", c.Record, prior.Database, rec.Database)
			}
			prior.Append(rec)
			rec = prior
		}
		if err := rec.Write(c.Record); err != nil {
			return fmt.Errorf("changes committed, but writing the record failed: %v", err)
		}
	}
	undo, note := c.undoCommand(e)
	return e.ui.result(rep, func(w io.Writer) { c.printAdjust(w, rep, undo, note) })
}

// undoCommand is the command that takes this run's changes back, with the
// connection flags as given (the DSN without its password, which the
// command line never carries), and a note when it needs the password set
// first.
func (c *adjustCmd) undoCommand(e *env) (cmd, note string) {
	conn := c.connFlags
	if conn.DSN == "" {
		conn.DSN = e.getenv("LAMIGRATE_DSN")
	}
	if _, stripped := withoutPassword(conn.DSN); stripped && e.getenv("MYSQL_PWD") == "" {
		note = "the DSN's password is left out: export MYSQL_PWD first"
	}
	return "lamigrate adjust" + conn.hintConn() + " --undo " + shquote.Quote(c.Record), note
}

// withoutPassword removes the password from a go-sql-driver DSN
// (user:password@net(addr)/db), keeping the rest as written.
func withoutPassword(dsn string) (string, bool) {
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		return dsn, false
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return dsn, false
	}
	colon := strings.Index(dsn[:at], ":")
	if colon < 0 {
		return dsn, false
	}
	return dsn[:colon] + dsn[at:], at > colon+1
}

func (c *adjustCmd) undo(ctx context.Context, e *env) error {
	rec, err := adjust.ReadRecord(c.Undo)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := adjust.Undo(ctx, db, rec, c.DryRun)
	if err != nil {
		return err
	}
	if err := e.ui.result(rep, func(w io.Writer) { printUndo(w, rep) }); err != nil {
		return err
	}
	if n := len(rep.Conflicts); n > 0 {
		return fmt.Errorf("%d row(s) changed since adjust wrote them and were left as they are: check them by hand", n)
	}
	return nil
}

const maxRowsShown = 20

func (c *adjustCmd) printAdjust(w io.Writer, r *adjust.Report, undo, note string) {
	mode := "changed"
	if r.DryRun {
		mode = "would change (dry run, rolled back)"
	}
	fmt.Fprintf(w, "adjust of database %s: %s %d row(s) with %d rule(s)\n", r.Database, mode, r.Changed, len(r.Rules))
	for _, rr := range r.Rules {
		if rr.Kind == "sql" {
			fmt.Fprintf(w, "  %-24s sql: %d row(s) affected\n", rr.Name, rr.Changed)
			continue
		}
		fmt.Fprintf(w, "  %-24s %s: %d matched, %d changed, %d already set\n", rr.Name, rr.Table, rr.Matched, rr.Changed, rr.Unchanged)
		for i, ch := range rr.Changes {
			if i == maxRowsShown {
				fmt.Fprintf(w, "      … and %d more (see --json)\n", len(rr.Changes)-i)
				break
			}
			fmt.Fprintf(w, "      %s: %s\n", cells(ch.Key, nil), cells(ch.Before, ch.After))
		}
	}
	if c.Record == "" && !r.DryRun && r.Changed > 0 {
		fmt.Fprintln(w, "not recorded: with --record FILE, adjust keeps what it changed so --undo FILE can put it back")
	}
	if c.Record != "" && !r.DryRun {
		fmt.Fprintf(w, "recorded in %s; to undo, run:\n  %s\n", c.Record, undo)
		if note != "" {
			fmt.Fprintf(w, "(%s)\n", note)
		}
	}
}

func printUndo(w io.Writer, r *adjust.UndoReport) {
	mode := "restored"
	if r.DryRun {
		mode = "would restore (dry run, rolled back)"
	}
	fmt.Fprintf(w, "undo of adjust on database %s: %s %d row(s), %d already as before, %d conflict(s)\n",
		r.Database, mode, r.Restored, r.AlreadyUndone, len(r.Conflicts))
	for _, cf := range r.Conflicts {
		fmt.Fprintf(w, "  ! %s %s: %s", cf.Table, cells(cf.Key, nil), cf.Reason)
		if cf.Found != nil {
			fmt.Fprintf(w, " (adjust wrote %s, now %s)", cells(cf.Wrote, nil), cells(cf.Found, nil))
		}
		fmt.Fprintln(w)
	}
	for _, s := range r.NotUndoable {
		fmt.Fprintf(w, "  ! rule %q ran SQL that cannot be undone automatically (%d row(s)): %s\n", s.Rule, s.Affected, s.SQL)
	}
}

// cells renders col=value pairs, or col: before → after when after is set.
func cells(m, after map[string]adjust.Cell) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if after != nil {
			parts = append(parts, fmt.Sprintf("%s %s → %s", k, short(m[k].String()), short(after[k].String())))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%s", k, short(m[k].String())))
		}
	}
	return strings.Join(parts, ", ")
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "…"
	}
	return s
}

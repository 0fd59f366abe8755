package check

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Grant is one privilege grant from SHOW GRANTS, on a database pattern and
// a table ("*" for all).
type Grant struct {
	Privileges []string // upper case; "ALL" for ALL PRIVILEGES
	DB, Table  string   // "*" for any; DB may hold LIKE wildcards
}

// ParseGrant parses one SHOW GRANTS line. ok is false for lines that grant
// no table privileges (roles, PROXY, routines, column-only grants).
func ParseGrant(line string) (g Grant, ok bool) {
	s := strings.TrimSpace(line)
	if !strings.HasPrefix(strings.ToUpper(s), "GRANT ") {
		return g, false
	}
	s = s[len("GRANT "):]
	// Privileges run to " ON " outside parentheses and quotes.
	depth, on := 0, -1
	for i := 0; i < len(s) && on < 0; i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '`':
			for i++; i < len(s) && s[i] != '`'; i++ {
			}
		case ' ':
			if depth == 0 && strings.HasPrefix(strings.ToUpper(s[i:]), " ON ") {
				on = i
			}
		}
	}
	if on < 0 {
		return g, false
	}
	for _, p := range splitTop(s[:on]) {
		p = strings.ToUpper(strings.TrimSpace(p))
		if strings.Contains(p, "(") { // column privilege: not enough for a dump
			continue
		}
		if p == "ALL PRIVILEGES" {
			p = "ALL"
		}
		g.Privileges = append(g.Privileges, p)
	}
	rest := strings.TrimSpace(s[on+len(" ON "):])
	up := strings.ToUpper(rest)
	if strings.HasPrefix(up, "PROCEDURE ") || strings.HasPrefix(up, "FUNCTION ") || strings.HasPrefix(up, "PACKAGE ") {
		return g, false
	}
	if strings.HasPrefix(up, "TABLE ") {
		rest = strings.TrimSpace(rest[len("TABLE "):])
	}
	db, rest, ok1 := grantIdent(rest)
	if !ok1 {
		return g, false
	}
	if strings.HasPrefix(rest, ".") {
		t, _, ok2 := grantIdent(rest[1:])
		if !ok2 {
			return g, false
		}
		g.DB, g.Table = db, t
	} else {
		g.DB, g.Table = "", db // table in the current database
	}
	return g, len(g.Privileges) > 0
}

// grantIdent reads `name` (backticks doubled inside) or * or a bare word.
func grantIdent(s string) (string, string, bool) {
	switch {
	case s == "":
		return "", "", false
	case s[0] == '*':
		return "*", s[1:], true
	case s[0] == '`':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '`' {
				if i+1 < len(s) && s[i+1] == '`' {
					b.WriteByte('`')
					i++
					continue
				}
				return b.String(), s[i+1:], true
			}
			b.WriteByte(s[i])
		}
		return "", "", false
	}
	i := strings.IndexAny(s, ". ")
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i:], true
}

func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// likeMatch matches name against a grant's database pattern (% and _
// wildcards, \ escapes).
func likeMatch(pattern, name string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch ch := pattern[i]; ch {
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), name)
	return ok
}

// Allows reports whether grants give priv on db.table.
func Allows(grants []Grant, priv, db, table string) bool {
	for _, g := range grants {
		has := false
		for _, p := range g.Privileges {
			if p == priv || p == "ALL" {
				has = true
			}
		}
		if !has {
			continue
		}
		switch {
		case g.DB == "*":
			return true
		case g.DB == "" && g.Table == "*": // ON * : the current database
			return true
		case g.DB != "" && !likeMatch(g.DB, db):
			continue
		case g.Table == "*" || strings.EqualFold(g.Table, table):
			return true
		}
	}
	return false
}

// privileges checks the grants the dump (SELECT, SHOW VIEW, TRIGGER) and
// isolate (UPDATE on the source tables) need.
func (c *checker) privileges(ctx context.Context) error {
	f := &c.rep.Facts
	f.Privileges = map[string]bool{}
	grants, roles, err := c.readGrants(ctx)
	if isGrantsErr(err) {
		c.add(Warning, "privileges", "", "check the grants yourself: SELECT, SHOW VIEW, TRIGGER on the database, UPDATE on the source tables",
			"cannot read the grants: %v", err)
		return nil
	}
	if err != nil {
		return err
	}
	missing := func(sev Severity, priv, what, action string) {
		if roles && sev == Blocker {
			sev = Warning
			action += " (it may come from a role: check with SHOW GRANTS FOR the role)"
		}
		c.add(sev, "privilege_missing", priv, action, "%s", what)
	}
	var noSelect []string
	for _, t := range f.Tables {
		if t.Type == "VIEW" || t.Ignored {
			continue
		}
		if !Allows(grants, "SELECT", c.dbName, t.Name) {
			noSelect = append(noSelect, t.Name)
		}
	}
	f.Privileges["SELECT"] = len(noSelect) == 0
	if len(noSelect) > 0 {
		missing(Blocker, "SELECT", fmt.Sprintf("no SELECT privilege on %s", limitList(noSelect, 5)),
			fmt.Sprintf("GRANT SELECT ON %s.* TO the migration user", c.dbName))
	}
	for _, need := range []struct {
		priv string
		n    int
		what string
	}{{"SHOW VIEW", len(f.Views), "view(s)"}, {"TRIGGER", f.Triggers, "trigger(s)"}} {
		ok := Allows(grants, need.priv, c.dbName, "*")
		f.Privileges[need.priv] = ok
		switch {
		case ok:
		case need.n > 0:
			missing(Blocker, need.priv, fmt.Sprintf("no %s privilege, and the database has %d %s the dump must read", need.priv, need.n, need.what),
				fmt.Sprintf("GRANT %s ON %s.* TO the migration user", need.priv, c.dbName))
		case need.priv == "TRIGGER":
			// information_schema hides triggers from users without it.
			c.add(Warning, "privilege_missing", need.priv, fmt.Sprintf("GRANT TRIGGER ON %s.* TO the migration user", c.dbName),
				"no TRIGGER privilege: triggers are invisible to this user, so the dump could leave them out")
		default:
			c.add(Info, "privilege_missing", need.priv, "", "no %s privilege; not needed (no %s)", need.priv, need.what)
		}
	}
	var noUpdate []string
	for _, s := range f.Sources {
		if s.Found && !Allows(grants, "UPDATE", c.dbName, s.Table) {
			noUpdate = append(noUpdate, s.Table)
		}
	}
	sort.Strings(noUpdate)
	noUpdate = compactStrings(noUpdate)
	f.Privileges["UPDATE sources"] = len(noUpdate) == 0
	if len(noUpdate) > 0 {
		missing(Warning, "UPDATE", fmt.Sprintf("no UPDATE privilege on source table(s) %s: isolate cannot deactivate them", limitList(noUpdate, 5)),
			"run isolate as a user with UPDATE on those tables")
	}
	if len(noSelect) == 0 && len(noUpdate) == 0 && f.Privileges["SHOW VIEW"] && f.Privileges["TRIGGER"] {
		c.add(Info, "privileges", "", "", "the user has every privilege the dump and isolate need (SELECT, SHOW VIEW, TRIGGER, UPDATE on sources)")
	}
	return nil
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func limitList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

// grantsErr is SHOW GRANTS refused or failing: a finding, not a failure.
type grantsErr struct{ err error }

func (e *grantsErr) Error() string { return e.err.Error() }
func (e *grantsErr) Unwrap() error { return e.err }

func isGrantsErr(err error) bool {
	_, ok := err.(*grantsErr)
	return ok
}

// readGrants reads SHOW GRANTS once (later calls return the same) and
// parses it; roles is true when a role is granted. A refused SHOW GRANTS
// is a *grantsErr.
func (c *checker) readGrants(ctx context.Context) (grants []Grant, roles bool, err error) {
	if c.grantsRead {
		return c.grants, c.roles, c.grantsErr
	}
	c.grants, c.roles, c.grantsErr = c.showGrants(ctx)
	if ctx.Err() == nil {
		c.grantsRead = true
	}
	return c.grants, c.roles, c.grantsErr
}

func (c *checker) showGrants(ctx context.Context) (grants []Grant, roles bool, err error) {
	rows, err := c.db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, err
		}
		return nil, false, &grantsErr{err}
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, false, err
		}
		if g, ok := ParseGrant(line); ok {
			grants = append(grants, g)
		} else if !strings.Contains(strings.ToUpper(line), " ON ") {
			roles = true // GRANT `role` TO user
		}
	}
	return grants, roles, rows.Err()
}

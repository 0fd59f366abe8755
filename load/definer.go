package load

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/sqlhead"
)

// definerObjects are the objects a CREATE gives a DEFINER.
var definerObjects = map[string]bool{"VIEW": true, "TRIGGER": true, "PROCEDURE": true, "FUNCTION": true,
	"EVENT": true, "PACKAGE": true}

// findDefiner finds the DEFINER clause of a comment-free CREATE statement
// (sqlhead.FindDefiner: also inside mysqldump's executable comments, never
// in a body).
func findDefiner(text []byte) (sqlhead.Definer, bool) { return sqlhead.FindDefiner(text) }

// stripDefiner removes a statement's DEFINER clause, so that the object is
// created with the importing account as its definer; SQL SECURITY and
// everything else stay as written.
func stripDefiner(text []byte, d sqlhead.Definer) []byte { return d.Strip(text) }

// account is the importing account and what it may do with definers.
type account struct {
	user, host string
	// anyDefiner: SUPER, SET USER (MariaDB 10.5+), SET_USER_ID or
	// SET_ANY_DEFINER (MySQL): any DEFINER is allowed.
	anyDefiner bool
}

func (a account) String() string { return ident.String(a.user) + "@" + ident.String(a.host) }

// allows reports whether the account may create an object with d as its
// definer: itself, CURRENT_USER, or anyone when it has the privilege.
func (a account) allows(d sqlhead.Definer) bool {
	return a.anyDefiner || d.Current || d.Host != "" && d.User == a.user && strings.EqualFold(d.Host, a.host)
}

// currentAccount reads the importing account (CURRENT_USER()) and whether
// its global grants let it set any definer.
func currentAccount(ctx context.Context, c *sql.Conn) (account, error) {
	var a account
	var cu string
	if err := c.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return a, fmt.Errorf("load: reading the importing account: %w", err)
	}
	i := strings.LastIndexByte(cu, '@')
	if i < 0 {
		a.user = cu
	} else {
		a.user, a.host = cu[:i], cu[i+1:]
	}
	rows, err := c.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return a, fmt.Errorf("load: reading the importing account's privileges: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return a, fmt.Errorf("load: reading the importing account's privileges: %w", err)
		}
		if grantsAnyDefiner(g) {
			a.anyDefiner = true
		}
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("load: reading the importing account's privileges: %w", err)
	}
	return a, nil
}

// grantsAnyDefiner reports whether a SHOW GRANTS line gives, on *.*, a
// privilege that allows any DEFINER.
func grantsAnyDefiner(g string) bool {
	u := strings.ToUpper(g)
	if !strings.HasPrefix(u, "GRANT ") {
		return false
	}
	privs, rest, ok := strings.Cut(u[len("GRANT "):], " ON ")
	if !ok || !strings.HasPrefix(strings.TrimSpace(rest), "*.*") {
		return false
	}
	for _, p := range strings.Split(privs, ",") {
		switch strings.TrimSpace(p) {
		case "ALL", "ALL PRIVILEGES", "SUPER", "SET USER", "SET_USER_ID", "SET_ANY_DEFINER":
			return true
		}
	}
	return false
}

// Object is a view, trigger, routine or event of an archive.
type Object struct {
	Type    string // VIEW, TRIGGER, PROCEDURE, FUNCTION, EVENT, PACKAGE
	Name    string
	Definer string // 'user'@'host' as written in the archive
}

// DefinerError reports objects of the archive whose DEFINER the importing
// account may not set (it lacks SUPER and SET USER). Load returns it before
// it loads any row when it can read the archive twice (r is an
// io.ReaderAt and io.Seeker, such as a file); reading a pipe, it returns it when it meets the first
// such object, and the tables loaded before stay (the same import with
// Config.StripDefiners continues).
type DefinerError struct {
	Account string   // the importing account, 'user'@'host'
	Objects []Object // in stream order
	// Late: found while loading a stream that cannot be read twice.
	Late bool
}

// Summary says what the archive creates and why the account may not, without
// the remedy (callers name their own switch).
func (e *DefinerError) Summary() string {
	var views, triggers, routines, events int
	var definers []string
	seen := map[string]bool{}
	for _, o := range e.Objects {
		switch o.Type {
		case "VIEW":
			views++
		case "TRIGGER":
			triggers++
		case "EVENT":
			events++
		default:
			routines++
		}
		if !seen[o.Definer] {
			seen[o.Definer] = true
			definers = append(definers, o.Definer)
		}
	}
	var counts []string
	for _, c := range []struct {
		n    int
		name string
	}{{views, "view"}, {triggers, "trigger"}, {routines, "routine"}, {events, "event"}} {
		if c.n == 1 {
			counts = append(counts, "1 "+c.name)
		} else if c.n > 1 {
			counts = append(counts, fmt.Sprintf("%d %ss", c.n, c.name))
		}
	}
	const shown = 5
	var names []string
	for i, o := range e.Objects {
		if i == shown && len(e.Objects) > shown+1 {
			names = append(names, fmt.Sprintf("%d more", len(e.Objects)-shown))
			break
		}
		names = append(names, strings.ToLower(o.Type)+" "+ident.Quote(o.Name))
	}
	what := "the archive creates "
	if e.Late {
		what = "the archive goes on to create "
	}
	return fmt.Sprintf("%s%s with DEFINER=%s (%s), which user %s may not set (that needs SUPER or SET USER)",
		what, andList(counts), strings.Join(definers, " or "), andList(names), e.Account)
}

func (e *DefinerError) Error() string {
	msg := "load: " + e.Summary() + ": import with StripDefiners to create them as " + e.Account
	if e.Late {
		msg += "; the tables loaded so far are kept and that import continues after them"
	}
	return msg
}

// andList joins "a", "a and b", "a, b and c".
func andList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// definers reads a whole stream and lists the objects whose DEFINER a may
// not set. It splits the stream as the import does, so a DEFINER inside
// row data or a routine's body does not count.
func definers(ctx context.Context, r io.Reader, a account) ([]Object, error) {
	sp := NewSplitter(r)
	var mode sqlMode
	var out []Object
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		sp.NoBackslashEscapes = mode.nbe
		st, err := sp.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w (the archive is damaged or cut short: check it with lamigrate verify)", err)
		}
		text := st.Text
		if len(text) > 6 && (text[0]|0x20 == 'i' || text[0]|0x20 == 'r') {
			continue // INSERT, REPLACE: the bulk of a dump, nothing to see
		}
		if st.HasComments {
			text = StripComments(text, mode.nbe)
		}
		cls := classify(text)
		if cls.kind == kindSession {
			mode.set(text)
			continue
		}
		if !definerObjects[cls.object] {
			continue
		}
		if d, ok := findDefiner(text); ok && !a.allows(d) {
			out = append(out, Object{Type: cls.object, Name: cls.name, Definer: d.String()})
		}
	}
}

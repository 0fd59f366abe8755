package load

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// definerObjects are the objects a CREATE gives a DEFINER.
var definerObjects = map[string]bool{"VIEW": true, "TRIGGER": true, "PROCEDURE": true, "FUNCTION": true,
	"EVENT": true, "PACKAGE": true}

// definerClause is the DEFINER = account clause of a CREATE statement.
type definerClause struct {
	// user and host name the account; host is "" for a role. current says
	// DEFINER = CURRENT_USER (or CURRENT_ROLE): always allowed.
	user, host string
	current    bool
	// start and end delimit the clause in the statement, from DEFINER to
	// the end of the account.
	start, end int
}

// String writes the account as MariaDB's messages do: 'user'@'host'.
func (d definerClause) String() string {
	if d.current {
		return "CURRENT_USER"
	}
	if d.host == "" {
		return ident.String(d.user)
	}
	return ident.String(d.user) + "@" + ident.String(d.host)
}

// findDefiner finds the DEFINER clause of a comment-free CREATE statement,
// before its object keyword: `CREATE DEFINER=… PROCEDURE`, and inside the
// executable comments mysqldump writes for views, triggers and events
// (`/*!50013 DEFINER=… SQL SECURITY DEFINER */`, `/*!50017 DEFINER=…*/`,
// `/*!50117 DEFINER=…*/`).
func findDefiner(text []byte) (definerClause, bool) {
	l := &lexer{s: text}
	if t, q := l.next(); q || !strings.EqualFold(t, "CREATE") {
		return definerClause{}, false
	}
	for k := 0; k < 40; k++ {
		t, q := l.next()
		if t == "" || !q && createObjects[strings.ToUpper(t)] {
			break
		}
		if q || !strings.EqualFold(t, "DEFINER") {
			continue
		}
		start := l.start
		if t, q := l.next(); q || t != "=" {
			return definerClause{}, false
		}
		d, ok := parseAccount(text, l.i)
		if !ok {
			return definerClause{}, false
		}
		d.start = start
		return d, true
	}
	return definerClause{}, false
}

// parseAccount reads an account (user@host, a role, CURRENT_USER[()],
// CURRENT_ROLE[()]) starting at text[i], blanks first.
func parseAccount(text []byte, i int) (definerClause, bool) {
	var d definerClause
	i = skipBlank(text, i)
	user, quoted, j := accountPart(text, i)
	if j == i {
		return d, false
	}
	if u := strings.ToUpper(user); !quoted && (u == "CURRENT_USER" || u == "CURRENT_ROLE") {
		d.current = true
		if k := skipBlank(text, j); k < len(text) && text[k] == '(' {
			if k = skipBlank(text, k+1); k < len(text) && text[k] == ')' {
				j = k + 1
			}
		}
		d.end = j
		return d, true
	}
	d.user, d.end = user, j
	if k := skipBlank(text, j); k < len(text) && text[k] == '@' {
		host, _, e := accountPart(text, skipBlank(text, k+1))
		if e > k+1 {
			d.host, d.end = host, e
		}
	}
	return d, true
}

// accountPart reads a user or host name: quoted with `, ' or ", or bare.
func accountPart(text []byte, i int) (name string, quoted bool, end int) {
	if i >= len(text) {
		return "", false, i
	}
	c := text[i]
	if c == '`' || c == '\'' || c == '"' {
		var b strings.Builder
		j := i + 1
		for j < len(text) {
			switch {
			case text[j] == c && j+1 < len(text) && text[j+1] == c:
				b.WriteByte(c)
				j += 2
			case text[j] == c:
				return b.String(), true, j + 1
			case text[j] == '\\' && c != '`' && j+1 < len(text):
				b.WriteByte(text[j+1])
				j += 2
			default:
				b.WriteByte(text[j])
				j++
			}
		}
		return "", false, i // unterminated
	}
	j := i
	for j < len(text) && (isWord(text[j]) && text[j] != '@' || text[j] == '.' || text[j] == '-' || text[j] == '%') {
		j++
	}
	return string(text[i:j]), false, j
}

func skipBlank(text []byte, i int) int {
	for i < len(text) && isSpace(text[i]) {
		i++
	}
	return i
}

// stripDefiner removes a statement's DEFINER clause, so that the object is
// created with the importing account as its definer; SQL SECURITY and
// everything else stay as written.
func stripDefiner(text []byte, d definerClause) []byte {
	out := make([]byte, 0, len(text))
	out = append(out, text[:d.start]...)
	return append(out, text[d.end:]...)
}

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
func (a account) allows(d definerClause) bool {
	return a.anyDefiner || d.current || d.host != "" && d.user == a.user && strings.EqualFold(d.host, a.host)
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

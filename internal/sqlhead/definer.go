package sqlhead

import (
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// Definer is the DEFINER = account clause of a CREATE statement.
type Definer struct {
	// User and Host name the account; Host is "" for a role. Current says
	// DEFINER = CURRENT_USER (or CURRENT_ROLE, with or without ()).
	User, Host string
	Current    bool
	// Start, Account and End are offsets in the statement: the clause is
	// [Start, End), from DEFINER to the end of the account, and the
	// account as written is [Account, End).
	Start, Account, End int
}

// String writes the account as MariaDB's messages do: 'user'@'host'.
func (d Definer) String() string {
	if d.Current {
		return "CURRENT_USER"
	}
	if d.Host == "" {
		return ident.String(d.User)
	}
	return ident.String(d.User) + "@" + ident.String(d.Host)
}

// Strip returns text without the clause d (found in text), so that the
// object is created with the running account as its definer; the blanks
// around it, SQL SECURITY and everything else stay as written.
func (d Definer) Strip(text []byte) []byte {
	out := make([]byte, 0, len(text))
	out = append(out, text[:d.Start]...)
	return append(out, text[d.End:]...)
}

// FindDefiner finds the DEFINER clause of a comment-free CREATE statement,
// before its object keyword: `CREATE [OR REPLACE] [ALGORITHM=…] DEFINER=…
// PROCEDURE` as SHOW CREATE prints it, and inside the executable comments
// mysqldump writes for views, triggers and events (`/*!50013 DEFINER=…
// SQL SECURITY DEFINER */`, `/*!50017 DEFINER=…*/`, `/*!50117 DEFINER=…*/`).
// The account is user@host, a role, CURRENT_USER[()] or CURRENT_ROLE[()];
// a name is quoted with `, ' or ", or bare, and blanks may surround = and
// @. Keywords are read in any letter case.
func FindDefiner(text []byte) (Definer, bool) {
	l := &Lexer{Text: text}
	if t, q := l.Next(); q || !strings.EqualFold(t, "CREATE") {
		return Definer{}, false
	}
	for k := 0; k < 40; k++ {
		t, q := l.Next()
		if t == "" || !q && createObjects[strings.ToUpper(t)] {
			break
		}
		if q || !strings.EqualFold(t, "DEFINER") {
			continue
		}
		start := l.Start
		if t, q := l.Next(); q || t != "=" {
			return Definer{}, false
		}
		d, ok := parseAccount(text, l.Pos)
		if !ok {
			return Definer{}, false
		}
		d.Start = start
		return d, true
	}
	return Definer{}, false
}

// parseAccount reads an account (user@host, a role, CURRENT_USER[()],
// CURRENT_ROLE[()]) starting at text[i], blanks first.
func parseAccount(text []byte, i int) (Definer, bool) {
	var d Definer
	i = skipBlank(text, i)
	user, quoted, j := accountPart(text, i)
	if j == i {
		return d, false
	}
	d.Account = i
	if u := strings.ToUpper(user); !quoted && (u == "CURRENT_USER" || u == "CURRENT_ROLE") {
		d.Current = true
		if k := skipBlank(text, j); k < len(text) && text[k] == '(' {
			if k = skipBlank(text, k+1); k < len(text) && text[k] == ')' {
				j = k + 1
			}
		}
		d.End = j
		return d, true
	}
	d.User, d.End = user, j
	if k := skipBlank(text, j); k < len(text) && text[k] == '@' {
		host, _, e := accountPart(text, skipBlank(text, k+1))
		if e > k+1 {
			d.Host, d.End = host, e
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

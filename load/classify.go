package load

import (
	"bytes"
	"regexp"
	"strings"
)

// kind is what the importer does with a statement.
type kind int

const (
	// kindGlobal runs alone, after everything before it and before
	// everything after it (views, routines, events, anything unknown).
	kindGlobal kind = iota
	// kindSession changes the session (SET ...): every connection runs it,
	// in stream order.
	kindSession
	// kindSkip is dropped: the importer manages locks and transactions
	// itself (LOCK/UNLOCK TABLES, BEGIN, COMMIT, SET autocommit).
	kindSkip
	// kindCreate creates the table that owns it.
	kindCreate
	// kindData changes rows of its table (INSERT, REPLACE, DELETE FROM
	// one table).
	kindData
	// kindTable is other DDL on its table (ALTER TABLE ... KEYS, DROP TABLE,
	// CREATE TRIGGER ... ON it).
	kindTable
	// kindForbidden changes the database (USE, CREATE/DROP DATABASE).
	kindForbidden
)

// class describes one statement.
type class struct {
	kind  kind
	table string // owning table for kindCreate, kindData, kindTable
	// object and name: what a CREATE creates (TRIGGER, VIEW, PROCEDURE,
	// FUNCTION, EVENT, SEQUENCE, TABLE), for dropping a half-made object
	// when resuming.
	object, name string
	// plain: an INSERT without IGNORE, DELAYED or other modifiers, whose
	// rows land the same whatever order it runs in among its table's other
	// plain INSERTs (with explicit values, as dumps write them).
	plain bool
	// replace: a REPLACE without modifiers. In a delta (dump --since) its
	// REPLACEs commute: each writes rows of the delta's result, which
	// satisfies every unique key, so a later one never removes what an
	// earlier one wrote. The producer makes them plain there. A DELETE
	// stays serial (its unit's owner runs it alone, after the helpers'
	// statements before it, and opens the unit again after it), so a
	// table's DELETEs and REPLACEs keep the stream's order: under a
	// case-insensitive collation, DELETE … 'abc' run after the REPLACE of
	// a new 'ABC' removes it, run before it does not.
	replace bool
}

// lexer yields the leading tokens of a statement: words, identifiers
// (unquoted) and single punctuation bytes. Executable comment markers
// (/*!NNNNN, /*M!NNNNNN, */) read as blanks; plain comments must be
// stripped beforehand.
type lexer struct {
	s []byte
	i int
	// start is where the last token began.
	start int
}

func (l *lexer) next() (tok string, quoted bool) {
	s := l.s
	for l.i < len(s) {
		c := s[l.i]
		switch {
		case isSpace(c):
			l.i++
			continue
		case c == '/' && l.i+2 < len(s) && s[l.i+1] == '*' && (s[l.i+2] == '!' || (s[l.i+2] == 'M' && l.i+3 < len(s) && s[l.i+3] == '!')):
			l.i += 3
			if s[l.i-1] == 'M' {
				l.i++
			}
			for l.i < len(s) && s[l.i] >= '0' && s[l.i] <= '9' {
				l.i++
			}
			continue
		case c == '*' && l.i+1 < len(s) && s[l.i+1] == '/':
			l.i += 2
			continue
		}
		break
	}
	l.start = l.i
	if l.i >= len(s) {
		return "", false
	}
	c := s[l.i]
	if c == '`' || c == '"' {
		var b strings.Builder
		j := l.i + 1
		for j < len(s) {
			if s[j] == c {
				if j+1 < len(s) && s[j+1] == c {
					b.WriteByte(c)
					j += 2
					continue
				}
				j++
				break
			}
			b.WriteByte(s[j])
			j++
		}
		l.i = j
		return b.String(), true
	}
	if isWord(c) {
		j := l.i
		for j < len(s) && isWord(s[j]) {
			j++
		}
		tok = string(s[l.i:j])
		l.i = j
		return tok, false
	}
	l.i++
	return string(c), false
}

func isWord(c byte) bool {
	return c == '_' || c == '$' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// name reads a possibly qualified name and returns its last part.
func (l *lexer) name() string {
	n, _ := l.next()
	for {
		save := l.i
		t, q := l.next()
		if t != "." || q {
			l.i = save
			return n
		}
		n, _ = l.next()
	}
}

func (l *lexer) is(words ...string) bool {
	save := l.i
	for _, w := range words {
		t, q := l.next()
		if q || !strings.EqualFold(t, w) {
			l.i = save
			return false
		}
	}
	return true
}

var createObjects = map[string]bool{"TABLE": true, "VIEW": true, "TRIGGER": true, "PROCEDURE": true,
	"FUNCTION": true, "EVENT": true, "SEQUENCE": true, "DATABASE": true, "SCHEMA": true, "INDEX": true,
	"PACKAGE": true, "USER": true, "ROLE": true, "SERVER": true}

// classify looks at the first tokens of a comment-free statement.
func classify(text []byte) class {
	l := &lexer{s: text}
	first, _ := l.next()
	switch strings.ToUpper(first) {
	case "SET":
		save := l.i
		t, _ := l.next()
		u := strings.ToUpper(t)
		switch {
		case u == "GLOBAL" || strings.HasPrefix(u, "@@GLOBAL.") || u == "PASSWORD" || u == "ROLE" || u == "DEFAULT" || u == "STATEMENT":
			return class{kind: kindGlobal}
		case u == "AUTOCOMMIT" || u == "@@AUTOCOMMIT" || u == "@@SESSION.AUTOCOMMIT" || (u == "SESSION" && l.is("autocommit")):
			if !bytes.Contains(text[l.i:], []byte(",")) {
				return class{kind: kindSkip}
			}
		}
		l.i = save
		return class{kind: kindSession}
	case "LOCK":
		if l.is("TABLES") || l.is("TABLE") {
			return class{kind: kindSkip}
		}
	case "UNLOCK":
		return class{kind: kindSkip}
	case "BEGIN", "COMMIT", "ROLLBACK":
		if t, _ := l.next(); t == "" || strings.EqualFold(t, "WORK") {
			return class{kind: kindSkip}
		}
	case "START":
		if l.is("TRANSACTION") {
			return class{kind: kindSkip}
		}
	case "USE":
		return class{kind: kindForbidden}
	case "INSERT", "REPLACE":
		insert := strings.EqualFold(first, "INSERT")
		mods := false
		for {
			save := l.i
			t, q := l.next()
			if t == "" {
				return class{kind: kindGlobal}
			}
			u := strings.ToUpper(t)
			if !q && (u == "LOW_PRIORITY" || u == "DELAYED" || u == "HIGH_PRIORITY" || u == "IGNORE") {
				mods = true
				continue
			}
			if q || u != "INTO" {
				l.i = save // INSERT t VALUES: INTO is optional
			}
			return class{kind: kindData, table: l.name(), plain: insert && !mods, replace: !insert && !mods}
		}
	case "DELETE":
		// DELETE [LOW_PRIORITY] [QUICK] [IGNORE] FROM t [WHERE …]; the
		// multi-table forms (USING, several tables, an alias) run alone.
		for {
			t, q := l.next()
			u := strings.ToUpper(t)
			if !q && (u == "LOW_PRIORITY" || u == "QUICK" || u == "IGNORE") {
				continue
			}
			if q || u != "FROM" {
				return class{kind: kindGlobal}
			}
			break
		}
		table := l.name()
		switch t, q := l.next(); {
		case t == "":
			return class{kind: kindData, table: table}
		case !q && (strings.EqualFold(t, "WHERE") || strings.EqualFold(t, "ORDER") || strings.EqualFold(t, "LIMIT")):
			return class{kind: kindData, table: table}
		}
	case "ALTER":
		l.is("ONLINE")
		l.is("IGNORE")
		if l.is("TABLE") {
			return class{kind: kindTable, table: l.name()}
		}
	case "DROP":
		if l.is("TABLE") {
			l.is("IF", "EXISTS")
			t := l.name()
			if save := l.i; true {
				if n, _ := l.next(); n == "," {
					return class{kind: kindGlobal}
				}
				l.i = save
			}
			return class{kind: kindTable, table: t}
		}
		if l.is("DATABASE") || l.is("SCHEMA") {
			return class{kind: kindForbidden}
		}
	case "CREATE":
		// CREATE [OR REPLACE] [ALGORITHM=…] [DEFINER=…] [SQL SECURITY …]
		// [TEMPORARY] [AGGREGATE] object [IF NOT EXISTS] name
		obj := ""
		for k := 0; k < 40; k++ {
			t, q := l.next()
			if t == "" {
				break
			}
			if u := strings.ToUpper(t); !q && createObjects[u] {
				obj = u
				break
			}
		}
		switch obj {
		case "DATABASE", "SCHEMA":
			return class{kind: kindForbidden}
		case "TABLE":
			l.is("IF", "NOT", "EXISTS")
			return class{kind: kindCreate, table: l.name(), object: obj}
		case "TRIGGER":
			l.is("IF", "NOT", "EXISTS")
			name := l.name()
			for k := 0; k < 20; k++ {
				t, q := l.next()
				if t == "" {
					break
				}
				if !q && strings.EqualFold(t, "ON") {
					return class{kind: kindTable, table: l.name(), object: obj, name: name}
				}
			}
			return class{kind: kindGlobal, object: obj, name: name}
		case "VIEW", "PROCEDURE", "FUNCTION", "EVENT", "SEQUENCE", "PACKAGE":
			l.is("IF", "NOT", "EXISTS")
			return class{kind: kindGlobal, object: obj, name: l.name()}
		}
	}
	return class{kind: kindGlobal}
}

// sqlMode follows the sql_mode assignments of a stream's SET statements well
// enough to know when NO_BACKSLASH_ESCAPES is on (it changes how quotes are
// read): literal assignments, saving into a user variable and restoring
// from it.
type sqlMode struct {
	nbe   bool
	saved map[string]bool
}

var (
	saveModeRE = regexp.MustCompile(`(?i)(@[\w$.]+)\s*:?=\s*@@(?:session\.)?sql_mode\b`)
	setModeRE  = regexp.MustCompile(`(?i)(?:^|[\s,])(?:@@(?:session\.)?)?sql_mode\s*:?=\s*('[^']*'|"[^"]*"|@[\w$.]+|default)`)
)

// set updates the state from a SET statement.
func (m *sqlMode) set(text []byte) {
	if !bytes.Contains(bytes.ToLower(text), []byte("sql_mode")) {
		return
	}
	for _, s := range saveModeRE.FindAllSubmatch(text, -1) {
		if m.saved == nil {
			m.saved = map[string]bool{}
		}
		m.saved[strings.ToLower(string(s[1]))] = m.nbe
	}
	for _, s := range setModeRE.FindAllSubmatch(text, -1) {
		v := string(s[1])
		switch {
		case strings.HasPrefix(v, "@"):
			m.nbe = m.saved[strings.ToLower(v)]
		case strings.EqualFold(v, "default"):
			m.nbe = false
		default:
			m.nbe = strings.Contains(strings.ToUpper(v), "NO_BACKSLASH_ESCAPES")
		}
	}
}

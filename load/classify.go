package load

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/qualityunit/lamigrate/internal/sqlhead"
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

// classify looks at the first tokens of a comment-free statement.
func classify(text []byte) class {
	l := &sqlhead.Lexer{Text: text}
	first, _ := l.Next()
	switch strings.ToUpper(first) {
	case "SET":
		save := l.Pos
		t, _ := l.Next()
		u := strings.ToUpper(t)
		switch {
		case u == "GLOBAL" || strings.HasPrefix(u, "@@GLOBAL.") || u == "PASSWORD" || u == "ROLE" || u == "DEFAULT" || u == "STATEMENT":
			return class{kind: kindGlobal}
		case u == "AUTOCOMMIT" || u == "@@AUTOCOMMIT" || u == "@@SESSION.AUTOCOMMIT" || (u == "SESSION" && l.Is("autocommit")):
			if !bytes.Contains(text[l.Pos:], []byte(",")) {
				return class{kind: kindSkip}
			}
		}
		l.Pos = save
		return class{kind: kindSession}
	case "LOCK":
		if l.Is("TABLES") || l.Is("TABLE") {
			return class{kind: kindSkip}
		}
	case "UNLOCK":
		return class{kind: kindSkip}
	case "BEGIN", "COMMIT", "ROLLBACK":
		if t, _ := l.Next(); t == "" || strings.EqualFold(t, "WORK") {
			return class{kind: kindSkip}
		}
	case "START":
		if l.Is("TRANSACTION") {
			return class{kind: kindSkip}
		}
	case "USE":
		return class{kind: kindForbidden}
	case "INSERT", "REPLACE":
		insert := strings.EqualFold(first, "INSERT")
		mods := false
		for {
			save := l.Pos
			t, q := l.Next()
			if t == "" {
				return class{kind: kindGlobal}
			}
			u := strings.ToUpper(t)
			if !q && (u == "LOW_PRIORITY" || u == "DELAYED" || u == "HIGH_PRIORITY" || u == "IGNORE") {
				mods = true
				continue
			}
			if q || u != "INTO" {
				l.Pos = save // INSERT t VALUES: INTO is optional
			}
			return class{kind: kindData, table: l.Name(), plain: insert && !mods, replace: !insert && !mods}
		}
	case "DELETE":
		// DELETE [LOW_PRIORITY] [QUICK] [IGNORE] FROM t [WHERE …]; the
		// multi-table forms (USING, several tables, an alias) run alone.
		for {
			t, q := l.Next()
			u := strings.ToUpper(t)
			if !q && (u == "LOW_PRIORITY" || u == "QUICK" || u == "IGNORE") {
				continue
			}
			if q || u != "FROM" {
				return class{kind: kindGlobal}
			}
			break
		}
		table := l.Name()
		switch t, q := l.Next(); {
		case t == "":
			return class{kind: kindData, table: table}
		case !q && (strings.EqualFold(t, "WHERE") || strings.EqualFold(t, "ORDER") || strings.EqualFold(t, "LIMIT")):
			return class{kind: kindData, table: table}
		}
	case "ALTER":
		l.Is("ONLINE")
		l.Is("IGNORE")
		if l.Is("TABLE") {
			return class{kind: kindTable, table: l.Name()}
		}
	case "DROP":
		if l.Is("TABLE") {
			l.Is("IF", "EXISTS")
			t := l.Name()
			if save := l.Pos; true {
				if n, _ := l.Next(); n == "," {
					return class{kind: kindGlobal}
				}
				l.Pos = save
			}
			return class{kind: kindTable, table: t}
		}
		if l.Is("DATABASE") || l.Is("SCHEMA") {
			return class{kind: kindForbidden}
		}
	case "CREATE":
		// CREATE [OR REPLACE] [ALGORITHM=…] [DEFINER=…] [SQL SECURITY …]
		// [TEMPORARY] [AGGREGATE] object [IF NOT EXISTS] name
		obj := ""
		for k := 0; k < 40; k++ {
			t, q := l.Next()
			if t == "" {
				break
			}
			if u := strings.ToUpper(t); !q && sqlhead.IsObject(u) {
				obj = u
				break
			}
		}
		switch obj {
		case "DATABASE", "SCHEMA":
			return class{kind: kindForbidden}
		case "TABLE":
			l.Is("IF", "NOT", "EXISTS")
			return class{kind: kindCreate, table: l.Name(), object: obj}
		case "TRIGGER":
			l.Is("IF", "NOT", "EXISTS")
			name := l.Name()
			for k := 0; k < 20; k++ {
				t, q := l.Next()
				if t == "" {
					break
				}
				if !q && strings.EqualFold(t, "ON") {
					return class{kind: kindTable, table: l.Name(), object: obj, name: name}
				}
			}
			return class{kind: kindGlobal, object: obj, name: name}
		case "VIEW", "PROCEDURE", "FUNCTION", "EVENT", "SEQUENCE", "PACKAGE":
			l.Is("IF", "NOT", "EXISTS")
			return class{kind: kindGlobal, object: obj, name: l.Name()}
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

package load

import (
	"bytes"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// deferredKeys are the plain secondary keys of an InnoDB table, taken out
// of its CREATE TABLE and added after its rows with one ALTER TABLE, so
// InnoDB builds each by sorting instead of inserting rows into it one by one.
type deferredKeys struct {
	table string   // the table's name, quoted as the CREATE TABLE wrote it
	names []string // the keys' names
	defs  []string // their definitions: "KEY `k` (`c`(10)) COMMENT 'x'"
}

// alter returns the ALTER TABLE adding the keys to a table that has those
// named in have (lower-cased; nil: none), "" when it has them all. Keys add
// after the table's own, so when one is missing those after it that exist
// are dropped and added again, to keep the order.
func (k *deferredKeys) alter(have map[string]bool) string {
	from := -1
	for i, n := range k.names {
		if !have[strings.ToLower(n)] {
			from = i
			break
		}
	}
	if from < 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("ALTER TABLE ")
	b.WriteString(k.table)
	sep := " "
	for _, n := range k.names[from+1:] {
		if have[strings.ToLower(n)] {
			b.WriteString(sep + "DROP KEY " + ident.Quote(n))
			sep = ", "
		}
	}
	for _, d := range k.defs[from:] {
		b.WriteString(sep + "ADD " + d)
		sep = ", "
	}
	return b.String()
}

// deferKeys splits a CREATE TABLE as SHOW CREATE TABLE prints it (one
// definition per line) into the statement without its plain secondary keys
// and those keys. ok is false, and nothing is deferred, unless the table is
// an ordinary InnoDB table (no partitions, no system versioning) without
// foreign keys, has plain keys to defer, and every line is one whole
// definition.
//
// The keys left in the statement keep their place in the order MariaDB and
// MySQL give keys (PRIMARY and UNIQUE first, then plain and SPATIAL keys in
// the order written, FULLTEXT last), and keys added by ALTER TABLE come
// after the table's keys of the same group in the order they are added: so
// deferring the plain keys that follow the group's last SPATIAL key (and the
// key the AUTO_INCREMENT column needs, when no PRIMARY or UNIQUE key starts
// with it) and adding them back in order gives the same definition.
func deferKeys(create []byte) (stripped []byte, keys *deferredKeys, ok bool) {
	lines := strings.Split(string(create), "\n")
	if len(lines) < 3 {
		return nil, nil, false
	}
	first, last := lines[0], lines[len(lines)-1]
	_, rest, ok := quotedIdent(strings.TrimPrefix(first, "CREATE TABLE "))
	if !ok || !strings.HasPrefix(first, "CREATE TABLE `") || rest != " (" {
		return nil, nil, false
	}
	if !strings.HasPrefix(last, ") ENGINE=InnoDB") {
		return nil, nil, false
	}
	if words, ok := unquotedWords(last); !ok || contains(words, "VERSIONING") || contains(words, "PARTITION") || contains(words, "SELECT") {
		return nil, nil, false
	}
	body := lines[1 : len(lines)-1]
	// kinds of the body's lines
	const (
		column = iota
		primaryOrUnique
		plain
		spatial
		other // FULLTEXT, CHECK constraints
	)
	kinds := make([]int, len(body))
	firstCols := make([]string, len(body)) // a key's first column
	names := make([]string, len(body))
	auto := ""
	for i, l := range body {
		if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") {
			return nil, nil, false
		}
		if i < len(body)-1 {
			if !strings.HasSuffix(l, ",") {
				return nil, nil, false
			}
			l = l[:len(l)-1]
		} else if strings.HasSuffix(l, ",") {
			return nil, nil, false
		}
		l = l[2:]
		words, ok := unquotedWords(l)
		if !ok {
			return nil, nil, false
		}
		for _, w := range words {
			if w == "FOREIGN" || w == "REFERENCES" || w == "PERIOD" {
				return nil, nil, false
			}
		}
		var keyDef string
		switch {
		case strings.HasPrefix(l, "`"):
			kinds[i] = column
			if contains(words, "AUTO_INCREMENT") {
				if auto != "" {
					return nil, nil, false
				}
				col, _, ok := quotedIdent(l)
				if !ok {
					return nil, nil, false
				}
				auto = col
			}
			continue
		case strings.HasPrefix(l, "KEY `"):
			kinds[i], keyDef = plain, l[len("KEY "):]
		case strings.HasPrefix(l, "SPATIAL KEY `"):
			kinds[i], keyDef = spatial, l[len("SPATIAL KEY "):]
		case strings.HasPrefix(l, "PRIMARY KEY ("):
			kinds[i], keyDef = primaryOrUnique, "`PRIMARY` "+l[len("PRIMARY KEY "):]
		case strings.HasPrefix(l, "UNIQUE KEY `"):
			kinds[i], keyDef = primaryOrUnique, l[len("UNIQUE KEY "):]
		case strings.HasPrefix(l, "FULLTEXT KEY `"), strings.HasPrefix(l, "CONSTRAINT `") && contains(words, "CHECK"):
			kinds[i] = other
			continue
		default:
			return nil, nil, false
		}
		n, r, ok := quotedIdent(keyDef)
		if !ok || !strings.HasPrefix(r, " (") {
			return nil, nil, false
		}
		names[i] = n
		if c, _, ok := quotedIdent(r[2:]); ok {
			firstCols[i] = c
		}
	}
	// keep: the last plain or SPATIAL key that stays in the statement
	keep := -1
	autoCovered := auto == ""
	for i, k := range kinds {
		if k == primaryOrUnique && auto != "" && strings.EqualFold(firstCols[i], auto) {
			autoCovered = true
		}
	}
	for i, k := range kinds {
		switch {
		case k == spatial:
			keep = i
		case k == plain && !autoCovered && strings.EqualFold(firstCols[i], auto):
			keep, autoCovered = i, true
		}
	}
	if !autoCovered {
		return nil, nil, false
	}
	keys = &deferredKeys{table: first[len("CREATE TABLE ") : len(first)-len(rest)]}
	var kept []string
	for i, l := range body {
		l = strings.TrimSuffix(l, ",")
		if kinds[i] == plain && i > keep {
			keys.names = append(keys.names, names[i])
			keys.defs = append(keys.defs, l[2:])
			continue
		}
		kept = append(kept, l)
	}
	if len(keys.defs) == 0 {
		return nil, nil, false
	}
	var b bytes.Buffer
	b.Grow(len(create))
	b.WriteString(first)
	b.WriteByte('\n')
	b.WriteString(strings.Join(kept, ",\n"))
	b.WriteByte('\n')
	b.WriteString(last)
	return b.Bytes(), keys, true
}

// quotedIdent reads a backquoted identifier at the start of s.
func quotedIdent(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, "`") {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", s, false
}

// unquotedWords returns the upper-cased words of one definition outside its
// quoted identifiers and strings; ok is false when a quote is left open.
func unquotedWords(l string) (words []string, ok bool) {
	var q byte
	start := -1
	flush := func(i int) {
		if start >= 0 {
			words = append(words, strings.ToUpper(l[start:i]))
			start = -1
		}
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if q != 0 {
			switch {
			case c == '\\' && q != '`':
				i++
			case c == q && i+1 < len(l) && l[i+1] == q:
				i++
			case c == q:
				q = 0
			}
			continue
		}
		switch {
		case c == '`' || c == '\'' || c == '"':
			flush(i)
			q = c
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
	}
	flush(len(l))
	return words, q == 0
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// keyNamesQuery lists a table's keys.
func keyNamesQuery(table string) string {
	return "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " + ident.String(table)
}

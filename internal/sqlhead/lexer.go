package sqlhead

import "strings"

// Lexer yields the leading tokens of a statement: words, identifiers
// (unquoted) and single punctuation bytes. Executable comment markers
// (/*!NNNNN, /*M!NNNNNN, */) read as blanks; plain comments must be
// stripped beforehand.
type Lexer struct {
	Text []byte
	// Pos is where the next token is looked for; a caller saves and
	// restores it to look ahead.
	Pos int
	// Start is where the last token began.
	Start int
}

// Next returns the next token ("" at the end); quoted says it was a `…`
// or "…" identifier, returned without its quotes.
func (l *Lexer) Next() (tok string, quoted bool) {
	s := l.Text
	for l.Pos < len(s) {
		c := s[l.Pos]
		switch {
		case isSpace(c):
			l.Pos++
			continue
		case c == '/' && l.Pos+2 < len(s) && s[l.Pos+1] == '*' && (s[l.Pos+2] == '!' || (s[l.Pos+2] == 'M' && l.Pos+3 < len(s) && s[l.Pos+3] == '!')):
			l.Pos += 3
			if s[l.Pos-1] == 'M' {
				l.Pos++
			}
			for l.Pos < len(s) && s[l.Pos] >= '0' && s[l.Pos] <= '9' {
				l.Pos++
			}
			continue
		case c == '*' && l.Pos+1 < len(s) && s[l.Pos+1] == '/':
			l.Pos += 2
			continue
		}
		break
	}
	l.Start = l.Pos
	if l.Pos >= len(s) {
		return "", false
	}
	c := s[l.Pos]
	if c == '`' || c == '"' {
		var b strings.Builder
		j := l.Pos + 1
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
		l.Pos = j
		return b.String(), true
	}
	if isWord(c) {
		j := l.Pos
		for j < len(s) && isWord(s[j]) {
			j++
		}
		tok = string(s[l.Pos:j])
		l.Pos = j
		return tok, false
	}
	l.Pos++
	return string(c), false
}

func isWord(c byte) bool {
	return c == '_' || c == '$' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Name reads a possibly qualified name and returns its last part.
func (l *Lexer) Name() string {
	n, _ := l.Next()
	for {
		save := l.Pos
		t, q := l.Next()
		if t != "." || q {
			l.Pos = save
			return n
		}
		n, _ = l.Next()
	}
}

// Is reads words (any letter case, not quoted) if they come next, and
// otherwise reads nothing.
func (l *Lexer) Is(words ...string) bool {
	save := l.Pos
	for _, w := range words {
		t, q := l.Next()
		if q || !strings.EqualFold(t, w) {
			l.Pos = save
			return false
		}
	}
	return true
}

var createObjects = map[string]bool{"TABLE": true, "VIEW": true, "TRIGGER": true, "PROCEDURE": true,
	"FUNCTION": true, "EVENT": true, "SEQUENCE": true, "DATABASE": true, "SCHEMA": true, "INDEX": true,
	"PACKAGE": true, "USER": true, "ROLE": true, "SERVER": true}

// IsObject reports whether an upper-case word names what a CREATE
// creates (TABLE, VIEW, TRIGGER, PROCEDURE, …): the end of its head.
func IsObject(word string) bool { return createObjects[word] }

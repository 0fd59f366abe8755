package verify

import "bytes"

// stmtCounter counts, exactly, the rows one INSERT or REPLACE statement
// writes (its tuples after VALUES) or the keys one DELETE names (the items
// of its IN list), reading the statement as SQL: string literals ('…' and
// "…", with backslash escapes and doubled quotes) and back-quoted
// identifiers are skipped whole, so a value holding "),(" or a comma does
// not count. A delta archive's counts must equal its manifest's, so an
// estimate will not do there.
//
// It is fed the statement's bytes in pieces, across lines, until the ';'
// that ends it outside any literal.
type stmtCounter struct {
	open  bool
	del   bool // a DELETE: count IN-list items, not VALUES tuples
	quote byte // the quote the counter is inside of (0: none)
	esc   bool // the previous byte was a backslash inside a string
	depth int  // parentheses open outside literals
	word  [8]byte
	wlen  int  // letters of the bare word being read at depth 0 (> len(word): too long to matter)
	armed bool // VALUES (INSERT, REPLACE) or IN (DELETE) was read at depth 0
	list  bool // DELETE: inside the IN list
	item  bool // DELETE: the next non-blank byte in the list starts an item
	// DELETE: the key list was read. A delta's DELETE of a textual key
	// repeats the keys in a second IN list (their exact bytes), which
	// names the same rows and is not counted.
	listed bool
	n      int64
}

// start begins a statement; del says it is a DELETE.
func (c *stmtCounter) start(del bool) {
	*c = stmtCounter{open: true, del: del}
}

// feed reads the next piece of the statement. It returns how many bytes
// of b it used: all of them, or up to and including the ';' that ends the
// statement (c.open is then false).
func (c *stmtCounter) feed(b []byte) int {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if c.quote != 0 {
			if c.esc {
				c.esc = false
				continue
			}
			// Skip to the next byte that can end the literal.
			j := c.literalEnd(b[i:])
			if j < 0 {
				return len(b)
			}
			i += j
			if b[i] == '\\' {
				c.esc = true
			} else {
				c.quote = 0
			}
			continue
		}
		isLetter := ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch == '_'
		if c.depth == 0 {
			if isLetter {
				if c.wlen < len(c.word) {
					c.word[c.wlen] = ch &^ 0x20 // upper case
				}
				c.wlen++
				continue
			}
			if c.wlen > 0 {
				w := c.word[:min(c.wlen, len(c.word))]
				if c.wlen <= len(c.word) && (!c.del && string(w) == "VALUES" || c.del && !c.listed && string(w) == "IN") {
					c.armed = true
				}
				c.wlen = 0
			}
		}
		if c.list && c.depth == 1 && c.item && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != ')' {
			c.n++
			c.item = false
		}
		switch ch {
		case '\'', '"', '`':
			c.quote = ch
		case '(':
			if c.depth == 0 && c.armed {
				if c.del {
					if !c.list {
						c.list, c.item = true, true
					}
				} else {
					c.n++
				}
			}
			c.depth++
		case ')':
			if c.depth > 0 {
				c.depth--
			}
			if c.list && c.depth == 0 {
				c.list, c.armed, c.listed = false, false, true
			}
		case ',':
			if c.list && c.depth == 1 {
				c.item = true
			}
		case ';':
			if c.depth == 0 {
				c.open = false
				return i + 1
			}
		}
	}
	return len(b)
}

// literalEnd finds the first byte of b that ends or escapes inside the
// literal c is in: its quote, or a backslash in a string (an identifier
// has no escapes); -1 when there is none.
func (c *stmtCounter) literalEnd(b []byte) int {
	if c.quote == '`' {
		return bytes.IndexByte(b, '`')
	}
	for i, ch := range b {
		if ch == c.quote || ch == '\\' {
			return i
		}
	}
	return -1
}

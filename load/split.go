package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Statement is one SQL statement of a stream, as the stock mysql/mariadb
// client would cut it.
type Statement struct {
	// Text is the statement exactly as it appears in the stream, from its
	// first byte to the last non-blank byte before its delimiter. Comments
	// inside it are kept (StripComments removes them like the client does).
	// It is only valid until the next call to Next.
	Text []byte
	// Offset is the position of Text's first byte in the uncompressed stream.
	Offset int64
	// Delimiter is the delimiter in force when the statement was read.
	Delimiter string
	// HasComments says Text contains a --, # or /* */ comment (executable
	// /*! */ comments do not count: they are SQL).
	HasComments bool
}

// ErrStatementTooLarge is returned by Splitter.Next for a statement longer
// than the splitter's limit.
var ErrStatementTooLarge = errors.New("load: statement larger than the splitter's limit")

// Splitter cuts a stream of SQL into statements the way the mysql/mariadb
// command-line client does: it honours '…', "…" and `…` quoting, backslash
// escapes inside '…' and "…" (unless NoBackslashEscapes is set), --, # and
// /* */ comments, /*!NNNNN … */ and /*M!NNNNNN … */ executable comments
// (whose content is SQL: a delimiter inside one ends the statement, as in the
// client), and the DELIMITER client command. It holds the current statement
// and one read buffer in memory, nothing else.
//
// Not supported, as mysqldump never writes them: other client commands
// (\g, \G, source, use as a command...); a backslash outside quotes is an
// ordinary character. MariaDB's sandbox line (/*M!999999\- … */) that
// mysqldump writes first is skipped as the client does.
type Splitter struct {
	r   io.Reader
	buf []byte
	// buf[pos:end] is unread; base is the stream offset of buf[0].
	pos, end int
	base     int64
	eof      bool
	rerr     error
	delim    []byte
	// Max is the largest statement returned; 0 means no limit.
	Max int
	// NoBackslashEscapes makes a backslash inside quotes an ordinary
	// character (sql_mode NO_BACKSLASH_ESCAPES). The caller sets it between
	// calls to Next when the stream changes sql_mode.
	NoBackslashEscapes bool
	// OnComment, when set, is called with every -- comment line found
	// between statements (without its newline) and its offset.
	OnComment func(offset int64, line []byte)
}

// NewSplitter returns a splitter reading r, with delimiter ";".
func NewSplitter(r io.Reader) *Splitter {
	return &Splitter{r: r, buf: make([]byte, 1<<20), delim: []byte(";")}
}

// Delimiter returns the delimiter in force.
func (s *Splitter) Delimiter() string { return string(s.delim) }

// Offset returns the stream offset of the next unread byte.
func (s *Splitter) Offset() int64 { return s.base + int64(s.pos) }

// fill makes at least n bytes available at buf[s.pos:] unless the stream
// ends first; keep is the buffer index of the first byte that must stay
// (the statement's start). It returns the (possibly moved) keep index.
func (s *Splitter) fill(n, keep int) int {
	for s.end-s.pos < n && !s.eof {
		if keep > 0 && s.end == len(s.buf) {
			copy(s.buf, s.buf[keep:s.end])
			s.pos -= keep
			s.end -= keep
			s.base += int64(keep)
			keep = 0
		}
		if s.end == len(s.buf) {
			// Grow by half: a statement of tens of MB (mysqldump's
			// net_buffer_length) then wastes less than doubling would.
			nb := make([]byte, len(s.buf)+max(len(s.buf)/2, 4096))
			copy(nb, s.buf[:s.end])
			s.buf = nb
		}
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
		}
	}
	return keep
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lineComment reports whether a -- or # comment starts at buf[i] (two
// bytes of lookahead must be available or the stream ended).
func (s *Splitter) lineComment(i int) bool {
	c := s.buf[i]
	if c == '#' {
		return true
	}
	if c != '-' || i+1 >= s.end || s.buf[i+1] != '-' {
		return false
	}
	return i+2 >= s.end || isSpace(s.buf[i+2]) || s.buf[i+2] < 32
}

// blockComment reports whether a plain /* */ comment (not an executable
// one) starts at buf[i] (four bytes of lookahead).
func (s *Splitter) blockComment(i int) bool {
	if s.buf[i] != '/' || i+1 >= s.end || s.buf[i+1] != '*' {
		return false
	}
	if i+2 < s.end && s.buf[i+2] == '!' {
		return false
	}
	if i+3 < s.end && s.buf[i+2] == 'M' && s.buf[i+3] == '!' {
		return false
	}
	return true
}

var sandbox = []byte(`/*M!999999\-`)

// Next returns the next statement, or io.EOF after the last one.
func (s *Splitter) Next() (Statement, error) {
	// Skip what lies between statements: blanks, comments, empty
	// statements, DELIMITER commands.
	for {
		s.fill(16, s.pos)
		if s.pos >= s.end {
			if s.rerr != nil {
				return Statement{}, fmt.Errorf("load: reading at byte %d: %w", s.Offset(), s.rerr)
			}
			return Statement{}, io.EOF
		}
		c := s.buf[s.pos]
		switch {
		case isSpace(c):
			s.pos++
			continue
		case bytes.HasPrefix(s.buf[s.pos:s.end], s.delim):
			s.pos += len(s.delim)
			continue
		case s.lineComment(s.pos):
			start := s.pos
			line, ok := s.skipLine(start)
			if s.OnComment != nil && c == '-' && ok {
				s.OnComment(s.base+int64(start), line)
			}
			continue
		case s.blockComment(s.pos):
			if err := s.skipBlock(s.pos, s.pos+2); err != nil {
				return Statement{}, err
			}
			continue
		case c == '/' && bytes.HasPrefix(s.buf[s.pos:s.end], sandbox):
			if err := s.skipBlock(s.pos, s.pos+len(sandbox)); err != nil {
				return Statement{}, err
			}
			continue
		case (c == 'd' || c == 'D') && s.isDelimiterCommand():
			if err := s.delimiterCommand(); err != nil {
				return Statement{}, err
			}
			continue
		}
		break
	}
	return s.statement()
}

// skipLine consumes a line comment starting at buf[start], returning its
// text (valid until the next fill) and whether it is whole (very long
// comment lines are dropped unread: they are not markers).
func (s *Splitter) skipLine(start int) ([]byte, bool) {
	s.pos = start
	scanned := start
	for {
		if j := bytes.IndexByte(s.buf[scanned:s.end], '\n'); j >= 0 {
			line := s.buf[start : scanned+j]
			s.pos = scanned + j + 1
			return bytes.TrimRight(line, "\r"), true
		}
		if s.eof {
			line := s.buf[start:s.end]
			s.pos = s.end
			return line, true
		}
		if s.end-start > 1<<16 {
			s.pos = s.end
			s.skipRest()
			return nil, false
		}
		off := s.end - start
		s.pos = s.end
		start = s.fill(1, start)
		scanned = start + off
	}
}

// skipRest drops bytes up to and including the next newline.
func (s *Splitter) skipRest() {
	for {
		if j := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); j >= 0 {
			s.pos += j + 1
			return
		}
		s.pos = s.end
		if s.eof {
			return
		}
		s.fill(1, s.pos)
	}
}

// skipBlock consumes a comment that started at buf[start], whose body
// starts at buf[body], up to its closing */.
func (s *Splitter) skipBlock(start, body int) error {
	s.pos = body
	for {
		if j := bytes.Index(s.buf[s.pos:s.end], []byte("*/")); j >= 0 {
			s.pos += j + 2
			return nil
		}
		if s.eof {
			s.pos = s.end
			return nil
		}
		// Keep the last byte: it may be the '*' of "*/".
		if s.end-s.pos > 1 {
			s.pos = s.end - 1
		}
		s.fill(2, s.pos)
	}
}

var delimiterWord = []byte("delimiter")

func (s *Splitter) isDelimiterCommand() bool {
	s.fill(len(delimiterWord)+1, s.pos)
	if s.end-s.pos < len(delimiterWord)+1 {
		return false
	}
	w := s.buf[s.pos : s.pos+len(delimiterWord)]
	return bytes.EqualFold(w, delimiterWord) && (s.buf[s.pos+len(delimiterWord)] == ' ' || s.buf[s.pos+len(delimiterWord)] == '\t')
}

// delimiterCommand reads "DELIMITER x" up to the end of its line; the new
// delimiter is the first word after the command.
func (s *Splitter) delimiterCommand() error {
	at := s.Offset()
	start := s.pos
	for {
		if j := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); j >= 0 || s.eof {
			lineEnd := s.end
			next := s.end
			if j >= 0 {
				lineEnd = s.pos + j
				next = lineEnd + 1
			}
			args := bytes.Fields(s.buf[start+len(delimiterWord) : lineEnd])
			if len(args) == 0 {
				return fmt.Errorf("load: DELIMITER at byte %d has no delimiter", at)
			}
			d := args[0]
			if bytes.IndexByte(d, '\\') >= 0 {
				return fmt.Errorf("load: DELIMITER at byte %d: a delimiter may not contain a backslash", at)
			}
			s.delim = append([]byte(nil), d...)
			s.pos = next
			return nil
		}
		s.pos = s.end
		start = s.fill(1, start)
		if s.end-start > 1<<16 {
			return fmt.Errorf("load: DELIMITER line at byte %d is too long", at)
		}
	}
}

// class of a byte in plain SQL: 1 = may start something the scanner must
// look at.
var special [256]bool

func init() {
	for _, c := range []byte("'\"`#-/") {
		special[c] = true
	}
}

// statement scans from s.pos, which holds the first byte of a statement.
func (s *Splitter) statement() (Statement, error) {
	start := s.pos
	i := start
	comments := false
	d0 := s.delim[0]
	dl := len(s.delim)
	nbe := s.NoBackslashEscapes
	ret := func(endText, next int) (Statement, error) {
		t := s.buf[start:endText]
		for len(t) > 0 && isSpace(t[len(t)-1]) {
			t = t[:len(t)-1]
		}
		st := Statement{Text: t, Offset: s.base + int64(start), Delimiter: string(s.delim), HasComments: comments}
		s.pos = next
		if s.Max > 0 && len(t) > s.Max {
			return st, fmt.Errorf("%w (%d bytes at byte %d)", ErrStatementTooLarge, len(t), st.Offset)
		}
		return st, nil
	}
	// need makes n bytes available from i; it returns false at the end of
	// the stream.
	need := func(n int) bool {
		if s.end-i >= n {
			return true
		}
		off := i - start
		s.pos = i
		start = s.fill(i-s.pos+n, start)
		i = start + off
		s.pos = i
		return s.end-i >= n
	}
	for {
		if i >= s.end && !need(1) {
			if s.rerr != nil {
				return Statement{}, fmt.Errorf("load: reading at byte %d: %w", s.base+int64(i), s.rerr)
			}
			return ret(s.end, s.end)
		}
		// Fast path over ordinary bytes.
		buf := s.buf[:s.end]
		for i < len(buf) {
			c := buf[i]
			if special[c] || c == d0 {
				break
			}
			i++
		}
		if i >= len(buf) {
			continue
		}
		need(dl + 4)
		buf = s.buf[:s.end]
		c := buf[i]
		if c == d0 && bytes.HasPrefix(buf[i:], s.delim) {
			return ret(i, i+dl)
		}
		switch c {
		case '\'', '"', '`':
			i++
			esc := c != '`' && !nbe
			// q is the buffer index of the next closing quote at or after i
			// (-1: none before qEnd).
			q, qEnd := -1, i
			for {
				if i >= s.end {
					// Everything before i is scanned; need may move the buffer.
					if !need(1) {
						if s.rerr != nil {
							return Statement{}, fmt.Errorf("load: reading at byte %d: %w", s.base+int64(i), s.rerr)
						}
						return ret(s.end, s.end) // unterminated quote: the rest is the statement
					}
					q, qEnd = -1, i
				}
				buf = s.buf[:s.end]
				if q < i {
					if qEnd < i {
						qEnd = i
					}
					q = -1
					if j := bytes.IndexByte(buf[qEnd:], c); j >= 0 {
						q = qEnd + j
						qEnd = q + 1
					} else {
						qEnd = s.end
					}
				}
				if esc {
					lim := buf[i:]
					if q >= 0 {
						lim = buf[i:q]
					}
					if k := bytes.IndexByte(lim, '\\'); k >= 0 {
						i += k + 2
						if i > s.end {
							// The escaped byte is not read yet (so q < 0).
							i = s.end
							if need(1) {
								i++
							}
							q, qEnd = -1, i
						}
						continue
					}
				}
				if q < 0 {
					i = s.end
					continue
				}
				i = q + 1
				break
			}
		case '#', '-':
			if s.lineComment(i) {
				comments = true
				for {
					buf = s.buf[:s.end]
					if j := bytes.IndexByte(buf[i:], '\n'); j >= 0 {
						i += j + 1
						break
					}
					i = s.end
					if !need(1) {
						break
					}
				}
			} else {
				i++
			}
		case '/':
			if s.blockComment(i) {
				comments = true
				i += 2
				for {
					buf = s.buf[:s.end]
					if j := bytes.Index(buf[i:], []byte("*/")); j >= 0 {
						i += j + 2
						break
					}
					if s.end-i > 1 {
						i = s.end - 1
					}
					if !need(2) {
						i = s.end
						break
					}
				}
			} else {
				i++
			}
		default:
			i++
		}
	}
}

// StripComments returns text without its --, # and /* */ comments, as the
// mysql client sends it with --skip-comments (its default): a removed block
// comment becomes a space when something other than a blank follows.
// Executable comments are kept. noBackslashEscapes is sql_mode's flag.
func StripComments(text []byte, noBackslashEscapes bool) []byte {
	out := make([]byte, 0, len(text))
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < n {
				if text[j] == '\\' && c != '`' && !noBackslashEscapes {
					j += 2
					continue
				}
				if text[j] == c {
					j++
					break
				}
				j++
			}
			if j > n {
				j = n
			}
			out = append(out, text[i:j]...)
			i = j
		case c == '#' || (c == '-' && i+1 < n && text[i+1] == '-' && (i+2 >= n || isSpace(text[i+2]) || text[i+2] < 32)):
			j := bytes.IndexByte(text[i:], '\n')
			if j < 0 {
				i = n
			} else {
				i += j // keep the newline
			}
		case c == '/' && i+1 < n && text[i+1] == '*' && !(i+2 < n && text[i+2] == '!') && !(i+3 < n && text[i+2] == 'M' && text[i+3] == '!'):
			j := bytes.Index(text[i+2:], []byte("*/"))
			if j < 0 {
				i = n
			} else {
				i += 2 + j + 2
			}
			if i < n && !isSpace(text[i]) {
				out = append(out, ' ')
			}
		default:
			out = append(out, c)
			i++
		}
	}
	return bytes.TrimRight(out, " \t\r\n")
}

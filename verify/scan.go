package verify

import (
	"bytes"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

const (
	// maxTail is the longest last line kept back from the hash in case it
	// is the completion marker (which is under 100 bytes).
	maxTail = 4096
	// headMax is how much of each line's start is looked at.
	headMax = 200
)

// scanner consumes the uncompressed stream in order. It hashes everything
// before the last line (the completion marker covers exactly that), keeps
// the last line back, and follows the table sections by their comment lines.
type scanner struct {
	h        hash.Hash
	hashed   int64  // bytes written to h
	tail     []byte // the current last line, not hashed yet
	tailLong bool   // the current last line outgrew maxTail and went to h
	endsNL   bool   // the last byte so far is '\n'
	total    int64

	head, prevHead           []byte // start of the current and the previous line
	headDone                 bool
	lineStart, prevLineStart int64
	inInsert                 bool
	carry                    int  // how much of "),(" the INSERT piece so far ends with
	inStmt                   bool // an INSERT statement continues on the next line

	cur      *TableStat
	curStart int64
	curName  atomic.Pointer[string]
	tables   []*TableStat
	byName   map[string]*TableStat
	sections bool
	// programs holds the routines and events the stream creates, by
	// objectKey.
	programs map[string]bool
	// inDelimiter: between "DELIMITER ;;" and "DELIMITER ;", where a
	// trigger's or routine's body may hold statements that are not data.
	inDelimiter bool

	// A delta's stream (delta true) is read exactly: stmt counts the rows
	// of each INSERT and REPLACE and the keys of each DELETE, into
	// written and deleted by table; dropped and created note the tables
	// the stream drops (DROP TABLE) and creates (CREATE TABLE).
	delta     bool
	deltaHead bool // the stream's first line says it is a delta
	stmt      stmtCounter
	stmtTable string
	written   map[string]int64
	deleted   map[string]int64
	dropped   map[string]bool
	created   map[string]bool
}

// newScanner starts a scanner; delta reads the stream as a delta's
// (exact counts of rows written and keys deleted, tables dropped and
// created).
func newScanner(delta bool) *scanner {
	return &scanner{h: manifest.NewStreamHash(), tail: make([]byte, 0, maxTail),
		head: make([]byte, 0, headMax), prevHead: make([]byte, 0, headMax), byName: map[string]*TableStat{}, programs: map[string]bool{},
		delta: delta, written: map[string]int64{}, deleted: map[string]int64{}, dropped: map[string]bool{}, created: map[string]bool{}}
}

// current names the table whose section the stream is in.
func (s *scanner) current() string {
	if p := s.curName.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *scanner) sawSections() bool { return s.sections }

func (s *scanner) write(c []byte) {
	if len(c) == 0 {
		return
	}
	s.writeTail(c)
	s.scanLines(c)
	s.total += int64(len(c))
}

func (s *scanner) hash(b []byte) {
	s.h.Write(b)
	s.hashed += int64(len(b))
}

func (s *scanner) flushTail() {
	if len(s.tail) > 0 {
		s.hash(s.tail)
		s.tail = s.tail[:0]
	}
}

// startTail begins a new last line with b.
func (s *scanner) startTail(b []byte) {
	s.tailLong = false
	if len(b) > maxTail {
		s.hash(b)
		s.tailLong = true
		return
	}
	s.tail = append(s.tail, b...)
}

func (s *scanner) writeTail(c []byte) {
	// A new line starts after every '\n' that is not the stream's last byte.
	if i := bytes.LastIndexByte(c[:len(c)-1], '\n'); i >= 0 {
		s.flushTail()
		s.hash(c[:i+1])
		s.startTail(c[i+1:])
	} else if s.endsNL {
		s.flushTail()
		s.startTail(c)
	} else if s.tailLong {
		s.hash(c)
	} else {
		s.tail = append(s.tail, c...)
		if len(s.tail) > maxTail {
			s.flushTail()
			s.tailLong = true
		}
	}
	s.endsNL = c[len(c)-1] == '\n'
}

func (s *scanner) scanLines(c []byte) {
	off := s.total
	i := 0
	for i < len(c) {
		if !s.headDone {
			take := min(headMax-len(s.head), len(c)-i)
			if j := bytes.IndexByte(c[i:i+take], '\n'); j >= 0 {
				s.head = append(s.head, c[i:i+j]...)
				s.classify()
				i += j + 1
				s.newLine(off + int64(i))
				continue
			}
			s.head = append(s.head, c[i:i+take]...)
			i += take
			if len(s.head) == headMax {
				s.classify()
				s.headDone = true
			}
			continue
		}
		j := bytes.IndexByte(c[i:], '\n')
		end := len(c)
		if j >= 0 {
			end = i + j
		}
		if s.inInsert && s.cur != nil {
			s.countTuples(c[i:end])
		}
		if s.stmt.open {
			s.feedStmt(c[i:end])
		}
		if j < 0 {
			return
		}
		i = end + 1
		s.newLine(off + int64(i))
	}
}

var (
	tupleSep = []byte("),(")
	newline  = []byte("\n")
)

// feedStmt passes the next piece of a delta's statement to its counter
// and, when the statement ends, adds its count to its table.
func (s *scanner) feedStmt(b []byte) {
	s.stmt.feed(b)
	if s.stmt.open {
		return
	}
	if s.stmt.del {
		s.deleted[s.stmtTable] += s.stmt.n
		return
	}
	s.written[s.stmtTable] += s.stmt.n
	if t := s.byName[s.stmtTable]; t != nil {
		t.RowsApprox += s.stmt.n
	}
}

// countTuples counts the tuple separators in the next piece of an INSERT
// line, including one split across pieces.
func (s *scanner) countTuples(b []byte) {
	if len(b) == 0 {
		return
	}
	switch {
	case s.carry == 2 && b[0] == '(':
		s.cur.RowsApprox++
	case s.carry == 1 && len(b) >= 2 && b[0] == ',' && b[1] == '(':
		s.cur.RowsApprox++
	}
	s.cur.RowsApprox += int64(bytes.Count(b, tupleSep))
	switch {
	case bytes.HasSuffix(b, []byte("),")):
		s.carry = 2
	case b[len(b)-1] == ')':
		s.carry = 1
	case len(b) == 1 && s.carry == 1 && b[0] == ',':
		s.carry = 2
	default:
		s.carry = 0
	}
}

func (s *scanner) newLine(at int64) {
	if s.stmt.open {
		s.feedStmt(newline)
	}
	s.head, s.prevHead = s.prevHead[:0], s.head
	s.prevLineStart, s.lineStart = s.lineStart, at
	s.headDone = false
	s.inInsert = false
}

var (
	structurePrefix = []byte("-- Table structure for table ")
	dataPrefix      = []byte("-- Dumping data for table ")
	changedPrefix   = []byte("-- Changed rows of table ")
	sectionEnds     = [][]byte{
		[]byte("-- Temporary table structure for view "),
		[]byte("-- Temporary view structure for view "),
		[]byte("-- Final view structure for view "),
		[]byte("-- Dumping routines"),
		[]byte("-- Dumping events"),
		[]byte("-- Dump completed"),
		[]byte(manifest.MarkerPrefix),
	}
	insertPrefixes = [][]byte{[]byte("INSERT "), []byte("REPLACE ")}
	into           = []byte("INTO ")
	values         = []byte("VALUES")
	delimiter      = []byte("DELIMITER ")
	deletePrefix   = []byte("DELETE FROM ")
	dropPrefix     = []byte("DROP TABLE ")
	createPrefix   = []byte("CREATE TABLE ")
	ifExists       = []byte("IF EXISTS ")
	ifNotExists    = []byte("IF NOT EXISTS ")
)

// programRE matches the start of a CREATE PROCEDURE, FUNCTION or EVENT as
// SHOW CREATE prints it (with or without DEFINER) or as mysqldump wraps an
// event in version comments; the name follows.
var programRE = regexp.MustCompile("^(?:/\\*!\\d+ )?CREATE(?:\\*/)?\\s+(?:/\\*!\\d+\\s+)?" +
	"(?:DEFINER\\s*=\\s*(?:`(?:[^`]|``)*`|'[^']*'|[^\\s@`']+)(?:@(?:`(?:[^`]|``)*`|'[^']*'|[^\\s`']+))?\\s*(?:\\*/\\s*/\\*!\\d+\\s+)?)?" +
	"(?:AGGREGATE\\s+)?(?i:(PROCEDURE|FUNCTION|EVENT))\\s+(?:IF NOT EXISTS\\s+)?")

// classify looks at the start of the line that begins at s.lineStart.
func (s *scanner) classify() {
	h := s.head
	if s.lineStart == 0 && bytes.HasPrefix(h, []byte("-- lamigrate ")) && bytes.Contains(h, []byte(" delta dump (")) {
		s.deltaHead = true
	}
	if s.stmt.open {
		// The next line of a delta's statement.
		s.feedStmt(h)
		return
	}
	if len(h) == 0 {
		return
	}
	switch h[0] {
	case '-':
		for _, p := range [][]byte{structurePrefix, dataPrefix, changedPrefix} {
			if bytes.HasPrefix(h, p) {
				s.sections = true
				if name, ok := parseIdent(h[len(p):]); ok {
					s.switchTo(name)
				}
				return
			}
		}
		for _, p := range sectionEnds {
			if bytes.HasPrefix(h, p) {
				s.switchTo("")
				return
			}
		}
	case 'D':
		if bytes.HasPrefix(h, delimiter) {
			s.inDelimiter = string(bytes.TrimSpace(h[len(delimiter):])) != ";"
			break
		}
		if !s.delta || s.inDelimiter {
			break
		}
		if bytes.HasPrefix(h, deletePrefix) {
			if name, ok := parseIdent(h[len(deletePrefix):]); ok {
				s.startStmt(name, true)
				return
			}
		}
		if bytes.HasPrefix(h, dropPrefix) {
			if name, ok := parseIdent(bytes.TrimPrefix(h[len(dropPrefix):], ifExists)); ok {
				s.dropped[name] = true
			}
		}
	case 'C', '/':
		if s.delta && !s.inDelimiter && bytes.HasPrefix(h, createPrefix) {
			if name, ok := parseIdent(bytes.TrimPrefix(h[len(createPrefix):], ifNotExists)); ok {
				s.created[name] = true
			}
			break
		}
		if m := programRE.FindSubmatch(h); m != nil {
			if name, ok := parseIdent(h[len(m[0]):]); ok {
				s.programs[objectKey(strings.ToUpper(string(m[1])), name)] = true
			}
		}
	case '(':
		// MariaDB's mysqldump puts each tuple of an INSERT on its own line.
		if s.inStmt && s.cur != nil {
			s.cur.RowsApprox++
			s.carry = 0
			s.countTuples(h)
			s.inInsert = true
			return
		}
	case 'I', 'R':
		if s.inDelimiter {
			break
		}
		for _, p := range insertPrefixes {
			if !bytes.HasPrefix(h, p) {
				continue
			}
			k := bytes.Index(h, into)
			if k < 0 {
				break
			}
			if s.delta {
				if name, ok := parseIdent(h[k+len(into):]); ok {
					s.startStmt(name, false)
					return
				}
				break
			}
			if name, ok := parseIdent(h[k+len(into):]); ok && (s.cur == nil || s.cur.Name != name) {
				s.switchTo(name)
			}
			if s.cur != nil {
				s.cur.Inserts++
				if v := bytes.Index(h, values); v >= 0 && bytes.IndexByte(h[v:], '(') >= 0 {
					s.cur.RowsApprox++
				}
				s.carry = 0
				s.countTuples(h)
				s.inInsert = true
				s.inStmt = true
			}
			return
		}
	}
	s.inStmt = false
}

// startStmt begins counting a delta's INSERT or REPLACE (del false) or
// DELETE statement of table name at the line just classified.
func (s *scanner) startStmt(name string, del bool) {
	if s.cur == nil || s.cur.Name != name {
		s.switchTo(name)
	}
	if !del {
		s.cur.Inserts++
	}
	s.stmtTable = name
	s.stmt.start(del)
	s.feedStmt(s.head)
}

// parseIdent reads a back-quoted identifier (doubled backticks inside).
func parseIdent(b []byte) (string, bool) {
	if len(b) == 0 || b[0] != '`' {
		return "", false
	}
	var out []byte
	for i := 1; i < len(b); i++ {
		if b[i] != '`' {
			out = append(out, b[i])
			continue
		}
		if i+1 < len(b) && b[i+1] == '`' {
			out = append(out, '`')
			i++
			continue
		}
		return string(out), true
	}
	return "", false
}

func (s *scanner) switchTo(name string) {
	if s.cur != nil {
		s.cur.Bytes += s.lineStart - s.curStart
	}
	if name == "" {
		s.cur = nil
		s.curName.Store(nil)
		return
	}
	t := s.byName[name]
	if t == nil {
		t = &TableStat{Name: name, Offset: s.lineStart, ManifestRows: -1}
		s.byName[name] = t
		s.tables = append(s.tables, t)
	}
	s.cur, s.curStart = t, s.lineStart
	s.curName.Store(&t.Name)
}

// stats returns the tables seen, with the manifest's row counts.
func (s *scanner) stats(m *Manifest) []TableStat {
	out := make([]TableStat, 0, len(s.tables))
	for _, t := range s.tables {
		ts := *t
		if t == s.cur {
			ts.Bytes += s.total - s.curStart
		}
		if m != nil {
			if mt := m.Table(t.Name); mt != nil {
				ts.ManifestRows = mt.Rows
			}
		}
		out = append(out, ts)
	}
	return out
}

type scanResult struct {
	sql          StreamSum  // before the marker (the whole stream without one)
	marker       *StreamSum // what the marker records
	badMarker    string     // a last line that starts like a marker but is not one
	mysqldump    string     // mysqldump's trailer line
	lastLine     int64      // offset of the last line
	lastLineText string     // a description of the last line
	lastTable    string
}

// finish evaluates the end of the stream.
func (s *scanner) finish() scanResult {
	var r scanResult
	r.lastTable = s.current()
	if r.lastTable == "" && len(s.tables) > 0 {
		r.lastTable = s.tables[len(s.tables)-1].Name
	}
	head, start := s.head, s.lineStart
	if s.endsNL || (len(head) == 0 && s.total > 0) {
		head, start = s.prevHead, s.prevLineStart
	}
	r.lastLine = start
	r.lastLineText = describeLine(head, s.total-start)

	if !s.tailLong && len(s.tail) > 0 {
		line := string(s.tail)
		if n, sum, err := manifest.ParseMarker(line); err == nil {
			r.marker = &StreamSum{Bytes: n, XXH3: sum}
			r.sql = manifest.StreamOf(s.hashed, s.h)
			return r
		}
		if bytes.HasPrefix(s.tail, []byte(manifest.MarkerPrefix[:len(manifest.MarkerPrefix)-1])) {
			r.badMarker = trimNL(line)
		} else if bytes.HasPrefix(s.tail, []byte("-- Dump completed")) {
			r.mysqldump = trimNL(line)
		}
	}
	s.flushTail()
	r.sql = manifest.StreamOf(s.hashed, s.h)
	return r
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func describeLine(head []byte, n int64) string {
	const show = 60
	h := head
	if len(h) > show {
		h = h[:show]
	}
	h = bytes.TrimRight(h, "\r\n")
	if int64(len(h)) < n-1 {
		return fmt.Sprintf("%q… (%d bytes)", h, n)
	}
	return fmt.Sprintf("%q", h)
}

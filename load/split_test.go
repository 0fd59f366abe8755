package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type piece struct {
	Text   string
	Offset int64
	Delim  string
}

// splitAll splits in with a buffer of bufSize bytes fed one byte per read
// when oneByte is set.
func splitAll(t testing.TB, in []byte, bufSize int, oneByte bool) []piece {
	t.Helper()
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	s := NewSplitter(r)
	if bufSize > 0 {
		s.buf = make([]byte, bufSize)
	}
	var out []piece
	for {
		st, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, piece{string(st.Text), st.Offset, st.Delimiter})
		if len(out) > len(in)+1 {
			t.Fatalf("more statements than bytes")
		}
	}
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"simple", "SELECT 1;SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"no final delimiter", "SELECT 1;\nSELECT 2\n", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements", ";;  ;\n;SELECT 1;;", []string{"SELECT 1"}},
		{"quotes", `INSERT INTO t VALUES ('a;b',"c;d",` + "`e;f`" + `);`, []string{`INSERT INTO t VALUES ('a;b',"c;d",` + "`e;f`" + `)`}},
		{"backslash", `SELECT 'a\';b', "c\";d";SELECT 2;`, []string{`SELECT 'a\';b', "c\";d"`, "SELECT 2"}},
		{"doubled quote", `SELECT 'it''s;';SELECT 2;`, []string{`SELECT 'it''s;'`, "SELECT 2"}},
		{"backslash in backticks", "SELECT `a\\`;SELECT 2;", []string{"SELECT `a\\`", "SELECT 2"}},
		{"leading comments", "-- hello; world\n# x;\n/* c; */ SELECT 1;", []string{"SELECT 1"}},
		{"inner comments", "SELECT 1 -- x;\n, 2 # y;\n/* ; */;", []string{"SELECT 1 -- x;\n, 2 # y;\n/* ; */"}},
		{"dash-dash without space", "SELECT 1--1;", []string{"SELECT 1--1"}},
		{"executable comment", "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x=1 */;", []string{"/*!40101 SET NAMES utf8mb4 */", "/*M!100100 SET x=1 */"}},
		{"delimiter inside executable comment", "/*!50003 SET a=1; */;", []string{"/*!50003 SET a=1", "*/"}},
		{"sandbox line", "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\nSELECT 1;", []string{"SELECT 1"}},
		{"delimiter", "DELIMITER ;;\nCREATE TRIGGER t BEGIN SET a=1; SET b=2; END;;\nDELIMITER ;\nSELECT 1;", []string{"CREATE TRIGGER t BEGIN SET a=1; SET b=2; END", "SELECT 1"}},
		{"delimiter lower case, word", "delimiter $$\nSELECT 1$$ SELECT 2 $$\ndelimiter ;\nSELECT 3;", []string{"SELECT 1", "SELECT 2", "SELECT 3"}},
		{"delimiter after statement on same line", "SELECT 1; DELIMITER //\nSELECT 2//", []string{"SELECT 1", "SELECT 2"}},
		{"delimiter word inside statement", "SELECT delimiter FROM t;", []string{"SELECT delimiter FROM t"}},
		{"unterminated quote", "SELECT 'abc;", []string{"SELECT 'abc;"}},
		{"unterminated comment", "SELECT 1 /* abc;", []string{"SELECT 1 /* abc;"}},
		{"crlf", "SELECT 1;\r\nSELECT 2;\r\n", []string{"SELECT 1", "SELECT 2"}},
		{"hash in string", "SELECT '#;--';", []string{"SELECT '#;--'"}},
		{"slash not comment", "SELECT 4/2;", []string{"SELECT 4/2"}},
	}
	for _, tt := range tests {
		for _, small := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/small=%v", tt.name, small), func(t *testing.T) {
				size := 0
				if small {
					size = 4
				}
				got := splitAll(t, []byte(tt.in), size, small)
				var texts []string
				for _, p := range got {
					texts = append(texts, p.Text)
					if tt.in[p.Offset:p.Offset+int64(len(p.Text))] != p.Text {
						t.Errorf("offset %d does not point at %q", p.Offset, p.Text)
					}
				}
				if strings.Join(texts, "\x00") != strings.Join(tt.want, "\x00") {
					t.Errorf("Split(%q) = %q; want %q", tt.in, texts, tt.want)
				}
			})
		}
	}
}

func TestSplitterNoBackslashEscapes(t *testing.T) {
	s := NewSplitter(strings.NewReader(`SELECT 'a\';SELECT 2;`))
	s.NoBackslashEscapes = true
	var got []string
	for {
		st, err := s.Next()
		if err != nil {
			break
		}
		got = append(got, string(st.Text))
	}
	want := []string{`SELECT 'a\'`, "SELECT 2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Split with NO_BACKSLASH_ESCAPES = %q; want %q", got, want)
	}
}

func TestSplitterLargeStatement(t *testing.T) {
	// A 5 MB statement with quotes, escapes and blobs crossing every buffer
	// boundary.
	var b bytes.Buffer
	b.WriteString("SET a=1;\nINSERT INTO `t` VALUES ")
	for i := 0; i < 60000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,'row\\'s; text %d',0x%040X,\"x;y\")", i, i, i)
	}
	b.WriteString(";\nSELECT 2;")
	in := b.Bytes()
	got := splitAll(t, in, 0, false)
	if len(got) != 3 {
		t.Fatalf("Split(5 MB) gave %d statements; want 3", len(got))
	}
	big := got[1]
	if int(big.Offset) != len("SET a=1;\n") || len(big.Text) != len(in)-len("SET a=1;\n")-len(";\nSELECT 2;") {
		t.Errorf("big statement at %d, %d bytes; want at 9, %d bytes", big.Offset, len(big.Text), len(in)-9-11)
	}
	s := NewSplitter(bytes.NewReader(in))
	s.Max = 1 << 20
	s.Next()
	if _, err := s.Next(); !errors.Is(err, ErrStatementTooLarge) {
		t.Errorf("Next with Max 1 MiB = %v; want ErrStatementTooLarge", err)
	}
}

func TestSplitterComments(t *testing.T) {
	in := "-- one\nSELECT 1;\n-- lamigrate dump completed bytes=10 xxh3=ab\n"
	s := NewSplitter(strings.NewReader(in))
	var lines []string
	s.OnComment = func(off int64, line []byte) { lines = append(lines, fmt.Sprintf("%d:%s", off, line)) }
	for {
		if _, err := s.Next(); err != nil {
			break
		}
	}
	want := []string{"0:-- one", "17:-- lamigrate dump completed bytes=10 xxh3=ab"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("comments = %q; want %q", lines, want)
	}
}

func TestStripComments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT 1 -- x\n, 2", "SELECT 1 \n, 2"},
		{"SELECT 1 # x", "SELECT 1"},
		{"SELECT/* c */1", "SELECT 1"},
		{"SELECT /* c */ 1", "SELECT  1"},
		{"SELECT '/* not */ -- no'", "SELECT '/* not */ -- no'"},
		{"/*!50003 CREATE*/ /*!50017 DEFINER=`a`@`b`*/ /*!50003 TRIGGER t BEGIN SET x=1; -- c\nEND */", "/*!50003 CREATE*/ /*!50017 DEFINER=`a`@`b`*/ /*!50003 TRIGGER t BEGIN SET x=1; \nEND */"},
		{`SELECT 'a\'-- x'`, `SELECT 'a\'-- x'`},
	}
	for _, tt := range tests {
		if got := string(StripComments([]byte(tt.in), false)); got != tt.want {
			t.Errorf("StripComments(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSplit checks that every statement's Offset points at its Text, that
// statements do not overlap, that what lies between them splits into
// nothing, that re-joining the statements with their delimiters splits into
// the same statements, and that a tiny buffer fed byte by byte gives the
// same answer as the default one.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SELECT 1;SELECT 2;",
		"INSERT INTO `t` VALUES (1,'a\\';b',\"c\"),(2,NULL,0xFF);",
		"-- c\n# d\n/* e; */SELECT 1 -- x;\n;",
		"/*!40101 SET NAMES utf8mb4 */;\n/*M!999999\\- enable the sandbox mode */ \nSELECT 1;",
		"DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t BEGIN SET a=1; END */;;\nDELIMITER ;\nSELECT 1;",
		"delimiter //\nSELECT 1//\ndelimiter ;\n",
		"SELECT 'unterminated;",
		"SELECT `a``b`;SELECT 'a''b';",
		"DELIMITER\nSELECT 1;",
		"DELIMITER #\nSELECT 1#SELECT 2#\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := NewSplitter(bytes.NewReader(in))
		var got []piece
		for {
			st, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				// Only a bad DELIMITER line is an error here.
				if !strings.Contains(err.Error(), "DELIMITER") {
					t.Fatalf("Next: %v", err)
				}
				return
			}
			got = append(got, piece{string(st.Text), st.Offset, st.Delimiter})
		}
		prev := int64(0)
		var gaps bytes.Buffer
		for _, p := range got {
			if p.Text == "" {
				t.Fatalf("empty statement at %d", p.Offset)
			}
			if p.Offset < prev || p.Offset+int64(len(p.Text)) > int64(len(in)) {
				t.Fatalf("statement at %d (%d bytes) out of order or range (previous end %d)", p.Offset, len(p.Text), prev)
			}
			if string(in[p.Offset:p.Offset+int64(len(p.Text))]) != p.Text {
				t.Fatalf("offset %d does not point at %q", p.Offset, p.Text)
			}
			gaps.Write(in[prev:p.Offset])
			gaps.WriteByte('\n')
			prev = p.Offset + int64(len(p.Text))
		}
		gaps.Write(in[prev:])
		if rest := splitAll(t, gaps.Bytes(), 0, false); len(got) > 0 && len(rest) > 0 && !strings.HasPrefix(got[len(got)-1].Text, rest[0].Text) {
			t.Fatalf("what lies between statements, %q, splits into %v", gaps.String(), rest)
		}
		if small := splitAll(t, in, 3, true); fmt.Sprint(small) != fmt.Sprint(got) {
			t.Fatalf("small buffer: %v; default: %v", small, got)
		}
		// Re-join all but the last (which may have run to the end of the
		// stream unterminated).
		if len(got) < 2 {
			return
		}
		var b bytes.Buffer
		delim := ";"
		for _, p := range got[:len(got)-1] {
			if p.Delim != delim {
				fmt.Fprintf(&b, "DELIMITER %s\n", p.Delim)
				delim = p.Delim
			}
			b.WriteString(p.Text)
			b.WriteString("\n" + p.Delim + "\n")
		}
		again := splitAll(t, b.Bytes(), 0, false)
		if len(again) != len(got)-1 {
			t.Fatalf("re-joined %q split into %d statements; want %d", b.String(), len(again), len(got)-1)
		}
		for i := range again {
			if again[i].Text != got[i].Text {
				t.Fatalf("re-joined statement %d = %q; want %q", i, again[i].Text, got[i].Text)
			}
		}
	})
}

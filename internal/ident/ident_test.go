package ident

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "`plain`"},
		{"with`tick", "`with``tick`"},
		{"``", "``````"},
		{"sp ace", "`sp ace`"},
		{"žluťoučký", "`žluťoučký`"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"it's", `'it\'s'`},
		{"a\\b", `'a\\b'`},
		{"nul\x00z\x1a", `'nul\0z\Z'`},
		{"l1\nl2\r", `'l1\nl2\r'`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// reference is the plain spelling of MySQL's string escapes, the oracle for
// the table-driven appenders.
func reference(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "it's", `a\b`, "nul\x00z\x1a", "l1\nl2\r", "žluť 😀", "\x00\x1a\\\n\r", "😀'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := reference(s)
		if got := string(AppendString(nil, []byte(s))); got != want {
			t.Errorf("AppendString(%q) = %s; want %s", s, got, want)
		}
		if got := String(s); got != want {
			t.Errorf("String(%q) = %s; want %s", s, got, want)
		}
		if got := EscapedLen(s); got != len(want)-2 {
			t.Errorf("EscapedLen(%q) = %d; want %d", s, got, len(want)-2)
		}
	})
}

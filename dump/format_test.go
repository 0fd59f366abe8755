package dump

import (
	"testing"

	"github.com/qualityunit/lamigrate/internal/ident"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		in      []byte
		k       kind
		hexBlob bool
		want    string
	}{
		{nil, kindString, false, "NULL"},
		{[]byte{}, kindString, false, "''"},
		{[]byte{}, kindBinary, false, "''"},
		{[]byte{}, kindBinary, true, "''"},
		{[]byte("-12.50"), kindNumber, false, "-12.50"},
		{[]byte("a'b\\c\x00d\ne\rf\x1ag\"h"), kindString, false, `'a\'b\\c\0d\ne\rf\Zg"h'`},
		{[]byte{0, 0x27, 0xff}, kindBinary, true, "0x0027ff"},
		{[]byte{0, 0x27, 0xff}, kindBinary, false, `_binary '\0\'` + "\xff'"},
		{[]byte("😀"), kindString, false, "'😀'"},
	}
	for _, tt := range tests {
		if got := string(appendValue(nil, tt.in, tt.k, tt.hexBlob)); got != tt.want {
			t.Errorf("appendValue(%q, %d, %v) = %s; want %s", tt.in, tt.k, tt.hexBlob, got, tt.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a'b", "\x00\x1a\\\n\r", "😀'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, []byte(s))), ident.String(s); got != want {
			t.Errorf("appendString(%q) = %s; want %s", s, got, want)
		}
	})
}

package ident

import "testing"

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

package shquote

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"run.json", "run.json"},
		{"/srv/la/run.json", "/srv/la/run.json"},
		{"my config.json", "'my config.json'"},
		{"it's.json", `'it'\''s.json'`},
		{"", "''"},
		{"$HOME/x", "'$HOME/x'"},
		{"user@unix(/run/mysqld/mysqld.sock)/db", "'user@unix(/run/mysqld/mysqld.sock)/db'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
		}
		// The shell reads the quoted word back as the original.
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(tt.in)).Output()
		if err != nil || string(out) != tt.in {
			t.Errorf("sh reads Quote(%q) as %q, %v", tt.in, out, err)
		}
	}
	if got := Join("lamigrate", "run", "--config", "a b"); got != "lamigrate run --config 'a b'" {
		t.Errorf("Join = %s", got)
	}
}

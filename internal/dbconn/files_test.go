package dbconn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSettings(t *testing.T) {
	in := "<?php /*\r\nDB_HOSTNAME=127.0.0.1:3307\r\nDB_USERNAME=la_user\r\nDB_PASSWORD=p=a=ss  \r\nDB_DATABASE=la\r\nENCRYPTION_KEY=k3y\r\nTIMEZONE=Europe/Bratislava\r\nSOMETHING=else\r\n*/ ?>\r\n"
	s, err := ParseSettings(strings.NewReader(in))
	if err != nil {
		require.NoError(t, err, "ParseSettings")
	}
	want := Settings{Hostname: "127.0.0.1:3307", Username: "la_user", Password: "p=a=ss", HasPassword: true, Database: "la", EncryptionKey: "k3y", HasEncryptionKey: true, TimeZone: "Europe/Bratislava"}
	if s.Hostname != want.Hostname || s.Username != want.Username || s.Password != want.Password || s.Database != want.Database ||
		!s.HasEncryptionKey || s.EncryptionKey != "k3y" || s.TimeZone != want.TimeZone || s.Other["SOMETHING"] != "else" {
		t.Errorf("ParseSettings = %+v; want %+v", s, want)
	}
	s, err = ParseSettings(strings.NewReader("<?php /*\nDB_USERNAME=u\nDB_PASSWORD=\n*/"))
	if err != nil || !s.HasPassword || s.Password != "" || s.HasEncryptionKey {
		t.Errorf("empty password: %+v, %v; want HasPassword with empty value and no key", s, err)
	}
	for _, bad := range []string{"", "<?php ?>", "<?php /* no end", "<?php /* just text */"} {
		if _, err := ParseSettings(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseSettings(%q) = nil error; want an error", bad)
		}
	}
}

func TestHostAddr(t *testing.T) {
	tests := []struct{ host, port, sock, net, addr string }{
		{"localhost", "", "", "unix", DefaultSocket},
		{"", "", "/tmp/s.sock", "unix", "/tmp/s.sock"},
		{"localhost", "3307", "", "tcp", "localhost:3307"},
		{"db:3310", "", "", "tcp", "db:3310"},
		{"db", "", "", "tcp", "db:3306"},
		{"::1", "3306", "", "tcp", "[::1]:3306"},
	}
	for _, tt := range tests {
		n, a, err := hostAddr(tt.host, tt.port, tt.sock)
		if err != nil || n != tt.net || a != tt.addr {
			t.Errorf("hostAddr(%q, %q, %q) = %s, %s, %v; want %s, %s", tt.host, tt.port, tt.sock, n, a, err, tt.net, tt.addr)
		}
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add("<?php /*\r\nDB_HOSTNAME=localhost\r\nDB_USERNAME=u\r\nDB_PASSWORD=p\r\nDB_DATABASE=d\r\n*/ ?>")
	f.Add("<?php /*\nDB_HOSTNAME=h:1\nENCRYPTION_KEY=\n*/")
	f.Add("/* */")
	f.Add("<?php /*\n=\n==\nDB_USERNAME\n*/")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSettings(strings.NewReader(in))
		if err != nil {
			return
		}
		// Values never carry trailing blanks or a CR, keys never an '='.
		for _, v := range []string{s.Hostname, s.Username, s.Password, s.Database, s.EncryptionKey} {
			if strings.TrimRight(v, " \t\r") != v {
				t.Errorf("value %q keeps trailing blanks", v)
			}
		}
		if s.HasEncryptionKey != (s.EncryptionKey != "") {
			t.Errorf("HasEncryptionKey = %v with key %q", s.HasEncryptionKey, s.EncryptionKey)
		}
		for k := range s.Other {
			if strings.Contains(k, "=") {
				t.Errorf("key %q contains '='", k)
			}
		}
	})
}

package transfer

import "testing"

func TestParseURL(t *testing.T) {
	cases := []struct {
		in      string
		want    Location
		wantErr bool
	}{
		{in: "sftp://me@host/srv/in/", want: Location{User: "me", Host: "host", Path: "/srv/in/"}},
		{in: "SFTP://me@host:2222/srv/in/dump.sql.gz", want: Location{User: "me", Host: "host", Port: 2222, Path: "/srv/in/dump.sql.gz"}},
		{in: "sftp://me@host/~/in/", want: Location{User: "me", Host: "host", Path: "in/"}},
		{in: "sftp://me@host", want: Location{User: "me", Host: "host", Path: "./"}},
		{in: "sftp://me@[::1]:22/x", want: Location{User: "me", Host: "::1", Port: 22, Path: "/x"}},
		{in: "sftp://host/x/", wantErr: true},
		{in: "sftp://me:pw@host/x/", wantErr: true},
		{in: "sftp://me@host:99999/x/", wantErr: true},
		{in: "sftp://me@/x/", wantErr: true},
		{in: "sftp://me@host/x/?a=b", wantErr: true},
		{in: "/local/folder", wantErr: true},
	}
	for _, tc := range cases {
		got, err := ParseURL(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseURL(%q) = %+v; want an error", tc.in, got)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sftp://me@host/srv/in/", "sftp://me@host:2222/~/x", "sftp://a:b@c/d", "sftp://me@[::1]/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := ParseURL(s)
		if err != nil {
			return
		}
		again, err := ParseURL(loc.String())
		if err != nil || *again != *loc {
			t.Errorf("ParseURL(%q).String() = %q parses to %+v, %v; want %+v", s, loc.String(), again, err, loc)
		}
	})
}

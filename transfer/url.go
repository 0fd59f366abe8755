package transfer

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Location is a parsed sftp://USER@HOST[:PORT]/PATH.
//
// The path is absolute (sftp://h/srv/in/ is /srv/in/); a path starting with
// /~/ is relative to the login folder (sftp://h/~/in/ is ~/in/). A path
// ending in "/" names a folder.
type Location struct {
	User string
	Host string
	Port int // 0 when not given
	Path string
}

// ParseURL parses an sftp:// URL. A password in the URL is refused: it would
// sit in the shell history and the process list.
func ParseURL(s string) (*Location, error) {
	if !IsURL(s) {
		return nil, fmt.Errorf("transfer: %q is not an sftp:// URL", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("transfer: %q is not a valid URL: %v", s, err)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("transfer: %q names no user; write sftp://USER@HOST/PATH", s)
	}
	if _, has := u.User.Password(); has {
		return nil, fmt.Errorf("transfer: %q holds a password; remove it and set LAMIGRATE_SSH_PASSWORD or use a key", redact(u))
	}
	if h := u.Hostname(); strings.Contains(h, ":") && !strings.HasPrefix(u.Host, "[") {
		return nil, fmt.Errorf("transfer: %q: write an IPv6 host in brackets, e.g. sftp://user@[::1]/dir/", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("transfer: %q names no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("transfer: %q: query and fragment are not supported", s)
	}
	loc := &Location{User: u.User.Username(), Host: u.Hostname(), Path: u.Path}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("transfer: %q: port %q is not a number in 1..65535", s, p)
		}
		loc.Port = n
	}
	switch {
	case loc.Path == "/~" || strings.HasPrefix(loc.Path, "/~/"):
		loc.Path = strings.TrimPrefix(strings.TrimPrefix(loc.Path, "/~"), "/")
		if loc.Path == "" {
			loc.Path = "./"
		}
	case loc.Path == "":
		loc.Path = "./"
	}
	return loc, nil
}

// IsURL reports whether s is meant as an sftp:// URL.
func IsURL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "sftp://") }

// IsDir reports whether the path names a folder (ends in "/").
func (l *Location) IsDir() bool { return strings.HasSuffix(l.Path, "/") }

// Split returns the folder and the file name of the path.
func (l *Location) Split() (dir, file string) {
	if l.IsDir() {
		return l.Path, ""
	}
	d, f := path.Split(l.Path)
	if d == "" {
		d = "./"
	}
	return d, f
}

// String prints the URL back.
func (l *Location) String() string {
	host := l.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if l.Port != 0 {
		host += ":" + strconv.Itoa(l.Port)
	}
	p := l.Path
	if !strings.HasPrefix(p, "/") {
		p = "/~/" + strings.TrimPrefix(p, "./")
	}
	return "sftp://" + l.User + "@" + host + p
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User(u.User.Username())
	return c.String()
}

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

// SCPError reports an scp-style destination (USER@HOST:PATH or HOST:PATH)
// given where an sftp:// URL or a local folder was expected: lamigrate
// would otherwise make a local folder of that name.
type SCPError struct {
	Arg  string // as given
	User string // "" when the argument names none
	Host string
	Path string // the part after the colon
}

func (e *SCPError) Error() string {
	return fmt.Sprintf("%s looks like an scp destination; write it as %s", e.Arg, e.URL(""))
}

// URL is the sftp:// spelling of the destination. user stands in when the
// argument names no user (scp would log in as the local user); "" leaves
// USER there.
func (e *SCPError) URL(user string) string {
	u := e.User
	if u == "" {
		u = user
	}
	if u == "" {
		u = "USER"
	}
	host := e.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	p := e.Path
	switch {
	case strings.HasPrefix(p, "/"):
	case p == "" || p == "~" || p == ".":
		p = "/~/"
	default:
		p = "/~/" + strings.TrimPrefix(strings.TrimPrefix(p, "~/"), "./")
	}
	return "sftp://" + u + "@" + host + p
}

// ParseTarget reads where a push goes to or a pull comes from: an sftp://
// URL (loc is set) or a path on this machine (loc is nil). Other URL
// schemes are refused, and so is an scp-style USER@HOST:PATH or HOST:PATH,
// with an *SCPError giving the sftp:// spelling.
//
// The rule is scp's own: a colon before the first slash makes an argument
// remote. A local path that contains a colon is therefore written with a
// slash before it: ./host:dir or /abs/host:dir.
func ParseTarget(s string) (loc *Location, err error) {
	if IsURL(s) {
		return ParseURL(s)
	}
	if i := strings.Index(s, "://"); i > 0 && !strings.Contains(s[:i], "/") {
		return nil, fmt.Errorf("transfer: %s: only sftp:// URLs and local folders are supported", s)
	}
	if e := scpLike(s); e != nil {
		return nil, e
	}
	return nil, nil
}

// scpLike returns s as an scp destination, or nil when s is a local path.
func scpLike(s string) *SCPError {
	rest := s
	user := ""
	if at := strings.IndexByte(rest, '@'); at >= 0 && !strings.Contains(rest[:at], "/") && !strings.Contains(rest[:at], ":") {
		user, rest = rest[:at], rest[at+1:]
	}
	var host, p string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 || strings.Contains(rest[:end], "/") {
			return nil
		}
		host, p = rest[1:end], rest[end+2:]
	} else {
		colon := strings.IndexByte(rest, ':')
		if colon <= 0 || strings.Contains(rest[:colon], "/") {
			return nil
		}
		host, p = rest[:colon], rest[colon+1:]
	}
	if host == "" {
		return nil
	}
	return &SCPError{Arg: s, User: user, Host: host, Path: p}
}

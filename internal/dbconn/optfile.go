package dbconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// OptionFiles says which option files (my.cnf) to read, as the mysql
// client's --no-defaults, --defaults-file and --defaults-extra-file do. The
// zero value reads the global files only: the caller passes Home (and
// MySQLHome) from the environment, since this package never reads it.
type OptionFiles struct {
	NoDefaults bool   // --no-defaults: read no option file at all
	File       string // --defaults-file: read only this file (it must exist)
	ExtraFile  string // --defaults-extra-file: read it after the global files, before ~/.my.cnf (it must exist)
	Home       string // $HOME: ~/.my.cnf is read from it; empty skips ~/.my.cnf
	MySQLHome  string // $MARIADB_HOME, else $MYSQL_HOME: $MySQLHome/my.cnf is read after the global files
	// Global are the system-wide files; nil means GlobalOptionFiles(). An
	// empty, non-nil slice reads none (tests).
	Global []string
}

// GlobalOptionFiles are the system-wide option files MariaDB's client
// reads on Linux, in order ("mariadb --help --verbose" lists them).
func GlobalOptionFiles() []string { return []string{"/etc/my.cnf", "/etc/mysql/my.cnf"} }

// ClientGroups are the option file groups read: those every MariaDB and
// MySQL client program and library reads. [mysql] and [mariadb-client]
// belong to the mysql command-line program, [mysqldump] to mysqldump;
// lamigrate is neither.
var clientGroups = []string{"client", "client-server", "client-mariadb"}

// ClientGroups returns the option file groups read, in the order the
// documentation lists them.
func ClientGroups() []string { return append([]string(nil), clientGroups...) }

// maxIncludeDepth is MariaDB's limit on nested !include / !includedir.
const maxIncludeDepth = 10

// List returns the files read before includes, in order.
func (o OptionFiles) List() []string {
	var files []string
	for _, f := range o.list() {
		files = append(files, f.path)
	}
	return files
}

// topFile is a file read before includes; flag names it when it was
// named explicitly, and then it must exist.
type topFile struct{ path, flag string }

func (o OptionFiles) list() []topFile {
	if o.NoDefaults {
		return nil
	}
	if o.File != "" {
		return []topFile{{o.File, "--defaults-file"}}
	}
	global := o.Global
	if global == nil {
		global = GlobalOptionFiles()
	}
	var files []topFile
	for _, f := range global {
		files = append(files, topFile{f, ""})
	}
	if o.MySQLHome != "" {
		files = append(files, topFile{filepath.Join(o.MySQLHome, "my.cnf"), ""})
	}
	if o.ExtraFile != "" {
		files = append(files, topFile{o.ExtraFile, "--defaults-extra-file"})
	}
	if o.Home != "" {
		files = append(files, topFile{filepath.Join(o.Home, ".my.cnf"), ""})
	}
	return files
}

// Named reports whether a file was named explicitly (--defaults-file or
// --defaults-extra-file).
func (o OptionFiles) Named() bool { return !o.NoDefaults && (o.File != "" || o.ExtraFile != "") }

// ClientOptions are the connection settings the option files give, each
// the last one read, and where each came from.
type ClientOptions struct {
	Host, Port, Socket, User, Password, Database string
	HasPassword                                  bool
	// PasswordPrompt: the password line that counts has no value, which
	// makes the mysql client prompt for it.
	PasswordPrompt bool
	// Origin maps "host", "port", "socket", "user", "password",
	// "database" to the file and line that set it.
	Origin map[string]Place
	// Looked are the files considered before includes, in order; Read
	// are the files actually read, includes too, in order.
	Looked, Read []string
	// Warnings are files ignored as the client ignores them (world
	// writable) and directives skipped (nested too deep).
	Warnings []string
}

// Place is a line of an option file.
type Place struct {
	File string
	Line int
}

func (p Place) String() string { return fmt.Sprintf("%s line %d", p.File, p.Line) }

// ReadOptionFiles reads the option files o names, following !include and
// !includedir, and returns the settings of the client groups. A missing
// default file is skipped; a missing --defaults-file or
// --defaults-extra-file, a missing !includedir folder, an option before
// any [group] and an unclosed [group are errors, as with the client; a
// missing !include file is skipped, as with the client.
func ReadOptionFiles(o OptionFiles) (*ClientOptions, error) {
	c := &ClientOptions{Origin: map[string]Place{}}
	if o.NoDefaults && (o.File != "" || o.ExtraFile != "") {
		return nil, fmt.Errorf("dbconn: --no-defaults reads no option file: drop it, or drop --defaults-file / --defaults-extra-file")
	}
	if o.File != "" && o.ExtraFile != "" {
		return nil, fmt.Errorf("dbconn: --defaults-file reads only that file, so --defaults-extra-file would be ignored: give one of them")
	}
	c.Looked = o.List()
	for _, f := range o.list() {
		if err := c.readFile(f.path, 0, f.flag); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readFile reads one option file. A missing or unreadable file is an
// error only when it was named with flag.
func (c *ClientOptions) readFile(path string, depth int, flag string) error {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o002 != 0 {
		// MariaDB and MySQL ignore world-writable option files.
		c.Warnings = append(c.Warnings, fmt.Sprintf("option file %s is ignored because anyone may write it (as the mysql client ignores it): chmod o-w %s", path, path))
		return nil
	}
	f, err := os.Open(path)
	if err == nil && fi.IsDir() {
		f.Close()
		err = fmt.Errorf("%s is a folder", path)
	}
	if err != nil {
		if flag != "" {
			return fmt.Errorf("dbconn: cannot read %s: %w", flag, err)
		}
		return nil
	}
	defer f.Close()
	lines, err := ParseOptionFile(f)
	if err != nil {
		return fmt.Errorf("dbconn: %s: %w", path, err)
	}
	c.Read = append(c.Read, path)
	for _, l := range lines {
		at := Place{path, l.Line}
		switch l.Kind {
		case LineInclude, LineIncludeDir:
			if depth >= maxIncludeDepth {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: skipped %s %s: includes nest deeper than %d", at, l.Kind, l.Value, maxIncludeDepth))
				continue
			}
			if l.Kind == LineInclude {
				if err := c.readFile(l.Value, depth+1, ""); err != nil {
					return err
				}
				continue
			}
			names, err := includeDir(l.Value)
			if err != nil {
				return fmt.Errorf("dbconn: %s: !includedir %s: %w (the mysql client stops here too): create the folder or remove the line", at, l.Value, rootCause(err))
			}
			for _, n := range names {
				if err := c.readFile(n, depth+1, ""); err != nil {
					return err
				}
			}
		case LineOption:
			if !isClientGroup(l.Group) {
				continue
			}
			c.set(l, at)
		}
	}
	return nil
}

// includeDir lists the *.cnf files of dir in sorted order, as MariaDB's
// !includedir reads them.
func includeDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".cnf" && !e.IsDir() {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(names)
	return names, nil
}

func isClientGroup(g string) bool {
	for _, cg := range clientGroups {
		if strings.EqualFold(g, cg) {
			return true
		}
	}
	return false
}

// set applies one option of a client group.
func (c *ClientOptions) set(l OptionLine, at Place) {
	key := OptionKey(l.Key)
	var dst *string
	switch key {
	case "host":
		dst = &c.Host
	case "port":
		dst = &c.Port
	case "socket":
		dst = &c.Socket
	case "user":
		dst = &c.User
	case "database":
		dst = &c.Database
	case "password":
		c.Password, c.HasPassword, c.PasswordPrompt = l.Value, true, !l.HasValue
		c.Origin[key] = at
		return
	default:
		return
	}
	// An empty value leaves the setting to the next source, as an
	// absent one.
	*dst = l.Value
	if l.Value == "" {
		delete(c.Origin, key)
		return
	}
	c.Origin[key] = at
}

// OptionKey normalizes an option name as the client does: case and '-'
// versus '_' do not matter, and a "loose-" prefix is dropped.
func OptionKey(k string) string {
	k = strings.ReplaceAll(strings.ToLower(k), "_", "-")
	return strings.TrimPrefix(k, "loose-")
}

// LineKind is what a line of an option file holds.
type LineKind int

const (
	LineOption     LineKind = iota // key or key=value inside a [group]
	LineInclude                    // !include FILE
	LineIncludeDir                 // !includedir DIR
)

func (k LineKind) String() string {
	switch k {
	case LineInclude:
		return "!include"
	case LineIncludeDir:
		return "!includedir"
	}
	return "option"
}

// OptionLine is one meaningful line of an option file.
type OptionLine struct {
	Kind     LineKind
	Line     int
	Group    string // the [group] it is in, as written (trailing blanks removed)
	Key      string // as written; see OptionKey
	Value    string // the value, or the path of a directive
	HasValue bool   // key=value rather than a bare key
}

// ParseOptionFile parses my.cnf text the way MariaDB's client library does
// (mysys/my_default.c): blank lines and lines starting with '#' or ';' are
// skipped; "[group]" starts a group (case does not matter, trailing blanks
// inside the brackets are dropped); "!include FILE" and "!includedir DIR"
// are directives, other "!" lines are ignored; "key" or "key = value"
// lines must follow a group. A '#' outside quotes ends the line. A value
// loses its surrounding blanks, then one pair of matching quotes, then its
// escapes: \n \t \r \b \s (space) \" \' \\ (any other backslash stays).
func ParseOptionFile(r io.Reader) ([]OptionLine, error) {
	var out []OptionLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	group, inGroup, n := "", false, 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), spaces)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '!' {
			d := strings.TrimLeft(line[1:], spaces)
			for _, kw := range []struct {
				word string
				kind LineKind
			}{{"includedir", LineIncludeDir}, {"include", LineInclude}} {
				rest, ok := strings.CutPrefix(d, kw.word)
				if !ok || (rest != "" && !strings.ContainsRune(spaces, rune(rest[0]))) {
					continue
				}
				arg := strings.Trim(rest, spaces)
				if arg == "" {
					return nil, fmt.Errorf("line %d: !%s names no file", n, kw.word)
				}
				out = append(out, OptionLine{Kind: kw.kind, Line: n, Group: group, Value: arg})
				break
			}
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: group %q has no closing ]", n, strings.TrimRight(line, spaces))
			}
			group, inGroup = strings.TrimRight(line[1:end], spaces), true
			continue
		}
		if !inGroup {
			return nil, fmt.Errorf("line %d: option %q comes before any [group] (the mysql client refuses this file too): put it under [client]", n, optionName(line))
		}
		line = removeEndComment(line)
		l := OptionLine{Kind: LineOption, Line: n, Group: group}
		k, v, ok := strings.Cut(line, "=")
		l.Key = strings.TrimRight(k, spaces)
		if ok {
			l.Value, l.HasValue = unescape(v), true
		}
		if l.Key == "" {
			continue
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than 1 MiB", n+1)
		}
		return nil, err
	}
	return out, nil
}

// spaces are the blanks of the client's my_isspace (latin1).
const spaces = " \t\n\v\f\r"

// optionName is the key of an option line, for messages (never its value:
// it may be a password).
func optionName(line string) string {
	k, _, _ := strings.Cut(line, "=")
	return strings.TrimRight(k, spaces)
}

// removeEndComment cuts line at the first '#' outside quotes; a backslash
// inside quotes escapes the next character.
func removeEndComment(line string) string {
	var quote byte
	escape := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		if (ch == '\'' || ch == '"') && !escape {
			if quote == 0 {
				quote = ch
			} else if quote == ch {
				quote = 0
			}
		}
		if quote == 0 && ch == '#' {
			return line[:i]
		}
		escape = quote != 0 && ch == '\\' && !escape
	}
	return line
}

// unescape turns the raw text after '=' into the value.
func unescape(v string) string {
	v = strings.Trim(v, spaces)
	if len(v) > 1 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i == len(v)-1 {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 's':
			b.WriteByte(' ')
		case '"', '\'', '\\':
			b.WriteByte(v[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

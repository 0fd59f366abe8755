package dbconn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// The expectations below were checked against MariaDB 10.11's
// my_print_defaults on the same text.
func TestParseOptionFile(t *testing.T) {
	opt := func(line int, group, key, value string) OptionLine {
		return OptionLine{Kind: LineOption, Line: line, Group: group, Key: key, Value: value, HasValue: true}
	}
	tests := []struct {
		name string
		in   string
		want []OptionLine
		err  string // substring of the error; "" for none
	}{
		{"comments and blanks", "# c\n; c\n\n   \n[client]\n  # indented\nuser=u\n", []OptionLine{opt(7, "client", "user", "u")}, ""},
		{"spaces around key and value", "[client]\n  user   =   u v  \r\n", []OptionLine{opt(2, "client", "user", "u v")}, ""},
		{"group case and trailing blanks kept as written", "[Client ]\nx=1\n", []OptionLine{opt(2, "Client", "x", "1")}, ""},
		{"text after ] ignored", "[client] # c\nx=1\n", []OptionLine{opt(2, "client", "x", "1")}, ""},
		{"hash ends an unquoted value", "[client]\nhost=h#c\n", []OptionLine{opt(2, "client", "host", "h")}, ""},
		{"hash inside quotes stays", "[client]\npassword = \"a\\sb#c\" # x\n", []OptionLine{opt(2, "client", "password", "a b#c")}, ""},
		{"semicolon mid-line stays", "[client]\nport = 1 ; z\n", []OptionLine{opt(2, "client", "port", "1 ; z")}, ""},
		{"single quotes", "[client]\nuser='me'\n", []OptionLine{opt(2, "client", "user", "me")}, ""},
		{"escaped quote inside quotes", "[client]\nuser = \"a\\\"b\" \n", []OptionLine{opt(2, "client", "user", `a"b`)}, ""},
		{"quote inside a value", "[client]\nuser='x'y'\n", []OptionLine{opt(2, "client", "user", "x'y")}, ""},
		{"unterminated quote kept", "[client]\npassword=\"abc\n", []OptionLine{opt(2, "client", "password", `"abc`)}, ""},
		{"escapes", `[client]` + "\n" + `password=a\tb\nc\\d\qe\` + "\n", []OptionLine{opt(2, "client", "password", "a\tb\nc\\d\\qe\\")}, ""},
		{"equals in value", "[client]\npassword=a=b\n", []OptionLine{opt(2, "client", "password", "a=b")}, ""},
		{"bare key", "[client]\npassword\nuser=\n", []OptionLine{{Kind: LineOption, Line: 2, Group: "client", Key: "password"}, opt(3, "client", "user", "")}, ""},
		{"directives", "!include /a.cnf\n!includedir   /etc/x/  \n[client]\n! include b.cnf\n!foo bar\n",
			[]OptionLine{{Kind: LineInclude, Line: 1, Value: "/a.cnf"}, {Kind: LineIncludeDir, Line: 2, Value: "/etc/x/"}, {Kind: LineInclude, Line: 4, Group: "client", Value: "b.cnf"}}, ""},
		{"directive path keeps #", "!include /a#b.cnf\n", []OptionLine{{Kind: LineInclude, Line: 1, Value: "/a#b.cnf"}}, ""},
		{"directive without a path", "!includedir\n", nil, "line 1: !includedir names no file"},
		{"option before any group", "user=x\n", nil, `line 1: option "user" comes before any [group]`},
		{"option before any group hides its value", "password=secret\n", nil, `option "password"`},
		{"unclosed group", "[client\nuser=x\n", nil, "line 1: group \"[client\" has no closing ]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOptionFile(strings.NewReader(tt.in))
			if tt.err != "" {
				require.Error(t, err, "ParseOptionFile(%q)", tt.in)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err, "ParseOptionFile(%q)", tt.in)
			assert.Equal(t, tt.want, got, "ParseOptionFile(%q)", tt.in)
		})
	}
}

func TestOptionKey(t *testing.T) {
	for in, want := range map[string]string{"USER": "user", "loose-password": "password", "loose_Host": "host", "default_character_set": "default-character-set"} {
		assert.Equal(t, want, OptionKey(in), "OptionKey(%q)", in)
	}
}

func TestReadOptionFiles(t *testing.T) {
	dir := t.TempDir()
	w := func(name, body string) string { return writeFile(t, filepath.Join(dir, name), body) }
	global := w("etc/my.cnf", "[client]\nuser=global\nhost=gh\n[mysqld]\nport=1\n[mysql]\ndatabase=mysqlgroup\n")
	debian := w("etc/mysql/my.cnf", "[client-server]\nsocket=/run/x.sock\n!includedir "+filepath.Join(dir, "etc/mysql/conf.d")+"\n")
	conf1 := w("etc/mysql/conf.d/10-a.cnf", "[client]\nuser=a\ndatabase=da\n")
	conf2 := w("etc/mysql/conf.d/2-b.cnf", "[client]\nuser=b\n") // sorts after 10-a.cnf
	w("etc/mysql/conf.d/x.ini", "[client]\nuser=ini\n")
	w("etc/mysql/conf.d/z.cnf.bak", "[client]\nuser=bak\n")
	home := filepath.Join(dir, "home")
	mycnf := w("home/.my.cnf", "[client-mariadb]\npassword='from home'\n!include "+filepath.Join(dir, "missing.cnf")+"\n")
	extra := w("extra.cnf", "[CLIENT]\nuser=extra\nloose-password=extra\n")
	only := w("only.cnf", "[client]\nuser=only\n!include "+w("inc.cnf", "[client]\nport=3307\n")+"\n")
	mysqlHome := filepath.Join(dir, "myhome")
	w("myhome/my.cnf", "[client]\ndatabase=myhome\n")
	badDir := w("baddir.cnf", "[client]\n!includedir "+filepath.Join(dir, "nodir")+"\n")
	noGroup := w("nogroup.cnf", "user=x\n")
	prompt := w("prompt.cnf", "[client]\npassword\n")
	w("ww.cnf", "[client]\nuser=ww\n")
	require.NoError(t, os.Chmod(filepath.Join(dir, "ww.cnf"), 0o666))
	withWW := w("withww.cnf", "[client]\nuser=before\n!include "+filepath.Join(dir, "ww.cnf")+"\n")
	loop := w("loop.cnf", "[client]\n!include "+filepath.Join(dir, "loop.cnf")+"\n")

	defaults := []string{global, debian}
	tests := []struct {
		name     string
		o        OptionFiles
		user     string
		password string
		database string
		origin   map[string]string // key -> file
		read     []string
		err      string
		warn     string
	}{
		{name: "defaults in order, includedir sorted, later wins",
			o: OptionFiles{Global: defaults, Home: home}, user: "b", password: "from home", database: "da",
			origin: map[string]string{"user": conf2, "database": conf1, "password": mycnf, "socket": debian, "host": global},
			read:   []string{global, debian, conf1, conf2, mycnf}},
		{name: "no home: ~/.my.cnf skipped", o: OptionFiles{Global: defaults}, user: "b", database: "da",
			read: []string{global, debian, conf1, conf2}},
		{name: "MYSQL_HOME after the global files", o: OptionFiles{Global: defaults, MySQLHome: mysqlHome}, user: "b", database: "myhome"},
		{name: "extra file after the global files, before ~/.my.cnf", o: OptionFiles{Global: defaults, Home: home, ExtraFile: extra},
			user: "extra", password: "from home", database: "da", origin: map[string]string{"user": extra, "password": mycnf}},
		{name: "defaults-file only, with its include", o: OptionFiles{Global: defaults, Home: home, File: only}, user: "only",
			origin: map[string]string{"port": filepath.Join(dir, "inc.cnf")}, read: []string{only, filepath.Join(dir, "inc.cnf")}},
		{name: "no-defaults reads nothing", o: OptionFiles{Global: defaults, Home: home, NoDefaults: true}, read: nil},
		{name: "absent default files are skipped", o: OptionFiles{Global: []string{filepath.Join(dir, "nope")}, Home: filepath.Join(dir, "nohome")}, read: nil},
		{name: "missing defaults-file", o: OptionFiles{File: filepath.Join(dir, "nope.cnf")}, err: "dbconn: cannot read --defaults-file: open " + filepath.Join(dir, "nope.cnf")},
		{name: "missing extra file", o: OptionFiles{Global: []string{}, ExtraFile: filepath.Join(dir, "nope.cnf")}, err: "dbconn: cannot read --defaults-extra-file: open " + filepath.Join(dir, "nope.cnf")},
		{name: "missing includedir", o: OptionFiles{File: badDir}, err: "dbconn: " + badDir + " line 2: !includedir " + filepath.Join(dir, "nodir") + ": no such file or directory (the mysql client stops here too)"},
		{name: "option before a group", o: OptionFiles{File: noGroup}, err: "dbconn: " + noGroup + ": line 1: option \"user\" comes before any [group]"},
		{name: "no-defaults with defaults-file", o: OptionFiles{NoDefaults: true, File: only}, err: "--no-defaults reads no option file"},
		{name: "defaults-file with extra file", o: OptionFiles{File: only, ExtraFile: extra}, err: "give one of them"},
		{name: "world-writable file ignored", o: OptionFiles{File: withWW}, user: "before", read: []string{withWW},
			warn: "option file " + filepath.Join(dir, "ww.cnf") + " is ignored because anyone may write it"},
		{name: "include loop stops at depth 10", o: OptionFiles{File: loop}, warn: "includes nest deeper than 10"},
		{name: "bare password", o: OptionFiles{File: prompt}, password: "", origin: map[string]string{"password": prompt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ReadOptionFiles(tt.o)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.user, c.User, "user")
			assert.Equal(t, tt.password, c.Password, "password")
			assert.Equal(t, tt.database, c.Database, "database")
			for k, f := range tt.origin {
				assert.Equal(t, f, c.Origin[k].File, "origin of %s", k)
			}
			if tt.read != nil || tt.o.NoDefaults {
				assert.Equal(t, tt.read, c.Read, "files read")
			}
			if tt.warn != "" {
				require.NotEmpty(t, c.Warnings)
				assert.Contains(t, c.Warnings[0], tt.warn)
			} else {
				assert.Empty(t, c.Warnings)
			}
		})
	}
	c, err := ReadOptionFiles(OptionFiles{File: loop})
	require.NoError(t, err)
	assert.Len(t, c.Read, 11, "the file and 10 nested includes")
	c, err = ReadOptionFiles(OptionFiles{File: prompt})
	require.NoError(t, err)
	assert.True(t, c.PasswordPrompt && c.HasPassword)
	assert.Equal(t, []string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/h/.my.cnf"}, OptionFiles{Home: "/h"}.List())
	assert.Equal(t, []string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/m/my.cnf", "/x.cnf", "/h/.my.cnf"}, OptionFiles{Home: "/h", MySQLHome: "/m", ExtraFile: "/x.cnf"}.List())
}

// TestResolveOptionFilePrecedence: default option files give way to
// settings.php; named ones override it; the DSN overrides both; MYSQL_PWD
// only fills a gap.
func TestResolveOptionFilePrecedence(t *testing.T) {
	dir := t.TempDir()
	install := filepath.Join(dir, "la")
	php := writeFile(t, SettingsPath(install), "<?php /*\nDB_HOSTNAME=db1\nDB_USERNAME=la\nDB_DATABASE=ladb\n*/ ?>")
	home := filepath.Join(dir, "home")
	mycnf := writeFile(t, filepath.Join(home, ".my.cnf"), "[client]\nuser=admin\npassword=adminpw\nport=3310\nsocket=/s.sock\n")
	extra := writeFile(t, filepath.Join(dir, "extra.cnf"), "[client]\ndatabase=extradb\n")
	none := []string{}

	tests := []struct {
		name                         string
		s                            Sources
		net, addr, user, pass, db    string
		addrFrom, userFrom, passFrom string
	}{
		// No host: the socket, as the client uses it (the port is for TCP).
		{"home only", Sources{Home: home, GlobalOptionFiles: none},
			"unix", "/s.sock", "admin", "adminpw", "", mycnf, mycnf, mycnf},
		{"settings.php over the default files; its host takes no port from them", Sources{Home: home, GlobalOptionFiles: none, InstallDir: install},
			"tcp", "db1:3306", "la", "adminpw", "ladb", php, php, mycnf},
		{"named file: option files over settings.php", Sources{Home: home, GlobalOptionFiles: none, InstallDir: install, DefaultsExtraFile: extra},
			"tcp", "db1:3310", "admin", "adminpw", "extradb", php + " and " + mycnf, mycnf, mycnf},
		{"dsn over option files", Sources{Home: home, GlobalOptionFiles: none, DSN: "u:p@unix(/d.sock)/d"},
			"unix", "/d.sock", "u", "p", "d", "--dsn", "--dsn", "--dsn"},
		{"option file password over MYSQL_PWD", Sources{Home: home, GlobalOptionFiles: none, Password: "env"},
			"unix", "/s.sock", "admin", "adminpw", "", mycnf, mycnf, mycnf},
		{"MYSQL_PWD when no file has a password", Sources{Home: home, GlobalOptionFiles: none, DefaultsFile: extra, Password: "env", DefaultUser: "me"},
			"unix", DefaultSocket, "me", "env", "extradb", "default", "default", "MYSQL_PWD"},
		{"no-defaults", Sources{Home: home, GlobalOptionFiles: none, NoDefaults: true, DefaultUser: "me"},
			"unix", DefaultSocket, "me", "", "", "default", "default", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.s.Resolve()
			require.NoError(t, err)
			c := r.Config
			assert.Equal(t, []string{tt.net, tt.addr, tt.user, tt.pass, tt.db}, []string{c.Net, c.Addr, c.User, c.Passwd, c.DBName})
			assert.Equal(t, []string{tt.addrFrom, tt.userFrom, tt.passFrom}, []string{r.Origin["address"], r.Origin["user"], r.Origin["password"]})
		})
	}

	prompt := writeFile(t, filepath.Join(dir, "prompt.cnf"), "[client]\nuser=x\npassword\n")
	_, err := Sources{DefaultsFile: prompt}.Resolve()
	require.Error(t, err)
	assert.Equal(t, "dbconn: "+prompt+" line 3: password has no value, which makes the mysql client prompt for it; lamigrate never prompts: write password=... there, or remove the line and set MYSQL_PWD", err.Error())
	_, err = Sources{DefaultsFile: prompt, DSN: "u:p@/d"}.Resolve()
	assert.NoError(t, err, "a password from the DSN makes the bare password line moot")
}

// TestOptionFilesConnect: against the real server, a password only in
// ~/.my.cnf connects with no flag naming a file; --no-defaults then fails
// saying it read none; --defaults-extra-file is read; a wrong password is
// blamed on the file it came from.
func TestOptionFilesConnect(t *testing.T) {
	db := mysqltest.New(t)
	user, pass, addr, admin := account(t, db)
	dir := t.TempDir()
	where := ""
	if admin.Net == "unix" {
		where = "socket=" + admin.Addr + "\n"
	} else {
		h, p, _ := strings.Cut(admin.Addr, ":")
		where = "host=" + h + "\nport=" + p + "\n"
	}
	home := filepath.Join(dir, "home")
	writeFile(t, filepath.Join(home, ".my.cnf"), "[client]\n"+where+"user="+user+"\npassword=\""+strings.ReplaceAll(pass, `"`, `\"`)+"\"\n[client-mariadb]\ndatabase="+db.Name+"\n")
	wrongHome := filepath.Join(dir, "wrong")
	wrong := writeFile(t, filepath.Join(wrongHome, ".my.cnf"), "[client]\n"+where+"user="+user+"\npassword=nope\ndatabase="+db.Name+"\n")
	extra := writeFile(t, filepath.Join(dir, "extra.cnf"), "[client]\npassword=\""+strings.ReplaceAll(pass, `"`, `\"`)+"\"\n")
	none := []string{}

	got, err := connect(t, Sources{Home: home, GlobalOptionFiles: none})
	require.NoError(t, err, "password only in ~/.my.cnf")
	assert.Equal(t, db.Name, got)

	// ~/.my.cnf comes after the extra file, as with the client: its wrong
	// password wins. Without it the extra file's password connects.
	_, err = connect(t, Sources{Home: wrongHome, GlobalOptionFiles: none, DefaultsExtraFile: extra})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "with the password from "+wrong)
	got, err = connect(t, Sources{Home: filepath.Join(dir, "nohome"), GlobalOptionFiles: none, DefaultsExtraFile: extra, DSN: user + "@" + addr + "/" + db.Name})
	require.NoError(t, err, "password from --defaults-extra-file")
	assert.Equal(t, db.Name, got)

	_, err = connect(t, Sources{Home: wrongHome, GlobalOptionFiles: none})
	var ce *ConnectError
	require.True(t, errors.As(err, &ce), "%T %v", err, err)
	assert.Equal(t, FaultAccessDenied, ce.Fault)
	assert.Contains(t, err.Error(), "access denied for user \""+user+"\"")
	assert.Contains(t, err.Error(), "with the password from "+wrong+" (user from "+wrong+"): check the user name and the password in "+wrong)

	_, err = connect(t, Sources{Home: home, GlobalOptionFiles: none, NoDefaults: true, DSN: user + "@" + addr + "/" + db.Name})
	require.True(t, errors.As(err, &ce), "%T %v", err, err)
	assert.Equal(t, FaultAccessDenied, ce.Fault)
	assert.Contains(t, err.Error(), "with no password (user from --dsn; --no-defaults: no option file read): check the user name, and give its password in MYSQL_PWD, or drop --no-defaults")

	nohome := filepath.Join(dir, "nohome")
	_, err = connect(t, Sources{Home: nohome, GlobalOptionFiles: []string{filepath.Join(dir, "etc.cnf")}, DSN: user + "@" + addr + "/" + db.Name})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "with no password (user from --dsn; no option file found: looked for "+filepath.Join(dir, "etc.cnf")+", "+filepath.Join(nohome, ".my.cnf")+"): ")
}

func FuzzParseOptionFile(f *testing.F) {
	f.Add("[client]\nuser = 'me' # c\npassword=\"a\\\"b#c\"\n!include /x.cnf\n!includedir /d\n")
	f.Add("# c\n; c\n[client-server]\nsocket=/s\n[mysqld]\nskip-name-resolve\n")
	f.Add("user=x\n")
	f.Add("[client\n")
	f.Add("[c]\nk=\\\n=v\n!include\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := ParseOptionFile(strings.NewReader(in))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			return
		}
		last := 0
		for _, l := range lines {
			if l.Line <= last {
				t.Errorf("line numbers not increasing: %d after %d", l.Line, last)
			}
			last = l.Line
			switch l.Kind {
			case LineOption:
				if l.Key == "" || strings.ContainsAny(l.Key, "=\n") || strings.TrimRight(l.Key, spaces) != l.Key {
					t.Errorf("key %q", l.Key)
				}
				if !l.HasValue && l.Value != "" {
					t.Errorf("bare key %q has value %q", l.Key, l.Value)
				}
			case LineInclude, LineIncludeDir:
				if l.Value == "" || strings.Trim(l.Value, spaces) != l.Value {
					t.Errorf("%s path %q", l.Kind, l.Value)
				}
			}
		}
		// Whatever parses, ReadOptionFiles' merge accepts.
		c := &ClientOptions{Origin: map[string]Place{}}
		for _, l := range lines {
			if l.Kind == LineOption {
				c.set(l, Place{"f", l.Line})
			}
		}
	})
}

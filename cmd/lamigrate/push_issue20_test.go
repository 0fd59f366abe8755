package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// pushFixture is a dump with its manifest and a state file beside it, and an
// in-process SFTP server that trusts a password.
type pushFixture struct {
	addr, local, remote, file, state string
	data, stateData                  []byte
	env                              map[string]string
}

func newPushFixture(t *testing.T) *pushFixture {
	t.Helper()
	addr, hostKey := testSFTPServer(t, "pw")
	home := t.TempDir()
	f := &pushFixture{addr: addr, local: t.TempDir(), remote: t.TempDir(),
		data:      bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 50000),
		stateData: []byte(`{"format":1,"sources":[]}` + "\n"),
		env:       map[string]string{"HOME": home, "LAMIGRATE_SSH_PASSWORD": "pw", "USER": "me"}}
	f.file = filepath.Join(f.local, "dump.sql")
	f.state = filepath.Join(f.local, "isolate-state.json")
	err := os.WriteFile(f.file, f.data, 0o644)
	require.NoError(t, err, "os.WriteFile")
	m := &manifest.Manifest{Format: manifest.FormatVersion, File: manifest.File{Name: "dump.sql", Size: int64(len(f.data)), SHA256: sumHex(f.data)}}
	err = manifest.Write(manifest.PathFor(f.file), m)
	require.NoError(t, err, "manifest.Write")
	err = os.WriteFile(f.state, f.stateData, 0o600)
	require.NoError(t, err, "os.WriteFile")
	kh := filepath.Join(home, ".ssh", "known_hosts")
	os.MkdirAll(filepath.Dir(kh), 0o700)
	err = os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey)+"\n"), 0o600)
	require.NoError(t, err, "os.WriteFile")
	return f
}

func (f *pushFixture) url(dir string) string { return "sftp://me@" + f.addr + dir }

func TestCLIPushRefusesSCPDestination(t *testing.T) {
	f := newPushFixture(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"push", f.file, "root@127.0.0.1:/srv/in/"}, "lamigrate push: root@127.0.0.1:/srv/in/ looks like an scp destination; write it as sftp://root@127.0.0.1/srv/in/"},
		{[]string{"push", f.file, "backup.example.com:in/"}, "write it as sftp://me@backup.example.com/~/in/"},
		{[]string{"pull", "root@127.0.0.1:/srv/in/dump.sql", f.local}, "lamigrate pull: root@127.0.0.1:/srv/in/dump.sql looks like an scp destination; write it as sftp://root@127.0.0.1/srv/in/dump.sql"},
		{[]string{"push", f.file, "ftp://host/in/"}, "only sftp:// URLs and local folders"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, f.env, tc.args...)
		if code != exitUsage || !strings.Contains(lastLine(stderr), tc.want) {
			t.Errorf("lamigrate %v = %d, %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("a refused destination left %v in the working folder", entries)
	}
	// A local folder whose name has a colon is written with ./ first.
	err := os.Mkdir(filepath.Join(cwd, "a:b"), 0o755)
	require.NoError(t, err, "os.Mkdir")
	if code, _, stderr := runCLI(t, f.env, "push", "--no-state", f.file, "./a:b"); code != 0 {
		t.Fatalf("push to ./a:b = %d, %q; want 0", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(cwd, "a:b", "dump.sql")); !bytes.Equal(got, f.data) {
		t.Error("push to ./a:b did not land in the local folder a:b")
	}
}

func TestCLIPushMissingFolder(t *testing.T) {
	f := newPushFixture(t)
	missing := filepath.Join(f.remote, "incoming")
	code, _, stderr := runCLI(t, f.env, "push", f.file, f.url(missing+"/"))
	want := "lamigrate push: the folder " + f.url(missing) + "/ does not exist: check the path, or run the same command with --mkdir to create it"
	if code != exitFailure || lastLine(stderr) != want {
		t.Fatalf("push to a missing folder = %d, %q; want %d, %q", code, lastLine(stderr), exitFailure, want)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("push created the missing folder without --mkdir")
	}
	if code, _, stderr := runCLI(t, f.env, "push", "--mkdir", f.file, f.url(missing+"/")); code != 0 {
		t.Fatalf("push --mkdir = %d, %q; want 0", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(missing, "dump.sql")); !bytes.Equal(got, f.data) {
		t.Error("push --mkdir did not create the folder with the file in it")
	}
	// Local destinations and pull's local folder follow the same rule.
	code, _, stderr = runCLI(t, f.env, "push", f.file, filepath.Join(f.local, "nowhere"))
	if code != exitFailure || !strings.Contains(stderr, "--mkdir") {
		t.Errorf("push to a missing local folder = %d, %q; want %d naming --mkdir", code, stderr, exitFailure)
	}
	code, _, stderr = runCLI(t, f.env, "pull", f.url(missing+"/dump.sql"), filepath.Join(f.local, "nowhere", "x.sql"))
	if code != exitFailure || !strings.Contains(stderr, filepath.Join(f.local, "nowhere")+" does not exist") {
		t.Errorf("pull into a missing local folder = %d, %q; want %d naming the folder", code, stderr, exitFailure)
	}
}

func TestCLIPushCarriesStateFile(t *testing.T) {
	f := newPushFixture(t)
	code, stdout, stderr := runCLI(t, f.env, "push", f.file, f.url(f.remote+"/"))
	if code != 0 {
		t.Fatalf("push = %d, %q", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(f.remote, "isolate-state.json")); !bytes.Equal(got, f.stateData) {
		t.Fatalf("the state file beside the archive was not pushed (got %q)", got)
	}
	if !strings.Contains(stdout, "pushed "+f.state+" to "+f.url(f.remote)+"/isolate-state.json") {
		t.Errorf("push stdout = %q; want a line saying the state file was carried", stdout)
	}
	// One progress total for everything: archive + manifest + state file.
	mb, _ := os.ReadFile(manifest.PathFor(f.file))
	total := bytesize.Format(int64(len(f.data) + len(mb) + len(f.stateData)))
	if !strings.Contains(stderr, total+" / "+total+" (100%)") {
		t.Errorf("push progress %q; want the last line at %s / %s (100%%)", stderr, total, total)
	}

	// pull fetches it beside the file, and reports received bytes.
	in := t.TempDir()
	code, stdout, stderr = runCLI(t, f.env, "--json", "pull", f.url(f.remote+"/dump.sql"), in+"/")
	if code != 0 {
		t.Fatalf("pull = %d, %q", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("pull --json %q: %v", stdout, err)
	}
	if r["received"] != float64(len(f.data)) || r["sent"] != nil || r["state"] == nil {
		t.Errorf("pull --json = %v; want received %d, no sent, a state entry", r, len(f.data))
	}
	fi, err := os.Stat(filepath.Join(in, "isolate-state.json"))
	if got, _ := os.ReadFile(filepath.Join(in, "isolate-state.json")); err != nil || !bytes.Equal(got, f.stateData) || fi.Mode().Perm() != 0o600 {
		t.Errorf("pulled state file %q (%v); want the pushed one, mode 0600", got, err)
	}

	// --state names another file; --no-state sends none; a pull without
	// one beside the remote file is no error.
	other := filepath.Join(t.TempDir(), "mine.json")
	os.WriteFile(other, []byte(`{"other":true}`), 0o600)
	dst := t.TempDir()
	if code, stdout, stderr := runCLI(t, f.env, "push", "--state", other, f.file, dst); code != 0 || !strings.Contains(stdout, " to "+dst+"/dump.sql: ") {
		t.Fatalf("push --state = %d, %q, %q; want 0 and the file's local path", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "isolate-state.json")); string(got) != `{"other":true}` {
		t.Errorf("push --state sent %q; want the named file as isolate-state.json", got)
	}
	dst2 := t.TempDir()
	code, stdout, _ = runCLI(t, f.env, "push", "--no-state", f.file, dst2)
	if _, err := os.Stat(filepath.Join(dst2, "isolate-state.json")); code != 0 || err == nil || !strings.Contains(stdout, "no isolation state file sent") {
		t.Errorf("push --no-state = %d, %q; want 0, no state file sent", code, stdout)
	}
	back := t.TempDir()
	code, stdout, stderr = runCLI(t, f.env, "pull", filepath.Join(dst2, "dump.sql"), back+"/")
	if code != 0 || !strings.Contains(stdout, "no isolation state file beside it") {
		t.Errorf("pull without a state file = %d, %q, %q; want 0 and a note", code, stdout, stderr)
	}
	// A different local state file is never replaced.
	os.WriteFile(filepath.Join(back, "isolate-state.json"), []byte("originals"), 0o600)
	code, _, stderr = runCLI(t, f.env, "pull", filepath.Join(dst, "dump.sql"), back+"/")
	if got, _ := os.ReadFile(filepath.Join(back, "isolate-state.json")); code != exitFailure || string(got) != "originals" || !strings.Contains(stderr, "differs") {
		t.Errorf("pull over a different state file = %d, %q (file %q); want %d, untouched", code, stderr, got, exitFailure)
	}
}

func TestCLIPushConnectFailure(t *testing.T) {
	f := newPushFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		require.NoError(t, err, "net.Listen")
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	url := "sftp://me@127.0.0.1:" + itoa(port) + "/in/"
	code, _, stderr := runCLI(t, f.env, "push", f.file, url)
	line := lastLine(stderr)
	if code != exitFailure || !strings.Contains(line, "cannot connect to 127.0.0.1:"+itoa(port)) ||
		!strings.Contains(line, "connection refused") || !strings.Contains(line, "check the host name and the port, that sshd runs there") ||
		strings.Contains(line, "resume") || strings.Contains(line, "transfer: ") {
		t.Errorf("push to a closed port = %d, %q; want a connect failure and what to check, no resume hint", code, line)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/sftptest"
)

// testSFTPServer runs an in-process SFTP server that accepts password and
// returns its address and host key.
func testSFTPServer(t *testing.T, password string) (string, ssh.PublicKey) {
	t.Helper()
	srv := sftptest.Start(t, sftptest.Options{Password: password})
	return srv.Addr(), srv.HostKey
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestCLIPushPull(t *testing.T) {
	addr, hostKey := testSFTPServer(t, "pw")
	home := t.TempDir()
	local := t.TempDir()
	remote := t.TempDir()
	data := bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 40000)
	file := filepath.Join(local, "dump.sql")
	err := os.WriteFile(file, data, 0o644)
	require.NoError(t, err, "os.WriteFile")
	m := &manifest.Manifest{Format: manifest.FormatVersion, File: manifest.File{Name: "dump.sql", Size: int64(len(data)), SHA256: sumHex(data)}}
	err = manifest.Write(manifest.PathFor(file), m)
	require.NoError(t, err, "manifest.Write")
	bad := filepath.Join(local, "bad.sql")
	os.WriteFile(bad, data, 0o644)
	m.File.SHA256 = sumHex([]byte("x"))
	manifest.Write(manifest.PathFor(bad), m)

	url := "sftp://me@" + addr + remote + "/"
	env := map[string]string{"HOME": home, "LAMIGRATE_SSH_PASSWORD": "pw"}
	knownHosts := filepath.Join(home, ".ssh", "known_hosts")
	hostLine := knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	otherLine := knownhosts.Line([]string{knownhosts.Normalize(addr)}, otherSigner.PublicKey())

	steps := []struct {
		name       string
		knownHosts *string // write this known_hosts before the step (nil: leave)
		env        map[string]string
		args       []string
		code       int
		stderr     []string // the one error line mentions these
		check      func(t *testing.T, stdout string)
	}{
		{name: "unknown host", knownHosts: ptrTo(""), args: []string{"push", file, url}, code: exitFailure,
			stderr: []string{"lamigrate push: ", "not in " + knownHosts, "ssh-keyscan", "--accept-new-host-key", ssh.FingerprintSHA256(hostKey)}},
		{name: "changed host key", knownHosts: ptrTo(otherLine + "\n"), args: []string{"push", "--accept-new-host-key", file, url}, code: exitFailure,
			stderr: []string{"CHANGED", "man-in-the-middle"}},
		{name: "wrong password", knownHosts: ptrTo(hostLine + "\n"), env: map[string]string{"HOME": home, "LAMIGRATE_SSH_PASSWORD": "nope"},
			args: []string{"push", file, url}, code: exitFailure, stderr: []string{"authentication failed", "LAMIGRATE_SSH_PASSWORD"}},
		{name: "push with accept-new", knownHosts: ptrTo(""), args: []string{"push", "--accept-new-host-key", file, url}, code: 0,
			check: func(t *testing.T, stdout string) {
				if !strings.Contains(stdout, "pushed ") || !strings.Contains(stdout, "manifest carried along") {
					t.Errorf("push stdout = %q; want a summary", stdout)
				}
				got, _ := os.ReadFile(filepath.Join(remote, "dump.sql"))
				if !bytes.Equal(got, data) {
					t.Error("pushed file differs")
				}
				if _, err := os.Stat(filepath.Join(remote, "dump.sql.manifest.json")); err != nil {
					t.Errorf("manifest not pushed: %v", err)
				}
				if kh, _ := os.ReadFile(knownHosts); !strings.Contains(string(kh), hostLine) {
					t.Errorf("known_hosts = %q; want the server's key added", kh)
				}
			}},
		{name: "push again, json", args: []string{"--json", "push", file, url}, code: 0,
			check: func(t *testing.T, stdout string) {
				var r struct {
					SHA256         string `json:"sha256"`
					AlreadyPresent bool   `json:"already_present"`
					Sent           int64  `json:"sent"`
				}
				if err := json.Unmarshal([]byte(stdout), &r); err != nil {
					t.Fatalf("push --json stdout %q: %v", stdout, err)
				}
				if r.SHA256 != sumHex(data) || !r.AlreadyPresent || r.Sent != 0 {
					t.Errorf("push --json = %+v; want sha %s, already present, nothing sent", r, sumHex(data))
				}
			}},
		{name: "manifest mismatch", args: []string{"push", bad, url}, code: exitFailure, stderr: []string{"does not match its manifest", "lamigrate verify"}},
		{name: "pull into a folder", args: []string{"pull", "--mkdir", "sftp://me@" + addr + remote + "/dump.sql", filepath.Join(local, "in") + "/"}, code: 0,
			check: func(t *testing.T, stdout string) {
				got, _ := os.ReadFile(filepath.Join(local, "in", "dump.sql"))
				if !bytes.Equal(got, data) {
					t.Error("pulled file differs")
				}
				if _, err := os.Stat(filepath.Join(local, "in", "dump.sql.manifest.json")); err != nil {
					t.Errorf("manifest not pulled: %v", err)
				}
			}},
		{name: "pull of a missing file", args: []string{"pull", "sftp://me@" + addr + remote + "/nope.sql", filepath.Join(local, "nope.sql")}, code: exitFailure,
			stderr: []string{"does not exist"}},
		{name: "push to a local folder", args: []string{"push", "--mkdir", file, filepath.Join(local, "copy")}, code: 0,
			check: func(t *testing.T, _ string) {
				if got, _ := os.ReadFile(filepath.Join(local, "copy", "dump.sql")); !bytes.Equal(got, data) {
					t.Error("file not copied to the local folder")
				}
			}},
		{name: "pull from a local path", args: []string{"pull", filepath.Join(local, "copy", "dump.sql"), filepath.Join(local, "back.sql")}, code: 0,
			check: func(t *testing.T, _ string) {
				if got, _ := os.ReadFile(filepath.Join(local, "back.sql")); !bytes.Equal(got, data) {
					t.Error("file not pulled from the local folder")
				}
			}},
		{name: "missing file", args: []string{"push", filepath.Join(local, "missing.sql"), url}, code: exitUsage, stderr: []string{"cannot read the file to send"}},
		{name: "URL without user", args: []string{"push", file, "sftp://" + addr + "/x/"}, code: exitUsage, stderr: []string{"names no user"}},
		{name: "URL with password", args: []string{"push", file, "sftp://me:hunter2@" + addr + "/x/"}, code: exitUsage, stderr: []string{"holds a password"}},
		{name: "pull of a folder URL", args: []string{"pull", url, local}, code: exitUsage, stderr: []string{"names a folder"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.knownHosts != nil {
				os.MkdirAll(filepath.Dir(knownHosts), 0o700)
				err := os.WriteFile(knownHosts, []byte(*st.knownHosts), 0o600)
				require.NoError(t, err, "os.WriteFile")
			}
			e := env
			if st.env != nil {
				e = st.env
			}
			code, stdout, stderr := runCLI(t, e, st.args...)
			if code != st.code {
				t.Fatalf("lamigrate %v exit = %d; want %d (stderr %q)", st.args, code, st.code, stderr)
			}
			if st.code != 0 {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				last := lines[len(lines)-1]
				for _, want := range st.stderr {
					if !strings.Contains(last, want) {
						t.Errorf("lamigrate %v error line %q does not mention %q", st.args, last, want)
					}
				}
				if strings.Contains(stderr, "hunter2") {
					t.Errorf("the password was echoed: %q", stderr)
				}
			}
			if st.check != nil {
				st.check(t, stdout)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

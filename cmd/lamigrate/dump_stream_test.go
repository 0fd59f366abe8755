package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/sftptest"
)

// streamFixture is dumpFixture with a table of about 10 MB of SQL, so an
// upload of it crosses a link that drops after a few hundred KiB while the
// dump still writes (beyond the upload's 8 MiB of buffers).
func streamFixture(t *testing.T) *mysqltest.DB {
	db := dumpFixture(t)
	db.MustExec(t,
		"CREATE TABLE qu_la_messages (id INT PRIMARY KEY, body TEXT)",
		"INSERT INTO qu_la_messages SELECT seq, REPEAT(SHA2(seq, 256), 10) FROM seq_1_to_15000")
	return db
}

// streamServer is an SSH server to dump to, with what the CLI needs to log
// in: env (HOME and secrets) and flags (--identity, --known-hosts).
type streamServer struct {
	srv   *sftptest.Server
	env   map[string]string
	flags []string
}

func (s *streamServer) url(dir, file string) string {
	return "sftp://" + s.srv.User + "@" + s.srv.Addr() + dir + "/" + file
}

func newStreamServer(t *testing.T, sshd bool, o sftptest.Options) *streamServer {
	t.Helper()
	home := t.TempDir()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if sshd {
		client := sftptest.NewKey(t)
		key := filepath.Join(t.TempDir(), "id_ed25519")
		client.WriteFile(t, key, "")
		srv := sftptest.StartSSHD(t, client)
		srv.WriteKnownHosts(t, kh)
		return &streamServer{srv: srv, env: map[string]string{"HOME": home}, flags: []string{"--identity", key, "--known-hosts", kh}}
	}
	o.Password = "pw"
	srv := sftptest.Start(t, o)
	require.NoError(t, os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey)+"\n"), 0o600))
	return &streamServer{srv: srv, env: map[string]string{"HOME": home, "LAMIGRATE_SSH_PASSWORD": "pw"}, flags: []string{"--known-hosts", kh}}
}

// withoutTimes is the archive's SQL without its last two lines (the
// completion time and the marker) and its run's id (the second line).
func withoutTimes(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := codec.NewReader(f, nil)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	s := strings.TrimSuffix(string(b), "\n")
	for range 2 {
		s = s[:strings.LastIndexByte(s, '\n')]
	}
	require.Contains(t, s, "CREATE TABLE")
	first, rest, _ := strings.Cut(s, "\n")
	id, rest, _ := strings.Cut(rest, "\n")
	require.True(t, strings.HasPrefix(id, dump.DumpIDPrefix), "the second line names the dump's run: %q", id)
	return first + "\n" + rest
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestDumpToSFTP: dump -o sftp://… leaves the archive and its manifest (and
// nothing else) on the server, owner-only; verify accepts the file; its
// manifest records the same SQL stream and table digests as a local dump
// of the same data.
func TestDumpToSFTP(t *testing.T) {
	db := streamFixture(t)
	dsn := db.Config().FormatDSN()
	local := filepath.Join(t.TempDir(), "x.sql.zst")
	code, _, stderr := runCLI(t, nil, "dump", "--dsn", dsn, "-o", local, "--connections", "1")
	require.Equal(t, 0, code, stderr)
	lm, err := manifest.Read(manifest.PathFor(local))
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		sshd     bool
		verified string
	}{
		{"openssh-sshd", true, "remote-command"},
		{"sftp-inprocess", false, "read-back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStreamServer(t, tc.sshd, sftptest.Options{})
			remote := t.TempDir()
			url := s.url(remote, "x.sql.zst")
			args := append([]string{"--json", "dump", "--dsn", dsn, "-o", url}, s.flags...)
			code, stdout, stderr := runCLI(t, s.env, args...)
			require.Equal(t, 0, code, "lamigrate %s\n%s", strings.Join(args, " "), stderr)
			var res dumpOutput
			require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
			assert.Equal(t, url, res.Path)
			assert.Equal(t, url+".manifest.json", res.FileResult.Manifest)
			assert.Equal(t, tc.verified, res.Verified)
			assert.Equal(t, 1, res.Connections, "an sftp:// output reads over one connection (no spill files here)")

			assert.ElementsMatch(t, []string{"x.sql.zst", "x.sql.zst.manifest.json"}, dirNames(t, remote))
			file := filepath.Join(remote, "x.sql.zst")
			for _, p := range []string{file, manifest.PathFor(file)} {
				fi, err := os.Stat(p)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
			}
			rm, err := manifest.Read(manifest.PathFor(file))
			require.NoError(t, err)
			fi, _ := os.Stat(file)
			assert.Equal(t, fi.Size(), rm.File.Size)
			assert.Equal(t, res.SHA256, rm.File.SHA256)
			assert.Equal(t, "x.sql.zst", rm.File.Name)
			// The streams differ only in mysqldump's "-- Dump completed on"
			// time (and so in their XXH3 and marker).
			assert.Equal(t, lm.SQL.Bytes, rm.SQL.Bytes, "the stream's size equals a local dump's")
			assert.Equal(t, withoutTimes(t, local), withoutTimes(t, file), "the SQL equals a local dump's but for the time")
			assert.Equal(t, lm.Tables, rm.Tables, "table row counts and digests equal a local dump's")

			code, stdout, stderr = runCLI(t, nil, "verify", file)
			assert.Equal(t, 0, code, "verify of the pulled file: %s%s", stdout, stderr)
		})
	}
}

// TestDumpToSFTPLinkDropped: a link that breaks mid-dump leaves only
// FILE.partial on the server, with one line saying to run the same command
// again; that command then succeeds and replaces the partial file.
func TestDumpToSFTPLinkDropped(t *testing.T) {
	db := streamFixture(t)
	s := newStreamServer(t, false, sftptest.Options{DropAfter: 300 << 10, DropConns: 1})
	remote := t.TempDir()
	url := s.url(remote, "x.sql")
	args := append([]string{"dump", "--dsn", db.Config().FormatDSN(), "-o", url}, s.flags...)

	code, _, stderr := runCLI(t, s.env, args...)
	require.Equal(t, exitFailure, code, stderr)
	errLines := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "lamigrate dump: ") {
			errLines++
		}
	}
	assert.Equal(t, 1, errLines, "one error line:\n%s", stderr)
	line := lastLine(stderr)
	for _, want := range []string{"lamigrate dump: the connection to 127.0.0.1 broke during the dump",
		"only " + url + ".partial was left there", "run the same command again to start the dump over"} {
		assert.Contains(t, line, want)
	}
	assert.Equal(t, []string{"x.sql.partial"}, dirNames(t, remote), "nothing that looks complete")

	code, _, stderr = runCLI(t, s.env, args...)
	require.Equal(t, 0, code, stderr)
	assert.ElementsMatch(t, []string{"x.sql", "x.sql.manifest.json"}, dirNames(t, remote))
	code, _, stderr = runCLI(t, nil, "verify", filepath.Join(remote, "x.sql"))
	assert.Equal(t, 0, code, stderr)
}

func TestDumpToSFTPUsage(t *testing.T) {
	dsn := "root@unix(/nonexistent.sock)/x" // never reached
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", "sftp://me@127.0.0.1/in/"}, "lamigrate dump: sftp://me@127.0.0.1/in/ names a folder: name the archive too, e.g. sftp://me@127.0.0.1/in/dump.sql.zst"},
		{[]string{"-o", filepath.Join(dir, "x.sql"), "--identity", filepath.Join(dir, "k")}, "apply to an sftp:// output only"},
		{[]string{"-o", "sftp://me@127.0.0.1:" + strconv.Itoa(sftptest.FreePort(t)) + "/in/x.sql.bz2"}, "x.sql.bz2 does not end in .sql"},
	}
	for _, tt := range tests {
		args := append([]string{"dump", "--dsn", dsn}, tt.args...)
		code, _, stderr := runCLI(t, map[string]string{"HOME": dir}, args...)
		assert.Equal(t, exitUsage, code, "lamigrate %v: %s", args, stderr)
		assert.Contains(t, stderr, tt.want)
	}
}

// TestDumpToSFTPPassphrase: an encrypted archive streamed to a server is
// asked its passphrase before the SSH login, as before the database is
// read: without one the dump fails on that alone, with the variable to set
// (the server named here does not even listen); with one the server gets
// an archive that verify opens with it.
func TestDumpToSFTPPassphrase(t *testing.T) {
	db := dumpFixture(t)
	dsn := db.Config().FormatDSN()
	home := t.TempDir()
	nowhere := "sftp://me@127.0.0.1:" + strconv.Itoa(sftptest.FreePort(t)) + "/in/x.sql.zst.age"
	code, _, stderr := runCLI(t, map[string]string{"HOME": home}, "dump", "--dsn", dsn, "-o", nowhere)
	assert.Equal(t, exitUsage, code, "dump of an encrypted archive without a passphrase: %s", stderr)
	assert.Equal(t, "lamigrate dump: archive passphrase needed: set LAMIGRATE_PASSPHRASE (no terminal to ask on)", strings.TrimSpace(stderr),
		"one line naming the variable, before any SSH login")

	s := newStreamServer(t, false, sftptest.Options{})
	remote := t.TempDir()
	env := map[string]string{"LAMIGRATE_PASSPHRASE": "pw"}
	for k, v := range s.env {
		env[k] = v
	}
	args := append([]string{"--json", "dump", "--dsn", dsn, "-o", s.url(remote, "x.sql.zst.age")}, s.flags...)
	code, stdout, stderr := runCLI(t, env, args...)
	require.Equal(t, 0, code, "lamigrate %s\n%s", strings.Join(args, " "), stderr)
	var res dumpOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.True(t, res.Encrypted, "the output says the archive is encrypted")
	assert.ElementsMatch(t, []string{"x.sql.zst.age", "x.sql.zst.age.manifest.json"}, dirNames(t, remote))
	code, stdout, stderr = runCLI(t, env, "verify", filepath.Join(remote, "x.sql.zst.age"))
	assert.Equal(t, 0, code, "verify of the streamed encrypted archive with its passphrase: %s%s", stdout, stderr)
}

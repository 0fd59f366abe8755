package transfer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/qualityunit/lamigrate/internal/sftptest"
)

func TestHostKeys(t *testing.T) {
	client := sftptest.NewKey(t)
	ed := sftptest.NewKey(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err, "making an ECDSA key")
	ec, err := ssh.NewSignerFromKey(ecKey)
	require.NoError(t, err, "a signer for the ECDSA key")
	// The server offers ed25519 and ecdsa keys.
	srv := sftptest.Start(t, sftptest.Options{Authorized: client.Pub, HostKeys: []ssh.Signer{ed.Signer, ec}})
	other := sftptest.NewKey(t)
	line := func(k ssh.PublicKey) string {
		return knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, k) + "\n"
	}
	cases := []struct {
		name      string
		known     *string // known_hosts content; nil: no file
		acceptNew bool
		wantErr   error
		wantMsg   []string
		wantFile  string // known_hosts content afterwards ("" : unchanged)
	}{
		{name: "listed key", known: ptr(line(ed.Pub))},
		{name: "listed with its other key type only", known: ptr(line(ec.PublicKey()))},
		{name: "unknown host refused", known: ptr(""), wantErr: ErrHostKeyUnknown,
			wantMsg: []string{ssh.FingerprintSHA256(ed.Pub), "mkdir -p ", "&& ssh-keyscan -p", "is not in", "--accept-new-host-key"}},
		{name: "missing known_hosts refused", wantErr: ErrHostKeyUnknown, wantMsg: []string{ssh.FingerprintSHA256(ed.Pub)}},
		{name: "changed key refused", known: ptr("# comment\n" + line(other.Pub)), wantErr: ErrHostKeyChanged,
			wantMsg: []string{"CHANGED", "man-in-the-middle", "line 2", "ssh-keygen -R"}},
		{name: "changed key refused even with accept-new", known: ptr(line(other.Pub)), acceptNew: true, wantErr: ErrHostKeyChanged},
		{name: "accept-new appends to known_hosts", known: ptr("other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbNcO+iB+wCIWq3yOJ1zGjrV0nvkJz0AKQ1rCmZpZk4"),
			acceptNew: true, wantFile: "other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbNcO+iB+wCIWq3yOJ1zGjrV0nvkJz0AKQ1rCmZpZk4\n" + line(ed.Pub)},
		{name: "accept-new creates known_hosts", acceptNew: true, wantFile: line(ed.Pub)},
	}
	keyFile := filepath.Join(t.TempDir(), "id")
	client.WriteFile(t, keyFile, "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "ssh", "known_hosts")
			if tc.known != nil {
				mustWrite(t, kh, []byte(*tc.known))
			}
			cfg := SFTPConfig{User: "u", Host: srv.Host, Port: srv.Port, Dir: t.TempDir(), IdentityFile: keyFile,
				KnownHostsFile: kh, AcceptNewHostKey: tc.acceptNew}
			b, err := DialSFTP(context.Background(), cfg, Secrets{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("DialSFTP = %v; want %v", err, tc.wantErr)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("DialSFTP error %q does not mention %q", err, m)
					}
				}
				if tc.known != nil && string(mustRead(t, kh)) != *tc.known {
					t.Errorf("known_hosts changed by a refused connection")
				}
				return
			}
			if err != nil {
				t.Fatalf("DialSFTP = %v", err)
			}
			b.Close()
			if tc.wantFile != "" {
				if got := string(mustRead(t, kh)); got != tc.wantFile {
					t.Fatalf("known_hosts = %q; want %q", got, tc.wantFile)
				}
				// Trusted now without the flag.
				cfg.AcceptNewHostKey = false
				b, err := DialSFTP(context.Background(), cfg, Secrets{})
				if err != nil {
					t.Fatalf("DialSFTP after accept-new = %v", err)
				}
				b.Close()
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAuth(t *testing.T) {
	client := sftptest.NewKey(t)
	srv := sftptest.Start(t, sftptest.Options{Authorized: client.Pub, Password: "s3cret pw"})
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	srv.WriteKnownHosts(t, kh)
	encKey := filepath.Join(dir, "id_encrypted")
	client.WriteFile(t, encKey, "open sesame")
	plainKey := filepath.Join(dir, "id_plain")
	client.WriteFile(t, plainKey, "")
	strangerKey := filepath.Join(dir, "id_stranger")
	sftptest.NewKey(t).WriteFile(t, strangerKey, "")

	// An ssh-agent holding the client key, on a unix socket.
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err, "listening on the agent socket %s", sock)
	t.Cleanup(func() { ln.Close() })
	ring := agent.NewKeyring()
	require.NoError(t, ring.Add(agent.AddedKey{PrivateKey: client.Priv}), "adding the client key to the agent")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(ring, c); c.Close() }()
		}
	}()

	pass := func(p string) func(string) (string, error) {
		return func(string) (string, error) { return p, nil }
	}
	pw := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	noAsk := func() (string, error) { return "", errors.New("the password was asked for") }
	cases := []struct {
		name    string
		cfg     SFTPConfig
		sec     Secrets
		wantErr string // "" : success
		isAuth  bool
	}{
		{name: "key file with passphrase", cfg: SFTPConfig{IdentityFile: encKey}, sec: Secrets{Passphrase: pass("open sesame"), Password: noAsk}},
		{name: "key file with wrong passphrase", cfg: SFTPConfig{IdentityFile: encKey}, sec: Secrets{Passphrase: pass("nope")}, wantErr: "wrong passphrase"},
		{name: "encrypted key without a way to ask", cfg: SFTPConfig{IdentityFile: encKey}, wantErr: "encrypted"},
		{name: "password", cfg: SFTPConfig{}, sec: Secrets{Password: pw("s3cret pw")}},
		{name: "wrong password", cfg: SFTPConfig{}, sec: Secrets{Password: pw("guess")}, wantErr: "authentication failed", isAuth: true},
		{name: "agent", cfg: SFTPConfig{AgentSocket: sock}, sec: Secrets{Password: noAsk}},
		{name: "agent before default keys", cfg: SFTPConfig{AgentSocket: sock, DefaultIdentityFiles: []string{strangerKey}}, sec: Secrets{Password: noAsk}},
		{name: "default keys", cfg: SFTPConfig{DefaultIdentityFiles: []string{filepath.Join(dir, "missing"), strangerKey, plainKey}}},
		{name: "identity replaces agent and defaults", cfg: SFTPConfig{IdentityFile: strangerKey, AgentSocket: sock, DefaultIdentityFiles: []string{plainKey}},
			wantErr: "authentication failed", isAuth: true},
		{name: "no credentials", cfg: SFTPConfig{}, wantErr: "no SSH credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.User, cfg.Host, cfg.Port, cfg.Dir, cfg.KnownHostsFile = "u", srv.Host, srv.Port, t.TempDir(), kh
			b, err := DialSFTP(context.Background(), cfg, tc.sec)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("DialSFTP = %v; want success", err)
				}
				// The connection works.
				if _, err := b.Write(context.Background(), "f", 0, strings.NewReader("hi")); err != nil {
					t.Fatalf("Write = %v", err)
				}
				b.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("DialSFTP = %v; want an error containing %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrAuth) != tc.isAuth {
				t.Errorf("errors.Is(%v, ErrAuth) = %v; want %v", err, !tc.isAuth, tc.isAuth)
			}
			if IsTransient(err) {
				t.Errorf("IsTransient(%v) = true; a refused login is permanent", err)
			}
		})
	}
}

// TestRetryReconnects: the connection drops mid-upload; Push reconnects
// and finishes.
func TestRetryReconnects(t *testing.T) {
	client := sftptest.NewKey(t)
	srv := sftptest.Start(t, sftptest.Options{Authorized: client.Pub, DropAfter: 2 << 20, DropConns: 2})
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	srv.WriteKnownHosts(t, kh)
	keyFile := filepath.Join(dir, "id")
	client.WriteFile(t, keyFile, "")
	remote := t.TempDir()
	b := dialTest(t, srv, SFTPConfig{User: "u", Host: srv.Host, Port: srv.Port, Dir: remote, IdentityFile: keyFile, KnownHostsFile: kh}, Secrets{})
	data := testData(20, testSize)
	file := filepath.Join(dir, "dump.sql.gz")
	mustWrite(t, file, data)
	res, err := Push(context.Background(), b, file, fastRetry, nil)
	if err != nil {
		t.Fatalf("Push over a dropping connection = %v", err)
	}
	if res.Retries < 2 {
		t.Errorf("Push retries = %d; want at least 2 (two connections dropped)", res.Retries)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(remote, "dump.sql.gz")), data) {
		t.Fatal("remote file differs after reconnects")
	}

	// Without retries the same drop is reported as transient.
	srv2 := sftptest.Start(t, sftptest.Options{Authorized: client.Pub, DropAfter: 2 << 20, DropConns: 1})
	srv2.WriteKnownHosts(t, kh)
	b2 := dialTest(t, srv2, SFTPConfig{User: "u", Host: srv2.Host, Port: srv2.Port, Dir: t.TempDir(), IdentityFile: keyFile, KnownHostsFile: kh}, Secrets{})
	_, err = Push(context.Background(), b2, file, Options{Retries: -1}, nil)
	if err == nil || !IsTransient(err) {
		t.Fatalf("Push with Retries -1 over a dropping connection = %v; want a transient error", err)
	}
}

// TestHashCommand runs the remote hash script with a local shell over a file
// whose name needs quoting.
func TestHashCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err, "finding sh")
	dir := t.TempDir()
	data := testData(30, 100000)
	cases := []struct {
		file  string
		n     int64
		whole bool
	}{
		{"plain.sql", 100000, true},
		{"it's a $(dump) `x` \\ \"q\".sql", 100000, true},
		{"it's a $(dump) `x` \\ \"q\".sql", 4321, false},
		{"-n.sql", 0, false},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, tc.file)
		mustWrite(t, p, data)
		cmd := hashCommand(p, tc.n, tc.whole)
		out, err := exec.Command(sh, "-c", "sh -c "+shellQuote(cmd)).Output()
		if err != nil {
			t.Fatalf("hashCommand(%q, %d) failed: %v", tc.file, tc.n, err)
		}
		if got, want := strings.Fields(string(out))[0], sha(data[:tc.n]); got != want {
			t.Errorf("hashCommand(%q, %d) = %s; want %s", tc.file, tc.n, got, want)
		}
	}
}

func TestOptionsAndConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"options negative backoff", Options{Backoff: -1}.Validate()},
		{"config without host", SFTPConfig{User: "u", KnownHostsFile: "k"}.Validate()},
		{"config without user", SFTPConfig{Host: "h", KnownHostsFile: "k"}.Validate()},
		{"config without known_hosts", SFTPConfig{Host: "h", User: "u"}.Validate()},
		{"config bad port", SFTPConfig{Host: "h", User: "u", KnownHostsFile: "k", Port: 70000}.Validate()},
		{"config huge packet", SFTPConfig{Host: "h", User: "u", KnownHostsFile: "k", PacketSize: 1 << 20}.Validate()},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: Validate() = nil; want an error", tc.name)
		}
	}
	if err := (SFTPConfig{Host: "h", User: "u", KnownHostsFile: "k"}).Validate(); err != nil {
		t.Errorf("Validate(minimal config) = %v; want nil", err)
	}
}

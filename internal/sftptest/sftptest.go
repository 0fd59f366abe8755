// Package sftptest runs SSH/SFTP servers for tests: an in-process server
// (golang.org/x/crypto/ssh + github.com/pkg/sftp) that offers only the sftp
// subsystem over the real file system, and OpenSSH's sshd on a loopback
// port. Both listen on 127.0.0.1 and stop when the test ends.
package sftptest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// Key is a generated ed25519 key pair.
type Key struct {
	Priv   ed25519.PrivateKey
	Signer ssh.Signer
	Pub    ssh.PublicKey
}

// NewKey generates a key pair.
func NewKey(t testing.TB) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Priv: priv, Signer: s, Pub: s.PublicKey()}
}

// WriteFile stores the private key in OpenSSH format (mode 0600), encrypted
// when passphrase is not empty.
func (k *Key) WriteFile(t testing.TB, path, passphrase string) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.Priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.Priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Server is a running SSH server.
type Server struct {
	Host    string
	Port    int
	HostKey ssh.PublicKey
	User    string // the user name clients should log in as
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the sftp:// URL of the absolute folder dir, with a trailing slash.
func (s *Server) URL(dir string) string {
	return "sftp://" + s.User + "@" + s.Addr() + filepath.ToSlash(dir) + "/"
}

// WriteKnownHosts writes a known_hosts file that lists the server's key.
func (s *Server) WriteKnownHosts(t testing.TB, path string) {
	t.Helper()
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey) + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Options configure the in-process server.
type Options struct {
	Authorized ssh.PublicKey // accepted client key (nil: none)
	Password   string        // accepted password ("": none)
	// DropAfter closes the first DropConns connections once they have
	// received that many bytes from the client (0: never), to test
	// reconnects.
	DropAfter int64
	DropConns int32
	// HostKeys replace the generated host key (the first is reported).
	HostKeys []ssh.Signer
}

// Start runs an in-process SSH server with only the sftp subsystem (exec
// and shell are refused, like an SFTP-only account) on 127.0.0.1:0.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	conf := &ssh.ServerConfig{}
	if o.Authorized != nil {
		want := o.Authorized.Marshal()
		conf.PublicKeyCallback = func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), want) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		}
	}
	if o.Password != "" {
		conf.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == o.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	var hostPub ssh.PublicKey
	if len(o.HostKeys) > 0 {
		hostPub = o.HostKeys[0].PublicKey()
		for _, k := range o.HostKeys {
			conf.AddHostKey(k)
		}
	} else {
		hk := NewKey(t)
		hostPub = hk.Pub
		conf.AddHostKey(hk.Signer)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	var dropped atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			if o.DropAfter > 0 && dropped.Add(1) <= o.DropConns {
				c = &droppingConn{Conn: c, left: o.DropAfter}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c, conf)
			}()
		}
	}()
	return &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, HostKey: hostPub, User: "tester"}
}

// droppingConn closes itself after reading left bytes.
type droppingConn struct {
	net.Conn
	left int64
}

func (d *droppingConn) Read(p []byte) (int, error) {
	if d.left <= 0 {
		d.Conn.Close()
		return 0, io.EOF
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.Conn.Read(p)
	d.left -= int64(n)
	return n, err
}

func serve(c net.Conn, conf *ssh.ServerConfig) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp" {
					req.Reply(true, nil)
					srv, err := sftp.NewServer(ch)
					if err != nil {
						return
					}
					srv.Serve()
					srv.Close()
					return
				}
				// exec, shell, pty-req...: an SFTP-only account.
				req.Reply(false, nil)
			}
		}()
	}
}

// StartSSHD runs OpenSSH's sshd on a free loopback port, as the current
// user, with a temporary configuration and host key, accepting client's
// key. Under CI=true a missing sshd fails the test (see mysqltest.Tool).
func StartSSHD(t testing.TB, client *Key) *Server {
	t.Helper()
	bin := mysqltest.Tool(t, "sshd")
	dir := t.TempDir()
	hk := NewKey(t)
	hk.WriteFile(t, filepath.Join(dir, "host_ed25519"), "")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client.Pub), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1
HostKey %[1]s/host_ed25519
AuthorizedKeysFile %[1]s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("/run/sshd", 0o755) // privilege separation folder, as systemd makes it
	port := FreePort(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"), "-p", strconv.Itoa(port))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not synchronising
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &Server{Host: "127.0.0.1", Port: port, HostKey: hk.Pub, User: u.Username}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

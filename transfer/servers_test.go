package transfer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
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

// testKey is a generated ed25519 key pair.
type testKey struct {
	priv   ed25519.PrivateKey
	signer ssh.Signer
	pub    ssh.PublicKey
}

func newTestKey(t testing.TB) *testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{priv: priv, signer: s, pub: s.PublicKey()}
}

// writeFile stores the private key in OpenSSH format, encrypted when
// passphrase is not empty.
func (k *testKey) writeFile(t testing.TB, path, passphrase string) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sshServer is a running SSH server for a test.
type sshServer struct {
	host    string
	port    int
	hostKey ssh.PublicKey
	user    string
}

func (s *sshServer) address() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// writeKnownHosts writes a known_hosts file listing the server's key.
func (s *sshServer) writeKnownHosts(t testing.TB, path string) {
	t.Helper()
	line := knownhosts.Line([]string{knownhosts.Normalize(s.address())}, s.hostKey) + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// inProcOptions configure the in-process server.
type inProcOptions struct {
	authorized ssh.PublicKey // accepted client key (nil: none)
	password   string        // accepted password ("" : none)
	// dropAfter closes the first N connections once they have received
	// that many bytes from the client (0: never), to test reconnects.
	dropAfter int64
	dropConns int32
	// hostKeys replace the generated host key (the first is reported).
	hostKeys []ssh.Signer
}

// startInProcSFTP runs an SSH server with only the sftp subsystem (exec is
// refused) on 127.0.0.1:0, serving the real file system.
func startInProcSFTP(t testing.TB, o inProcOptions) *sshServer {
	t.Helper()
	hk := newTestKey(t)
	conf := &ssh.ServerConfig{}
	if o.authorized != nil {
		want := o.authorized.Marshal()
		conf.PublicKeyCallback = func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), want) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		}
	}
	if o.password != "" {
		conf.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == o.password {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		}
	}
	hostPub := hk.pub
	if len(o.hostKeys) > 0 {
		hostPub = o.hostKeys[0].PublicKey()
		for _, k := range o.hostKeys {
			conf.AddHostKey(k)
		}
	} else {
		conf.AddHostKey(hk.signer)
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
			if o.dropAfter > 0 && dropped.Add(1) <= o.dropConns {
				c = &droppingConn{Conn: c, left: o.dropAfter}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSH(c, conf)
			}()
		}
	}()
	return &sshServer{host: "127.0.0.1", port: ln.Addr().(*net.TCPAddr).Port, hostKey: hostPub, user: "tester"}
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

func serveSSH(c net.Conn, conf *ssh.ServerConfig) {
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

// startSSHD runs OpenSSH's sshd on a free loopback port, as the current
// user, with a temporary configuration, host key and authorized_keys.
func startSSHD(t testing.TB, client *testKey) *sshServer {
	t.Helper()
	bin := mysqltest.Tool(t, "sshd")
	dir := t.TempDir()
	hk := newTestKey(t)
	hk.writeFile(t, filepath.Join(dir, "host_ed25519"), "")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client.pub), 0o600); err != nil {
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
	port := freePort(t)
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
	return &sshServer{host: "127.0.0.1", port: port, hostKey: hk.pub, user: u.Username}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialTest connects to srv with cfg's defaults filled in for a test.
func dialTest(t testing.TB, srv *sshServer, cfg SFTPConfig, sec Secrets) *SFTP {
	t.Helper()
	b, err := DialSFTP(context.Background(), cfg, sec)
	if err != nil {
		t.Fatalf("DialSFTP(%s) = %v", srv.address(), err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

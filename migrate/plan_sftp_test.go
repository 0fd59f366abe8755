package migrate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sftpServer is an in-process SSH server offering only the sftp subsystem
// over the real file system, on 127.0.0.1:0, for one client key.
type sftpServer struct {
	Addr       string // 127.0.0.1:port
	Identity   string // the client's private key file
	KnownHosts string // a known_hosts file listing the server
}

func startSFTP(t *testing.T) *sftpServer {
	t.Helper()
	dir := t.TempDir()
	key := func() (ed25519.PrivateKey, ssh.Signer) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return priv, s
	}
	_, hostSigner := key()
	clientPriv, clientSigner := key()
	block, err := ssh.MarshalPrivateKey(clientPriv, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	srv := &sftpServer{Identity: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(srv.Identity, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	want := clientSigner.PublicKey().Marshal()
	conf := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), want) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	conf.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = ln.Addr().String()
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, hostSigner.PublicKey()) + "\n"
	if err := os.WriteFile(srv.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSFTP(c, conf)
			}()
		}
	}()
	return srv
}

// URL is the sftp:// URL of the absolute folder dir.
func (s *sftpServer) URL(dir string) string {
	host, port, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(port)
	return "sftp://tester@" + net.JoinHostPort(host, strconv.Itoa(n)) + filepath.ToSlash(dir) + "/"
}

func serveSFTP(c net.Conn, conf *ssh.ServerConfig) {
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
					if s, err := sftp.NewServer(ch); err == nil {
						s.Serve()
						s.Close()
					}
					return
				}
				req.Reply(false, nil) // no exec, no shell: an SFTP-only account
			}
		}()
	}
}

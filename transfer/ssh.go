package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qualityunit/lamigrate/internal/shquote"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SFTPConfig says where and how to connect. It is plain data (run persists
// it); secrets are not part of it but come through Secrets.
type SFTPConfig struct {
	User string `json:"user"`
	Host string `json:"host"`
	Port int    `json:"port,omitempty"` // default 22
	// Dir is the remote folder: absolute, or relative to the login folder.
	Dir string `json:"dir"`

	// IdentityFile is the private key to log in with. When empty, the
	// ssh-agent (AgentSocket) and then DefaultIdentityFiles are tried.
	IdentityFile         string   `json:"identity_file,omitempty"`
	DefaultIdentityFiles []string `json:"default_identity_files,omitempty"`
	// AgentSocket is the ssh-agent's socket ($SSH_AUTH_SOCK), if any.
	AgentSocket string `json:"agent_socket,omitempty"`

	// KnownHostsFile lists trusted host keys (OpenSSH format). Required.
	KnownHostsFile string `json:"known_hosts_file"`
	// AcceptNewHostKey trusts a host that KnownHostsFile does not list yet
	// and appends its key there (trust on first use). A host listed with a
	// different key is refused regardless.
	AcceptNewHostKey bool `json:"accept_new_host_key,omitempty"`

	// ConnectTimeout bounds the TCP connect and SSH handshake (default 30s).
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// Concurrency is the number of SFTP requests in flight per file
	// (default 64).
	Concurrency int `json:"concurrency,omitempty"`
	// PacketSize is the SFTP read/write size in bytes; 0 picks 255 KiB for
	// OpenSSH servers (which announce limits@openssh.com) and 32 KiB, the
	// size every server must accept, otherwise.
	PacketSize int `json:"packet_size,omitempty"`
	// NoRemoteCommands never runs shell commands on the server: hashes are
	// computed by reading the file back over SFTP.
	NoRemoteCommands bool `json:"no_remote_commands,omitempty"`
}

const (
	defaultPort           = 22
	defaultConnectTimeout = 30 * time.Second
	defaultConcurrency    = 64
	openSSHPacket         = 255 * 1024 // OpenSSH sftp-server: 256 KiB messages
	smallPacket           = 32 * 1024
)

// withDefaults returns c with zero fields set to their defaults.
func (c SFTPConfig) withDefaults() SFTPConfig {
	if c.Port == 0 {
		c.Port = defaultPort
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency
	}
	return c
}

// Validate reports the first field that cannot work.
func (c SFTPConfig) Validate() error {
	switch {
	case c.Host == "":
		return errors.New("transfer: no SSH host given")
	case c.User == "":
		return errors.New("transfer: no SSH user given")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("transfer: SSH port %d is out of range", c.Port)
	case c.KnownHostsFile == "":
		return errors.New("transfer: no known_hosts file given")
	case c.Concurrency < 0:
		return fmt.Errorf("transfer: concurrency %d is negative", c.Concurrency)
	case c.PacketSize < 0 || c.PacketSize > openSSHPacket:
		return fmt.Errorf("transfer: packet size %d is outside 1..%d", c.PacketSize, openSSHPacket)
	case c.ConnectTimeout < 0:
		return errors.New("transfer: connect timeout is negative")
	}
	return nil
}

// address is host:port as dialled and as known_hosts sees it.
func (c SFTPConfig) address() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// Secrets supplies what must not be stored in SFTPConfig. Each function is
// called only when the server gets as far as needing it; nil means "not
// available".
type Secrets struct {
	// Passphrase unlocks an encrypted private key file.
	Passphrase func(keyFile string) (string, error)
	// Password answers password and keyboard-interactive authentication.
	Password func() (string, error)
}

// HostKeyError is the fact behind ErrHostKeyUnknown and ErrHostKeyChanged.
type HostKeyError struct {
	Address     string // host:port
	KeyType     string // e.g. ssh-ed25519
	Fingerprint string // SHA256:...
	KnownHosts  string // the file consulted
	// Changed: the file lists this host with a different key (at Lines).
	Changed bool
	Lines   []int
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		lines := make([]string, len(e.Lines))
		for i, l := range e.Lines {
			lines[i] = strconv.Itoa(l)
		}
		return fmt.Sprintf("WARNING: the SSH host key of %s has CHANGED (%s key %s does not match %s line %s); "+
			"someone may be intercepting the connection (man-in-the-middle); refusing to connect. "+
			"If the server was really reinstalled, confirm the new fingerprint with its administrator and remove the old entry with: ssh-keygen -R %s -f %s",
			e.Address, e.KeyType, e.Fingerprint, e.KnownHosts, strings.Join(lines, ","), knownhosts.Normalize(e.Address), e.KnownHosts)
	}
	host, port, _ := net.SplitHostPort(e.Address)
	kh := shquote.Quote(e.KnownHosts)
	return fmt.Sprintf("the SSH host key of %s is not in %s (%s key %s); confirm that fingerprint with the server's administrator, then add it with: mkdir -p %s && ssh-keyscan -p %s %s >> %s (or trust it on first use: the same command with --accept-new-host-key)",
		e.Address, e.KnownHosts, e.KeyType, e.Fingerprint, shquote.Quote(filepath.Dir(e.KnownHosts)), port, host, kh)
}

// Is makes errors.Is work with ErrHostKeyChanged / ErrHostKeyUnknown.
func (e *HostKeyError) Is(target error) bool {
	if e.Changed {
		return target == ErrHostKeyChanged
	}
	return target == ErrHostKeyUnknown
}

// hostKeys checks server keys against the known_hosts file.
type hostKeys struct {
	file      string
	acceptNew bool
	mu        sync.Mutex
	err       error // the last refusal, reported instead of ssh's wrapping
}

// db loads the file; a missing file is an empty list.
func (h *hostKeys) db() (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(h.file); errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(h.file)
	if err != nil {
		return nil, fmt.Errorf("transfer: reading known hosts: %w", err)
	}
	return cb, nil
}

// algorithms returns the host key algorithms to ask the server for, so the
// server offers a key of a type known_hosts lists (else a host known with an
// ed25519 key would look "changed" when it offers ecdsa first).
func (h *hostKeys) algorithms(address string) ([]string, error) {
	cb, err := h.db()
	if err != nil {
		return nil, err
	}
	err = cb(address, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		// Unknown host: ask for the key OpenSSH would record first.
		return []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
			ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}, nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos, nil
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// probeKey is a key no known_hosts line holds, used to list the known keys.
type probeKey struct{}

func (probeKey) Type() string                        { return "lamigrate-probe" }
func (probeKey) Marshal() []byte                     { return []byte("lamigrate-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe") }

// callback is the ssh.HostKeyCallback.
func (h *hostKeys) callback(address string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := h.db()
	if err != nil {
		return h.refuse(err)
	}
	err = cb(address, remote, key)
	var ke *knownhosts.KeyError
	if err == nil || !errors.As(err, &ke) {
		if err != nil {
			return h.refuse(fmt.Errorf("transfer: host key of %s: %w", address, err))
		}
		return nil
	}
	hk := &HostKeyError{Address: address, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: h.file}
	if len(ke.Want) > 0 {
		hk.Changed = true
		for _, w := range ke.Want {
			hk.Lines = append(hk.Lines, w.Line)
		}
		return h.refuse(hk)
	}
	if !h.acceptNew {
		return h.refuse(hk)
	}
	return h.add(address, key)
}

func (h *hostKeys) refuse(err error) error {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
	return err
}

// add appends address's key to the known_hosts file.
func (h *hostKeys) add(address string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(h.file), 0o700); err != nil {
		return h.refuse(fmt.Errorf("transfer: adding host key: %w", err))
	}
	f, err := os.OpenFile(h.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return h.refuse(fmt.Errorf("transfer: adding host key: %w", err))
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(address)}, key) + "\n"
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		if !endsWithNewline(h.file, fi.Size()) {
			line = "\n" + line
		}
	}
	_, werr := f.WriteString(line)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return h.refuse(fmt.Errorf("transfer: adding host key: %w", err))
	}
	return nil
}

func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

// authMethods builds the client's authentication, in OpenSSH's order:
// public keys (agent, then key files), then password and
// keyboard-interactive. Key passphrases and the password are asked for only
// when the server gets that far. described lists what was offered, for the
// error message.
func authMethods(cfg SFTPConfig, sec Secrets) (methods []ssh.AuthMethod, described []string, closeAgent func(), err error) {
	closeAgent = func() {}
	var signers []ssh.Signer
	var keyErrs []error
	if cfg.IdentityFile != "" {
		s, err := loadKey(cfg.IdentityFile, sec.Passphrase)
		if err != nil {
			return nil, nil, closeAgent, err
		}
		signers = append(signers, s)
		described = append(described, "key "+cfg.IdentityFile)
	} else {
		if cfg.AgentSocket != "" {
			conn, err := net.Dial("unix", cfg.AgentSocket)
			if err == nil {
				closeAgent = func() { conn.Close() }
				if ss, err := agent.NewClient(conn).Signers(); err == nil && len(ss) > 0 {
					signers = append(signers, ss...)
					described = append(described, fmt.Sprintf("ssh-agent (%d keys)", len(ss)))
				}
			}
		}
		for _, p := range cfg.DefaultIdentityFiles {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			s, err := loadKey(p, sec.Passphrase)
			if err != nil {
				keyErrs = append(keyErrs, err)
				continue
			}
			signers = append(signers, s)
			described = append(described, "key "+p)
		}
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if sec.Password != nil {
		pw := &onceSecret{get: sec.Password}
		methods = append(methods,
			ssh.PasswordCallback(pw.value),
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if echos[i] {
						return nil, errors.New("transfer: the server asks a question other than the password")
					}
					v, err := pw.value()
					if err != nil {
						return nil, err
					}
					answers[i] = v
				}
				return answers, nil
			}))
		described = append(described, "password")
	}
	if len(methods) == 0 {
		err := errors.New("transfer: no SSH credentials: give a key file, run an ssh-agent, or allow a password")
		if len(keyErrs) > 0 {
			err = fmt.Errorf("%w (%v)", err, errors.Join(keyErrs...))
		}
		return nil, nil, closeAgent, err
	}
	return methods, described, closeAgent, nil
}

// onceSecret asks for a secret at most once per connection attempt.
type onceSecret struct {
	get  func() (string, error)
	once sync.Once
	v    string
	err  error
}

func (o *onceSecret) value() (string, error) {
	o.once.Do(func() { o.v, o.err = o.get() })
	return o.v, o.err
}

// loadKey reads a private key file. An encrypted key becomes a signer that
// asks for the passphrase only when the server accepts its public key.
func loadKey(path string, passphrase func(string) (string, error)) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transfer: reading SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return s, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("transfer: SSH key %s: %w", path, err)
	}
	if passphrase == nil {
		return nil, fmt.Errorf("transfer: SSH key %s is encrypted and no passphrase can be asked for", path)
	}
	ls := &lockedSigner{path: path, pem: pem, passphrase: passphrase, pub: missing.PublicKey}
	if ls.pub == nil {
		// Old PEM formats do not carry the public key: unlock now.
		if _, err := ls.unlock(); err != nil {
			return nil, err
		}
		ls.pub = ls.signer.PublicKey()
	}
	return ls, nil
}

// lockedSigner is an encrypted key, unlocked on first use.
type lockedSigner struct {
	path       string
	pem        []byte
	passphrase func(string) (string, error)
	pub        ssh.PublicKey
	signer     ssh.Signer
}

var _ ssh.AlgorithmSigner = (*lockedSigner)(nil)

func (l *lockedSigner) unlock() (ssh.AlgorithmSigner, error) {
	if l.signer == nil {
		pass, err := l.passphrase(l.path)
		if err != nil {
			return nil, err
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(l.pem, []byte(pass))
		if err != nil {
			return nil, fmt.Errorf("transfer: unlocking SSH key %s (wrong passphrase?): %w", l.path, err)
		}
		l.signer = s
	}
	as, ok := l.signer.(ssh.AlgorithmSigner)
	if !ok {
		return nil, fmt.Errorf("transfer: SSH key %s cannot choose a signature algorithm", l.path)
	}
	return as, nil
}

func (l *lockedSigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lockedSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lockedSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	return s.SignWithAlgorithm(rand, data, algorithm)
}

// dialSSH connects and authenticates.
func dialSSH(ctx context.Context, cfg SFTPConfig, sec Secrets) (*ssh.Client, error) {
	hk := &hostKeys{file: cfg.KnownHostsFile, acceptNew: cfg.AcceptNewHostKey}
	addr := cfg.address()
	algos, err := hk.algorithms(addr)
	if err != nil {
		return nil, err
	}
	methods, offered, closeAgent, err := authMethods(cfg, sec)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	conf := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              methods,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: algos,
		Timeout:           cfg.ConnectTimeout,
		ClientVersion:     "SSH-2.0-lamigrate",
	}
	d := net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("transfer: connecting to %s: %w", addr, ctx.Err())
		}
		return nil, &transientError{&ConnectError{Address: addr, Err: err}}
	}
	conn.SetDeadline(time.Now().Add(cfg.ConnectTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, conf)
	stop()
	if err != nil {
		conn.Close()
		hk.mu.Lock()
		hkErr := hk.err
		hk.mu.Unlock()
		switch {
		case hkErr != nil:
			return nil, hkErr
		case ctx.Err() != nil:
			return nil, fmt.Errorf("transfer: connecting to %s: %w", addr, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("%w as %s at %s (offered: %s)", ErrAuth, cfg.User, addr, strings.Join(offered, ", "))
		case isNetError(err):
			return nil, &transientError{&ConnectError{Address: addr, Err: err}}
		}
		return nil, fmt.Errorf("transfer: connecting to %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// keepalive closes client when the server stops answering, so a silently
// dead connection becomes an error (and a reconnect) instead of a hang.
func keepalive(client *ssh.Client, every time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			answered := make(chan struct{})
			go func() {
				client.SendRequest("keepalive@openssh.com", true, nil)
				close(answered)
			}()
			select {
			case <-done:
				return
			case <-answered:
			case <-time.After(2 * every):
				client.Close()
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTP is a Backend storing files in a folder of an SSH server. Writes and
// reads keep many requests in flight (pkg/sftp's concurrent ReadFrom and
// WriteTo); renames use posix-rename@openssh.com where the server has it;
// hashes run as sha256sum (or openssl) on the server when it allows a
// shell, and otherwise read the file back over SFTP.
type SFTP struct {
	cfg     SFTPConfig
	secrets Secrets

	conn          *ssh.Client
	client        *sftp.Client
	stopKeepalive func()
	dir           string      // absolute remote folder
	noShell       atomic.Bool // remote commands failed to run: read back instead
}

var (
	_ Backend     = (*SFTP)(nil)
	_ Reconnecter = (*SFTP)(nil)
)

// DialSFTP connects to cfg's server, checks its host key, logs in and
// starts SFTP. The error says what to do: an unknown or changed host key is
// a *HostKeyError (ErrHostKeyUnknown, ErrHostKeyChanged), rejected
// credentials are ErrAuth, an unreachable server satisfies IsTransient.
func DialSFTP(ctx context.Context, cfg SFTPConfig, sec Secrets) (*SFTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &SFTP{cfg: cfg.withDefaults(), secrets: sec}
	if err := s.connect(ctx); err != nil {
		// Nothing was transferred yet: a server that cannot be reached is
		// a wrong address or a stopped sshd, not a broken link to retry.
		var ce *ConnectError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, err
	}
	return s, nil
}

func (s *SFTP) connect(ctx context.Context) error {
	conn, err := dialSSH(ctx, s.cfg, s.secrets)
	if err != nil {
		return err
	}
	client, err := s.newClient(conn, s.cfg.PacketSize)
	if err == nil && s.cfg.PacketSize == 0 {
		// OpenSSH's sftp-server reads and writes up to 255 KiB at a time
		// (it announces limits@openssh.com); others get the safe 32 KiB.
		if _, ok := client.HasExtension("limits@openssh.com"); ok {
			client.Close()
			client, err = s.newClient(conn, openSSHPacket)
		}
	}
	if err != nil {
		conn.Close()
		return s.wrap(fmt.Errorf("transfer: starting SFTP on %s: %w", s.cfg.address(), err))
	}
	dir := s.cfg.Dir
	if !path.IsAbs(dir) {
		home, err := client.Getwd()
		if err != nil {
			client.Close()
			conn.Close()
			return s.wrap(fmt.Errorf("transfer: finding the login folder on %s: %w", s.cfg.address(), err))
		}
		dir = path.Join(home, dir)
	}
	s.conn, s.client, s.dir = conn, client, path.Clean(dir)
	s.stopKeepalive = keepalive(conn, 15*time.Second)
	return nil
}

func (s *SFTP) newClient(conn *ssh.Client, packet int) (*sftp.Client, error) {
	opts := []sftp.ClientOption{
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
		sftp.UseFstat(true),
		sftp.MaxConcurrentRequestsPerFile(s.cfg.Concurrency),
	}
	if packet > 0 {
		opts = append(opts, sftp.MaxPacketUnchecked(packet))
	}
	return sftp.NewClient(conn, opts...)
}

// Reconnect implements Reconnecter: it drops the connection and dials again.
func (s *SFTP) Reconnect(ctx context.Context) error {
	s.Close()
	return s.connect(ctx)
}

// Close implements Backend.
func (s *SFTP) Close() error {
	if s.stopKeepalive != nil {
		s.stopKeepalive()
	}
	var err error
	if s.client != nil {
		s.client.Close()
	}
	if s.conn != nil {
		err = s.conn.Close()
	}
	s.client, s.conn = nil, nil
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *SFTP) String() string {
	return fmt.Sprintf("sftp://%s@%s%s/", s.cfg.User, s.cfg.address(), s.dir)
}

func (s *SFTP) path(name string) (string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("transfer: invalid file name %q", name)
	}
	return path.Join(s.dir, clean[1:]), nil
}

func (s *SFTP) ready() error {
	if s.client == nil {
		return &transientError{errors.New("transfer: not connected")}
	}
	return nil
}

// wrap classifies err: connection-level failures become transient.
func (s *SFTP) wrap(err error) error {
	if err == nil || IsTransient(err) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || isNetError(err) {
		return &transientError{err}
	}
	return err
}

// isNetError reports connection failures worth a reconnect.
func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// during runs op, closing the connection if ctx ends first (pkg/sftp's
// bulk calls do not take a context).
//
// Cancellation is graceful first: the readers and writers given to pkg/sftp
// notice ctx at their next call and end the copy, letting the requests in
// flight finish, so an interrupted upload leaves a partial file without
// holes. Only when that takes longer than cancelGrace (a dead network) is
// the connection closed.
func (s *SFTP) during(ctx context.Context, op func() error) error {
	conn := s.conn
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(cancelGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			conn.Close()
		}
	})
	err := op()
	close(done)
	stop()
	if ctx.Err() != nil {
		return fmt.Errorf("transfer: %w", ctx.Err())
	}
	return s.wrap(err)
}

// cancelGrace is how long a cancelled operation may take to wind down.
const cancelGrace = 3 * time.Second

// Folder implements Backend.
func (s *SFTP) Folder(ctx context.Context, create bool) error {
	if err := s.ready(); err != nil {
		return err
	}
	var fi os.FileInfo
	err := s.during(ctx, func() (err error) { fi, err = s.client.Stat(s.dir); return err })
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("transfer: %s on %s is not a folder", s.dir, s.cfg.address())
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("transfer: %s: %w", s.dir, err)
	case !create:
		return &FolderError{Folder: s.String(), Remote: true}
	}
	err = s.during(ctx, func() error { return s.client.MkdirAll(s.dir) })
	if err != nil {
		return fmt.Errorf("transfer: creating %s on %s: %w", s.dir, s.cfg.address(), err)
	}
	return nil
}

// Stat implements Backend.
func (s *SFTP) Stat(ctx context.Context, name string) (int64, error) {
	p, err := s.path(name)
	if err != nil {
		return 0, err
	}
	if err := s.ready(); err != nil {
		return 0, err
	}
	var fi os.FileInfo
	err = s.during(ctx, func() (err error) { fi, err = s.client.Stat(p); return err })
	if err != nil {
		return 0, fmt.Errorf("transfer: %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("transfer: %s is not a regular file", p)
	}
	return fi.Size(), nil
}

// Open implements Backend. The reader implements io.WriterTo, so io.Copy
// reads with many requests in flight.
func (s *SFTP) Open(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	var f *sftp.File
	err = s.during(ctx, func() (err error) {
		if f, err = s.client.Open(p); err != nil {
			return err
		}
		if _, err = f.Seek(off, io.SeekStart); err != nil {
			f.Close()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("transfer: %s: %w", p, err)
	}
	return &sftpReader{f: f, s: s, ctx: ctx}, nil
}

// sftpReader classifies errors and honours ctx.
type sftpReader struct {
	f   *sftp.File
	s   *SFTP
	ctx context.Context
}

func (r *sftpReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err == io.EOF {
		return n, err
	}
	return n, r.s.wrap(err)
}

func (r *sftpReader) WriteTo(w io.Writer) (n int64, err error) {
	err = r.s.during(r.ctx, func() (err error) {
		n, err = r.f.WriteTo(ctxWriter{r.ctx, w})
		return err
	})
	return n, err
}

func (r *sftpReader) Close() error { return r.f.Close() }

// Write implements Backend.
func (s *SFTP) Write(ctx context.Context, name string, off int64, r io.Reader) (int64, error) {
	p, err := s.path(name)
	if err != nil {
		return 0, err
	}
	if err := s.ready(); err != nil {
		return 0, err
	}
	var n int64
	err = s.during(ctx, func() error {
		f, err := s.create(p, off)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err = f.ReadFromWithConcurrency(ctxReader{ctx, r}, s.cfg.Concurrency)
		if err != nil {
			return err
		}
		if _, ok := s.client.HasExtension("fsync@openssh.com"); ok {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		return f.Close()
	})
	if err != nil {
		return n, fmt.Errorf("transfer: writing %s: %w", p, err)
	}
	return n, nil
}

// create opens p for writing at off (see openAt), making it and its
// folder as needed; it runs inside s.during. The file is owner-only, as
// every file we write (an archive holds the customer's whole help desk); a
// server that refuses chmod keeps its umask.
func (s *SFTP) create(p string, off int64) (*sftp.File, error) {
	if err := s.client.MkdirAll(path.Dir(p)); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path.Dir(p), err)
	}
	f, err := s.client.OpenFile(p, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	_ = f.Chmod(0o600)
	if err := openAt(f, off); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Rename implements Backend. Without posix-rename@openssh.com (SFTP v3's
// rename refuses to replace) the target is removed first: not atomic, but
// the only way such a server allows.
func (s *SFTP) Rename(ctx context.Context, oldname, newname string) error {
	op, err := s.path(oldname)
	if err != nil {
		return err
	}
	np, err := s.path(newname)
	if err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		return err
	}
	err = s.during(ctx, func() error {
		if _, ok := s.client.HasExtension("posix-rename@openssh.com"); ok {
			return s.client.PosixRename(op, np)
		}
		if err := s.client.Remove(np); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return s.client.Rename(op, np)
	})
	if err != nil {
		return fmt.Errorf("transfer: renaming %s to %s: %w", op, np, err)
	}
	return nil
}

// Remove implements Backend.
func (s *SFTP) Remove(ctx context.Context, name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		return err
	}
	err = s.during(ctx, func() error { return s.client.Remove(p) })
	if err != nil {
		return fmt.Errorf("transfer: removing %s: %w", p, err)
	}
	return nil
}

// Hash implements Backend: a shell command on the server when it allows
// one, else a read-back over SFTP.
func (s *SFTP) Hash(ctx context.Context, name string, n int64) (string, HashMethod, error) {
	size, err := s.Stat(ctx, name)
	if err != nil {
		return "", "", err
	}
	if n < 0 {
		n = size
	}
	if size < n {
		return "", "", fmt.Errorf("transfer: hashing %s: it holds %d bytes, fewer than %d", name, size, n)
	}
	if !s.cfg.NoRemoteCommands && !s.noShell.Load() {
		p, _ := s.path(name)
		sum, err := s.remoteHash(ctx, p, n, n == size)
		if err == nil {
			return sum, HashRemoteCommand, nil
		}
		if ctx.Err() != nil || IsTransient(err) {
			return "", "", err
		}
	}
	sum, err := s.readBackHash(ctx, name, n)
	return sum, HashReadBack, err
}

// hashCommand is the shell script hashing a file (or its first n bytes):
// openssl is several times faster than coreutils' sha256sum where present.
func hashCommand(p string, n int64, whole bool) string {
	digest := "if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; else sha256sum; fi"
	if whole {
		return "(" + digest + ") < " + shellQuote(p)
	}
	return "head -c " + strconv.FormatInt(n, 10) + " < " + shellQuote(p) + " | (" + digest + ")"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// remoteHash runs hashCommand in an exec session. A server that refuses to
// run commands is remembered, and the caller reads back instead.
func (s *SFTP) remoteHash(ctx context.Context, p string, n int64, whole bool) (string, error) {
	sess, err := s.conn.NewSession()
	if err != nil {
		s.noShell.Store(true)
		return "", s.wrap(err)
	}
	defer sess.Close()
	var out, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &stderr
	// A /bin/sh wrapper keeps the script POSIX whatever the login shell is.
	cmd := "sh -c " + shellQuote(hashCommand(p, n, whole))
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	err = sess.Run(cmd)
	stop()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	var exit *ssh.ExitError
	switch {
	case errors.As(err, &exit):
		if exit.ExitStatus() == 127 || exit.ExitStatus() == 126 {
			s.noShell.Store(true)
		}
		return "", fmt.Errorf("transfer: remote hash exited %d: %s", exit.ExitStatus(), strings.TrimSpace(stderr.String()))
	case err != nil:
		// The server refused exec (an SFTP-only account), or the session
		// ended without a status: do not ask again.
		s.noShell.Store(true)
		return "", s.wrap(err)
	}
	f := strings.Fields(out.String())
	if len(f) == 0 || len(f[0]) != 64 {
		s.noShell.Store(true)
		return "", fmt.Errorf("transfer: remote hash printed %q", out.String())
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		s.noShell.Store(true)
		return "", fmt.Errorf("transfer: remote hash printed %q", out.String())
	}
	return strings.ToLower(f[0]), nil
}

// readBackHash reads name's first n bytes over SFTP and hashes them.
func (s *SFTP) readBackHash(ctx context.Context, name string, n int64) (string, error) {
	r, err := s.Open(ctx, name, 0)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	lw := &limitWriter{w: h, n: n}
	_, err = io.Copy(lw, r)
	if err != nil && !errors.Is(err, errLimit) {
		return "", fmt.Errorf("transfer: reading back %s: %w", name, err)
	}
	if lw.n > 0 {
		return "", fmt.Errorf("transfer: reading back %s: %d bytes short", name, lw.n)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var errLimit = errors.New("limit reached")

// limitWriter passes on n bytes, then stops the copy.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		k, err := l.w.Write(p[:l.n])
		l.n -= int64(k)
		if err != nil {
			return k, err
		}
		return k, errLimit
	}
	k, err := l.w.Write(p)
	l.n -= int64(k)
	return k, err
}

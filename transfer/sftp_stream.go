package transfer

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

var _ streamWriter = (*SFTP)(nil)

// openStream implements streamWriter. Besides the SFTP handle it starts,
// when the server runs commands, a follower that hashes the file from its
// start as it grows (followScript), and a flusher.
func (s *SFTP) openStream(ctx context.Context, name string, off int64) (stream, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	var f *sftp.File
	err = s.during(ctx, func() (err error) { f, err = s.create(p, off); return err })
	if err != nil {
		return nil, fmt.Errorf("transfer: writing %s: %w", p, err)
	}
	st := &sftpStream{s: s, f: f, p: p, helpers: make(chan struct{})}
	// The helpers take a few round trips to start: the upload does not
	// wait for them.
	go func() {
		defer close(st.helpers)
		if !s.cfg.NoRemoteCommands && !s.noShell.Load() {
			st.follow = s.startFollower(p)
		}
		if _, ok := s.client.HasExtension("fsync@openssh.com"); ok {
			st.flush = s.startFlusher(p)
		}
	}()
	return st, nil
}

// sftpStream is a remote file being written, and its follower.
type sftpStream struct {
	s      *SFTP
	f      *sftp.File
	p      string
	follow *follower // nil: the server does not hash
	flush  *flusher  // nil: no early flushing
	// helpers is closed once follow and flush are set.
	helpers chan struct{}
}

// flushNow starts an early flush if the flusher is there.
func (st *sftpStream) flushNow() {
	select {
	case <-st.helpers:
		if st.flush != nil {
			st.flush.start()
		}
	default:
	}
}

// write sends r with one pkg/sftp ReadFrom: requests leave in file order
// and OpenSSH's server writes them in that order, so the file grows without
// holes and the follower can hash whatever it holds. Every flushEvery bytes
// the flusher is asked to flush what arrived so far.
func (st *sftpStream) write(ctx context.Context, r io.Reader) (n int64, err error) {
	r = &flushTrigger{r: r, flush: st.flushNow}
	err = st.s.during(ctx, func() (err error) {
		n, err = st.f.ReadFromWithConcurrency(ctxReader{ctx, r}, st.s.cfg.Concurrency)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("transfer: writing %s: %w", st.p, err)
	}
	return n, nil
}

// flushEvery is how much is sent between two early flushes.
const flushEvery = 32 << 20

// flushTrigger starts a flush each time another flushEvery bytes were read
// (the flush then covers what the server already wrote of them).
type flushTrigger struct {
	r     io.Reader
	flush func()
	read  int64
}

func (t *flushTrigger) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if t.read/flushEvery != (t.read+int64(n))/flushEvery {
		t.flush()
	}
	t.read += int64(n)
	return n, err
}

// finish flushes and closes the file while the follower hashes the rest.
func (st *sftpStream) finish(ctx context.Context) (string, HashMethod, error) {
	<-st.helpers
	type answer struct {
		sum string
		ok  bool
	}
	hashed := make(chan answer, 1)
	if st.follow != nil {
		go func() {
			sum, ok := st.follow.finish(ctx)
			hashed <- answer{sum, ok}
		}()
	} else {
		hashed <- answer{}
	}
	if st.flush != nil {
		st.flush.close()
	}
	err := st.s.during(ctx, func() error {
		if _, ok := st.s.client.HasExtension("fsync@openssh.com"); ok {
			if err := st.f.Sync(); err != nil {
				st.f.Close()
				return err
			}
		}
		return st.f.Close()
	})
	a := <-hashed
	if err != nil {
		return "", "", fmt.Errorf("transfer: writing %s: %w", st.p, err)
	}
	if !a.ok {
		return "", "", nil
	}
	return a.sum, HashRemoteCommand, nil
}

func (st *sftpStream) abort() {
	<-st.helpers
	if st.follow != nil {
		st.follow.sess.Close()
	}
	if st.flush != nil {
		st.flush.close()
	}
	st.f.Close()
}

// follower is a command on the server hashing a file while it is written.
type follower struct {
	sess        *ssh.Session
	stdin       io.WriteCloser
	out, stderr bytes.Buffer
}

// followMarker is what the follower prints (on stderr) when it read the
// file to its end; without it the printed hash is not trusted.
const followMarker = "lamigrate-follow-ok"

// followScript hashes the file p from its start as it grows, until the line
// "end" arrives on stdin; then it hashes the rest and prints the SHA-256
// (stdout) and followMarker (stderr). It needs python3 (hashlib reads the
// file directly: about half the CPU of dd | openssl); without it, it exits
// and the caller hashes the finished file instead.
//
// Hashing a growing file is right only if the server writes requests in
// order, as OpenSSH's sftp-server does. A server that does not would make
// the follower hash a hole, and the caller confirms any disagreement by
// hashing the whole file again: a wrong guess costs time, never a wrong
// verdict.
func followScript(p string) string {
	return "command -v python3 >/dev/null 2>&1 || exit 97\n" +
		"exec python3 -c " + shellQuote(followPython) + " " + shellQuote(p)
}

// followPython is followScript's program; the file is its argument. While
// it is at the end of the file it waits for stdin up to 20 ms, then reads
// on.
const followPython = `import hashlib, os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
h = hashlib.sha256()
buf = bytearray(1 << 20)
mv = memoryview(buf)
def drain():
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            return
        h.update(mv[:n])
while True:
    drain()
    ready, _, _ = select.select([0], [], [], 0.02)
    if ready:
        if os.read(0, 64).strip() != b"end":
            sys.exit(5)
        drain()
        sys.stdout.write(h.hexdigest() + "\n")
        sys.stdout.flush()
        sys.stderr.write("` + followMarker + `\n")
        sys.exit(0)
`

// startFollower starts followScript for p; nil if the server will not run
// it (the caller then hashes the whole file afterwards).
func (s *SFTP) startFollower(p string) *follower {
	sess, err := s.conn.NewSession()
	if err != nil {
		return nil
	}
	fl := &follower{sess: sess}
	sess.Stdout, sess.Stderr = &fl.out, &fl.stderr
	if fl.stdin, err = sess.StdinPipe(); err != nil {
		sess.Close()
		return nil
	}
	if err := sess.Start("sh -c " + shellQuote(followScript(p))); err != nil {
		sess.Close()
		return nil
	}
	return fl
}

// finish lets the follower read the rest and returns its hash; ok is false
// when it did not print one that can be trusted.
func (fl *follower) finish(ctx context.Context) (sum string, ok bool) {
	defer fl.sess.Close()
	if _, err := io.WriteString(fl.stdin, "end\n"); err != nil {
		return "", false
	}
	fl.stdin.Close()
	stop := context.AfterFunc(ctx, func() { fl.sess.Close() })
	err := fl.sess.Wait()
	stop()
	if err != nil || ctx.Err() != nil || !strings.Contains(fl.stderr.String(), followMarker) {
		return "", false
	}
	f := strings.Fields(fl.out.String())
	if len(f) == 0 || len(f[0]) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return "", false
	}
	return strings.ToLower(f[0]), true
}

// flusher asks the server, through a second SFTP session (its own server
// process), to flush the file to disk while the upload goes on, so the
// final fsync finds little left to write. It is best effort: any failure
// just stops it; the final fsync on the writing handle is what counts.
type flusher struct {
	client *sftp.Client
	f      *sftp.File
	busy   chan struct{} // holds a token while a flush runs
	dead   atomic.Bool
}

// startFlusher opens p read-only in a new SFTP session; nil on failure.
func (s *SFTP) startFlusher(p string) *flusher {
	client, err := sftp.NewClient(s.conn)
	if err != nil {
		return nil
	}
	f, err := client.Open(p)
	if err != nil {
		client.Close()
		return nil
	}
	return &flusher{client: client, f: f, busy: make(chan struct{}, 1)}
}

// start begins a flush unless one is running.
func (fl *flusher) start() {
	if fl.dead.Load() {
		return
	}
	select {
	case fl.busy <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-fl.busy }()
		if err := fl.f.Sync(); err != nil {
			fl.dead.Store(true)
		}
	}()
}

// close waits for a running flush and ends the session.
func (fl *flusher) close() {
	fl.busy <- struct{}{}
	fl.f.Close()
	fl.client.Close()
}

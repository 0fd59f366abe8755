package transfer

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// UploadPartialSuffix ends the name a streamed file has at the destination
// until Commit: FILE is written as FILE.partial, the name a local dump
// uses while it writes.
const UploadPartialSuffix = ".partial"

// ErrUploadAborted is the cause an Upload reports when Abort is called
// without one.
var ErrUploadAborted = errors.New("transfer: upload aborted")

// ErrNotSent reports that an upload's bytes did not all reach the
// destination (the link broke, ctx ended, the server failed): only the
// partial file is there, and the producer must start over.
var ErrNotSent = errors.New("transfer: the file was not sent whole")

// notSentError marks the sender's own failure as ErrNotSent; its message
// is the failure's.
type notSentError struct{ err error }

func (e *notSentError) Error() string        { return e.err.Error() }
func (e *notSentError) Unwrap() error        { return e.err }
func (e *notSentError) Is(target error) bool { return target == ErrNotSent }

// Upload is a file written into a Backend while it is produced, with no
// copy on this machine: `lamigrate dump -o sftp://…` writes its archive
// through one. The bytes go to NAME.partial (UploadPartialSuffix) as they
// are written; Commit checks what the destination stored against the
// manifest, renames NAME.partial to NAME and writes NAME.manifest.json
// last; Abort stops and leaves only NAME.partial. An Upload is written by
// one goroutine; Commit and Abort are called from it too.
//
// An upload cannot continue after a broken link: the bytes come from a
// producer (a dump's snapshot) that cannot be rewound. The producer starts
// over and NewUpload replaces the partial file.
type Upload struct {
	b       Backend
	name    string
	partial string
	opts    Options
	p       Progress
	start   time.Time

	pw   *io.PipeWriter
	src  *pipeSource
	done chan struct{} // closed when the sender returned

	// Write fills cur and queues it on full; the copier writes the queued
	// blocks into pw, so the producer runs on while the sender waits for
	// the server (up to uploadBlocks blocks ahead).
	cur     []byte
	full    chan []byte
	free    chan []byte
	stopped chan struct{} // closed when the copier failed
	copyErr error
	copied  chan struct{} // closed when the copier returned

	// Set by the sender before done is closed.
	sent     int64
	stored   string // the destination's SHA-256 of the partial file ("": none)
	storedBy HashMethod
	err      error

	written  int64 // bytes accepted by Write
	finished bool  // Commit or Abort ran
	mu       sync.Mutex
}

// NewUpload starts writing name (a file name in dst's folder) as
// name+UploadPartialSuffix, replacing a partial file an earlier attempt
// left. The folder must exist unless opts.Mkdir; of opts only Mkdir,
// Retries, Backoff and MaxBackoff matter (the latter for Commit's steps
// after a transient error; the bytes themselves are never retried). p
// receives Commit's steps ("verifying", "finishing", "retrying") and the
// bytes the destination acknowledged (Sent, total 0); nil: nobody listens.
//
// The bytes leave through ctx: cancelling it ends the upload (Write then
// fails) and leaves the partial file.
func NewUpload(ctx context.Context, dst Backend, name string, opts Options, p Progress) (*Upload, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.State != "" {
		return nil, errors.New("transfer: an upload carries no isolation state file: push it afterwards")
	}
	opts = opts.withDefaults()
	if p == nil {
		p = noProgress{}
	}
	if err := dst.Folder(ctx, opts.Mkdir); err != nil {
		return nil, err
	}
	u := &Upload{b: dst, name: name, partial: name + UploadPartialSuffix, opts: opts, p: p,
		start: time.Now(), done: make(chan struct{})}
	pr, pw := io.Pipe()
	u.pw = pw
	u.full, u.free = make(chan []byte, uploadBlocks), make(chan []byte, uploadBlocks)
	u.stopped, u.copied = make(chan struct{}), make(chan struct{})
	for range uploadBlocks {
		u.free <- make([]byte, 0, uploadBlock)
	}
	u.src = &pipeSource{r: pr, onRead: func(n int64) { p.Sent(n, 0) }}

	var st stream
	if sw, ok := dst.(streamWriter); ok {
		s, err := sw.openStream(ctx, u.partial, 0)
		if err != nil {
			return nil, err
		}
		st = s
	}
	go u.copier()
	go func() {
		defer close(u.done)
		var err error
		if st != nil {
			u.sent, err = st.write(ctx, u.src)
			if err == nil {
				u.stored, u.storedBy, err = st.finish(ctx)
			} else {
				st.abort()
			}
		} else {
			u.sent, err = dst.Write(ctx, u.partial, 0, u.src)
		}
		if err != nil {
			u.err = err
			// The producer's next Write fails with the sender's error.
			pr.CloseWithError(err)
		}
	}()
	return u, nil
}

// pipeSource is the read side of the pipe, remembering whether a read
// failed: that failure is the cause Abort gave, not the sender's own.
type pipeSource struct {
	r       *io.PipeReader
	n       int64
	readErr error
	onRead  func(n int64)
}

func (s *pipeSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if n > 0 {
		s.onRead(s.n)
	}
	if err != nil && err != io.EOF {
		s.readErr = err
	}
	return n, err
}

// Partial is the name the file has at the destination until Commit.
func (u *Upload) Partial() string { return u.partial }

// uploadBlocks blocks of uploadBlock bytes are what an Upload buffers
// beside the backend's requests in flight.
const (
	uploadBlock  = 1 << 20
	uploadBlocks = 8
)

// copier writes the queued blocks into the pipe, until full is closed or
// the pipe fails.
func (u *Upload) copier() {
	defer close(u.copied)
	for b := range u.full {
		if _, err := u.pw.Write(b); err != nil {
			u.copyErr = err
			close(u.stopped)
			for range u.full {
			}
			return
		}
		u.free <- b[:0]
	}
}

// Write sends p on. It blocks while the destination is more than a few MB
// behind and fails once the upload failed (the link broke, ctx ended).
func (u *Upload) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if u.cur == nil {
			select {
			case u.cur = <-u.free:
			case <-u.stopped:
				return n, u.copyErr
			}
		}
		k := copy(u.cur[len(u.cur):cap(u.cur)], p)
		u.cur, p, n = u.cur[:len(u.cur)+k], p[k:], n+k
		u.written += int64(k)
		if len(u.cur) == cap(u.cur) {
			if err := u.queue(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// queue hands the current block to the copier.
func (u *Upload) queue() error {
	if len(u.cur) == 0 {
		return nil
	}
	select {
	case u.full <- u.cur:
		u.cur = nil
		return nil
	case <-u.stopped:
		return u.copyErr
	}
}

// Abort stops the upload after the producer failed (cause; nil means
// ErrUploadAborted) and leaves only the partial file at the destination
// (whatever reached it), never NAME or its manifest. It returns the
// upload's own error when the upload failed by itself first (a broken
// link, a full disk: the reason the producer's writes failed; it is
// ErrNotSent), else nil.
// Abort after Commit or Abort does nothing.
func (u *Upload) Abort(cause error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.finished {
		return nil
	}
	u.finished = true
	if cause == nil {
		cause = ErrUploadAborted
	}
	u.pw.CloseWithError(cause)
	close(u.full)
	<-u.copied
	<-u.done
	if u.err != nil && u.src.readErr == nil {
		return &notSentError{u.err}
	}
	return nil
}

// Commit ends the upload once the producer wrote everything. mb is the
// manifest (FILE.manifest.json's bytes) describing the file: its size and
// SHA-256 must be what the destination stored, as the destination computed
// it (on an SSH server that runs commands: hashed while it arrived, else
// sha256sum/openssl there, else read back). Then a stale NAME.manifest.json
// is removed, NAME.partial renamed to NAME, and the manifest written last
// (under its partial name, checked, renamed), so a manifest beside NAME
// always means NAME is complete. If the bytes did not all arrive (the
// upload failed while the producer wrote, ahead of its buffered writes),
// the error is ErrNotSent and only the partial file is there. A transient
// error in these steps
// reconnects and redoes them (opts.Retries); any failure leaves no
// manifest beside a file it does not describe.
func (u *Upload) Commit(ctx context.Context, mb []byte) (*Result, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.finished {
		return nil, errors.New("transfer: upload already committed or aborted")
	}
	u.finished = true
	qerr := u.queue()
	close(u.full)
	<-u.copied
	if qerr == nil && u.copyErr == nil {
		u.pw.Close()
	}
	<-u.done
	res := &Result{Name: u.name, Sent: u.sent, Manifest: true}
	if u.err != nil {
		return nil, &notSentError{u.err}
	}
	m, err := manifest.Parse(mb, manifest.PathFor(u.name))
	if err != nil {
		return nil, err
	}
	if m.File.Size != u.written || m.File.SHA256 == "" {
		return nil, &MismatchError{Name: u.name, What: "size", Want: strconv.FormatInt(m.File.Size, 10),
			Got: strconv.FormatInt(u.written, 10), Manifest: true}
	}
	res.Size, res.SHA256 = m.File.Size, m.File.SHA256
	it := &item{to: side{b: u.b, name: u.name}, manifest: true, mb: mb, size: m.File.Size, want: m.File.SHA256, label: u.name}
	stored, storedBy := u.stored, u.storedBy
	err = retry(ctx, it, u.opts, u.p, res, func() error {
		err := u.commitOnce(ctx, it, stored, storedBy, res)
		stored, storedBy = "", "" // after a reconnect: hash again
		return err
	})
	res.Duration = time.Since(u.start)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// commitOnce verifies, renames and writes the manifest. It looks at what
// the destination holds first, so redoing it after a lost answer is safe:
// NAME already there (renamed) with the manifest's size and hash is done.
func (u *Upload) commitOnce(ctx context.Context, it *item, stored string, storedBy HashMethod, res *Result) error {
	u.p.Step("verifying", 0, 0)
	b, name := u.b, u.name
	check := u.partial
	size, err := b.Stat(ctx, u.partial)
	if errors.Is(err, fs.ErrNotExist) {
		// A rename whose answer was lost?
		check, stored, storedBy = name, "", ""
		size, err = b.Stat(ctx, name)
	}
	if err != nil {
		return err
	}
	where := b.String() + check
	if size != it.size {
		return &MismatchError{Name: where, What: "size", Want: strconv.FormatInt(it.size, 10), Got: strconv.FormatInt(size, 10)}
	}
	if storedBy == "" {
		if stored, storedBy, err = b.Hash(ctx, check, -1); err != nil {
			return err
		}
	}
	if stored != it.want && storedBy == HashRemoteCommand && check == u.partial {
		// Hashed while it grew: confirm a disagreement on the whole file.
		if stored, storedBy, err = b.Hash(ctx, check, -1); err != nil {
			return err
		}
	}
	if stored != it.want {
		return &MismatchError{Name: where, What: "sha256", Want: it.want, Got: stored, Method: storedBy}
	}
	res.Verified = storedBy
	u.p.Step("finishing", 0, 0)
	if check == u.partial {
		if err := b.Remove(ctx, manifest.PathFor(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := b.Rename(ctx, u.partial, name); err != nil {
			return err
		}
	}
	return putManifest(ctx, it)
}

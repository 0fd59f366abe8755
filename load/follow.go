package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FollowPartialSuffix is the suffix of the name an archive has while its
// writer works (dump.PartialSuffix, transfer.UploadPartialSuffix).
const FollowPartialSuffix = ".partial"

// FollowOptions says how Follow waits for a growing archive.
type FollowOptions struct {
	// Stall is how long the archive may stay the same size (or
	// FILE.partial be missing at the start) before Follow decides that its
	// writer gave up (0: 2 minutes).
	Stall time.Duration
	// Poll is how often Follow looks again at the end of what is there
	// (0: 100 ms).
	Poll time.Duration
}

func (o FollowOptions) withDefaults() FollowOptions {
	if o.Stall <= 0 {
		o.Stall = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	return o
}

// Errors of a Follower; a *FollowError wraps one of them.
var (
	// ErrStalled: the archive did not grow for FollowOptions.Stall, or
	// FILE.partial did not appear within it.
	ErrStalled = errors.New("load: the archive's writer stopped")
	// ErrVanished: FILE.partial disappeared without FILE taking its place
	// (the writer failed and removed it).
	ErrVanished = errors.New("load: the archive's partial file vanished")
	// ErrReplaced: FILE.partial was replaced by a new one, or truncated
	// (the dump started over: a new snapshot).
	ErrReplaced = errors.New("load: the archive's partial file was replaced")
)

// FollowError says why a Follower stopped before the archive was complete.
type FollowError struct {
	Path   string // FILE, the archive's final name
	Offset int64  // archive bytes read when it stopped
	Stall  time.Duration
	Err    error // ErrStalled, ErrVanished or ErrReplaced
}

func (e *FollowError) Error() string {
	p := filepath.Base(e.Path) + FollowPartialSuffix
	switch e.Err {
	case ErrStalled:
		if e.Offset == 0 {
			return fmt.Sprintf("load: %s did not appear (or stayed empty) for %s: no dump is writing %s", p, e.Stall, filepath.Base(e.Path))
		}
		return fmt.Sprintf("load: %s has not grown for %s (at %d bytes): its dump stopped or was killed", p, e.Stall, e.Offset)
	case ErrVanished:
		return fmt.Sprintf("load: %s vanished at %d bytes without %s taking its place: its dump failed", p, e.Offset, filepath.Base(e.Path))
	case ErrReplaced:
		return fmt.Sprintf("load: %s was replaced or truncated at %d bytes: its dump started over, a new snapshot", p, e.Offset)
	}
	return fmt.Sprintf("load: following %s: %v", p, e.Err)
}

func (e *FollowError) Unwrap() error { return e.Err }

// Follower reads an archive while its writer still writes it: see
// Follow. Read it once, from one goroutine; Close may come from any.
//
// It keeps no context.Context. Read, as io.Reader defines it, takes none,
// and the way Go ends a Read that waits is from outside, on the reader:
// closing an os.File, a net.Conn or an io.PipeReader ends a Read blocked
// in it, and context.AfterFunc ties that to a context (the context
// package's ExampleAfterFunc_connection does so for a net.Conn). So a
// Follower's waits end when stop is closed: by Close, or by the AfterFunc
// that Follow registers on its ctx, which Close unregisters.
type Follower struct {
	path, partial string
	o             FollowOptions

	f        *os.File
	fi       os.FileInfo // of the open file
	off      int64
	last     time.Time // the last growth (or the start)
	complete bool      // the open file is FILE: read to its end
	err      error     // sticky

	// stop is closed, once, when the waits must end; why says why (the
	// context's error, or errFollowClosed), written before stop closes.
	stop   chan struct{}
	why    error
	unbind func() bool // ends the AfterFunc of Follow's ctx

	mu     sync.Mutex
	closed bool
}

// errFollowClosed: Read after (or during) Close.
var errFollowClosed = errors.New("load: follow: reader closed")

// Follow returns a reader of the archive path that its writer is still
// writing as path+".partial" and will rename to path when it is complete
// (lamigrate dump does, locally and over SFTP). The reader returns the
// partial file's bytes as they arrive and waits at their end, looking
// again every FollowOptions.Poll. It returns io.EOF only once the writer
// renamed the file it reads to path (the same file: os.SameFile) and
// every byte was read. If path.partial does not exist yet, it waits for it
// (up to FollowOptions.Stall); if only path exists, the archive is
// complete and is read as it is.
//
// It fails with a *FollowError (and keeps failing) when the writer gave
// up: no growth for FollowOptions.Stall (ErrStalled), path.partial gone
// without path being the same file (ErrVanished), or path.partial
// replaced by another file or truncated below what was read (ErrReplaced).
// Follow itself opens nothing: the first Read does. When ctx ends, a
// wait ends and Read returns ctx's error (and keeps returning it); bytes
// already there are still read. Close ends the waits too, and releases
// ctx: close the Follower when done with it.
func Follow(ctx context.Context, path string, opts FollowOptions) (*Follower, error) {
	if path == "" {
		return nil, errors.New("load: follow: no archive named")
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("load: follow: folder %s does not exist: create it, or name the archive the dump writes", dir)
	}
	f := &Follower{path: path, partial: path + FollowPartialSuffix, o: opts.withDefaults(), last: time.Now(), stop: make(chan struct{})}
	f.unbind = context.AfterFunc(ctx, func() { f.halt(ctx.Err()) })
	return f, nil
}

// halt ends the waits, the first time with why.
func (f *Follower) halt(why error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.why == nil {
		f.why = why
		close(f.stop)
	}
}

// Offset returns the bytes read so far.
func (f *Follower) Offset() int64 { return f.off }

// Complete says whether the writer finished: the file read is path.
func (f *Follower) Complete() bool { return f.complete }

// Close closes the file being read and ends a wait of Read (which then
// fails).
func (f *Follower) Close() error {
	f.unbind()
	f.halt(errFollowClosed)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.f != nil {
		return f.f.Close()
	}
	return nil
}

func (f *Follower) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if f.f == nil {
			if err := f.open(); err != nil {
				f.err = err
				return 0, err
			}
			if f.f == nil {
				if err := f.wait(); err != nil {
					return 0, err
				}
				continue
			}
		}
		n, err := f.f.Read(p)
		if n > 0 {
			f.off += int64(n)
			f.last = time.Now()
			return n, nil
		}
		if err != nil && err != io.EOF {
			f.err = fmt.Errorf("load: reading %s: %w", f.f.Name(), err)
			return 0, f.err
		}
		if f.complete {
			f.err = io.EOF
			return 0, io.EOF
		}
		// At the end of what is there: renamed, gone, replaced, growing?
		if err := f.look(); err != nil {
			f.err = err
			return 0, err
		}
		if f.complete {
			continue // read the rest of the same file to its end
		}
		if err := f.wait(); err != nil {
			return 0, err
		}
	}
}

// open opens path.partial, or path when only it exists; neither: f.f
// stays nil.
func (f *Follower) open() error {
	for _, c := range []struct {
		name     string
		complete bool
	}{{f.partial, false}, {f.path, true}} {
		file, err := os.Open(c.name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("load: follow: %w", err)
		}
		st, err := file.Stat()
		if err != nil {
			file.Close()
			return fmt.Errorf("load: follow: %w", err)
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			file.Close()
			return errFollowClosed
		}
		f.f, f.fi, f.complete, f.last = file, st, c.complete, time.Now()
		f.mu.Unlock()
		return nil
	}
	return nil
}

// look decides, at the end of the open partial file, what its writer did.
func (f *Follower) look() error {
	if fin, err := os.Stat(f.path); err == nil && os.SameFile(fin, f.fi) {
		f.complete = true
		return nil
	}
	st, err := os.Stat(f.partial)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Renamed between the two looks?
		if fin, err := os.Stat(f.path); err == nil && os.SameFile(fin, f.fi) {
			f.complete = true
			return nil
		}
		return &FollowError{Path: f.path, Offset: f.off, Stall: f.o.Stall, Err: ErrVanished}
	case err != nil:
		return fmt.Errorf("load: follow: %w", err)
	case !os.SameFile(st, f.fi) || st.Size() < f.off:
		return &FollowError{Path: f.path, Offset: f.off, Stall: f.o.Stall, Err: ErrReplaced}
	}
	return nil
}

// wait sleeps one poll interval, or fails when the writer has been silent
// for the stall time, Follow's ctx ended or the Follower was closed.
func (f *Follower) wait() error {
	if time.Since(f.last) >= f.o.Stall {
		f.err = &FollowError{Path: f.path, Offset: f.off, Stall: f.o.Stall, Err: ErrStalled}
		return f.err
	}
	t := time.NewTimer(f.o.Poll)
	defer t.Stop()
	select {
	case <-f.stop:
		f.err = f.why
		return f.err
	case <-t.C:
		return nil
	}
}

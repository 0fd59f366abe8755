package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// PartialSuffix ends the temporary name a file travels under until it is
// complete and verified: NAME arrives as .NAME.lamigrate-partial.
const PartialSuffix = ".lamigrate-partial"

// PartialName returns the temporary name for name.
func PartialName(name string) string {
	dir, base := path.Split(name)
	return dir + "." + base + PartialSuffix
}

// Options tune Push and Pull. The zero value means the defaults. Plain data.
type Options struct {
	// Retries is how many times a step that failed with a transient error
	// (IsTransient) is redone after reconnecting; default 5, negative: never.
	Retries int `json:"retries,omitempty"`
	// Backoff is the first wait before a retry (default 1s); it doubles up
	// to MaxBackoff (default 30s).
	Backoff    time.Duration `json:"backoff,omitempty"`
	MaxBackoff time.Duration `json:"max_backoff,omitempty"`
	// ResumeWindow: when a partial file's full prefix does not match, the
	// prefix shortened by this much is tried before starting over, because
	// a server that writes concurrently may leave a gap where requests were
	// in flight when the transfer broke. Default 16 MiB; negative: off.
	ResumeWindow int64 `json:"resume_window,omitempty"`
	// Mkdir creates the folder the file goes to (Push: the backend's
	// folder; Pull: the local file's folder) when it does not exist.
	// Without it a missing folder is a *FolderError (ErrNoFolder): a typo
	// in a path must not create folders where nobody looks.
	Mkdir bool `json:"mkdir,omitempty"`
	// State is a local isolation state file that belongs to the dump. Push
	// sends it last, after FILE and its manifest, under StateName (verified
	// and renamed into place like FILE). Pull fetches StateName from the
	// folder of the remote file into State when it is there (its absence
	// is not an error) and refuses to replace a different file at State.
	State string `json:"state,omitempty"`
}

// StateName is the name the isolation state file travels under, whatever
// it is called locally: the name run and the README use, so the cloud side
// finds it beside the archive.
const StateName = "isolate-state.json"

const (
	defaultRetries      = 5
	defaultBackoff      = time.Second
	defaultMaxBackoff   = 30 * time.Second
	defaultResumeWindow = 16 << 20
	maxManifestBytes    = 64 << 20
)

// Validate reports a value that cannot work.
func (o Options) Validate() error {
	if o.Backoff < 0 || o.MaxBackoff < 0 {
		return errors.New("transfer: backoff must not be negative")
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Retries == 0 {
		o.Retries = defaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff == 0 {
		o.Backoff = defaultBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.ResumeWindow == 0 {
		o.ResumeWindow = defaultResumeWindow
	}
	return o
}

// Progress receives what Push and Pull are doing; nil means nobody listens.
// Calls come from the goroutine that called Push or Pull, or from one
// goroutine of the backend at a time.
//
// Counts cover everything one call moves as one total: the file, its
// manifest and the isolation state file (Options.State), in that order.
// Step("sending") comes once per file that is sent.
type Progress interface {
	// Step announces a phase: "checking", "sending", "verifying",
	// "finishing", "retrying". For "sending", from is where it resumes and
	// total the size of everything the call moves; otherwise both are 0.
	Step(step string, from, total int64)
	// Sent reports that the first done of total bytes are there.
	Sent(done, total int64)
}

// totalProgress turns one file's counts into counts over everything a
// Push or Pull moves.
type totalProgress struct {
	p           Progress
	base, total int64
}

func (t *totalProgress) Step(step string, from, total int64) {
	if step == "sending" {
		t.p.Step(step, t.base+from, t.total)
		return
	}
	t.p.Step(step, 0, 0)
}

func (t *totalProgress) Sent(done, total int64) { t.p.Sent(t.base+done, t.total) }

// advance marks n more bytes as there (a file and its manifest in place).
func (t *totalProgress) advance(n int64) {
	t.base += n
	t.p.Sent(t.base, t.total)
}

type noProgress struct{}

func (noProgress) Step(string, int64, int64) {}
func (noProgress) Sent(int64, int64)         {}

// Result says what a Push or Pull did.
type Result struct {
	// Name is where the file now is (remote name for Push, local path for
	// Pull).
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Manifest: FILE.manifest.json travelled too, and the file matched it.
	Manifest bool `json:"manifest"`
	// Sent is the number of bytes Push moved (over all attempts).
	Sent int64 `json:"sent,omitempty"`
	// Received is the number of bytes Pull moved (over all attempts).
	Received int64 `json:"received,omitempty"`
	// ResumedAt is the offset the last transfer continued from (0: fresh).
	ResumedAt int64 `json:"resumed_at"`
	// Restarted: a partial file was there but did not match, so it was
	// transferred from the start.
	Restarted bool `json:"restarted,omitempty"`
	// AlreadyPresent: the destination already held the same file.
	AlreadyPresent bool `json:"already_present,omitempty"`
	// Verified says how the destination's SHA-256 was computed.
	Verified HashMethod `json:"verified"`
	// Retries is the number of reconnects after transient errors.
	Retries  int           `json:"retries"`
	Duration time.Duration `json:"duration_ns"`
	// State is the isolation state file's transfer (Options.State); nil
	// when none travelled.
	State *Result `json:"state,omitempty"`
}

// source is what is known about the file being sent.
type source struct {
	name     string // file name at the destination
	size     int64
	sha      string // expected SHA-256 (from the manifest, or once computed)
	manifest []byte // the manifest's bytes, nil without one
	mname    string
}

// readManifest parses b as a manifest and returns its File entry.
func parseManifest(b []byte, where string) (manifest.File, error) {
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest.File{}, fmt.Errorf("transfer: %s is not a valid manifest: %v", where, err)
	}
	if m.Format != manifest.FormatVersion {
		return manifest.File{}, fmt.Errorf("transfer: %s has manifest format %d; this lamigrate reads %d", where, m.Format, manifest.FormatVersion)
	}
	if m.File.SHA256 == "" {
		return manifest.File{}, fmt.Errorf("transfer: %s records no SHA-256 for its file", where)
	}
	return m.File, nil
}

// Push sends the local file to dst under its base name, and its manifest
// (FILE.manifest.json) after it when there is one. See the package
// documentation for the order of events and what is checked.
func Push(ctx context.Context, dst Backend, file string, opts Options, p Progress) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if p == nil {
		p = noProgress{}
	}
	start := time.Now()
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("transfer: %s is not a regular file", file)
	}
	src := &source{name: filepath.Base(file), size: fi.Size()}
	src.mname = manifest.PathFor(src.name)
	if b, err := os.ReadFile(manifest.PathFor(file)); err == nil {
		mf, err := parseManifest(b, manifest.PathFor(file))
		if err != nil {
			return nil, err
		}
		if mf.Size != src.size {
			return nil, &MismatchError{Name: file, What: "size", Want: strconv.FormatInt(mf.Size, 10), Got: strconv.FormatInt(src.size, 10), Manifest: true}
		}
		src.sha, src.manifest = mf.SHA256, b
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	var state *source
	if opts.State != "" {
		sfi, err := os.Stat(opts.State)
		if err != nil {
			return nil, fmt.Errorf("transfer: the isolation state file: %w", err)
		}
		if !sfi.Mode().IsRegular() {
			return nil, fmt.Errorf("transfer: the isolation state file %s is not a regular file", opts.State)
		}
		state = &source{name: StateName, size: sfi.Size()}
	}
	tp := &totalProgress{p: p, total: src.size + int64(len(src.manifest))}
	if state != nil {
		tp.total += state.size
	}
	res := &Result{Name: src.name, Size: src.size, Manifest: src.manifest != nil}
	err = retry(ctx, dst, opts, p, res, func() error { return pushOnce(ctx, dst, file, src, opts, tp, res) })
	if err == nil && state != nil {
		tp.advance(src.size + int64(len(src.manifest)))
		sres := &Result{Name: state.name, Size: state.size}
		res.State = sres
		err = retry(ctx, dst, opts, p, sres, func() error { return pushOnce(ctx, dst, opts.State, state, opts, tp, sres) })
		if err != nil {
			err = fmt.Errorf("%w (the isolation state file %s; %s and its manifest are in place)", err, opts.State, src.name)
		}
	}
	if err == nil && tp.total > res.Size {
		// The manifest and the state file count too: say they are there.
		tp.advance(tp.total - tp.base)
	}
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	return res, nil
}

// pushOnce is one idempotent attempt: it inspects what the destination
// holds and does only what is missing, so a retry after any failure (even
// one whose effect is unknown, like a rename cut off) is safe.
func pushOnce(ctx context.Context, dst Backend, file string, src *source, opts Options, p Progress, res *Result) error {
	p.Step("checking", 0, 0)
	if err := dst.Folder(ctx, opts.Mkdir); err != nil {
		return err
	}
	partial := PartialName(src.name)
	// 1. Already in place (an earlier run, or a rename whose answer was lost)?
	size, err := dst.Stat(ctx, src.name)
	switch {
	case err == nil && size == src.size:
		if src.sha == "" {
			sum, err := hashLocalFile(ctx, file, -1)
			if err != nil {
				return err
			}
			src.sha = sum
		}
		got, method, err := dst.Hash(ctx, src.name, -1)
		if err != nil {
			return err
		}
		if got == src.sha {
			res.AlreadyPresent, res.SHA256, res.Verified = true, got, method
			if err := dst.Remove(ctx, partial); err != nil && !errors.Is(err, fs.ErrNotExist) && !IsTransient(err) {
				return err
			}
			return pushManifest(ctx, dst, src, p)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}

	// 2. Where to continue from.
	h := sha256.New()
	off, restarted, err := resumePoint(ctx, opts, h, partial, src.size,
		func(ctx context.Context) (int64, error) { return dst.Stat(ctx, partial) },
		func(ctx context.Context, n int64, w io.Writer) error {
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("transfer: %w", err)
			}
			defer f.Close()
			return hashPrefix(ctx, w, f, n, file)
		},
		func(ctx context.Context, n int64) (string, error) {
			sum, _, err := dst.Hash(ctx, partial, n)
			return sum, err
		})
	if err != nil {
		return err
	}
	res.ResumedAt, res.Restarted = off, res.Restarted || restarted

	// 3. Send the rest. The file is read and hashed on goroutines of its
	// own; a streamWriter destination hashes what it stored while the
	// upload goes on, so little is left to check after the last byte.
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	p.Step("sending", off, src.size)
	ra := newReadAhead(io.LimitReader(f, src.size-off), h, func(n int64) { p.Sent(off+n, src.size) })
	var (
		sent   int64
		remote string
		method HashMethod
	)
	if sw, ok := dst.(streamWriter); ok {
		sent, remote, method, err = sendStreamed(ctx, sw, partial, off, ra)
	} else {
		sent, err = dst.Write(ctx, partial, off, ra)
	}
	ra.Close()
	res.Sent += sent
	if err != nil {
		return err
	}
	if off+sent != src.size {
		return fmt.Errorf("transfer: %s shrank while it was being sent (%d of %d bytes)", file, off+sent, src.size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if src.sha != "" && sum != src.sha {
		return &MismatchError{Name: file, What: "sha256", Want: src.sha, Got: sum, Method: HashStream, Manifest: src.manifest != nil}
	}
	src.sha, res.SHA256 = sum, sum

	// 4. Verify what arrived, under the temporary name. A hash the
	// destination computed while receiving is trusted when it matches; a
	// mismatch is confirmed by hashing the whole file again.
	p.Step("verifying", 0, 0)
	got, err := dst.Stat(ctx, partial)
	if err != nil {
		return err
	}
	if got != src.size {
		return &MismatchError{Name: dst.String() + partial, What: "size", Want: strconv.FormatInt(src.size, 10), Got: strconv.FormatInt(got, 10)}
	}
	if method == "" || remote != sum {
		if remote, method, err = dst.Hash(ctx, partial, -1); err != nil {
			return err
		}
	}
	if remote != sum {
		return &MismatchError{Name: dst.String() + partial, What: "sha256", Want: sum, Got: remote, Method: method}
	}
	res.Verified = method

	// 5. Into place: a stale manifest goes first (it would describe another
	// file), then the file, then its manifest, so that a manifest present
	// beside a file always means the file is complete.
	p.Step("finishing", 0, 0)
	if src.mname != "" {
		if err := dst.Remove(ctx, src.mname); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := dst.Rename(ctx, partial, src.name); err != nil {
		return err
	}
	return pushManifest(ctx, dst, src, p)
}

// pushManifest uploads the manifest under a temporary name, checks it and
// renames it into place.
func pushManifest(ctx context.Context, dst Backend, src *source, p Progress) error {
	if src.manifest == nil {
		return nil
	}
	partial := PartialName(src.mname)
	if _, err := dst.Write(ctx, partial, 0, bytes.NewReader(src.manifest)); err != nil {
		return err
	}
	want := sha256.Sum256(src.manifest)
	got, method, err := dst.Hash(ctx, partial, -1)
	if err != nil {
		return err
	}
	if got != hex.EncodeToString(want[:]) {
		return &MismatchError{Name: dst.String() + partial, What: "sha256", Want: hex.EncodeToString(want[:]), Got: got, Method: method}
	}
	return dst.Rename(ctx, partial, src.mname)
}

// resumePoint decides where a transfer continues. It hashes the partial
// file's prefix on both sides (hashLocal streams the local side's prefix,
// hashRemote asks the backend) and leaves the local prefix's state in h so
// the whole-file hash continues from there. It tries the whole partial, then
// (for servers that write concurrently) the partial minus ResumeWindow.
// Anything else starts over (offset 0, h reset).
func resumePoint(ctx context.Context, opts Options, h hash.Hash, partial string, size int64,
	statPartial func(context.Context) (int64, error),
	hashLocal func(context.Context, int64, io.Writer) error,
	hashRemote func(context.Context, int64) (string, error),
) (off int64, restarted bool, err error) {
	have, err := statPartial(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if have == 0 || have > size {
		return 0, have > size, nil
	}
	candidates := []int64{have}
	if opts.ResumeWindow > 0 && have-opts.ResumeWindow > 0 {
		candidates = append(candidates, have-opts.ResumeWindow)
	}
	for _, n := range candidates {
		// Hash the local prefix into a fresh hash; h takes its state on a match.
		local := sha256.New()
		var remote string
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return hashLocal(gctx, n, local) })
		g.Go(func() (err error) { remote, err = hashRemote(gctx, n); return err })
		if err := g.Wait(); err != nil {
			return 0, false, err
		}
		if hex.EncodeToString(local.Sum(nil)) == remote {
			if err := copyHashState(h, local); err != nil {
				return 0, false, err
			}
			return n, false, nil
		}
	}
	return 0, true, nil
}

// copyHashState makes dst continue where src is.
func copyHashState(dst, src hash.Hash) error {
	state, err := src.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	if err := dst.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return nil
}

// hashingWriter hashes and counts what passes through it.
type hashingWriter struct {
	w           io.Writer
	h           hash.Hash
	done, total int64
	p           Progress
}

func (w *hashingWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	if n > 0 {
		w.h.Write(b[:n])
		w.done += int64(n)
		w.p.Sent(w.done, w.total)
	}
	return n, err
}

// retry runs op, and after a transient error reconnects (waiting with
// exponential backoff) and runs it again, at most opts.Retries times.
// op must be safe to redo from the start (pushOnce and pullOnce are).
func retry(ctx context.Context, b Backend, opts Options, p Progress, res *Result, op func() error) error {
	wait := opts.Backoff
	var err error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			p.Step("retrying", 0, 0)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("transfer: %w (while waiting to retry after: %v)", ctx.Err(), err)
			case <-t.C:
			}
			wait = min(2*wait, opts.MaxBackoff)
			res.Retries++
			if rerr := b.(Reconnecter).Reconnect(ctx); rerr != nil {
				err = rerr
				if IsTransient(rerr) && attempt < opts.Retries {
					continue
				}
				return fmt.Errorf("%w (after %d attempts)", rerr, attempt+1)
			}
		}
		err = op()
		if err == nil || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if _, ok := b.(Reconnecter); !ok || attempt >= opts.Retries {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
	}
}

// Pull fetches name from src into the local file, and name's manifest
// (NAME.manifest.json) beside it when src has one. See the package
// documentation for the order of events and what is checked.
func Pull(ctx context.Context, src Backend, name, file string, opts Options, p Progress) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if p == nil {
		p = noProgress{}
	}
	start := time.Now()
	if err := localFolder(filepath.Dir(file), opts.Mkdir, false); err != nil {
		return nil, err
	}
	if opts.State != "" {
		if err := localFolder(filepath.Dir(opts.State), opts.Mkdir, false); err != nil {
			return nil, err
		}
	}
	stateName := path.Join(path.Dir(name), StateName)
	tp := &totalProgress{p: p}
	var stateSize int64 = -1 // -1: not there
	sized := func(ctx context.Context, size, msize int64) error {
		tp.total = size + msize
		if opts.State == "" {
			return nil
		}
		n, err := src.Stat(ctx, stateName)
		switch {
		case err == nil:
			stateSize = n
			tp.total += n
		case errors.Is(err, fs.ErrNotExist):
			stateSize = -1
		default:
			return err
		}
		return nil
	}
	res := &Result{Name: file}
	err := retry(ctx, src, opts, p, res, func() error { return pullOnce(ctx, src, name, file, opts, tp, res, sized) })
	if err == nil && stateSize >= 0 {
		tp.advance(tp.total - stateSize - tp.base)
		sres := &Result{Name: opts.State}
		res.State = sres
		err = retry(ctx, src, opts, p, sres, func() error { return pullState(ctx, src, stateName, opts, tp, sres) })
		if err != nil {
			err = fmt.Errorf("%w (the isolation state file %s%s; %s and its manifest are in place)", err, src.String(), stateName, file)
		}
	}
	if err == nil && tp.total > res.Size {
		// The manifest and the state file count too: say they are there.
		tp.advance(tp.total - tp.base)
	}
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	return res, nil
}

// pullState fetches the isolation state file into opts.State. A different
// file already there is never replaced: it may hold the only record of an
// installation's original values.
func pullState(ctx context.Context, src Backend, name string, opts Options, p Progress, res *Result) error {
	if fi, err := os.Stat(opts.State); err == nil {
		have, err := hashLocalFile(ctx, opts.State, -1)
		if err != nil {
			return err
		}
		want, method, err := src.Hash(ctx, name, -1)
		if err != nil {
			return err
		}
		if have != want {
			return fmt.Errorf("transfer: %s already exists and differs from %s%s: move it away, or fetch the state file to another name", opts.State, src.String(), name)
		}
		res.Size, res.SHA256, res.Verified, res.AlreadyPresent = fi.Size(), have, method, true
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("transfer: %w", err)
	}
	if err := pullOnce(ctx, src, name, opts.State, opts, p, res, nil); err != nil {
		return err
	}
	if err := os.Chmod(opts.State, 0o600); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return nil
}

// pullOnce is one idempotent attempt (see pushOnce).
func pullOnce(ctx context.Context, src Backend, name, file string, opts Options, p Progress, res *Result,
	sized func(ctx context.Context, size, msize int64) error) error {
	p.Step("checking", 0, 0)
	size, err := src.Stat(ctx, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("transfer: %s%s does not exist: %w", src.String(), name, fs.ErrNotExist)
		}
		return err
	}
	res.Size = size
	mname := manifest.PathFor(name)
	var want string
	mb, err := readSmall(ctx, src, mname)
	switch {
	case err == nil:
		mf, err := parseManifest(mb, src.String()+mname)
		if err != nil {
			return err
		}
		if mf.Size != size {
			return &MismatchError{Name: src.String() + name, What: "size", Want: strconv.FormatInt(mf.Size, 10), Got: strconv.FormatInt(size, 10), Manifest: true}
		}
		want = mf.SHA256
		res.Manifest = true
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if sized != nil {
		if err := sized(ctx, size, int64(len(mb))); err != nil {
			return err
		}
	}
	partial := filepath.Join(filepath.Dir(file), PartialName(filepath.Base(file)))

	// 1. Already here?
	if fi, err := os.Stat(file); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		have, err := hashLocalFile(ctx, file, -1)
		if err != nil {
			return err
		}
		method := HashLocal
		if want == "" {
			if want, method, err = src.Hash(ctx, name, -1); err != nil {
				return err
			}
		}
		if have == want {
			res.AlreadyPresent, res.SHA256, res.Verified = true, have, method
			os.Remove(partial)
			return placeManifest(file, mb)
		}
	}

	// 2. Where to continue from.
	h := sha256.New()
	off, restarted, err := resumePoint(ctx, opts, h, partial, size,
		func(ctx context.Context) (int64, error) {
			fi, err := os.Stat(partial)
			if err != nil {
				return 0, fmt.Errorf("transfer: %w", err)
			}
			return fi.Size(), nil
		},
		func(ctx context.Context, n int64, w io.Writer) error {
			f, err := os.Open(partial)
			if err != nil {
				return fmt.Errorf("transfer: %w", err)
			}
			defer f.Close()
			return hashPrefix(ctx, w, f, n, partial)
		},
		func(ctx context.Context, n int64) (string, error) {
			sum, _, err := src.Hash(ctx, name, n)
			return sum, err
		})
	if err != nil {
		return err
	}
	res.ResumedAt, res.Restarted = off, res.Restarted || restarted

	// 3. Receive the rest, hashing as it comes.
	p.Step("sending", off, size)
	n, err := receive(ctx, src, name, partial, off, size, h, p)
	res.Received += n
	if err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	res.SHA256 = sum

	// 4. Verify: against the manifest, else against the source's own hash.
	p.Step("verifying", 0, 0)
	method := HashStream
	if want == "" {
		if want, method, err = src.Hash(ctx, name, -1); err != nil {
			return err
		}
	}
	if sum != want {
		return &MismatchError{Name: partial, What: "sha256", Want: want, Got: sum, Method: HashStream, Manifest: res.Manifest}
	}
	res.Verified = method

	// 5. Into place, stale manifest first, the new one last.
	p.Step("finishing", 0, 0)
	if err := os.Remove(manifest.PathFor(file)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("transfer: %w", err)
	}
	if err := renameLocal(partial, file); err != nil {
		return err
	}
	return placeManifest(file, mb)
}

// receive copies name from offset off into the local partial file.
func receive(ctx context.Context, src Backend, name, partial string, off, size int64, h hash.Hash, p Progress) (n int64, err error) {
	if err := os.MkdirAll(filepath.Dir(partial), 0o755); err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	r, err := src.Open(ctx, name, off)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("transfer: %w", cerr)
		}
	}()
	if err := f.Truncate(off); err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	hw := &hashingWriter{w: f, h: h, done: off, total: size, p: p}
	// io.Copy uses the reader's WriteTo: SFTP reads with requests in flight.
	_, err = io.Copy(ctxWriter{ctx, hw}, r)
	n = hw.done - off
	if err != nil {
		if ctx.Err() != nil {
			return n, fmt.Errorf("transfer: %w", ctx.Err())
		}
		return n, err
	}
	if hw.done != size {
		return n, fmt.Errorf("transfer: %s%s changed while it was being read (%d of %d bytes)", src.String(), name, hw.done, size)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("transfer: %w", err)
	}
	return n, nil
}

// placeManifest writes the manifest beside file (nil: nothing to write).
func placeManifest(file string, mb []byte) error {
	if mb == nil {
		return nil
	}
	if err := manifest.WriteFileAtomic(manifest.PathFor(file), mb, 0o600); err != nil {
		return fmt.Errorf("transfer: writing manifest: %w", err)
	}
	return nil
}

// readSmall reads a small file (a manifest) whole.
func readSmall(ctx context.Context, b Backend, name string) ([]byte, error) {
	size, err := b.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if size > maxManifestBytes {
		return nil, fmt.Errorf("transfer: %s%s is %d bytes, too big for a manifest", b.String(), name, size)
	}
	r, err := b.Open(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

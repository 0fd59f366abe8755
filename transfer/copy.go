package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// This file is the one copy between two backends that Push (this machine
// to a Backend) and Pull (a Backend to this machine) both are, as rclone's
// operations.Copy is for any pair: the safety order of the package
// documentation is written here once.

// side is one end of a copy: a file in a backend.
type side struct {
	b    Backend
	name string
	// here: the file is on this machine and this process reads or writes
	// it itself (Push's source, Pull's destination). What is read from it
	// is what it holds and what is written to it arrives, so it is never
	// hashed again: the hash of the bytes as they pass is its hash. A
	// resume reads this side's prefix and asks the other backend for its
	// hash.
	here bool
}

func (s side) String() string { return s.b.String() + s.name }

// item is one file a copy moves, and what was found out about it.
type item struct {
	from, to side
	label    string // Result.Name
	manifest bool   // NAME.manifest.json beside from travels too; the file must match it
	optional bool   // a missing source is no error: the item is skipped
	// keep: a different file at to is an error, never replaced (a state
	// file may be the only record of the sources' original values).
	keep bool

	// Found by look.
	missing bool
	size    int64
	mb      []byte // the manifest's bytes; nil: none
	want    string // the SHA-256 the manifest records; "": no manifest
	delta   *manifest.Delta
	// companion: a file its parent's manifest describes (want and
	// wantSize come from there).
	companion bool
	wantSize  int64
}

// changesItem is a delta archive's changes file, which travels with it,
// before it (so a manifest beside the archive still means everything is
// there), checked against the size and SHA-256 its manifest records.
func changesItem(file *item) *item {
	companion := func(s side) side {
		return side{b: s.b, name: ChangesName(s.name), here: s.here}
	}
	return &item{from: companion(file.from), to: companion(file.to), label: ChangesName(file.label),
		companion: true, want: file.delta.Changes.SHA256, wantSize: file.delta.Changes.Size}
}

// total is how many bytes the item counts for in the progress total.
func (it *item) total() int64 { return it.size + int64(len(it.mb)) }

// copyFiles copies file (with its manifest) and then state, when not nil.
// The returned Result is file's, with state's in Result.State; it is nil
// when the copy failed before anything was written.
func copyFiles(ctx context.Context, file, state *item, opts Options, p Progress) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if p == nil {
		p = noProgress{}
	}
	start := time.Now()
	items := []*item{file}
	if state != nil {
		items = append(items, state)
	}
	res := &Result{Name: file.label}

	// 1. Every source, then every destination folder: nothing is written
	// (no folder made) for a source that is missing or does not match its
	// manifest.
	tp := &totalProgress{p: p}
	for i := 0; i < len(items); i++ {
		it := items[i]
		if err := retry(ctx, it, opts, p, res, func() error { return it.look(ctx) }); err != nil {
			return nil, err
		}
		tp.total += it.total()
		if it == file && file.delta != nil {
			ch := changesItem(file)
			if err := retry(ctx, ch, opts, p, res, func() error { return ch.look(ctx) }); err != nil {
				return nil, err
			}
			tp.total += ch.total()
			items = append([]*item{ch}, items...)
			i++
		}
	}
	for _, it := range items {
		if it.missing {
			continue
		}
		if err := retry(ctx, it, opts, p, res, func() error { return it.to.b.Folder(ctx, opts.Mkdir) }); err != nil {
			return nil, err
		}
	}
	// A state file that may not be replaced and differs refuses the whole
	// copy before the archive moves: a new archive beside an old state
	// file would pair two migrations.
	for _, it := range items {
		if !it.keep || it.missing {
			continue
		}
		if have, err := it.to.b.Stat(ctx, it.to.name); err == nil {
			same := false
			if have == it.size {
				if same, err = alreadyThere(ctx, it, &Result{}); err != nil {
					return nil, err
				}
			}
			if !same {
				return nil, fmt.Errorf("transfer: %s already exists and differs from %s: move it away, or fetch the state file to another name (--state FILE); nothing was copied", it.to, it.from)
			}
		}
	}

	// 2. Each file in turn, progress counting on over one total.
	var err error
	var done int64
	for _, it := range items {
		if it.missing {
			continue
		}
		r := res
		switch {
		case it == state:
			r = &Result{Name: it.label}
			res.State = r
		case it != file:
			r = &Result{Name: it.label}
			res.Changes = r
		}
		r.Size, r.Manifest = it.size, it.mb != nil
		tp.base = done
		err = retry(ctx, it, opts, p, r, func() error { return copyOnce(ctx, it, opts, tp, r) })
		if err != nil {
			if it == state {
				err = fmt.Errorf("%w (the isolation state file %s; %s and its manifest are in place)", err, it.from, file.label)
			}
			break
		}
		done += it.total()
		tp.reach(done)
	}
	res.Duration = time.Since(start)
	return res, err
}

// look finds the source's size and its manifest, which must agree.
func (it *item) look(ctx context.Context) error {
	size, err := it.from.b.Stat(ctx, it.from.name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && it.optional:
		it.missing = true
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("transfer: %s does not exist: %w", it.from, fs.ErrNotExist)
	case err != nil:
		return err
	}
	if it.companion {
		// A companion: its parent's manifest knows it.
		it.missing, it.size = false, size
		if size != it.wantSize {
			return &MismatchError{Name: it.from.String(), What: "size", Want: strconv.FormatInt(it.wantSize, 10), Got: strconv.FormatInt(size, 10), Manifest: true}
		}
		return nil
	}
	it.missing, it.size, it.mb, it.want = false, size, nil, ""
	if !it.manifest {
		return nil
	}
	mside := side{b: it.from.b, name: manifest.PathFor(it.from.name)}
	mb, err := readSmall(ctx, mside)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	m, err := manifest.Parse(mb, mside.String())
	if err != nil {
		return err
	}
	if m.File.SHA256 == "" {
		return fmt.Errorf("transfer: %s records no SHA-256 for its file", mside)
	}
	if m.File.Size != size {
		return &MismatchError{Name: it.from.String(), What: "size", Want: strconv.FormatInt(m.File.Size, 10), Got: strconv.FormatInt(size, 10), Manifest: true}
	}
	it.mb, it.want, it.delta = mb, m.File.SHA256, m.Delta
	return nil
}

// copyOnce is one idempotent attempt at copying it: it looks at what the
// destination holds and does only what is missing, so redoing it after any
// failure (even one whose effect is unknown, like a rename whose answer was
// lost) is safe.
func copyOnce(ctx context.Context, it *item, opts Options, p Progress, res *Result) error {
	from, to := it.from, it.to
	partial := side{b: to.b, name: PartialName(to.name), here: to.here}
	p.Step("checking", 0, 0)

	// 1. Already there (an earlier run, or a rename whose answer was lost)?
	have, err := to.b.Stat(ctx, to.name)
	switch {
	case err == nil && (have == it.size || it.keep):
		same := false
		if have == it.size {
			if same, err = alreadyThere(ctx, it, res); err != nil {
				return err
			}
		}
		if same {
			_ = to.b.Remove(ctx, partial.name) // best effort: a stale partial file is harmless
			return putManifest(ctx, it)
		}
		if it.keep {
			return fmt.Errorf("transfer: %s already exists and differs from %s: move it away, or fetch the state file to another name (--state FILE)", to, from)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}

	// 2. Where to continue from.
	h := sha256.New()
	off, restarted, err := resumePoint(ctx, it, opts.ResumeWindow, h)
	if err != nil {
		return err
	}
	res.ResumedAt, res.Restarted = off, res.Restarted || restarted

	// 3. The rest of the bytes, hashed as they pass.
	p.Step("sending", off, it.size)
	n, stored, storedBy, err := send(ctx, it, off, h, p)
	if to.here {
		res.Received += n
	} else {
		res.Sent += n
	}
	if err != nil {
		return err
	}
	if off+n != it.size {
		return fmt.Errorf("transfer: %s changed while it was being copied (%d of %d bytes)", from, off+n, it.size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	res.SHA256 = sum

	// 4. Before anything is renamed: the bytes against the manifest (else
	// against the source's own hash, unless the source is here), then what
	// the destination holds against the bytes (unless it is here). A hash
	// the destination computed while receiving is trusted when it matches;
	// a mismatch is confirmed by hashing the whole file again.
	p.Step("verifying", 0, 0)
	want, method := it.want, HashStream
	if want == "" && !from.here {
		if want, method, err = from.b.Hash(ctx, from.name, -1); err != nil {
			return err
		}
	}
	if want != "" && sum != want {
		if it.want != "" {
			return &MismatchError{Name: from.String(), What: "sha256", Want: want, Got: sum, Method: HashStream, Manifest: true}
		}
		return &MismatchError{Name: partial.String(), What: "sha256", Want: want, Got: sum, Method: HashStream}
	}
	res.Verified = method
	if !to.here {
		size, err := to.b.Stat(ctx, partial.name)
		if err != nil {
			return err
		}
		if size != it.size {
			return &MismatchError{Name: partial.String(), What: "size", Want: strconv.FormatInt(it.size, 10), Got: strconv.FormatInt(size, 10)}
		}
		if storedBy == "" || stored != sum {
			if stored, storedBy, err = to.b.Hash(ctx, partial.name, -1); err != nil {
				return err
			}
		}
		if stored != sum {
			return &MismatchError{Name: partial.String(), What: "sha256", Want: sum, Got: stored, Method: storedBy}
		}
		res.Verified = storedBy
	}

	// 5. Into place: a stale manifest goes first (it would describe another
	// file), then the file, then its manifest, so that a manifest beside a
	// file always means the file is complete.
	p.Step("finishing", 0, 0)
	if it.manifest {
		if err := to.b.Remove(ctx, manifest.PathFor(to.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := to.b.Rename(ctx, partial.name, to.name); err != nil {
		return err
	}
	return putManifest(ctx, it)
}

// alreadyThere reports whether the destination already holds the source's
// bytes: its SHA-256 against the manifest's, or the source's own.
func alreadyThere(ctx context.Context, it *item, res *Result) (bool, error) {
	want, wantBy := it.want, HashMethod("")
	var got string
	var gotBy HashMethod
	g, gctx := errgroup.WithContext(ctx)
	if want == "" {
		g.Go(func() (err error) { want, wantBy, err = it.from.b.Hash(gctx, it.from.name, -1); return err })
	}
	g.Go(func() (err error) { got, gotBy, err = it.to.b.Hash(gctx, it.to.name, -1); return err })
	if err := g.Wait(); err != nil {
		return false, err
	}
	if got != want {
		return false, nil
	}
	res.AlreadyPresent, res.SHA256, res.Verified = true, got, gotBy
	if it.to.here && wantBy != "" {
		// The copy here was read by this process: what vouches for it is
		// the source's hash.
		res.Verified = wantBy
	}
	return true, nil
}

// resumePoint decides where a copy continues. It hashes the partial file's
// prefix on both sides (reading it on the side that is here, asking the
// other backend) and leaves the prefix's hash state in h, so the whole
// file's hash continues from there. It tries the whole partial file, then
// (for servers that write concurrently) the partial minus ResumeWindow.
// Anything else starts over (offset 0, h untouched).
func resumePoint(ctx context.Context, it *item, window int64, h hash.Hash) (off int64, restarted bool, err error) {
	partial := side{b: it.to.b, name: PartialName(it.to.name)}
	have, err := partial.b.Stat(ctx, partial.name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if have == 0 || have > it.size {
		return 0, have > it.size, nil
	}
	read, ask := it.from, partial
	if !it.from.here {
		read, ask = partial, it.from
	}
	candidates := []int64{have}
	if window > 0 && have-window > 0 {
		candidates = append(candidates, have-window)
	}
	for _, n := range candidates {
		// The prefix goes into a fresh hash; h takes its state on a match.
		local := sha256.New()
		var remote string
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return hashSide(gctx, read, n, local) })
		g.Go(func() (err error) { remote, _, err = ask.b.Hash(gctx, ask.name, n); return err })
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

// hashSide feeds s's first n bytes into w.
func hashSide(ctx context.Context, s side, n int64, w io.Writer) error {
	r, err := s.b.Open(ctx, s.name, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	return hashPrefix(ctx, w, r, n, s.String())
}

// send copies the source from off on into the destination's partial file,
// feeding the bytes into h, and returns how many it read and, when the
// destination hashed what it stored while the bytes arrived, that hash.
//
// A file here is read and hashed on goroutines of its own (readAhead), so
// reading and SHA-256 overlap with the upload. A remote file is read with
// its backend's requests in flight (io.WriterTo) and hashed as the bytes
// are written. A destination that is not here and is a streamWriter hashes
// on its own side during the upload.
func send(ctx context.Context, it *item, off int64, h hash.Hash, p Progress) (n int64, stored string, storedBy HashMethod, err error) {
	r, err := it.from.b.Open(ctx, it.from.name, off)
	if err != nil {
		return 0, "", "", err
	}
	defer r.Close()
	sent := func(k int64) { p.Sent(off+k, it.size) }
	var src io.Reader
	stop := func() {}
	if it.from.here {
		ra := newReadAhead(io.LimitReader(r, it.size-off), h, sent)
		src, stop = ra, func() { ra.Close() }
	} else {
		src = &hashReader{r: r, h: h, onRead: sent}
	}
	partial := PartialName(it.to.name)
	if sw, ok := it.to.b.(streamWriter); ok && !it.to.here {
		n, stored, storedBy, err = sendStreamed(ctx, sw, partial, off, src)
	} else {
		n, err = it.to.b.Write(ctx, partial, off, src)
	}
	stop() // h is complete once the read-ahead stopped
	return n, stored, storedBy, err
}

// putManifest writes the manifest beside the destination file: under its
// partial name, checked where the destination is not here, then renamed
// into place.
func putManifest(ctx context.Context, it *item) error {
	if it.mb == nil {
		return nil
	}
	name := manifest.PathFor(it.to.name)
	partial := side{b: it.to.b, name: PartialName(name)}
	if _, err := partial.b.Write(ctx, partial.name, 0, bytes.NewReader(it.mb)); err != nil {
		return err
	}
	if !it.to.here {
		want := sha256.Sum256(it.mb)
		got, method, err := partial.b.Hash(ctx, partial.name, -1)
		if err != nil {
			return err
		}
		if got != hex.EncodeToString(want[:]) {
			return &MismatchError{Name: partial.String(), What: "sha256", Want: hex.EncodeToString(want[:]), Got: got, Method: method}
		}
	}
	return partial.b.Rename(ctx, partial.name, name)
}

// readSmall reads a small file (a manifest) whole.
func readSmall(ctx context.Context, s side) ([]byte, error) {
	size, err := s.b.Stat(ctx, s.name)
	if err != nil {
		return nil, err
	}
	if size > maxManifestBytes {
		return nil, fmt.Errorf("transfer: %s is %d bytes, too big for a manifest", s, size)
	}
	r, err := s.b.Open(ctx, s.name, 0)
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

// hashReader feeds what is read through it into h and reports the count.
// It keeps the reader's WriteTo, so SFTP still reads with many requests in
// flight.
type hashReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	onRead func(read int64)
}

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.add(p[:n])
	return n, err
}

func (hr *hashReader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(hashTee{w, hr}, hr.r)
}

func (hr *hashReader) add(b []byte) {
	if len(b) == 0 {
		return
	}
	hr.h.Write(b)
	hr.n += int64(len(b))
	hr.onRead(hr.n)
}

// hashTee hashes what w accepted.
type hashTee struct {
	w  io.Writer
	hr *hashReader
}

func (t hashTee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.hr.add(p[:n])
	return n, err
}

// retry runs op, and after a transient error reconnects the item's
// backends that can (waiting with exponential backoff) and runs it again,
// at most opts.Retries times. op must be safe to redo from the start
// (look, copyOnce and Folder are).
func retry(ctx context.Context, it *item, opts Options, p Progress, res *Result, op func() error) error {
	var rc []Reconnecter
	for _, b := range []Backend{it.from.b, it.to.b} {
		if r, ok := b.(Reconnecter); ok {
			rc = append(rc, r)
		}
	}
	reconnect := func() error {
		for _, r := range rc {
			if err := r.Reconnect(ctx); err != nil {
				return err
			}
		}
		return nil
	}
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
			if rerr := reconnect(); rerr != nil {
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
		if len(rc) == 0 || attempt >= opts.Retries {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
	}
}

package transfer

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"time"

	"github.com/qualityunit/lamigrate/internal/chunk"
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

// ChangesName is the name of a delta archive's changes file, which Push and
// Pull carry with it (internal/chunk writes it beside the archive).
func ChangesName(archive string) string { return chunk.ChangesPathFor(archive) }

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
// Push or Pull moves: base is where the current file starts in the total.
type totalProgress struct {
	p           Progress
	base, total int64
	last        int64 // the last count reported
}

func (t *totalProgress) Step(step string, from, total int64) {
	if step == "sending" {
		t.p.Step(step, t.base+from, t.total)
		return
	}
	t.p.Step(step, 0, 0)
}

func (t *totalProgress) Sent(done, total int64) {
	t.last = t.base + done
	t.p.Sent(t.last, t.total)
}

// reach says the first n bytes of the total are there (a file and its
// manifest in place), unless that was the last count reported.
func (t *totalProgress) reach(n int64) {
	t.base = n
	if n != t.last {
		t.last = n
		t.p.Sent(n, t.total)
	}
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
	// Verified says how the SHA-256 that vouches for the copy was
	// computed: the destination's when it is remote (Push); for a copy
	// onto this machine (Pull), HashStream when the bytes matched the
	// manifest, else the source's own hash, or HashLocal when the file was
	// already here and matched the manifest.
	Verified HashMethod `json:"verified"`
	// Retries is the number of reconnects after transient errors.
	Retries  int           `json:"retries"`
	Duration time.Duration `json:"duration_ns"`
	// State is the isolation state file's transfer (Options.State); nil
	// when none travelled.
	State *Result `json:"state,omitempty"`
	// Changes is a delta archive's changes file's transfer (FILE.changes.zst,
	// copied before FILE); nil for a full dump.
	Changes *Result `json:"changes,omitempty"`
}

// Push sends the local file to dst under its base name, its manifest
// (FILE.manifest.json) after it when there is one, and the isolation state
// file (Options.State) last. See the package documentation for the order
// of events and what is checked.
func Push(ctx context.Context, dst Backend, file string, opts Options, p Progress) (*Result, error) {
	name := filepath.Base(file)
	it := &item{
		from:     side{b: NewLocal(filepath.Dir(file)), name: name, here: true},
		to:       side{b: dst, name: name},
		manifest: true,
		label:    name,
	}
	var state *item
	if opts.State != "" {
		state = &item{
			from:  side{b: NewLocal(filepath.Dir(opts.State)), name: filepath.Base(opts.State), here: true},
			to:    side{b: dst, name: StateName},
			label: StateName,
		}
	}
	return copyFiles(ctx, it, state, opts, p)
}

// Pull fetches name from src into the local file, name's manifest
// (NAME.manifest.json) beside it when src has one, and StateName from
// beside name into Options.State when it is there. See the package
// documentation for the order of events and what is checked.
func Pull(ctx context.Context, src Backend, name, file string, opts Options, p Progress) (*Result, error) {
	it := &item{
		from:     side{b: src, name: name},
		to:       side{b: NewLocal(filepath.Dir(file)), name: filepath.Base(file), here: true},
		manifest: true,
		label:    file,
	}
	var state *item
	if opts.State != "" {
		state = &item{
			from:     side{b: src, name: path.Join(path.Dir(name), StateName)},
			to:       side{b: NewLocal(filepath.Dir(opts.State)), name: filepath.Base(opts.State), here: true},
			label:    opts.State,
			optional: true,
			keep:     true,
		}
	}
	return copyFiles(ctx, it, state, opts, p)
}

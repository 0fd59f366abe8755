package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

// Status is where a step stands in the journal.
type Status string

const (
	// Pending: not run yet (or to be run again after a rollback).
	Pending Status = "pending"
	// Started: the step began and has not ended. Found at the start of a
	// run, it means the last run crashed or was killed inside the step.
	Started Status = "started"
	// Done: the step finished; a resumed run does not repeat it.
	Done Status = "done"
	// Failed: the step ended with an error; a resumed run repeats it.
	Failed Status = "failed"
	// Skipped: the configuration or the step itself chose not to run it.
	Skipped Status = "skipped"
	// Undone: the step's effect was rolled back after a later failure; a
	// resumed run repeats it.
	Undone Status = "undone"
)

// JournalFormat is the journal's format version.
const JournalFormat = 1

// Journal is the record of a run: the configuration and each step's
// status, times and output. It lives in the output folder as JSON, written
// atomically (internal/atomicfile: temp file, fsync, rename, fsync of the
// folder) after every change, and is locked
// while a run uses it.
type Journal struct {
	Format  int       `json:"format"`
	Side    Side      `json:"side"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Config is the configuration of the latest run.
	Config Config       `json:"config"`
	Steps  []StepRecord `json:"steps"`
	// Runs lists each invocation: when, and how it ended.
	Runs []RunRecord `json:"runs"`

	path string
}

// StepRecord is one step in the journal and in the report.
type StepRecord struct {
	Name   string `json:"name"`
	Title  string `json:"title,omitempty"`
	Status Status `json:"status"`
	// Attempts counts how often the step was started.
	Attempts int       `json:"attempts,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	// Seconds is the duration of the latest attempt.
	Seconds float64 `json:"seconds,omitempty"`
	Output  *Output `json:"output,omitempty"`
	Error   string  `json:"error,omitempty"`
	// Undo records the rollback of this step, if one ran.
	Undo *UndoRecord `json:"undo,omitempty"`
	// Note explains a skip or a redo.
	Note string `json:"note,omitempty"`
}

// Duration is the latest attempt's duration.
func (r StepRecord) Duration() time.Duration {
	return time.Duration(r.Seconds * float64(time.Second))
}

// UndoRecord is the rollback of one step.
type UndoRecord struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// RunRecord is one invocation of a plan.
type RunRecord struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Resumed bool      `json:"resumed,omitempty"`
	Result  string    `json:"result,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// Output is what a step produced: files, counts and values, kept in the
// journal so later steps (and a resumed run) can find them.
type Output struct {
	Files  []File            `json:"files,omitempty"`
	Counts map[string]int64  `json:"counts,omitempty"`
	Values map[string]string `json:"values,omitempty"`
	// Warnings the step reported (also sent to the progress sink).
	Warnings []string `json:"warnings,omitempty"`
}

// File is a file a step wrote or checked.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// AddFile records path with its size (and SHA-256 when known).
func (o *Output) AddFile(path string, size int64, sha string) {
	o.Files = append(o.Files, File{Path: path, Size: size, SHA256: sha})
}

// Count sets a count.
func (o *Output) Count(name string, n int64) {
	if o.Counts == nil {
		o.Counts = map[string]int64{}
	}
	o.Counts[name] = n
}

// Value sets a value.
func (o *Output) Value(name, v string) {
	if o.Values == nil {
		o.Values = map[string]string{}
	}
	o.Values[name] = v
}

// JournalPath is where the journal of cfg's side lives.
func JournalPath(cfg Config) string {
	switch cfg.Phase {
	case PhasePreCopy:
		return copyJournal(cfg, cfg.Copy)
	case PhaseCutover:
		return filepath.Join(cfg.OutputDir, "lamigrate-"+string(cfg.Side)+"-cutover.journal.json")
	}
	return filepath.Join(cfg.OutputDir, "lamigrate-"+string(cfg.Side)+".journal.json")
}

// copyJournal is the journal of pre-copy n.
func copyJournal(cfg Config, n int) string {
	return filepath.Join(cfg.OutputDir, fmt.Sprintf("lamigrate-%s-copy-%d.journal.json", cfg.Side, n))
}

// ErrNoCopy: a cutover without a finished pre-copy.
var ErrNoCopy = errors.New("migrate: no finished pre-copy")

// resolveCopy settles Config.Copy from the pre-copy journals in the output
// folder: a pre-copy takes the number after the last finished one (or
// that of an unfinished one, which the run then resumes or refuses like
// any journal); a cutover takes the last finished one, the base its delta
// is taken since (source) or that the cloud database holds.
func resolveCopy(cfg Config) (int, error) {
	if cfg.Copy > 0 || cfg.Phase == "" {
		return cfg.Copy, nil
	}
	last, lastDone := 0, 0
	for n := 1; ; n++ {
		j, err := ReadJournal(copyJournal(cfg, n))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		last = n
		if err == nil && j.finished() {
			lastDone = n
		}
	}
	if cfg.Phase == PhasePreCopy {
		if last == 0 || last == lastDone {
			return last + 1, nil
		}
		return last, nil
	}
	if lastDone == 0 {
		return 0, fmt.Errorf("%w in %s: run the %s side with \"phase\": \"pre-copy\" first (the cutover carries only what changed since the last copy)", ErrNoCopy, cfg.OutputDir, cfg.Side)
	}
	return lastDone, nil
}

// finished reports whether every step is done or skipped.
func (j *Journal) finished() bool {
	for _, r := range j.Steps {
		if r.Status != Done && r.Status != Skipped {
			return false
		}
	}
	return len(j.Steps) > 0
}

// journalFile is the journal's kind of versioned file.
var journalFile = jsonfile.Kind{Name: "migrate: journal", Format: JournalFormat, Damaged: "move it aside to start over"}

// ReadJournal loads a journal file. A missing file's error wraps
// fs.ErrNotExist, a damaged one's jsonfile.ErrDamaged, one of another
// format's jsonfile.ErrFormat.
func ReadJournal(path string) (*Journal, error) {
	var j Journal
	if err := journalFile.Read(path, &j); err != nil {
		return nil, err
	}
	j.path = path
	return &j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Step returns the record of the named step, or nil.
func (j *Journal) Step(name string) *StepRecord {
	for i := range j.Steps {
		if j.Steps[i].Name == name {
			return &j.Steps[i]
		}
	}
	return nil
}

// save writes the journal atomically.
func (j *Journal) save(now time.Time) error {
	j.Updated = now
	if err := jsonfile.Write(j.path, j); err != nil {
		return fmt.Errorf("migrate: writing the journal %s: %w", j.path, err)
	}
	return nil
}

// ErrLocked: another run holds the journal's lock.
var ErrLocked = errors.New("another lamigrate run is using this output folder")

// ErrJournalExists: a journal exists and the run was not asked to resume.
var ErrJournalExists = errors.New("a journal of an earlier run exists")

// ErrNoJournal: resume was asked but there is no journal.
var ErrNoJournal = errors.New("no journal to resume")

// lockPath is the lock file beside the journal. The journal itself is
// replaced on every write, so the lock lives in a file of its own.
func lockPath(journal string) string { return journal + ".lock" }

// The lock file exists only while a run holds it: lockFile creates it and
// unlockFile removes it before letting go. Removing a lock file safely
// needs one rule on both sides. A run holds the lock only when it holds
// the flock of the file that is at the lock path at that moment, so after
// taking the flock, lockFile checks that the path still names the file it
// opened (same device and inode, os.SameFile of fstat and stat); when it
// does not, the file was removed (and maybe created anew by a third run)
// between its open and its flock, and it tries again with what is there
// now. And only the holder removes the path, while it still holds the
// flock. Then the path can only change under a holder, two runs can never
// both believe they hold the lock (one on a removed file, one on a new
// one), and a crash leaves a file that is merely unlocked: the next run
// takes it as usual.

// lockFile takes an exclusive, non-blocking lock on path (created when
// missing). The lock goes away with the process, also after a crash.
// Release it with unlockFile.
func lockFile(path string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("migrate: journal lock: %w", err)
		}
		ok, err := lockOpened(f, path)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			return f, nil
		}
		f.Close()
		if attempt >= 100 {
			return nil, fmt.Errorf("migrate: journal lock %s keeps being replaced while taking it: is another program removing it?", path)
		}
	}
}

// lockOpened takes the flock of f, opened from path, and reports whether
// path still names f (see above). When it does not, f's lock is worthless
// and the caller opens path again.
func lockOpened(f *os.File, path string) (bool, error) {
	if err := flock(f); err != nil {
		if errors.Is(err, errWouldBlock) {
			return false, fmt.Errorf("migrate: %w (%s is locked): wait for it to end, or stop it first", ErrLocked, path)
		}
		return false, fmt.Errorf("migrate: journal lock %s: %w", path, err)
	}
	held, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("migrate: journal lock %s: %w", path, err)
	}
	now, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("migrate: journal lock %s: %w", path, err)
	}
	return os.SameFile(held, now), nil
}

// unlockFile removes the lock file at path while still holding its lock,
// then lets go of it.
func unlockFile(f *os.File, path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migrate: removing the journal lock: %w", err)
	}
	return nil
}

// InterruptedError: a resumed run found a step that was in progress when
// the last run stopped, and the step is not safe to redo.
type InterruptedError struct {
	Step  string
	Check string
}

func (e *InterruptedError) Error() string {
	msg := fmt.Sprintf("migrate: step %s was in progress when the last run stopped and is not safe to redo", e.Step)
	if e.Check != "" {
		msg += ": " + e.Check
	}
	return msg + fmt.Sprintf("; when it is safe, resume again naming it to redo (--redo %s)", e.Step)
}

// openJournal creates the journal or, when resuming, reads it and checks
// that it belongs to this plan and that no interrupted step is unsafe.
func (p *Plan) openJournal(s *Session, path string, opt RunOptions) (*Journal, error) {
	cfg := s.Config
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if !exists && !errors.Is(statErr, os.ErrNotExist) {
		return nil, fmt.Errorf("migrate: journal: %w", statErr)
	}
	switch {
	case exists && !opt.Resume:
		j, err := ReadJournal(path)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w (%s): move it aside to start a new migration, or resume it", ErrJournalExists, path)
		}
		return nil, fmt.Errorf("migrate: %w (%s, %s): move it aside to start a new migration, or resume it",
			ErrJournalExists, path, j.summary())
	case !exists && opt.Resume:
		return nil, fmt.Errorf("migrate: %w in %s: run without --resume to start a migration", ErrNoJournal, cfg.OutputDir)
	case !exists:
		now := s.now()
		j := &Journal{Format: JournalFormat, Side: cfg.Side, Created: now, Config: cfg, path: path}
		for _, st := range p.Steps {
			j.Steps = append(j.Steps, StepRecord{Name: st.Name, Title: st.Title, Status: Pending})
		}
		return j, nil
	}
	j, err := ReadJournal(path)
	if err != nil {
		return nil, err
	}
	if err := sameMigration(j.Config, cfg); err != nil {
		return nil, err
	}
	// Order the records as the plan; refuse records the plan lacks.
	byName := map[string]StepRecord{}
	for _, r := range j.Steps {
		byName[r.Name] = r
	}
	var recs []StepRecord
	for _, st := range p.Steps {
		r, ok := byName[st.Name]
		if !ok {
			r = StepRecord{Name: st.Name, Status: Pending}
		}
		r.Title = st.Title
		delete(byName, st.Name)
		recs = append(recs, r)
	}
	for name, r := range byName {
		if r.Status == Started || r.Status == Done {
			return nil, fmt.Errorf("migrate: the journal %s has a step %q (%s) that this plan does not have: resume with the same plan", path, name, r.Status)
		}
	}
	for _, r := range recs {
		if r.Status != Started {
			continue
		}
		st := p.Step(r.Name)
		if !st.Redo && !slices.Contains(opt.Redo, r.Name) {
			return nil, &InterruptedError{Step: r.Name, Check: st.Check}
		}
	}
	j.Steps = recs
	j.Config = cfg
	return j, nil
}

// summary describes a journal in one phrase.
func (j *Journal) summary() string {
	var done []string
	last := ""
	for _, r := range j.Steps {
		switch r.Status {
		case Done, Skipped:
			done = append(done, r.Name)
		case Started, Failed, Undone:
			if last == "" {
				last = r.Name + " " + string(r.Status)
			}
		}
	}
	s := fmt.Sprintf("last written %s", j.Updated.Format(time.RFC3339))
	if len(done) > 0 {
		s += ", done: " + strings.Join(done, " ")
	}
	if last != "" {
		s += ", " + last
	}
	if len(done) == len(j.Steps) {
		s += ", the migration finished"
	}
	return s
}

// sameMigration refuses to resume a journal with a configuration that
// describes another migration. Options (timeouts, threads, ...) may change.
func sameMigration(old, cur Config) error {
	diff := func(what, a, b string) error {
		return fmt.Errorf("migrate: the journal in %s was written for %s %q, the config now says %q: resume with the same %s, or use another output_dir",
			cur.OutputDir, what, a, b, what)
	}
	o, c := old.WithDefaults(), cur.WithDefaults()
	switch {
	case o.Side != c.Side:
		return diff("side", string(o.Side), string(c.Side))
	case o.Stream != c.Stream:
		return diff("stream mode", fmt.Sprint(o.Stream), fmt.Sprint(c.Stream))
	case o.Phase != c.Phase:
		return diff("phase", o.Phase, c.Phase)
	case o.Copy != c.Copy && c.Phase == PhasePreCopy:
		// (A cutover follows the last finished copy, which a pre-copy run
		// meanwhile may have moved on: its import checks the chain.)
		return diff("copy", fmt.Sprint(o.Copy), fmt.Sprint(c.Copy))
	case o.Archive != c.Archive:
		return diff("archive", o.Archive, c.Archive)
	case o.Connection != c.Connection:
		return diff("connection", fmt.Sprint(o.Connection), fmt.Sprint(c.Connection))
	case o.StatePath() != c.StatePath():
		return diff("state file", o.StatePath(), c.StatePath())
	}
	return nil
}

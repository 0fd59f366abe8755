package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

// fakeConfig is a valid source-side config whose output folder is a
// temp dir; the steps of these tests never touch the database.
func fakeConfig(t *testing.T) Config {
	t.Helper()
	return Config{Side: SourceSide, OutputDir: t.TempDir(),
		Connection: Connection{DSN: "nobody@unix(/nonexistent.sock)/nodb"}}
}

// recorder counts calls per step.
type recorder struct {
	calls map[string]int
	undos []string
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}} }

// step returns a step that records its calls and runs fn (nil: succeed).
func (r *recorder) step(name string, redo bool, fn func(ctx context.Context, s *Session) error) Step {
	return Step{Name: name, Title: "test " + name, Redo: redo,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			r.calls[name]++
			var o Output
			o.Count("calls", int64(r.calls[name]))
			if fn != nil {
				return o, fn(ctx, s)
			}
			return o, nil
		}}
}

func readJournalT(t *testing.T, cfg Config) *Journal {
	t.Helper()
	j, err := ReadJournal(JournalPath(cfg))
	if err != nil {
		t.Fatalf("ReadJournal: %v", err)
	}
	return j
}

func statuses(recs []StepRecord) string {
	var b []string
	for _, r := range recs {
		b = append(b, r.Name+"="+string(r.Status))
	}
	return strings.Join(b, " ")
}

func TestRunRecordsEveryStep(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	var seenStarted []string
	check := func(ctx context.Context, s *Session) error {
		// The journal on disk says this step started before it runs, and
		// earlier steps' outputs are visible.
		j := readJournalT(t, cfg)
		seenStarted = append(seenStarted, string(j.Step(s.step).Status))
		if s.step == "b" {
			if o, ok := s.Output("a"); !ok || o.Counts["calls"] != 1 {
				t.Errorf("Session.Output(a) = %+v, %v; want calls=1, true", o, ok)
			}
		}
		return nil
	}
	p := &Plan{Config: cfg, Steps: []Step{rec.step("a", false, check), rec.step("b", false, check), rec.step("c", true, nil)}}
	rep, err := p.Run(context.Background(), RunOptions{})
	if err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if rep.Result != "done" || statuses(rep.Steps) != "a=done b=done c=done" {
		t.Errorf("Run report = %s %s; want done with every step done", rep.Result, statuses(rep.Steps))
	}
	if strings.Join(seenStarted, ",") != "started,started" {
		t.Errorf("journal status seen inside the steps = %v; want started,started", seenStarted)
	}
	j := readJournalT(t, cfg)
	for _, r := range j.Steps {
		if r.Started.IsZero() || r.Ended.IsZero() || r.Attempts != 1 || r.Output == nil || r.Output.Counts["calls"] != 1 {
			t.Errorf("journal record %+v; want times, one attempt and its output", r)
		}
	}
	if len(j.Runs) != 1 || j.Runs[0].Result != "done" {
		t.Errorf("journal runs = %+v; want one done run", j.Runs)
	}
	fi, err := os.Stat(JournalPath(cfg))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v, %v; want 0600", fi.Mode(), err)
	}
	// Atomic writes leave no temp files behind.
	ents, _ := os.ReadDir(cfg.OutputDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temp file %s left in the output folder", e.Name())
		}
	}
}

func TestJournalExistsRefusedWithoutResume(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	p := &Plan{Config: cfg, Steps: []Step{rec.step("a", true, nil)}}
	_, err := p.Run(context.Background(), RunOptions{})
	require.NoError(t, err, "the first run")
	_, err = p.Run(context.Background(), RunOptions{})
	if !errors.Is(err, ErrJournalExists) || !strings.Contains(err.Error(), "move it aside to start a new migration, or resume it") {
		t.Errorf("second Run without resume = %v; want ErrJournalExists saying what to do", err)
	}
	rep, err := p.Run(context.Background(), RunOptions{Resume: true})
	if err != nil || rep.Result != "done" || rec.calls["a"] != 1 {
		t.Errorf("Run(resume) of a finished journal = %v, %v, calls %d; want done without running a again", rep, err, rec.calls["a"])
	}

	empty := fakeConfig(t)
	p = &Plan{Config: empty, Steps: []Step{rec.step("a", true, nil)}}
	if _, err := p.Run(context.Background(), RunOptions{Resume: true}); !errors.Is(err, ErrNoJournal) {
		t.Errorf("Run(resume) without a journal = %v; want ErrNoJournal", err)
	}
}

func TestLockRefusesSecondRun(t *testing.T) {
	cfg := fakeConfig(t)
	inside, release := make(chan struct{}), make(chan struct{})
	rec := newRecorder()
	p := &Plan{Config: cfg, Steps: []Step{rec.step("a", true, func(ctx context.Context, s *Session) error {
		close(inside)
		<-release
		return nil
	})}}
	done := make(chan error)
	go func() {
		_, err := p.Run(context.Background(), RunOptions{})
		done <- err
	}()
	<-inside
	_, err := p.Run(context.Background(), RunOptions{Resume: true})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("concurrent Run = %v; want ErrLocked", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first Run = %v", err)
	}
	// The lock is gone with the first run, its file too.
	lp := lockPath(JournalPath(cfg))
	if _, err := os.Stat(lp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after the run: %v; want it removed", err)
	}
	if _, err := p.Run(context.Background(), RunOptions{Resume: true}); err != nil {
		t.Errorf("Run after the first ended = %v; want nil", err)
	}
	if _, err := os.Stat(lp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after the second run: %v; want it removed", err)
	}
}

// A run that opened the lock file just before the holder removed it must
// not believe it holds the lock: the path names another file by then.
func TestLockFileReplacedWhileTaking(t *testing.T) {
	lp := filepath.Join(t.TempDir(), "j.json.lock")
	a, err := lockFile(lp)
	require.NoError(t, err, "taking the lock")
	if _, err := lockFile(lp); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lockFile = %v; want ErrLocked", err)
	}
	// b opens the file a holds, then a ends: removes it, lets go.
	b, err := os.OpenFile(lp, os.O_RDWR, 0)
	require.NoError(t, err, "opening the lock file a holds")
	defer b.Close()
	if err := unlockFile(a, lp); err != nil {
		t.Fatalf("unlockFile = %v", err)
	}
	if _, err := os.Stat(lp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file after unlockFile: %v; want removed", err)
	}
	// b's flock on the removed file succeeds, but it is worthless.
	if ok, err := lockOpened(b, lp); ok || err != nil {
		t.Errorf("lockOpened(removed file) = %v, %v; want false: open the path again", ok, err)
	}
	// A third run takes the lock on a new file...
	c, err := lockFile(lp)
	if err != nil {
		t.Fatalf("lockFile after the removal = %v", err)
	}
	// ...and b, holding the old file, still does not hold the lock, and
	// retrying meets c's lock.
	if ok, err := lockOpened(b, lp); ok || err != nil {
		t.Errorf("lockOpened(old file, path replaced) = %v, %v; want false", ok, err)
	}
	if _, err := lockFile(lp); !errors.Is(err, ErrLocked) {
		t.Errorf("lockFile while c holds it = %v; want ErrLocked", err)
	}
	require.NoError(t, unlockFile(c, lp), "c letting go of the lock")
}

// A lock file left by a crashed run (present, unlocked) is taken as usual.
func TestLockFileLeftByACrash(t *testing.T) {
	lp := filepath.Join(t.TempDir(), "j.json.lock")
	require.NoError(t, os.WriteFile(lp, nil, 0o600), "leaving a lock file behind as a crash does")
	f, err := lockFile(lp)
	if err != nil {
		t.Fatalf("lockFile(left behind) = %v", err)
	}
	require.NoError(t, unlockFile(f, lp), "letting go of the lock taken from the crashed run")
	if _, err := os.Stat(lp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after unlockFile: %v; want removed", err)
	}
}

func TestRestoreCommand(t *testing.T) {
	tests := []struct {
		name string
		conn Connection
		want string
	}{
		{"dsn", Connection{DSN: "root@unix(/run/mysqld/mysqld.sock)/la"}, "lamigrate restore --dsn 'root@unix(/run/mysqld/mysqld.sock)/la' --state /o/isolate-state.json"},
		{"dsn from env", Connection{DSNEnv: "SRC_DSN", DSN: "x@/y"}, `lamigrate restore --dsn "$SRC_DSN" --state /o/isolate-state.json`},
		{"install dir and password env", Connection{InstallDir: "/var/www/live agent", PasswordEnv: "LA_PW"}, `MYSQL_PWD="$LA_PW" lamigrate restore --install-dir '/var/www/live agent' --state /o/isolate-state.json`},
		{"defaults file", Connection{DefaultsFile: "/root/.my.cnf", PasswordEnv: "MYSQL_PWD"}, "lamigrate restore --defaults-file /root/.my.cnf --state /o/isolate-state.json"},
	}
	for _, tt := range tests {
		cfg := Config{Side: SourceSide, OutputDir: "/o", Connection: tt.conn}
		if got := cfg.RestoreCommand(); got != tt.want {
			t.Errorf("%s: RestoreCommand() = %s; want %s", tt.name, got, tt.want)
		}
	}
}

func TestResumeSkipsDoneSteps(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	fail := true
	p := &Plan{Config: cfg, Steps: []Step{
		rec.step("a", false, nil),
		rec.step("b", false, func(ctx context.Context, s *Session) error {
			if fail {
				return errors.New("disk full")
			}
			return nil
		}),
		rec.step("c", false, nil),
	}}
	rep, err := p.Run(context.Background(), RunOptions{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "b" || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run = %v; want a StepError of b saying disk full", err)
	}
	if rep.Result != "failed" || statuses(rep.Steps) != "a=done b=failed c=pending" {
		t.Errorf("report = %s %s; want failed a=done b=failed c=pending", rep.Result, statuses(rep.Steps))
	}
	fail = false
	rep, err = p.Run(context.Background(), RunOptions{Resume: true})
	if err != nil || rep.Result != "done" {
		t.Fatalf("Run(resume) = %v, %v; want done", rep, err)
	}
	if rec.calls["a"] != 1 || rec.calls["b"] != 2 || rec.calls["c"] != 1 {
		t.Errorf("calls after resume = %v; want a:1 b:2 c:1", rec.calls)
	}
	if r := readJournalT(t, cfg).Step("b"); r.Attempts != 2 || r.Error != "" {
		t.Errorf("journal b = %+v; want 2 attempts and no error", r)
	}
}

// crashIn rewrites the journal as a crash inside step name leaves it.
func crashIn(t *testing.T, cfg Config, name string) {
	t.Helper()
	j := readJournalT(t, cfg)
	r := j.Step(name)
	r.Status, r.Ended, r.Output = Started, time.Time{}, nil
	require.NoError(t, j.save(time.Now()), "saving the journal as the crash leaves it")
}

func TestInterruptedStep(t *testing.T) {
	for _, tt := range []struct {
		name    string
		redo    bool     // the step declares Redo
		allow   []string // RunOptions.Redo
		wantErr bool
	}{
		{"unsafe step stops", false, nil, true},
		{"safe step is redone", true, nil, false},
		{"unsafe step named by the person is redone", false, []string{"b"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fakeConfig(t)
			rec := newRecorder()
			p := &Plan{Config: cfg, Steps: []Step{rec.step("a", false, nil), rec.step("b", tt.redo, nil), rec.step("c", false, nil)}}
			p.Steps[1].Check = "look at the remote folder"
			_, err := p.Run(context.Background(), RunOptions{})
			require.NoError(t, err, "the run before the crash")
			crashIn(t, cfg, "b")
			j := readJournalT(t, cfg)
			j.Step("c").Status = Pending
			j.save(time.Now())
			rec.calls = map[string]int{}
			rep, err := p.Run(context.Background(), RunOptions{Resume: true, Redo: tt.allow})
			if tt.wantErr {
				var ie *InterruptedError
				if !errors.As(err, &ie) || ie.Step != "b" || !strings.Contains(err.Error(), "look at the remote folder") {
					t.Fatalf("Run(resume) = %v; want InterruptedError for b with its check", err)
				}
				if len(rec.calls) != 0 {
					t.Errorf("steps ran after refusing: %v", rec.calls)
				}
				if got := readJournalT(t, cfg).Step("b").Status; got != Started {
					t.Errorf("journal b after refusing = %s; want started", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run(resume) = %v", err)
			}
			if rec.calls["a"] != 0 || rec.calls["b"] != 1 || rec.calls["c"] != 1 {
				t.Errorf("calls = %v; want b and c once, a not", rec.calls)
			}
			if r := rep.Steps[1]; r.Status != Done || !strings.Contains(r.Note, "redone") {
				t.Errorf("report b = %+v; want done with a redo note", r)
			}
		})
	}
}

func TestRollback(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stay   bool
		cancel bool // the failure is Ctrl-C
	}{
		{"failure rolls back", false, false},
		{"ctrl-c rolls back on a live context", false, true},
		{"stay isolated", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fakeConfig(t)
			cfg.Isolate.StayIsolatedOnFailure = tt.stay
			rec := newRecorder()
			fail := true
			iso := rec.step("iso", true, nil)
			iso.Undo = func(ctx context.Context, s *Session) error {
				if ctx.Err() != nil {
					t.Errorf("Undo's context is done: %v", ctx.Err())
				}
				rec.undos = append(rec.undos, "iso")
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &Plan{Config: cfg, Steps: []Step{
				rec.step("pre", true, nil), iso, rec.step("mid", true, nil),
				rec.step("bad", true, func(c context.Context, s *Session) error {
					if !fail {
						return nil
					}
					if tt.cancel {
						cancel()
						return c.Err()
					}
					return errors.New("boom")
				}),
			}}
			rep, err := p.Run(ctx, RunOptions{})
			if err == nil {
				t.Fatal("Run = nil; want the step's error")
			}
			want, wantResult := "pre=done iso=undone mid=pending bad=failed", "failed"
			if tt.stay {
				want = "pre=done iso=done mid=done bad=failed"
			}
			if tt.cancel {
				wantResult = "interrupted"
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v; want context.Canceled", err)
				}
			}
			if got := statuses(rep.Steps); got != want || rep.Result != wantResult || rep.FailedStep != "bad" {
				t.Errorf("report = %s %s, failed step %q; want %s %s, bad", rep.Result, got, rep.FailedStep, wantResult, want)
			}
			if rep.StayedIsolated != tt.stay || (tt.stay && rep.RestoreCommand != cfg.RestoreCommand()) {
				t.Errorf("report stayed isolated %v, %q; want %v and the restore command", rep.StayedIsolated, rep.RestoreCommand, tt.stay)
			}
			if n := len(rec.undos); (n == 1) == tt.stay {
				t.Errorf("undo ran %d times; want %d", n, map[bool]int{true: 0, false: 1}[tt.stay])
			}
			if !tt.stay && (rep.Steps[1].Undo == nil || !rep.RolledBack) {
				t.Errorf("report iso undo = %+v, rolled back %v; want an undo record", rep.Steps[1].Undo, rep.RolledBack)
			}
			// A resumed run redoes what was rolled back and what followed.
			fail = false
			rec.calls = map[string]int{}
			if _, err := p.Run(context.Background(), RunOptions{Resume: true}); err != nil {
				t.Fatalf("Run(resume) = %v", err)
			}
			wantCalls := map[string]int{"iso": 1, "mid": 1, "bad": 1}
			if tt.stay {
				wantCalls = map[string]int{"bad": 1}
			}
			for _, n := range []string{"pre", "iso", "mid", "bad"} {
				if rec.calls[n] != wantCalls[n] {
					t.Errorf("resume calls = %v; want %v", rec.calls, wantCalls)
					break
				}
			}
		})
	}
}

func TestRollbackFailureIsReported(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	iso := rec.step("iso", true, nil)
	iso.Undo = func(ctx context.Context, s *Session) error { return errors.New("server gone") }
	p := &Plan{Config: cfg, Steps: []Step{iso, rec.step("bad", true, func(context.Context, *Session) error { return errors.New("boom") })}}
	rep, err := p.Run(context.Background(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "rolling back iso failed: server gone") {
		t.Errorf("Run = %v; want boom and the rollback failure", err)
	}
	if r := rep.Steps[0]; r.Status != Done || r.Undo == nil || r.Undo.Error != "server gone" {
		t.Errorf("report iso = %+v; want done with the undo error", r)
	}
}

func TestSkipAndPanic(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Skip = []string{StepCheck}
	rec := newRecorder()
	p := &Plan{Config: cfg, Steps: []Step{
		rec.step(StepCheck, true, nil),
		rec.step("self-skip", true, func(context.Context, *Session) error { return Skip("nothing to do") }),
		rec.step("panics", true, func(context.Context, *Session) error { panic("bug") }),
	}}
	rep, err := p.Run(context.Background(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "panic: bug") {
		t.Errorf("Run = %v; want the panic as an error", err)
	}
	if got := statuses(rep.Steps); got != "check=skipped self-skip=skipped panics=failed" || rec.calls[StepCheck] != 0 {
		t.Errorf("report = %s, check calls %d; want check skipped by config, self-skip skipped, panics failed", got, rec.calls[StepCheck])
	}
	if rep.Steps[1].Note != "nothing to do" {
		t.Errorf("self-skip note = %q; want the reason", rep.Steps[1].Note)
	}
}

func TestResumeRefusesAnotherMigration(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	p := &Plan{Config: cfg, Steps: []Step{rec.step("a", true, func(context.Context, *Session) error { return errors.New("x") })}}
	p.Run(context.Background(), RunOptions{})
	p.Config.Archive = "other.sql.zst"
	if _, err := p.Run(context.Background(), RunOptions{Resume: true}); err == nil || !strings.Contains(err.Error(), "archive") {
		t.Errorf("Run(resume) with another archive = %v; want a refusal naming archive", err)
	}
	p.Config.Archive = ""
	p.Config.Drain.Timeout = Duration(time.Hour) // options may change
	if _, err := p.Run(context.Background(), RunOptions{Resume: true}); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("Run(resume) with changed options = %v; want the step to run (and fail with x)", err)
	}
}

func TestPlanInsert(t *testing.T) {
	p, err := NewPlan(fakeConfig(t))
	require.NoError(t, err, "NewPlan of a valid config")
	require.NoError(t, p.Insert(StepDump, Step{Name: "notify", Do: func(context.Context, *Session) (Output, error) { return Output{}, nil }}), "inserting a step after dump")
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "check isolate drain cron dump notify verify push" {
		t.Errorf("steps after Insert = %s", got)
	}
	if err := p.Insert("nope", Step{Name: "x", Do: p.Steps[0].Do}); err == nil {
		t.Error("Insert after a missing step = nil; want an error")
	}
	if err := p.Insert("", Step{Name: "notify", Do: p.Steps[0].Do}); err == nil {
		t.Error("Insert of a duplicate name = nil; want an error")
	}
}

func TestEvents(t *testing.T) {
	cfg := fakeConfig(t)
	rec := newRecorder()
	var kinds []string
	p := &Plan{Config: cfg, Steps: []Step{rec.step("a", true, func(ctx context.Context, s *Session) error {
		s.Progress(5, 10, true, "half")
		s.Warn("careful %d", 1)
		return nil
	})}}
	var journal []string
	rep, err := p.Run(context.Background(), RunOptions{Progress: ProgressFunc(func(e Event) {
		kinds = append(kinds, string(e.Kind))
		if e.Kind == EventRunStart {
			journal = append(journal, e.Message)
		}
	})})
	require.NoError(t, err, "the run with a progress sink")
	if got := strings.Join(kinds, ","); got != "run-start,step-start,step-progress,warning,step-end" {
		t.Errorf("events = %s", got)
	}
	if w := rep.Steps[0].Output.Warnings; len(w) != 1 || w[0] != "careful 1" {
		t.Errorf("recorded warnings = %v; want [careful 1]", w)
	}
	if len(journal) != 1 || journal[0] != JournalPath(cfg) {
		t.Errorf("run-start events name %v; want once the journal %s", journal, JournalPath(cfg))
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), `"result":"done"`) {
		t.Errorf("report JSON = %s", b)
	}
}

func TestJournalDamaged(t *testing.T) {
	cfg := fakeConfig(t)
	require.NoError(t, os.WriteFile(JournalPath(cfg), []byte("{not json"), 0o600), "writing a damaged journal")
	p := &Plan{Config: cfg, Steps: []Step{newRecorder().step("a", true, nil)}}
	_, err := p.Run(context.Background(), RunOptions{Resume: true})
	assert.ErrorIs(t, err, jsonfile.ErrDamaged, "resuming from a damaged journal")
	if _, err := os.Stat(filepath.Join(cfg.OutputDir, filepath.Base(JournalPath(cfg)))); err != nil {
		t.Errorf("damaged journal was removed: %v", err)
	}
}

// A journal of a newer format is refused as such, whatever its steps look
// like (internal/jsonfile tests the other cases; TestJournalDamaged a
// damaged journal).
func TestReadJournalNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"format": 2, "steps": {"check": "done"}}`), 0o600), "writing a journal of format 2")
	_, err := ReadJournal(path)
	assert.EqualError(t, err, "migrate: journal "+path+" has format 2, newer than this lamigrate reads (format 1): use the lamigrate release that wrote it, or a newer one", "reading a journal of format 2")
}

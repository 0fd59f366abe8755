package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

const orderJobsLine = "* * * * * www-data php -q /srv/la/scripts/jobs.php\n"

// standInCron finishes one pending background job every few milliseconds,
// but only while the jobs.php line of crontab is active: LiveAgent's cron.
func standInCron(t *testing.T, db *mysqltest.DB, crontab string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			b, err := os.ReadFile(crontab)
			if err != nil || !strings.Contains(string(b), orderJobsLine) || strings.Contains(string(b), isolate.CronMarker) {
				continue
			}
			db.ExecContext(ctx, "UPDATE qu_g_queued_jobs SET status = 'F' WHERE status != 'F' LIMIT 1")
		}
	}()
	return func() { cancel(); wg.Wait() }
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Event(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) messages(kind EventKind) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e.Step+": "+e.Message)
		}
	}
	return out
}

func pendingJobs(t *testing.T, db *mysqltest.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F'").Scan(&n))
	return n
}

func orderConfig(t *testing.T, crontab string) Config {
	return Config{
		Side: SourceSide, OutputDir: t.TempDir(),
		Connection: Connection{DSNEnv: "SRC_DSN"},
		Skip:       []string{StepCheck, StepDump, StepVerify, StepPush},
		Isolate:    IsolateOptions{Cron: &isolate.CronOptions{Files: []string{crontab}}},
		Drain:      DrainOptions{Timeout: Duration(20 * time.Second), Interval: Duration(10 * time.Millisecond)},
	}
}

// The source side runs in the article's order: sources off, the jobs drain
// while their cron line is still on, then the cron line goes off.
func TestSourceOrderDrainsBeforeCron(t *testing.T) {
	db := liveAgentDB(t, 1<<20)
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'P' LIMIT 3")
	require.Equal(t, 3, pendingJobs(t, db), "the test needs pending jobs")
	crontab := filepath.Join(t.TempDir(), "crontab")
	require.NoError(t, os.WriteFile(crontab, []byte("SHELL=/bin/sh\n"+orderJobsLine), 0o644))
	stop := standInCron(t, db, crontab)
	defer stop()

	assert.Equal(t, []string{StepCheck, StepIsolate, StepDrain, StepCron, StepDump, StepVerify, StepPush}, stepNames(StandardSteps(SourceSide)))
	p, err := NewPlan(orderConfig(t, crontab))
	require.NoError(t, err)
	log := &eventLog{}
	rep, err := p.Run(context.Background(), RunOptions{Progress: log, Getenv: envOf(map[string]string{"SRC_DSN": dsnOf(db)})})
	require.NoError(t, err)
	assert.Equal(t, "check=skipped isolate=done drain=done cron=done dump=skipped verify=skipped push=skipped", statuses(rep.Steps))
	assert.Equal(t, 0, pendingJobs(t, db), "the jobs did not drain")
	b, _ := os.ReadFile(crontab)
	assert.Equal(t, "SHELL=/bin/sh\n"+isolate.CronMarker+orderJobsLine, string(b), "cron is not off at the end")
}

// A failure after the cron step rolls back everything the state file holds,
// the cron line included, and says what it switched back on.
func TestSourceFailureAfterCronRestoresCron(t *testing.T) {
	db := liveAgentDB(t, 1<<20)
	before := sourceSwitches(t, db.DB)
	crontab := filepath.Join(t.TempDir(), "crontab")
	require.NoError(t, os.WriteFile(crontab, []byte(orderJobsLine), 0o644))
	p, err := NewPlan(orderConfig(t, crontab))
	require.NoError(t, err)
	require.NoError(t, p.Insert(StepCron, Step{Name: "fail", Do: func(ctx context.Context, s *Session) (Output, error) {
		return Output{}, errors.New("injected failure")
	}}))
	log := &eventLog{}
	rep, err := p.Run(context.Background(), RunOptions{Progress: log, Getenv: envOf(map[string]string{"SRC_DSN": dsnOf(db)})})
	require.Error(t, err)
	assert.True(t, rep.RolledBack)
	b, _ := os.ReadFile(crontab)
	assert.Equal(t, orderJobsLine, string(b), "the rollback left cron off")
	assert.True(t, reflect.DeepEqual(sourceSwitches(t, db.DB), before), "the rollback left sources off")
	var said string
	for _, m := range log.messages(EventInfo) {
		if strings.HasPrefix(m, "isolate: switched back on: ") {
			said = m
		}
	}
	assert.Contains(t, said, "1 cron line in "+crontab)
	assert.Contains(t, said, "mail accounts (")
}

// A second isolation with a new state file beside the first is refused.
func TestSourceIsolateRefusesAlreadyIsolated(t *testing.T) {
	db := liveAgentDB(t, 1<<20)
	crontab := filepath.Join(t.TempDir(), "crontab")
	require.NoError(t, os.WriteFile(crontab, []byte(orderJobsLine), 0o644))
	cfg := orderConfig(t, crontab)
	cfg.Isolate.Cron = nil
	cfg.Isolate.StayIsolatedOnFailure = true
	first := filepath.Join(cfg.OutputDir, "by-hand.json")
	_, err := isolate.Isolate(context.Background(), db.DB, isolate.DefaultProfile(), first, isolate.Options{})
	require.NoError(t, err)
	p, err := NewPlan(cfg)
	require.NoError(t, err)
	_, err = p.Run(context.Background(), RunOptions{Getenv: envOf(map[string]string{"SRC_DSN": dsnOf(db)})})
	require.ErrorIs(t, err, isolate.ErrAlreadyIsolated)
	assert.Contains(t, err.Error(), "the state file "+first+" holds the original values")
	assert.Contains(t, err.Error(), "set isolate.already_isolated_ok in the run config")
}

// The cloud side restores rows only, from the pulled state file itself.
func TestCloudRestoreRowsOnly(t *testing.T) {
	src := liveAgentDB(t, 1<<20)
	crontab := filepath.Join(t.TempDir(), "crontab")
	require.NoError(t, os.WriteFile(crontab, []byte(orderJobsLine), 0o644))
	out := t.TempDir()
	state := filepath.Join(out, DefaultStateFile)
	before := sourceSwitches(t, src.DB)
	_, err := isolate.Isolate(context.Background(), src.DB, isolate.DefaultProfile(), state, isolate.Options{Cron: &isolate.CronOptions{Files: []string{crontab}}})
	require.NoError(t, err)
	cfg := Config{Side: CloudSide, OutputDir: out, Connection: Connection{DSNEnv: "DST_DSN"}, Skip: []string{StepPull, StepVerify, StepImport, StepVerifyDB, StepAdjust}}
	p, err := NewPlan(cfg)
	require.NoError(t, err)
	for range 2 { // re-runnable
		os.Remove(JournalPath(cfg))
		_, err = p.Run(context.Background(), RunOptions{Getenv: envOf(map[string]string{"DST_DSN": dsnOf(src)})})
		require.NoError(t, err)
	}
	assert.True(t, reflect.DeepEqual(sourceSwitches(t, src.DB), before), "rows not restored")
	b, _ := os.ReadFile(crontab)
	assert.Equal(t, isolate.CronMarker+orderJobsLine, string(b), "the cloud side touched the crontab")
	_, err = os.Stat(filepath.Join(out, "isolate-state.cloud.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "a copy of the state file was written")
}

func stepNames(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

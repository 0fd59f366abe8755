package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/transfer"
)

// streamConfigs are a source and a cloud side in stream mode sharing the
// local folder dropbox (the cloud side's view of the SFTP server's
// folder); sourceURL is where the source side writes into it.
func streamConfigs(t *testing.T, dropbox, sourceURL string) (Config, Config) {
	source := Config{
		Side: SourceSide, Stream: true, OutputDir: t.TempDir(),
		Connection: Connection{DSNEnv: "SRC_DSN"},
		Transfer:   TransferOptions{URL: sourceURL},
		Check:      CheckOptions{AllowBlockers: true},
		Drain:      DrainOptions{Timeout: Duration(10 * time.Second), Interval: Duration(100 * time.Millisecond)},
	}
	cloud := Config{
		Side: CloudSide, Stream: true, OutputDir: t.TempDir(),
		Connection: Connection{DSNEnv: "DST_DSN"},
		Transfer:   TransferOptions{URL: dropbox},
		Import:     ImportOptions{Stall: Duration(20 * time.Second)},
	}
	return source, cloud
}

// runSides runs the cloud side, waits until its follow-import has
// started, then runs the source side; both concurrently. srcProgress
// (optional) also sees the source side's events.
func runSides(t *testing.T, source, cloud Config, env map[string]string, resume bool, srcCtx context.Context, srcProgress func(Event)) (srcRep, cloudRep *Report, srcErr, cloudErr error, cloudEvents []Event) {
	t.Helper()
	sp, err := NewPlan(source)
	require.NoError(t, err)
	cp, err := NewPlan(cloud)
	require.NoError(t, err)
	following := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer once.Do(func() { close(following) })
		cloudRep, cloudErr = cp.Run(context.Background(), RunOptions{Resume: resume, Getenv: envOf(env), Progress: ProgressFunc(func(e Event) {
			mu.Lock()
			cloudEvents = append(cloudEvents, e)
			mu.Unlock()
			if e.Kind == EventStepStart && e.Step == StepFollowImport {
				once.Do(func() { close(following) })
			}
		})})
	}()
	<-following
	go func() {
		defer wg.Done()
		opt := RunOptions{Resume: resume, Getenv: envOf(env)}
		if srcProgress != nil {
			opt.Progress = ProgressFunc(srcProgress)
		}
		srcRep, srcErr = sp.Run(srcCtx, opt)
	}()
	wg.Wait()
	return
}

func hasInfo(events []Event, step, contains string) bool {
	for _, e := range events {
		if e.Kind == EventInfo && e.Step == step && strings.Contains(e.Message, contains) {
			return true
		}
	}
	return false
}

// noArchiveIn fails when dir holds an archive or a partial one.
func noArchiveIn(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		n := e.Name()
		assert.False(t, strings.Contains(n, ".sql") || strings.HasSuffix(n, ".partial"), "the source's output folder holds %s: a streaming run keeps no archive there", n)
	}
}

func TestStreamRun(t *testing.T) {
	src := liveAgentDB(t, 3<<20)
	dst := mysqltest.New(t)
	original := sourceSwitches(t, src.DB)
	dropbox := t.TempDir()
	source, cloud := streamConfigs(t, dropbox, dropbox)
	env := map[string]string{"SRC_DSN": dsnOf(src), "DST_DSN": dsnOf(dst)}

	srcRep, cloudRep, srcErr, cloudErr, events := runSides(t, source, cloud, env, false, context.Background(), nil)
	require.NoError(t, srcErr, "source side")
	require.NoError(t, cloudErr, "cloud side")
	assert.Equal(t, "check=done isolate=done drain=done cron=skipped dump-to-transfer=done", statuses(srcRep.Steps))
	assert.Equal(t, "follow-import=done verify-db=done adjust=skipped restore=done", statuses(cloudRep.Steps))
	// The cloud side started before the dump and followed the partial file.
	assert.True(t, hasInfo(events, StepFollowImport, "following "+filepath.Join(dropbox, DefaultArchive)+".partial"), "the import did not follow the partial archive")
	o := cloudRep.Steps[1].Output
	require.NotNil(t, o)
	assert.Positive(t, o.Counts["rows"], "verify-db checked no row")
	assert.Equal(t, srcRep.Steps[4].Output.Counts["rows"], cloudRep.Steps[0].Output.Counts["rows"], "rows dumped and imported")
	noArchiveIn(t, source.OutputDir)
	for _, f := range []string{DefaultArchive, DefaultArchive + ".manifest.json", transfer.StateName} {
		assert.FileExists(t, filepath.Join(dropbox, f))
	}
	assert.NoFileExists(t, filepath.Join(dropbox, DefaultArchive+".partial"))
	// The state file travelled: the imported copy has the sources on, as
	// before the isolation.
	assert.Equal(t, original, sourceSwitches(t, dst.DB))
}

// A streaming source side over SFTP (the in-process server), the cloud
// side following the server's folder locally.
func TestStreamRunSFTP(t *testing.T) {
	src := liveAgentDB(t, 1<<20)
	dst := mysqltest.New(t)
	server := startSFTP(t)
	dropbox := t.TempDir()
	source, cloud := streamConfigs(t, dropbox, server.URL(dropbox))
	source.Transfer.Identity, source.Transfer.KnownHosts = server.Identity, server.KnownHosts
	source.Skip = []string{StepCheck}
	env := map[string]string{"SRC_DSN": dsnOf(src), "DST_DSN": dsnOf(dst)}

	srcRep, cloudRep, srcErr, cloudErr, _ := runSides(t, source, cloud, env, false, context.Background(), nil)
	require.NoError(t, srcErr, "source side")
	require.NoError(t, cloudErr, "cloud side")
	assert.Equal(t, "check=skipped isolate=done drain=done cron=skipped dump-to-transfer=done", statuses(srcRep.Steps))
	assert.Equal(t, "follow-import=done verify-db=done adjust=skipped restore=done", statuses(cloudRep.Steps))
	assert.NotEmpty(t, srcRep.Steps[4].Output.Values["verified"], "the upload was not checked on commit")
	noArchiveIn(t, source.OutputDir)
}

// The source side is killed in the middle of its dump: the cloud side
// stops with a clear error; the source side run again and the cloud side
// run again with import.force (as the error says) end equal.
func TestStreamRunSourceKilled(t *testing.T) {
	src := liveAgentDB(t, 6<<20)
	dst := mysqltest.New(t)
	dropbox := t.TempDir()
	source, cloud := streamConfigs(t, dropbox, dropbox)
	source.Skip = []string{StepCheck}
	// Uncompressed, so that what the killed dump sent is well past the
	// upload's 1 MiB blocks and the import's first MiB.
	source.Archive, cloud.Archive = "dump.sql", "dump.sql"
	cloud.Import.Stall = Duration(2 * time.Second)
	env := map[string]string{"SRC_DSN": dsnOf(src), "DST_DSN": dsnOf(dst)}

	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	half := func(e Event) {
		if e.Kind == EventStepProgress && e.Step == StepDumpToTransfer && e.Total > 0 && e.Done*2 >= e.Total {
			kill()
		}
	}
	_, cloudRep, srcErr, cloudErr, _ := runSides(t, source, cloud, env, false, ctx, half)
	require.ErrorIs(t, srcErr, context.Canceled, "source side")
	require.Error(t, cloudErr, "cloud side")
	assert.Equal(t, StepFollowImport, cloudRep.FailedStep)
	for _, want := range []string{"has not grown for 2s", "its dump stopped or was killed", "removed the dead " + filepath.Join(dropbox, "dump.sql") + ".partial",
		`set "import": {"force": true} in the cloud side's run config`} {
		assert.Contains(t, cloudErr.Error(), want)
	}
	assert.NoFileExists(t, filepath.Join(dropbox, "dump.sql"))
	var tables int
	require.NoError(t, dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables))
	require.Positive(t, tables, "the cloud side loaded nothing before the kill: the test proves nothing")

	// The dead partial file is gone: run again alone, the cloud side
	// waits for a new dump, and says so.
	cp, err := NewPlan(cloud)
	require.NoError(t, err)
	_, err = cp.Run(context.Background(), RunOptions{Resume: true, Getenv: envOf(env)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dump.sql.partial did not appear (or stayed empty) for 2s: no dump is writing dump.sql: start the source side's run (stream mode), then run the cloud side again")

	// Both sides again, the cloud side first, with import.force.
	cloud.Import.Force = true
	srcRep, cloudRep, srcErr, cloudErr, _ := runSides(t, source, cloud, env, true, context.Background(), nil)
	require.NoError(t, srcErr, "source side again")
	require.NoError(t, cloudErr, "cloud side again")
	assert.Equal(t, "check=skipped isolate=done drain=done cron=skipped dump-to-transfer=done", statuses(srcRep.Steps))
	assert.Equal(t, "follow-import=done verify-db=done adjust=skipped restore=done", statuses(cloudRep.Steps))
	noArchiveIn(t, source.OutputDir)
}

// The cloud side is interrupted while it follows; run again while the
// same dump goes on, it continues after the tables it committed.
func TestStreamRunCloudResumes(t *testing.T) {
	src := liveAgentDB(t, 6<<20)
	dst := mysqltest.New(t)
	dropbox := t.TempDir()
	source, cloud := streamConfigs(t, dropbox, dropbox)
	source.Skip = []string{StepCheck}
	source.Archive, cloud.Archive = "dump.sql", "dump.sql"
	env := map[string]string{"SRC_DSN": dsnOf(src), "DST_DSN": dsnOf(dst)}

	// The source side dumps slowly enough to interrupt the cloud side
	// in the middle: its progress events pause it.
	cctx, stopCloud := context.WithCancel(context.Background())
	defer stopCloud()
	cp, err := NewPlan(cloud)
	require.NoError(t, err)
	sp, err := NewPlan(source)
	require.NoError(t, err)
	var cloudErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, cloudErr = cp.Run(cctx, RunOptions{Getenv: envOf(env), Progress: ProgressFunc(func(e Event) {
			if e.Kind == EventStepProgress && e.Step == StepFollowImport && strings.Contains(e.Message, " rows") && !strings.HasPrefix(e.Message, "0/") {
				stopCloud()
			}
		})})
	}()
	srcDone := make(chan error, 1)
	go func() {
		_, err := sp.Run(context.Background(), RunOptions{Getenv: envOf(env), Progress: ProgressFunc(func(e Event) {
			if e.Kind == EventStepProgress && e.Step == StepDumpToTransfer {
				select {
				case <-done:
				case <-time.After(20 * time.Millisecond):
				}
			}
		})})
		srcDone <- err
	}()
	<-done
	require.ErrorIs(t, cloudErr, context.Canceled)
	rep, err := cp.Run(context.Background(), RunOptions{Resume: true, Getenv: envOf(env)})
	require.NoError(t, err, "cloud side again")
	require.NoError(t, <-srcDone, "source side")
	assert.Equal(t, "follow-import=done verify-db=done adjust=skipped restore=done", statuses(rep.Steps))
	assert.Equal(t, "true", rep.Steps[0].Output.Values["resumed"], "the import did not continue: %+v", rep.Steps[0])
}

func TestStreamConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"cloud sftp", Config{Side: CloudSide, Stream: true, OutputDir: "/o", Connection: Connection{DSN: "u@/d"}, Transfer: TransferOptions{URL: "sftp://u@h/in/"}},
			`in stream mode the cloud side follows the archive in a local folder, the SFTP server's dropbox`},
		{"no url", Config{Side: SourceSide, Stream: true, OutputDir: "/o", Connection: Connection{DSN: "u@/d"}},
			"stream: transfer.url is missing"},
		{"skip push", Config{Side: SourceSide, Stream: true, OutputDir: "/o", Connection: Connection{DSN: "u@/d"}, Transfer: TransferOptions{URL: "/in/"}, Skip: []string{StepPush}},
			`skip: "push" is not a step of the source side in stream mode (check, isolate, drain, cron, dump-to-transfer)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	ok := Config{Side: SourceSide, Stream: true, OutputDir: "/o", Connection: Connection{DSN: "u@/d"}, Transfer: TransferOptions{URL: "sftp://u@h/in/"}}
	require.NoError(t, ok.Validate())
	p, err := NewPlan(ok)
	require.NoError(t, err)
	assert.Equal(t, []string{StepCheck, StepIsolate, StepDrain, StepCron, StepDumpToTransfer}, stepNames(p.Steps))
	// A journal of the other mode is another migration.
	plain := ok
	plain.Stream = false
	assert.ErrorContains(t, sameMigration(plain, ok), `stream mode "false", the config now says "true"`)

}

package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// liveAgentDB returns a fresh database holding a small generated LiveAgent
// installation with no pending background job.
func liveAgentDB(t *testing.T, size int64) *mysqltest.DB {
	t.Helper()
	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: size, Seed: 7}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	return db
}

// sourceSwitches reads every default-profile source's switch column by
// key: what isolate changes and restore puts back.
func sourceSwitches(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	found := 0
	for _, s := range isolate.DefaultProfile().Sources {
		rows, err := db.Query(fmt.Sprintf("SELECT %s, %s FROM %s", ident.Quote(s.Key), ident.Quote(s.Column), ident.Quote(s.Table)))
		if err != nil {
			continue // a source this installation lacks
		}
		found++
		for rows.Next() {
			var k, v sql.NullString
			require.NoError(t, rows.Scan(&k, &v), "reading the source switches")
			out[s.Table+"/"+k.String] = fmt.Sprintf("%v:%s", v.Valid, v.String)
		}
		require.NoError(t, rows.Err(), "reading the source switches")
		rows.Close()
	}
	if found < 3 {
		t.Fatalf("only %d profile sources found in the generated database", found)
	}
	return out
}

func dsnOf(db *mysqltest.DB) string { return db.Config().FormatDSN() }

// envOf is a Getenv over a map.
func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSourceFailureRestoresIsolation(t *testing.T) {
	db := liveAgentDB(t, 1<<20)
	before := sourceSwitches(t, db.DB)
	cfg := Config{Side: SourceSide, OutputDir: t.TempDir(), Connection: Connection{DSNEnv: "SRC_DSN"}, Skip: []string{StepCheck}}
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan of a valid config")
	var during map[string]string
	err = p.Insert(StepDrain, Step{Name: "fail", Do: func(ctx context.Context, s *Session) (Output, error) {
		during = sourceSwitches(t, db.DB)
		return Output{}, errors.New("injected failure")
	}})
	require.NoError(t, err, "inserting a failing step after drain")
	rep, err := p.Run(context.Background(), RunOptions{Getenv: envOf(map[string]string{"SRC_DSN": dsnOf(db)})})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Run = %v; want the injected failure", err)
	}
	if reflect.DeepEqual(during, before) {
		t.Fatal("isolate changed nothing in the generated database; the test proves nothing")
	}
	if after := sourceSwitches(t, db.DB); !reflect.DeepEqual(after, before) {
		t.Errorf("after the rollback the sources differ from before the run:\n got %v\nwant %v", after, before)
	}
	if got := statuses(rep.Steps); got != "check=skipped isolate=undone drain=pending fail=failed cron=pending dump=pending verify=pending push=pending" || !rep.RolledBack {
		t.Errorf("report = %s (rolled back %v); want isolate undone", got, rep.RolledBack)
	}
}

// The e2e helper process runs a side from a config file and, when asked,
// kills itself with SIGKILL half way through the dump: a real crash, with
// the journal and the partial archive left as a crash leaves them.
func TestE2EHelperProcess(t *testing.T) {
	cfgPath := os.Getenv("LAMIGRATE_E2E_CONFIG")
	if cfgPath == "" {
		return // not started by TestEndToEnd: nothing to do
	}
	cfg, err := LoadConfig(cfgPath)
	require.NoError(t, err, "loading the config %s", cfgPath)
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan of the loaded config")
	crash := ProgressFunc(func(e Event) {
		if e.Kind == EventStepProgress && e.Step == StepDump && strings.HasPrefix(e.Message, "table ") {
			var done, total int
			fmt.Sscanf(e.Message, "table %d/%d", &done, &total)
			if total > 0 && done*2 >= total {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	})
	_, err = p.Run(context.Background(), RunOptions{Getenv: os.Getenv, Progress: crash})
	t.Fatalf("the helper was to be killed during the dump; Run returned %v", err)
}

func writeConfig(t *testing.T, cfg Config) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	require.NoError(t, err, "encoding the config")
	path := filepath.Join(t.TempDir(), string(cfg.Side)+".json")
	require.NoError(t, os.WriteFile(path, b, 0o600), "writing the config %s", path)
	return path
}

func TestEndToEnd(t *testing.T) {
	src := liveAgentDB(t, 3<<20)
	dst := mysqltest.New(t)
	original := sourceSwitches(t, src.DB)
	server := startSFTP(t)
	remote := t.TempDir()
	env := map[string]string{"SRC_DSN": dsnOf(src), "DST_DSN": dsnOf(dst)}

	source := Config{
		Side: SourceSide, OutputDir: t.TempDir(),
		Connection: Connection{DSNEnv: "SRC_DSN"},
		Transfer:   TransferOptions{URL: server.URL(remote), Identity: server.Identity, KnownHosts: server.KnownHosts},
		Check:      CheckOptions{AllowBlockers: true},
		Drain:      DrainOptions{Timeout: Duration(10e9), Interval: Duration(1e8)},
	}
	srcPath := writeConfig(t, source)

	// 1. A crash in the middle of the dump (the helper kills itself).
	cmd := exec.Command(os.Args[0], "-test.run=^TestE2EHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAMIGRATE_E2E_CONFIG="+srcPath, "SRC_DSN="+env["SRC_DSN"])
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper = %v; want it killed by SIGKILL during the dump; output:\n%s", err, out)
	}
	j, err := ReadJournal(JournalPath(source))
	require.NoError(t, err, "reading the source side's journal")
	if got := statuses(j.Steps); got != "check=done isolate=done drain=done cron=skipped dump=started verify=pending push=pending" {
		t.Fatalf("journal after the crash = %s; want dump started", got)
	}
	if _, err := os.Stat(source.ArchivePath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("archive after the crash: %v; want none (only a partial file)", err)
	}
	if _, err := os.Stat(source.ArchivePath() + ".partial"); err != nil {
		t.Errorf("no partial archive after the crash: %v", err)
	}

	// 2. Running again without --resume refuses; with it, finishes.
	p, err := NewPlan(source)
	require.NoError(t, err, "NewPlan of the source config")
	if _, err := p.Run(context.Background(), RunOptions{Getenv: envOf(env)}); !errors.Is(err, ErrJournalExists) {
		t.Fatalf("Run without resume = %v; want ErrJournalExists", err)
	}
	rep, err := p.Run(context.Background(), RunOptions{Resume: true, Getenv: envOf(env)})
	if err != nil {
		t.Fatalf("source Run(resume) = %v", err)
	}
	if got := statuses(rep.Steps); got != "check=done isolate=done drain=done cron=skipped dump=done verify=done push=done" {
		t.Errorf("source report = %s", got)
	}
	if r := rep.Steps[4]; r.Attempts != 2 || !strings.Contains(r.Note, "redone") {
		t.Errorf("dump record = %+v; want 2 attempts, redone", r)
	}
	if r := rep.Steps[1]; r.Attempts != 1 {
		t.Errorf("isolate attempts = %d; want 1 (not redone)", r.Attempts)
	}
	if isolated := sourceSwitches(t, src.DB); reflect.DeepEqual(isolated, original) {
		t.Error("the source is not isolated after its side finished")
	}
	for _, f := range []string{DefaultArchive, DefaultArchive + ".manifest.json", DefaultStateFile} {
		if _, err := os.Stat(filepath.Join(remote, f)); err != nil {
			t.Errorf("remote folder lacks %s: %v", f, err)
		}
	}

	// 3. The cloud side pulls, verifies, imports, verifies the database and
	// re-activates the sources in the imported copy.
	rules := filepath.Join(t.TempDir(), "rules.json")
	os.WriteFile(rules, []byte(`{"params": ["domain"], "rules": [{"name": "server name", "table": "qu_g_settings",
		"set": {"value": "${domain}"}, "where": {"name": "server_name"}}]}`), 0o600)
	cloud := Config{
		Side: CloudSide, OutputDir: t.TempDir(),
		Connection: Connection{DSNEnv: "DST_DSN"},
		Transfer:   TransferOptions{URL: server.URL(remote), Identity: server.Identity, KnownHosts: server.KnownHosts},
		Adjust:     AdjustOptions{Rules: rules, Params: map[string]string{"domain": "acme.ladesk.com"}},
	}
	cp, err := NewPlan(cloud)
	require.NoError(t, err, "NewPlan of the cloud config")
	rep, err = cp.Run(context.Background(), RunOptions{Getenv: envOf(env)})
	if err != nil {
		t.Fatalf("cloud Run = %v", err)
	}
	if got := statuses(rep.Steps); got != "pull=done verify=done import=done verify-db=done adjust=done restore=done" {
		t.Errorf("cloud report = %s", got)
	}
	if o := rep.Steps[3].Output; o == nil || o.Counts["rows"] == 0 {
		t.Errorf("verify-db output = %+v; want rows checked", o)
	}
	var name string
	if err := dst.QueryRow("SELECT value FROM qu_g_settings WHERE name = 'server_name'").Scan(&name); err != nil || name != "acme.ladesk.com" {
		t.Errorf("server_name after adjust = %q, %v; want acme.ladesk.com", name, err)
	}
	// The imported copy has the sources as they were before isolation
	// (and the setting adjust changed).
	for k, v := range original {
		if v == "true:support.example.com" {
			original[k] = "true:acme.ladesk.com"
		}
	}
	cloudSwitches := sourceSwitches(t, dst.DB)
	if !reflect.DeepEqual(cloudSwitches, original) {
		t.Errorf("sources in the imported database differ from the original:\n got %v\nwant %v", cloudSwitches, original)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func writeRunConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.json")
	err := os.WriteFile(path, []byte(body), 0o600)
	require.NoError(t, err, "os.WriteFile")
	return path
}

func TestRunBadConfig(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"not json", `{`, "not valid JSON"},
		{"misspelled field", `{"side": "source", "output_dir": "o", "conection": {}}`, "conection"},
		{"password in dsn", `{"side": "cloud", "output_dir": "o", "connection": {"dsn": "u:pw@tcp(h:3306)/d"}}`, "holds a password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, "run", "--config", writeRunConfig(t, tt.body))
			if code != exitUsage || !strings.HasPrefix(stderr, "lamigrate run: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("run = %d, %q; want %d and a line containing %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

func TestRunSourceSide(t *testing.T) {
	db := mysqltest.New(t)
	_, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3})
	require.NoError(t, err, "lagen.Generate")
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	out, dest := t.TempDir(), t.TempDir()
	cfg := writeRunConfig(t, fmt.Sprintf(`{"side": "source", "output_dir": %q,
		"connection": {"dsn_env": "SRC_DSN"}, "transfer": {"url": %q},
		"archive": "la.sql.zst", "skip": ["check"], "drain": {"timeout": "10s", "interval": "100ms"}}`, out, dest))
	env := map[string]string{"SRC_DSN": db.Config().FormatDSN()}

	code, stdout, stderr := runCLI(t, env, "run", "--config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "plan for the source side") || !strings.Contains(stdout, "dump") || !strings.Contains(stdout, "estimated total") {
		t.Fatalf("run --dry-run = %d\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, env, "run", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "source side: done") {
		t.Fatalf("run = %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	journal := filepath.Join(out, "lamigrate-source.journal.json")
	if first, _, _ := strings.Cut(stderr, "\n"); first != "lamigrate: journal: "+journal || strings.Count(stderr, "journal: ") != 1 {
		t.Errorf("run's stderr does not start with the journal once:\n%s", stderr)
	}
	if locks, _ := filepath.Glob(filepath.Join(out, "lamigrate-*.lock")); len(locks) != 0 {
		t.Errorf("run left lock files: %v", locks)
	}
	// The dump's last progress line is 100% of what it wrote.
	dumpDone := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "dump: ") && strings.HasSuffix(l, " done") {
			dumpDone++
			if !strings.Contains(l, "(100%)") {
				t.Errorf("dump's last progress line = %q; want 100%% of what it wrote", l)
			}
		}
	}
	if dumpDone != 1 {
		t.Errorf("stderr has %d final dump progress lines; want 1:\n%s", dumpDone, stderr)
	}
	for _, step := range []string{"isolate", "drain", "dump", "verify", "push"} {
		if !strings.Contains(stderr, "] "+step+": done in") {
			t.Errorf("progress lacks %q done:\n%s", step, stderr)
		}
	}
	for _, f := range []string{"la.sql.zst", "la.sql.zst.manifest.json", "isolate-state.json"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("pushed folder lacks %s: %v", f, err)
		}
	}

	code, _, stderr = runCLI(t, env, "run", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "--resume") {
		t.Errorf("second run without --resume = %d, %q; want %d naming --resume", code, stderr, exitUsage)
	}

	code, stdout, _ = runCLI(t, env, "--json", "run", "--config", cfg, "--resume")
	var rep struct {
		Result string `json:"result"`
		Steps  []struct {
			Name, Status string
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Result != "done" || len(rep.Steps) != 7 {
		t.Errorf("run --resume --json = %d, %v, %+v; want a done report of 7 steps", code, err, rep)
	}
}

// pasted runs a command line the way a shell reads it and returns its
// arguments after the program name.
func pasted(t *testing.T, line string) []string {
	t.Helper()
	b, err := exec.Command("sh", "-c", "set -- "+line+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatalf("sh cannot read %q: %v", line, err)
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(args) < 2 || args[0] != "lamigrate" {
		t.Fatalf("hint %q is not a lamigrate command", line)
	}
	return args[1:]
}

// A failing step is an error line; the final line says which step failed,
// why, what was rolled back and the command that continues, which works
// when pasted (the config path has a space).
func TestRunFailureSaysHowToContinue(t *testing.T) {
	db := mysqltest.New(t)
	_, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 5})
	require.NoError(t, err, "lagen.Generate")
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	if r, err := db.DB.Exec("UPDATE qu_g_queued_jobs SET status = 'N' LIMIT 1"); err != nil {
		require.NoError(t, err, "db.DB.Exec")
	} else if n, _ := r.RowsAffected(); n != 1 {
		t.Fatalf("no job to leave pending")
	}
	dir := filepath.Join(t.TempDir(), "my migration")
	err = os.Mkdir(dir, 0o700)
	require.NoError(t, err, "os.Mkdir")
	out := filepath.Join(dir, "out")
	cfg := filepath.Join(dir, "run.json")
	body := fmt.Sprintf(`{"side": "source", "output_dir": %q, "connection": {"dsn_env": "SRC_DSN"},
		"archive": "la.sql.zst", "skip": ["check", "push"], "drain": {"timeout": "300ms", "interval": "50ms"}}`, out)
	err = os.WriteFile(cfg, []byte(body), 0o600)
	require.NoError(t, err, "os.WriteFile")
	env := map[string]string{"SRC_DSN": db.Config().FormatDSN()}

	code, stdout, stderr := runCLI(t, env, "run", "--config", cfg)
	resume := "lamigrate run --config '" + cfg + "' --resume"
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != exitFailure {
		t.Fatalf("run = %d; want %d\n%s", code, exitFailure, stderr)
	}
	if !strings.Contains(stderr, "lamigrate: error: [") || !strings.Contains(stderr, "] drain failed after ") || strings.Contains(stderr, "warning: [3/6] drain failed") {
		t.Errorf("the failed step is not an error line:\n%s", stderr)
	}
	for _, want := range []string{"lamigrate run: step drain failed: timed out", "; rolled back: isolate;", "; fix the cause, then continue with: " + resume} {
		if !strings.Contains(last, want) {
			t.Errorf("last line = %q; want it to contain %q", last, want)
		}
	}
	if !strings.HasSuffix(last, resume) || strings.Contains(stderr, "FILE") {
		t.Errorf("last line = %q; want it to end with %q", last, resume)
	}
	if !strings.Contains(stdout, "continue with: "+resume+"\n") {
		t.Errorf("report lacks the real resume command:\n%s", stdout)
	}
	if locks, _ := filepath.Glob(filepath.Join(out, "lamigrate-*.lock")); len(locks) != 0 {
		t.Errorf("failed run left lock files: %v", locks)
	}

	// Fix the cause, paste the hint: the run continues and finishes.
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	code, stdout, stderr = runCLI(t, env, pasted(t, resume)...)
	if code != 0 || !strings.Contains(stdout, "source side: done") {
		t.Errorf("pasted %q = %d\n%s\n%s", resume, code, stdout, stderr)
	}
}

// The dry run of the cloud side notices that the target database does not
// exist: a blocker line in the plan, a non-zero exit, a pasteable hint.
func TestRunDryRunMissingCloudDatabase(t *testing.T) {
	db := mysqltest.New(t)
	missing := db.Config()
	missing.DBName = db.Name + "_nowhere"
	cfg := writeRunConfig(t, fmt.Sprintf(`{"side": "cloud", "output_dir": %q, "connection": {"dsn_env": "DST_DSN"}}`, t.TempDir()))
	env := map[string]string{"DST_DSN": missing.FormatDSN()}
	code, stdout, stderr := runCLI(t, env, "run", "--config", cfg, "--dry-run")
	if code != exitCheckBlockers {
		t.Errorf("run --dry-run = %d; want %d", code, exitCheckBlockers)
	}
	if !strings.Contains(stdout, "blocker: cannot connect to the target database") || !strings.Contains(stdout, missing.DBName) {
		t.Errorf("plan lacks the blocker:\n%s", stdout)
	}
	want := "lamigrate run: the dry run found 1 blocker(s): cannot connect to the target database"
	hint := "; fix them and run lamigrate run --config " + cfg + " --dry-run again\n"
	if !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, hint) {
		t.Errorf("stderr = %q; want %q ... %q", stderr, want, hint)
	}

	env["DST_DSN"] = db.Config().FormatDSN()
	if code, stdout, stderr := runCLI(t, env, "run", "--config", cfg, "--dry-run"); code != 0 || strings.Contains(stdout, "blocker") {
		t.Errorf("run --dry-run with the database there = %d\n%s\n%s", code, stdout, stderr)
	}
}

// A second run without --resume, and a resume without a journal, say the
// exact command to use.
func TestRunJournalHints(t *testing.T) {
	out := t.TempDir()
	cfg := writeRunConfig(t, fmt.Sprintf(`{"side": "source", "output_dir": %q, "connection": {"dsn": "nobody@unix(/nonexistent.sock)/x"}}`, out))
	code, _, stderr := runCLI(t, nil, "run", "--config", cfg, "--resume")
	if code != exitUsage || !strings.Contains(stderr, "to start one: lamigrate run --config "+cfg+"\n") {
		t.Errorf("resume without a journal = %d, %q", code, stderr)
	}
	err := os.WriteFile(filepath.Join(out, "lamigrate-source.journal.json"), []byte(`{"format": 1, "side": "source"}`), 0o600)
	require.NoError(t, err, "os.WriteFile")
	code, _, stderr = runCLI(t, nil, "run", "--config", cfg)
	if code != exitUsage || !strings.HasPrefix(stderr, "lamigrate run: a journal of an earlier run exists") ||
		!strings.Contains(stderr, "move it aside to start a new migration, or resume it: lamigrate run --config "+cfg+" --resume\n") {
		t.Errorf("run with a journal = %d, %q", code, stderr)
	}
}

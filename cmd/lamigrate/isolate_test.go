package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

func isolateFixture(t *testing.T) (*mysqltest.DB, string) {
	t.Helper()
	db := mysqltest.New(t)
	db.MustExec(t,
		`CREATE TABLE qu_la_mail_accounts (mailaccountid CHAR(8) PRIMARY KEY, status CHAR(1), fetch_type CHAR(1))`,
		`INSERT INTO qu_la_mail_accounts VALUES ('m1','A','I'),('m2','P','3'),('m3','I','I'),('m4','A','P')`,
		`CREATE TABLE qu_la_facebook_pages (pageid CHAR(8) PRIMARY KEY, status CHAR(1))`,
		`INSERT INTO qu_la_facebook_pages VALUES ('f1','A'),('f2','I')`,
		`CREATE TABLE qu_la_contactwidgets (contactwidgetid CHAR(8) PRIMARY KEY, status CHAR(1), rstatus CHAR(1))`,
		`INSERT INTO qu_la_contactwidgets VALUES ('w1','N','A')`,
		`CREATE TABLE qu_g_rules (ruleid CHAR(8) PRIMARY KEY, rtype CHAR(1), rstatus CHAR(1))`,
		`INSERT INTO qu_g_rules VALUES ('r1','I','E')`,
		`CREATE TABLE qu_g_settings (settingid INT PRIMARY KEY, name VARCHAR(80), value TEXT)`,
		`INSERT INTO qu_g_settings VALUES (1,'allowed_ips','10.0.0.1'),(2,'x','y')`,
		`CREATE TABLE qu_g_queued_jobs (jobid INT PRIMARY KEY, status CHAR(1))`,
	)
	return db, db.Config().FormatDSN()
}

// tableDigests digests the tables isolate changes (mysqltest.DB.Digests).
func tableDigests(t *testing.T, db *mysqltest.DB) map[string]string {
	t.Helper()
	return db.Digests(t, "qu_la_mail_accounts", "qu_la_facebook_pages", "qu_la_contactwidgets", "qu_g_rules", "qu_g_settings")
}

func sameTables(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s digest = %s; want %s", what, k, got[k], v)
		}
	}
}

func TestCLIIsolateRestore(t *testing.T) {
	db, dsn := isolateFixture(t)
	before := tableDigests(t, db)
	state := filepath.Join(t.TempDir(), "state.json")

	code, out, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "mail accounts") {
		t.Fatalf("isolate --dry-run = %d, %q, %q; want 0 and a plan", code, out, stderr)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("isolate --dry-run wrote the state file")
	}

	code, out, stderr = runCLI(t, nil, "--json", "isolate", "--dsn", dsn, "--state", state)
	if code != 0 {
		t.Fatalf("isolate = %d, %q; want 0", code, stderr)
	}
	var res isolate.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("isolate --json output %q: %v", out, err)
	}
	changed := int64(0)
	for _, s := range res.Sources {
		changed += s.Changed
	}
	if changed != 7 || len(res.Warnings) != 1 {
		t.Errorf("isolate --json changed %d rows with warnings %q; want 7 and one warning (twitter)", changed, res.Warnings)
	}
	if !strings.Contains(stderr, "qu_la_twitter_accounts does not exist") {
		t.Errorf("isolate stderr = %q; want a warning about the missing twitter table", stderr)
	}

	code, out, stderr = runCLI(t, nil, "restore", "--dsn", dsn, "--state", state)
	if code != 0 || !strings.Contains(out, "2 restored") {
		t.Fatalf("restore = %d, %q, %q; want 0 and counts", code, out, stderr)
	}
	sameTables(t, "after restore", tableDigests(t, db), before)

	// A conflict: restore reports it and exits 1.
	if code, _, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state); code != 0 {
		t.Fatalf("isolate again = %d, %q", code, stderr)
	}
	db.MustExec(t, "UPDATE qu_la_facebook_pages SET status = 'X' WHERE pageid = 'f1'")
	code, out, stderr = runCLI(t, nil, "restore", "--dsn", dsn, "--state", state)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != exitFailure || !strings.Contains(out, `conflict: qu_la_facebook_pages."f1" is "X"`) ||
		!strings.HasPrefix(lines[len(lines)-1], "lamigrate restore: 1 conflicts left alone") {
		t.Errorf("restore with a conflict = %d, %q, %q; want 1, the conflict listed, one error line", code, out, stderr)
	}
}

func TestCLIIsolateErrors(t *testing.T) {
	_, dsn := isolateFixture(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "p.json")
	os.WriteFile(bad, []byte(`{"sources":[{"name":"fb","table":"t","key":"id","column":"c","active_where":"c = 'A","write":"I"}]}`), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no state", []string{"isolate", "--dsn", dsn}, exitUsage, "missing flags: --state"},
		{"restore no state", []string{"restore", "--dsn", dsn}, exitUsage, "missing flags: --state"},
		{"bad profile", []string{"isolate", "--dsn", dsn, "--state", filepath.Join(dir, "s"), "--profile", bad}, exitUsage, `source "fb": active_where: unclosed`},
		{"web flags", []string{"isolate", "--dsn", dsn, "--state", filepath.Join(dir, "s"), "--web-stop", "x"}, exitUsage, "--web-start"},
		{"restore without a state file", []string{"restore", "--dsn", dsn, "--state", filepath.Join(dir, "none.json")}, exitFailure, "no such file"},
		{"drain bad interval", []string{"drain", "--dsn", dsn, "--interval", "0s"}, exitUsage, "must be positive"},
		{"drain bad query", []string{"drain", "--dsn", dsn, "--query", "SELECT 1; SELECT 2"}, exitUsage, "';'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && tt.code != exitUsage {
				t.Errorf("lamigrate %v = %d, %q; want %d and %q on one line", tt.args, code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestCLIDrain(t *testing.T) {
	db, dsn := isolateFixture(t)
	code, out, stderr := runCLI(t, nil, "--json", "drain", "--dsn", dsn, "--interval", "10ms")
	if code != 0 || !strings.Contains(out, `"remaining": 0`) {
		t.Errorf("drain on an empty queue = %d, %q, %q; want 0 and remaining 0", code, out, stderr)
	}
	db.MustExec(t, "INSERT INTO qu_g_queued_jobs VALUES (1,'P'),(2,'F')")
	code, _, stderr = runCLI(t, nil, "drain", "--dsn", dsn, "--interval", "5ms", "--timeout", "30ms")
	if code != exitFailure || !strings.Contains(stderr, "1 background jobs still pending") || !strings.Contains(stderr, "drain: 1 background jobs pending") {
		t.Errorf("drain with a pending job = %d, %q; want 1 and the remaining count", code, stderr)
	}
}

// TestCLIHelperProcess is the lamigrate child process of the kill test.
func TestCLIHelperProcess(t *testing.T) {
	if os.Getenv("LAMIGRATE_HELPER_PROCESS") != "1" {
		return
	}
	var args []string
	json.Unmarshal([]byte(os.Getenv("LAMIGRATE_HELPER_ARGS")), &args)
	os.Exit(run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// The process is killed (SIGKILL) between two sources; restore returns the
// database to exactly what it was.
func TestCLIIsolateKilled(t *testing.T) {
	db, dsn := isolateFixture(t)
	before := tableDigests(t, db)
	state := filepath.Join(t.TempDir(), "state.json")

	// Hold the facebook page locked so isolate stops after the mail sources.
	tx, err := db.BeginTx(context.Background(), nil)
	require.NoError(t, err, "a transaction to lock the facebook pages")
	defer tx.Rollback() // before the database is dropped
	_, err = tx.Exec("SELECT * FROM qu_la_facebook_pages FOR UPDATE")
	require.NoError(t, err, "locking the facebook pages")

	args, _ := json.Marshal([]string{"isolate", "--dsn", dsn, "--state", state})
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), "LAMIGRATE_HELPER_PROCESS=1", "LAMIGRATE_HELPER_ARGS="+string(args))
	require.NoError(t, cmd.Start(), "starting the isolate child process")
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// Wait until the state file shows both mail sources done; the process
	// then blocks on the locked facebook page.
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := isolate.ReadState(state)
		if err == nil && len(s.Sources) == 2 && s.Sources[1].Status == isolate.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("isolate did not reach the facebook source: %v %+v", err, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	tx.Rollback()

	if sameAs := tableDigests(t, db); sameAs["qu_la_mail_accounts"] == before["qu_la_mail_accounts"] {
		t.Fatalf("mail accounts unchanged after the killed isolate; the test did not kill it mid-way")
	}
	code, _, stderr := runCLI(t, nil, "restore", "--dsn", dsn, "--state", state)
	if code != 0 {
		t.Fatalf("restore after kill = %d, %q", code, stderr)
	}
	sameTables(t, "after kill and restore", tableDigests(t, db), before)
}

// Ctrl-C while isolate waits on a locked source: it restores what it did
// and exits 130; with --keep it leaves it isolated.
func TestCLIIsolateInterrupted(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "restore", true: "keep"}[keep], func(t *testing.T) {
			db, dsn := isolateFixture(t)
			before := tableDigests(t, db)
			state := filepath.Join(t.TempDir(), "state.json")
			tx, err := db.BeginTx(context.Background(), nil)
			require.NoError(t, err, "a transaction to lock the facebook pages")
			defer tx.Rollback()
			_, err = tx.Exec("SELECT * FROM qu_la_facebook_pages FOR UPDATE")
			require.NoError(t, err, "locking the facebook pages")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type out struct {
				code           int
				stdout, stderr string
			}
			done := make(chan out, 1)
			args := []string{"isolate", "--dsn", dsn, "--state", state}
			if keep {
				args = append(args, "--keep")
			}
			go func() {
				c, o, e := runCLICtx(t, ctx, nil, args...)
				done <- out{c, o, e}
			}()
			deadline := time.Now().Add(30 * time.Second)
			for {
				s, err := isolate.ReadState(state)
				if err == nil && len(s.Sources) == 2 && s.Sources[1].Status == isolate.Done {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("isolate did not reach the facebook source")
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel() // Ctrl-C
			r := <-done
			tx.Rollback()
			if r.code != exitInterrupted {
				t.Errorf("interrupted isolate exit = %d (%q); want %d", r.code, r.stderr, exitInterrupted)
			}
			after := tableDigests(t, db)
			if keep {
				if after["qu_la_mail_accounts"] == before["qu_la_mail_accounts"] || !strings.Contains(r.stderr, "kept") {
					t.Errorf("isolate --keep interrupted: mail accounts restored or no 'kept' in %q; want them left isolated", r.stderr)
				}
				return
			}
			if !strings.Contains(r.stderr, "switched back on what this run changed") {
				t.Errorf("interrupted isolate stderr = %q; want 'switched back on what this run changed'", r.stderr)
			}
			sameTables(t, "after Ctrl-C", after, before)
		})
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLICtx(t, context.Background(), env, args...)
}

func runCLICtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(ctx, args, strings.NewReader(""), &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestAppHelpListsEveryVerb(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("lamigrate --help exit = %d; want 0", code)
	}
	for _, verb := range []string{"check", "isolate", "restore", "drain", "dump", "verify", "push", "pull", "import", "adjust", "run"} {
		if !strings.Contains(out, "  "+verb+" ") {
			t.Errorf("lamigrate --help does not list %q:\n%s", verb, out)
		}
	}
}

func TestAppVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--version")
	if code != 0 || strings.TrimSpace(out) != version {
		t.Errorf("lamigrate --version = %d, %q; want 0, %q", code, out, version)
	}
}

func TestAppUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown verb", []string{"frobnicate"}, "unexpected argument frobnicate"},
		{"missing required flag", []string{"dump", "--dsn", "x"}, "missing flags: --output"},
		{"bad duration", []string{"drain", "--dsn", "x", "--timeout", "soon"}, "--timeout"},
		{"password flag does not exist", []string{"check", "--password", "secret"}, "unknown flag --password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != exitUsage {
				t.Errorf("lamigrate %v exit = %d; want %d", tt.args, code, exitUsage)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("lamigrate %v stderr = %q; want it to contain %q", tt.args, stderr, tt.want)
			}
		})
	}
}

func TestConnFlagsNeedADatabase(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	_, err := (&connFlags{}).resolve(e)
	if exitStatus(err) != exitUsage || !strings.Contains(fmt.Sprint(err), "no database given") {
		t.Errorf("resolve(no sources) = %v (exit %d); want a usage error saying no database given", err, exitStatus(err))
	}
	e.getenv = func(k string) string {
		return map[string]string{"LAMIGRATE_DSN": "u@tcp(h:1)/fromenv", "MYSQL_PWD": "pw"}[k]
	}
	r, err := (&connFlags{}).resolve(e)
	if err != nil || r.Config.DBName != "fromenv" || r.Config.Passwd != "pw" {
		t.Errorf("resolve(LAMIGRATE_DSN, MYSQL_PWD) = %+v, %v; want database fromenv, password pw", r, err)
	}
	_, _, err = (&connFlags{DSN: "u@tcp(h:1)/"}).open(context.Background(), e)
	if exitStatus(err) != exitUsage || !strings.Contains(fmt.Sprint(err), "no database name") {
		t.Errorf("open(dsn without database) = %v; want a usage error", err)
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), exitFailure},
		{fmt.Errorf("dump: %w", context.Canceled), exitInterrupted},
		{usageErr("bad"), exitUsage},
		{notBuilt("x"), exitNotBuilt},
		{withStatus(5, errors.New("blockers")), 5},
	}
	for _, tt := range tests {
		if got := exitStatus(tt.err); got != tt.want {
			t.Errorf("exitStatus(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb\r\n  c  "); got != "a; b; c" {
		t.Errorf("oneLine = %q; want %q", got, "a; b; c")
	}
}

func TestUIFailJSON(t *testing.T) {
	var out, errb bytes.Buffer
	u := newUI(&out, &errb, true, false)
	code := u.fail("dump", usageErr("bad\nthing"))
	if code != exitUsage || !strings.Contains(errb.String(), `"event":"error"`) || !strings.Contains(errb.String(), `"message":"bad; thing"`) {
		t.Errorf("fail with --json = %d, %q", code, errb.String())
	}
}

func TestTaskPlainLines(t *testing.T) {
	var out, errb bytes.Buffer
	u := newUI(&out, &errb, false, false)
	tk := u.task("dump", 100, true)
	tk.Update(10, 0, "early")
	if errb.Len() != 0 {
		t.Errorf("first update right after start printed %q; want nothing (no meaningful rate yet)", errb.String())
	}
	tk.every = 0
	tk.Update(150, 0, "past the estimate")
	if line := errb.String(); !strings.Contains(line, "dump: 150 B ") || strings.Contains(line, "%") {
		t.Errorf("progress line = %q; want the amount and no percentage past the estimate", line)
	}
}

// The last line of work that finished shows what was done as the whole,
// whatever the estimate said; of work that failed, the true figures. JSON
// lines keep the true figures.
// A task that fails before any progress leaves no line: the error says it
// all (an import refused before it read a byte, a verify of a missing file).
func TestTaskFailedBeforeWorkIsSilent(t *testing.T) {
	for _, json := range []bool{false, true} {
		var out, errb bytes.Buffer
		u := newUI(&out, &errb, json, false)
		u.task("import", 1000, true).Finish("failed")
		if errb.Len() != 0 {
			t.Errorf("json %v: a task failed before any work printed %q; want nothing", json, errb.String())
		}
		tk := u.task("import", 1000, true)
		tk.Update(10, 1000, "")
		tk.Finish("failed")
		if !strings.Contains(errb.String(), "10") {
			t.Errorf("json %v: a task failed after some work printed %q; want its figures", json, errb.String())
		}
	}
}

func TestTaskEndLines(t *testing.T) {
	tests := []struct {
		name        string
		total, done int64
		bytes       bool
		end         func(*task)
		want        string
		notWant     string
	}{
		{"complete below the estimate", 45 << 20, 30 << 20, true, func(t *task) { t.Complete("done") }, "dump: 30.0 MiB / 30.0 MiB (100%)", "45"},
		{"complete past the estimate", 100, 150, true, func(t *task) { t.Complete("done") }, "dump: 150 B / 150 B (100%)", ""},
		{"finish means complete", 45 << 20, 30 << 20, true, func(t *task) { t.Finish("12 tables") }, "dump: 30.0 MiB / 30.0 MiB (100%)", "66%"},
		{"finish failed keeps the truth", 45 << 20, 30 << 20, true, func(t *task) { t.Finish("failed") }, "dump: 30.0 MiB / 45.0 MiB (67%)", "100%"},
		{"stop keeps the truth", 200, 50, false, func(t *task) { t.Stop("skipped") }, "dump: 50 / 200 (25%)", "B"},
		{"items are not bytes", 0, 22840, false, func(t *task) { t.Complete("done") }, "dump: 22840 / 22840 (100%)", "KiB"},
		{"nothing done shows no percentage", 500, 0, true, func(t *task) { t.Complete("already there") }, "dump: 0 B ", "%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			u := newUI(&out, &errb, false, false)
			tk := u.task("dump", 0, tt.bytes)
			tk.Update(tt.done, tt.total, "")
			tt.end(tk)
			line := errb.String()
			if !strings.Contains(line, tt.want) || (tt.notWant != "" && strings.Contains(line, tt.notWant)) {
				t.Errorf("last line = %q; want %q and not %q", line, tt.want, tt.notWant)
			}

			errb.Reset()
			u = newUI(&out, &errb, true, false)
			tk = u.task("dump", 0, tt.bytes)
			tk.Update(tt.done, tt.total, "")
			tt.end(tk)
			var ev struct {
				Event       string
				Done, Total int64
				Unit        string
			}
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil || ev.Event != "done" || ev.Done != tt.done || ev.Total != tt.total {
				t.Errorf("JSON last line = %q (%v); want done %d, total %d (the true figures)", errb.String(), err, tt.done, tt.total)
			}
			if want := map[bool]string{true: "bytes", false: "items"}[tt.bytes]; ev.Unit != want {
				t.Errorf("JSON unit = %q; want %q", ev.Unit, want)
			}
		})
	}
}

// Every verb's error line says "lamigrate VERB: " once and the message
// without the prefixes that repeat the verb or its library.
func TestErrorLine(t *testing.T) {
	tests := []struct {
		verb, err, want string
	}{
		{"drain", "isolate: drain: timed out (2 jobs still pending); is the jobs.php cron still running? Wait longer with --timeout",
			"lamigrate drain: timed out (2 jobs still pending); is the jobs.php cron still running? Wait longer with --timeout"},
		{"dump", "dump: reading table `t`: Error 1146: no such table", "lamigrate dump: reading table `t`: Error 1146: no such table"},
		{"dump", "database \"x\" does not exist on socket /s (database from --dsn): check the database name", "lamigrate dump: database \"x\" does not exist on socket /s (database from --dsn): check the database name"},
		{"verify", "verify: archive is incomplete", "lamigrate verify: archive is incomplete"},
		{"verify", "codec: wrong passphrase", "lamigrate verify: codec: wrong passphrase"},
		{"verify", "dbconn: cannot read --defaults-file: open x: no such file", "lamigrate verify: cannot read --defaults-file: open x: no such file"},
		{"run", "migrate: dbconn: x line 3: password has no value", "lamigrate run: x line 3: password has no value"},
		{"push", "transfer: sftp: dial tcp 127.0.0.1:1: connection refused", "lamigrate push: sftp: dial tcp 127.0.0.1:1: connection refused"},
		{"pull", "transfer: open /x: no such file", "lamigrate pull: open /x: no such file"},
		{"import", "load: table `a`: Error 1050 (42S01): Table 'a' already exists", "lamigrate import: table `a`: Error 1050 (42S01): Table 'a' already exists"},
		{"isolate", "isolate: cron: crontab -l: exec: \"crontab\": executable file not found in $PATH", "lamigrate isolate: cron: crontab -l: exec: \"crontab\": executable file not found in $PATH"},
		{"restore", "isolate: restore: open s.json: no such file or directory", "lamigrate restore: open s.json: no such file or directory"},
		{"check", "2 blocker(s) and 1 warning(s): fix the blockers before migrating", "lamigrate check: 2 blocker(s) and 1 warning(s): fix the blockers before migrating"},
		{"check", "migrate: check: server version: x", "lamigrate check: server version: x"},
		{"adjust", "migrate: adjust: parameter domain has no value", "lamigrate adjust: parameter domain has no value"},
		{"run", "migrate: config: side is missing", "lamigrate run: config: side is missing"},
		{"run", "step import failed: Error 1050", "lamigrate run: step import failed: Error 1050"},
		{"dump", "dump: dump: twice", "lamigrate dump: twice"},
		{"dump", "dump: ", "lamigrate dump: dump:"},
		{"", "unexpected argument x", "lamigrate: unexpected argument x"},
		{"isolate", "isolate: first\nsecond", "lamigrate isolate: first; second"},
	}
	for _, tt := range tests {
		if got := errorLine(tt.verb, tt.err); got != tt.want {
			t.Errorf("errorLine(%q, %q) = %q; want %q", tt.verb, tt.err, got, tt.want)
		}
	}
}

func TestUIFailLine(t *testing.T) {
	tests := []struct {
		name, command string
		err           error
		want          string
		code          int
	}{
		{"library prefix dropped", "drain", errors.New("isolate: drain: timed out"), "lamigrate drain: timed out\n", exitFailure},
		{"usage keeps its status", "run", usageErr("--redo only makes sense with --resume"), "lamigrate run: --redo only makes sense with --resume\n", exitUsage},
		{"interrupted", "dump <flags>", &interruptedError{err: fmt.Errorf("dump: reading `t`: %w", context.Canceled), verb: "dump <flags>"}, "lamigrate dump: interrupted: reading `t`; nothing was left looking complete; run the same command again (a dump starts over: it is one snapshot)\n", exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := newUI(&out, &errb, false, false).fail(tt.command, tt.err)
			if code != tt.code || errb.String() != tt.want {
				t.Errorf("fail(%q, %v) = %d, %q; want %d, %q", tt.command, tt.err, code, errb.String(), tt.code, tt.want)
			}
		})
	}
}

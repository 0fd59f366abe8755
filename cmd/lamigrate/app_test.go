package main

import (
	"bytes"
	"context"
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
	e := &env{ctx: context.Background(), getenv: func(string) string { return "" }}
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
	_, _, err = (&connFlags{DSN: "u@tcp(h:1)/"}).open(e)
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
	tk.Update(150, 0, "past the estimate")
	tk.Finish("done")
	line := errb.String()
	if !strings.Contains(line, "dump: 150 B") || !strings.Contains(line, " in ") || strings.Contains(line, "%") {
		t.Errorf("Finish line = %q; want amount, duration and no percentage past the estimate", line)
	}
}

func TestTaskCompleteBelowEstimate(t *testing.T) {
	var out, errb bytes.Buffer
	u := newUI(&out, &errb, false, false)
	tk := u.task("dump", 0, true)
	tk.Update(700, 1000, "estimate from the server")
	tk.Complete("22 tables")
	if line := errb.String(); !strings.Contains(line, "700 B / 700 B (100%)") || !strings.Contains(line, "22 tables") {
		t.Errorf("Complete line = %q; want 100%% of what was done", line)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func writeRunConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
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
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3}); err != nil {
		t.Fatal(err)
	}
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

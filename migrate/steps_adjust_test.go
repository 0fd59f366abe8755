package migrate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestRunAdjustDocExample: run's adjust step applies the documented
// example with its params from the configuration, and without them says
// what to add there.
func TestRunAdjustDocExample(t *testing.T) {
	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	rules, err := filepath.Abs(filepath.Join("..", "examples", "adjust-rules.json"))
	require.NoError(t, err, "the absolute path of the rules")
	run := func(params map[string]string) error {
		cfg := Config{Side: CloudSide, OutputDir: t.TempDir(), Connection: Connection{DSNEnv: "DST_DSN"},
			Adjust: AdjustOptions{Rules: rules, Params: params},
			Skip:   []string{StepPull, StepVerify, StepImport, StepVerifyDB, StepRestore}}
		p, err := NewPlan(cfg)
		require.NoError(t, err, "NewPlan of a valid config")
		_, err = p.Run(context.Background(), RunOptions{Getenv: envOf(map[string]string{"DST_DSN": dsnOf(db)})})
		return err
	}
	err = run(nil)
	want := `adjust: parameter domain of the rules has no value (rules ` + rules + `): add to the configuration's adjust section: "params": {"domain": "VALUE"}`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("run without adjust.params = %v; want it to contain %q", err, want)
	}
	if err := run(map[string]string{"domain": "help.example.com"}); err != nil {
		t.Fatalf("run with adjust.params: %v", err)
	}
	var v string
	if err := db.QueryRow("SELECT value FROM qu_g_settings WHERE name = 'base_url'").Scan(&v); err != nil || v != "https://help.example.com/" {
		t.Errorf("after run, base_url = %q, %v; want https://help.example.com/", v, err)
	}
}

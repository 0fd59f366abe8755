package migrate

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestDryRun(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE qu_la_messages (id INT PRIMARY KEY, body LONGTEXT)",
		"INSERT INTO qu_la_messages SELECT seq, REPEAT('lorem ipsum ', 200) FROM seq_1_to_2000")
	cfg := Config{Side: SourceSide, OutputDir: t.TempDir(), Connection: Connection{DSNEnv: "DSN"}, Skip: []string{StepPush}}
	p, err := NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.DryRun(context.Background(), RunOptions{Getenv: envOf(map[string]string{"DSN": dsnOf(db)})})
	if err != nil {
		t.Fatalf("DryRun = %v", err)
	}
	if d.JournalExists || len(d.Steps) != 7 {
		t.Fatalf("DryRun = %+v; want 7 steps and no journal", d)
	}
	dumpStep := d.Steps[4]
	if dumpStep.Name != StepDump || dumpStep.EstimateSeconds < 0 || !strings.Contains(dumpStep.Basis, "MB/s") {
		t.Errorf("dump step = %+v; want an estimate at a stated rate", dumpStep)
	}
	if d.Steps[6].Status != Skipped {
		t.Errorf("push status = %s; want skipped by the config", d.Steps[6].Status)
	}
	if !strings.Contains(d.Basis, "KiB") && !strings.Contains(d.Basis, "MiB") {
		t.Errorf("basis = %q; want the size it rests on", d.Basis)
	}
	if _, err := os.Stat(JournalPath(cfg)); !os.IsNotExist(err) {
		t.Errorf("DryRun wrote a journal: %v", err)
	}

	cloud := Config{Side: CloudSide, OutputDir: t.TempDir(), Connection: Connection{DSN: "u@/x"}}
	cp, _ := NewPlan(cloud)
	d, err = cp.DryRun(context.Background(), RunOptions{})
	if err != nil || !strings.Contains(d.Steps[2].Basis, "size unknown") {
		t.Errorf("cloud DryRun without a manifest = %+v, %v; want import's size unknown", d, err)
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/migrate"
)

func TestRunAddsTheStep(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "source.json")
	os.WriteFile(cfg, []byte(`{"side": "source", "output_dir": "out",
		"connection": {"dsn": "nobody@unix(/nonexistent)/db"},
		"skip": ["check", "isolate", "drain", "dump", "verify", "push"]}`), 0o600)
	if err := run(cfg, false); err != nil {
		t.Fatalf("run = %v", err)
	}
	j, err := migrate.ReadJournal(filepath.Join(dir, "out", "lamigrate-source.journal.json"))
	if err != nil {
		require.NoError(t, err, "migrate.ReadJournal")
	}
	r := j.Step("handover")
	if r == nil || r.Status != migrate.Skipped || r.Note != "no dump in this run's journal" {
		t.Errorf("journal handover = %+v; want skipped for want of a dump", r)
	}
}

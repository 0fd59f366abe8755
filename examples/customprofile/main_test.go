package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

func TestRun(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE custom_webhooks (webhookid INT PRIMARY KEY, enabled CHAR(1))",
		"INSERT INTO custom_webhooks VALUES (1,'Y'),(2,'N')")
	out := filepath.Join(t.TempDir(), "profile.json")
	if err := run(db.Config().FormatDSN(), out); err != nil {
		t.Fatalf("run = %v", err)
	}
	p, err := isolate.LoadProfile(out)
	if err != nil {
		t.Fatalf("LoadProfile(written profile) = %v", err)
	}
	if s := p.Source("webhooks"); s == nil || s.Write != "N" {
		t.Errorf("written profile's webhooks source = %+v; want it with write N", s)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM custom_webhooks WHERE enabled = 'Y'").Scan(&n); err != nil || n != 1 {
		t.Errorf("active webhooks after the dry run = %d, %v; want 1 (nothing changed)", n, err)
	}
	os.Remove(filepath.Join(os.TempDir(), "customprofile-dry-run.json"))
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestRun(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO t VALUES (1,'a'),(2,NULL)")
	out := filepath.Join(t.TempDir(), "d.sql.zst")
	if err := run(db.Config().FormatDSN(), out); err != nil {
		t.Fatalf("run = %v", err)
	}
	for _, p := range []string{out, out + ".manifest.json"} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v; want a non-empty file", p, err)
		}
	}
}

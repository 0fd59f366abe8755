package load

import (
	"bytes"
	"context"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestLoadForceReplacesTheArchivesTables: Force drops and re-creates each
// table, view, trigger and routine the archive holds, and leaves the
// target's other tables alone.
func TestLoadForceReplacesTheArchivesTables(t *testing.T) {
	src := mysqltest.New(t)
	source(t, src, true)
	dump := mysqldump(t, src, "--routines")
	want := mysqltest.New(t)
	stockLoad(t, want, dump)

	target := mysqltest.New(t)
	target.MustExec(t,
		// A table of the archive with other columns and rows, a view of the
		// archive's name, and a table the archive does not hold.
		"CREATE TABLE qu_g_users (id INT PRIMARY KEY, other TEXT)",
		"INSERT INTO qu_g_users VALUES (1, 'stale')",
		"CREATE VIEW a_view AS SELECT 1 AS stale",
		"CREATE TABLE keep_me (id INT PRIMARY KEY)",
		"INSERT INTO keep_me VALUES (7)",
	)
	if _, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{}); err == nil {
		t.Fatal("Load into a non-empty database without Force = nil; want ErrTargetNotEmpty")
	}
	if _, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{Force: true, Threads: 2}); err != nil {
		t.Fatalf("Load with Force = %v; want the archive's tables replaced", err)
	}
	var keep int
	if err := target.QueryRow("SELECT id FROM keep_me").Scan(&keep); err != nil || keep != 7 {
		t.Errorf("keep_me after a forced load = %d, %v; want its row 7 untouched", keep, err)
	}
	target.MustExec(t, "DROP TABLE keep_me")
	compare(t, snapshot(t, target), snapshot(t, want))
}

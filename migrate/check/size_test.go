package check

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// TestCheckEstimateStableAfterBulkLoad: right after a bulk load InnoDB's
// DATA_LENGTH lags behind (it was a twentieth of the truth for the
// attachments table); the estimate must not follow it. It is compared
// before and after ANALYZE TABLE (fine on a test database, not done by
// check on a customer's) and with the real dump.
func TestCheckEstimateStableAfterBulkLoad(t *testing.T) {
	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 24 << 20, Seed: 5}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	cfg := Config{Cron: &isolate.CronOptions{Files: []string{}}}
	first, err := Run(context.Background(), db.DB, cfg)
	require.NoError(t, err, "the first check")
	var names string
	for _, tf := range first.Facts.Tables {
		if tf.Type == "BASE TABLE" {
			if names != "" {
				names += ", "
			}
			names += "`" + tf.Name + "`"
		}
	}
	db.MustExec(t, "ANALYZE TABLE "+names)
	second, err := Run(context.Background(), db.DB, cfg)
	require.NoError(t, err, "the check after ANALYZE TABLE")
	res, err := dump.File(context.Background(), db.DB, filepath.Join(t.TempDir(), "d.sql.gz"), dump.Config{Database: db.Name}, dump.Options{})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	realSQL, realArchive := float64(res.SQL.Bytes), float64(res.File.Size)
	for i, rep := range []*Report{first, second} {
		s := rep.Facts.Size
		t.Logf("check %d: SQL %d, archive %d; dump: SQL %.0f, archive %.0f", i+1, s.SQLBytes, s.ArchiveBytes, realSQL, realArchive)
		if r := float64(s.SQLBytes) / realSQL; r < 0.8 || r > 1.25 {
			t.Errorf("check %d: SQL estimate %d is %.2f× the dump's %.0f; want within 0.8–1.25×", i+1, s.SQLBytes, r, realSQL)
		}
		if r := float64(s.ArchiveBytes) / realArchive; r < 0.7 || r > 1.5 {
			t.Errorf("check %d: archive estimate %d is %.2f× the dump's %.0f; want within 0.7–1.5×", i+1, s.ArchiveBytes, r, realArchive)
		}
	}
	a, b := float64(first.Facts.Size.ArchiveBytes), float64(second.Facts.Size.ArchiveBytes)
	if r := a / b; r < 0.85 || r > 1.15 {
		t.Errorf("archive estimate %0.f before ANALYZE, %.0f after: %.2f×; want within 15%%", a, b, r)
	}
}

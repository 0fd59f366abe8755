package check

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// TestCutoverFromCopies: the copies of the archive written last are found
// by name, the second copy's journal gives its dump's duration, and the
// cutover is the second copy's delta again for every interval as long as
// the one between the copies; one copy gives no rate; a damaged manifest
// is a warning, not an error.
func TestCutoverFromCopies(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	write := func(name string, m *manifest.Manifest, mtime time.Time) {
		m.Format = manifest.FormatVersion
		p := filepath.Join(dir, name)
		require.NoError(t, manifest.Write(p, m), "writing %s", name)
		require.NoError(t, os.Chtimes(p, mtime, mtime), "dating %s", name)
	}
	full := &manifest.Manifest{Created: t0, SQL: manifest.Stream{Bytes: 1000}, File: manifest.File{Size: 400},
		Tables: []manifest.Table{{Name: "a", Rows: 60}, {Name: "b", Rows: 40}}}
	delta := &manifest.Manifest{Created: t0.Add(100 * time.Second), SQL: manifest.Stream{Bytes: 50}, File: manifest.File{Size: 20},
		Tables: []manifest.Table{{Name: "a", Rows: 70}, {Name: "b", Rows: 40}},
		Delta: &manifest.Delta{Base: manifest.Base{Created: t0}, Tables: []manifest.DeltaTable{
			{Name: "a", Action: manifest.DeltaRows, Deleted: 3, Replaced: 7}}}}
	write("old.copy-1.sql.gz.manifest.json", &manifest.Manifest{Created: t0.Add(-time.Hour), SQL: manifest.Stream{Bytes: 9}}, t0.Add(-time.Hour))
	write("la.copy-1.sql.zst.manifest.json", full, t0)
	write("la.copy-2.sql.zst.manifest.json", delta, t0.Add(100*time.Second))
	write("la.sql.zst.manifest.json", &manifest.Manifest{Created: t0}, t0.Add(time.Hour))
	write("la.cutover.sql.zst.manifest.json", &manifest.Manifest{Created: t0}, t0.Add(time.Hour))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lamigrate-source-copy-2.journal.json"),
		[]byte(`{"format": 1, "steps": [{"name": "check", "status": "done", "seconds": 3}, {"name": "dump", "status": "done", "seconds": 12.5}]}`), 0o600),
		"writing copy 2's journal")

	paths, err := FindCopies(dir)
	require.NoError(t, err, "FindCopies")
	require.Equal(t, []string{filepath.Join(dir, "la.copy-1.sql.zst.manifest.json"), filepath.Join(dir, "la.copy-2.sql.zst.manifest.json")}, paths,
		"the copies of the archive written last, in order")
	copies, err := ReadCopies(paths)
	require.NoError(t, err, "ReadCopies")
	assert.Equal(t, []float64{0, 12.5}, []float64{copies[0].DumpSeconds, copies[1].DumpSeconds}, "the dumps' durations from the journals")

	rates := CutoverAssumptions{DumpMBps: 50, ImportMBps: 40, VerifyMBps: 100, LinkMbps: 8}
	e := EstimateCutover(copies, delta.Created.Add(300*time.Second), rates)
	require.True(t, e.RateKnown, "two copies measure a rate")
	assert.Equal(t, 2, e.Copy, "the cutover starts from copy 2")
	assert.Equal(t, int64(10), e.MeasuredRows, "rows the delta changed")
	assert.Equal(t, 100.0, e.IntervalSeconds, "between the copies")
	assert.Equal(t, 300.0, e.SinceSeconds, "since copy 2")
	assert.Equal(t, [3]int64{30, 150, 60}, [3]int64{e.Rows, e.SQLBytes, e.ArchiveBytes}, "the delta three intervals make")
	assert.Equal(t, int64(1100), e.FullSQLBytes, "copy 1 grown by the rows since")
	assert.True(t, e.DumpFromJournal, "the digest pass from copy 2's journal")
	assert.InDelta(t, 12.5, e.DumpSeconds, 0.01, "the digest pass as copy 2's dump took")
	assert.InDelta(t, 60*8/8e6, e.TransferSeconds, 1e-3, "the delta's archive over the link")
	assert.InDelta(t, e.DumpSeconds+e.TransferSeconds+e.ImportSeconds+e.VerifySeconds, e.TotalSeconds, 0.01, "the total adds the steps")

	early := EstimateCutover(copies, delta.Created.Add(-time.Minute), rates)
	assert.Zero(t, early.Rows, "a cutover before the last copy carries nothing more")

	one := EstimateCutover(copies[:1], t0.Add(time.Hour), rates)
	assert.False(t, one.RateKnown, "one copy measures no rate")
	assert.Equal(t, int64(1000), one.FullSQLBytes, "one copy: the full size")
	assert.Contains(t, one.Summary(), "the change rate is unknown", "one copy's summary")

	// check finds them in its output folder; a damaged manifest is a warning.
	db := mysqltest.New(t)
	cfg := Config{OutDir: dir, CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1,
		Now: func() time.Time { return delta.Created.Add(300 * time.Second) }}
	rep, err := Run(context.Background(), db.DB, cfg)
	require.NoError(t, err, "check with the copies")
	require.NotNil(t, rep.Facts.Downtime.Cutover, "check's cutover estimate")
	assert.Equal(t, int64(30), rep.Facts.Downtime.Cutover.Rows, "check's projected rows")
	require.NoError(t, os.WriteFile(paths[1], []byte("{"), 0o600), "damaging copy 2's manifest")
	rep, err = Run(context.Background(), db.DB, cfg)
	require.NoError(t, err, "check with a damaged manifest")
	got := rep.Find("downtime_cutover", dir)
	require.Len(t, got, 1, "the cutover finding")
	assert.Equal(t, Warning, got[0].Severity, "a damaged manifest")
	assert.Contains(t, got[0].Message, "la.copy-2.sql.zst.manifest.json", "the warning names the manifest")
}

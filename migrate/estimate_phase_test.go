package migrate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/migrate/check"
)

// dryRunAt is cfg's dry run with the clock at at.
func dryRunAt(t *testing.T, cfg Config, env map[string]string, at time.Time) *DryRun {
	t.Helper()
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan(%s %s)", cfg.Side, cfg.Phase)
	d, err := p.DryRun(context.Background(), RunOptions{Getenv: envOf(env), Now: func() time.Time { return at }})
	require.NoError(t, err, "dry run of the %s side, phase %s", cfg.Side, cfg.Phase)
	return d
}

func plannedStep(t *testing.T, d *DryRun, name string) PlannedStep {
	t.Helper()
	for _, s := range d.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("the %s side's dry run has no step %s", d.Side, name)
	return PlannedStep{}
}

// TestCutoverEstimateFollowsTheChangeRate: two pre-copies with a known
// number of changed rows between them; the dry run of the cutover then
// projects the delta at the rate the second copy measured (twice the
// time since it, twice its rows and bytes), the dump's digest pass as long
// as the second copy's dump took, the verify of the imported database over
// the whole database; check says the same given the output folder. With
// one copy the rate is unknown and the full size stands; a config without
// a phase keeps the whole-migration estimate.
func TestCutoverEstimateFollowsTheChangeRate(t *testing.T) {
	ps := newPhaseSetup(t, 2<<20)
	src, env, source, cloud := ps.src, ps.env, ps.source, ps.cloud
	pre, cpre := source, cloud
	pre.Phase, cpre.Phase = PhasePreCopy, PhasePreCopy
	cut, ccut := source, cloud
	cut.Phase, ccut.Phase = PhaseCutover, PhaseCutover

	runPlan(t, pre, env)
	runPlan(t, cpre, env)
	m1, err := manifest.Read(manifest.PathFor(filepath.Join(source.OutputDir, "la.copy-1.sql.zst")))
	require.NoError(t, err, "copy 1's manifest")

	// One copy: no rate yet; the cutover is estimated from the full size.
	d := dryRunAt(t, cut, env, m1.Created.Add(time.Hour))
	require.NotNil(t, d.Cutover, "the cutover estimate with one copy")
	assert.False(t, d.Cutover.RateKnown, "the rate with one copy")
	assert.Contains(t, d.Basis, "the change rate is unknown", "the dry run's basis with one copy")
	assert.Equal(t, m1.SQL.Bytes, d.Cutover.FullSQLBytes, "the whole database with one copy is copy 1")
	assert.Contains(t, plannedStep(t, d, StepDump).Basis, bytesize.Format(m1.SQL.Bytes)+" of SQL", "the dump with one copy: the full size")

	// A known number of changed rows: 20 replaced, 10 deleted, 5 new.
	var changed int64
	for _, q := range []string{
		"UPDATE qu_la_conversations SET subject = CONCAT(COALESCE(subject, ''), ' (2)') ORDER BY conversationid LIMIT 20",
		"DELETE FROM qu_la_messages ORDER BY messageid LIMIT 10",
		"INSERT INTO qu_la_contacts (contactid, firstname, dateinserted) VALUES " +
			"('~new0001', 'New', NOW()), ('~new0002', 'New', NOW()), ('~new0003', 'New', NOW()), ('~new0004', 'New', NOW()), ('~new0005', 'New', NOW())",
	} {
		res, err := src.Exec(q)
		require.NoError(t, err, "changing the source: %s", q)
		n, err := res.RowsAffected()
		require.NoError(t, err, "rows changed by %s", q)
		changed += n
	}
	require.Equal(t, int64(35), changed, "rows the changes touched")
	runPlan(t, pre, env)
	runPlan(t, cpre, env)
	m2, err := manifest.Read(manifest.PathFor(filepath.Join(source.OutputDir, "la.copy-2.sql.zst")))
	require.NoError(t, err, "copy 2's manifest")
	require.NotNil(t, m2.Delta, "copy 2 is a delta")
	interval := m2.Created.Sub(m2.Delta.Base.Created)
	require.Positive(t, interval, "time between the copies")

	for _, k := range []int64{2, 4} {
		at := m2.Created.Add(time.Duration(k) * interval)
		d := dryRunAt(t, cut, env, at)
		e := d.Cutover
		require.NotNil(t, e, "the source's cutover estimate at %d× the interval", k)
		require.True(t, e.RateKnown, "the rate with two copies")
		assert.Equal(t, 2, e.Copy, "the copy the cutover starts from")
		assert.Equal(t, changed, e.MeasuredRows, "the rows changed between the copies")
		assert.Equal(t, m2.SQL.Bytes, e.MeasuredSQLBytes, "copy 2's delta SQL")
		assert.Equal(t, m2.File.Size, e.MeasuredArchiveBytes, "copy 2's delta archive")
		assert.Equal(t, k*changed, e.Rows, "rows projected over %d× the interval", k)
		assert.InDelta(t, float64(k*m2.SQL.Bytes), float64(e.SQLBytes), 1, "SQL projected over %d× the interval", k)
		assert.InDelta(t, float64(k*m2.File.Size), float64(e.ArchiveBytes), 1, "archive projected over %d× the interval", k)
		assert.True(t, e.DumpFromJournal, "the digest pass from copy 2's journal")
		assert.Less(t, e.SQLBytes, e.FullSQLBytes, "the delta against the whole database")
		assert.Contains(t, d.Basis, "35 rows", "the dry run's basis")
		assert.Contains(t, plannedStep(t, d, StepDump).Basis, "as copy 2's dump did (its journal)", "the dump step")
		push := plannedStep(t, d, StepPush)
		assert.Contains(t, push.Basis, bytesize.Format(e.ArchiveBytes)+" archive", "the push step")
		assert.Contains(t, push.Basis, "the delta at the measured change rate", "the push step")

		cd := dryRunAt(t, ccut, env, at)
		require.NotNil(t, cd.Cutover, "the cloud's cutover estimate")
		assert.Equal(t, e.Rows, cd.Cutover.Rows, "the cloud side projects the same delta from its pulled copies")
		assert.Contains(t, plannedStep(t, cd, StepImport).Basis, bytesize.Format(e.SQLBytes)+" of SQL", "the import step")
		assert.Contains(t, plannedStep(t, cd, StepVerifyDB).Basis, "the whole database, ~"+bytesize.Format(cd.Cutover.FullSQLBytes), "the verify-db step")

		// check, given the output folder, says the same.
		rep, err := check.Run(context.Background(), src.DB, check.Config{OutDir: source.OutputDir, LinkMbps: check.DefaultLinkMbps,
			Cron: &isolate.CronOptions{Files: []string{}}, CrontabCommand: []string{}, SampleBytes: -1, Now: func() time.Time { return at }})
		require.NoError(t, err, "check with the output folder")
		ce := rep.Facts.Downtime.Cutover
		require.NotNil(t, ce, "check's cutover estimate")
		assert.Equal(t, e.Rows, ce.Rows, "check's projected rows")
		assert.Equal(t, e.ArchiveBytes, ce.ArchiveBytes, "check's projected archive")
		assert.True(t, ce.DumpFromJournal, "check's digest pass from copy 2's journal")
		assert.InDelta(t, ce.DumpSeconds+ce.TransferSeconds+ce.ImportSeconds+ce.VerifySeconds, ce.TotalSeconds, 0.01, "check's cutover downtime adds its steps")
		assert.Len(t, rep.Find("downtime_cutover", source.OutputDir), 1, "check's cutover finding")
	}

	// A whole migration in the same folder keeps its one-shot estimate.
	d = dryRunAt(t, source, env, m2.Created.Add(time.Hour))
	assert.Nil(t, d.Cutover, "a config without a phase")
	assert.Contains(t, d.Basis, "check's estimate", "a config without a phase rests on check's size estimate")
}

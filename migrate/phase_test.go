package migrate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// phaseSetup is a generated installation of size bytes, an empty cloud
// database, and the source and cloud configs (no phase yet) of a
// migration between them through a local dropbox folder.
type phaseSetup struct {
	src, dst      *mysqltest.DB
	dropbox       string
	env           map[string]string
	source, cloud Config
}

func newPhaseSetup(t *testing.T, size int64) *phaseSetup {
	t.Helper()
	p := &phaseSetup{src: liveAgentDB(t, size), dst: mysqltest.New(t), dropbox: t.TempDir()}
	p.env = map[string]string{"SRC_DSN": dsnOf(p.src), "DST_DSN": dsnOf(p.dst)}
	p.source = Config{Side: SourceSide, OutputDir: t.TempDir(), Archive: "la.sql.zst",
		Connection: Connection{DSNEnv: "SRC_DSN"}, Transfer: TransferOptions{URL: p.dropbox},
		Check: CheckOptions{AllowBlockers: true},
		Drain: DrainOptions{Timeout: Duration(10e9), Interval: Duration(1e8)}}
	p.cloud = Config{Side: CloudSide, OutputDir: t.TempDir(), Archive: "la.sql.zst",
		Connection: Connection{DSNEnv: "DST_DSN"}, Transfer: TransferOptions{URL: p.dropbox}}
	return p
}

// runPlan runs cfg's plan and returns its report.
func runPlan(t *testing.T, cfg Config, env map[string]string) *Report {
	t.Helper()
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan(%s %s)", cfg.Side, cfg.Phase)
	rep, err := p.Run(context.Background(), RunOptions{Getenv: envOf(env)})
	require.NoError(t, err, "run of the %s side, phase %s", cfg.Side, cfg.Phase)
	return rep
}

// TestPreCopyAndCutover: two pre-copies while the source stays live (the
// second a delta), then the cutover (isolate, drain, a delta that proves
// nothing wrote, import checked against the cloud database), and the
// cloud database equals the source at the cutover.
func TestPreCopyAndCutover(t *testing.T) {
	ps := newPhaseSetup(t, 3<<20)
	src, dst, dropbox, env, source, cloud := ps.src, ps.dst, ps.dropbox, ps.env, ps.source, ps.cloud
	original := sourceSwitches(t, src.DB)

	// A cutover before any pre-copy is refused, naming the fix.
	cut := source
	cut.Phase = PhaseCutover
	_, err := NewPlan(cut)
	require.ErrorIs(t, err, ErrNoCopy)
	assert.Contains(t, err.Error(), `"phase": "pre-copy"`)

	pre, cpre := source, cloud
	pre.Phase, cpre.Phase = PhasePreCopy, PhasePreCopy
	rep := runPlan(t, pre, env)
	assert.Equal(t, "check=done dump=done verify=done push=done", statuses(rep.Steps))
	assert.FileExists(t, filepath.Join(dropbox, "la.copy-1.sql.zst.manifest.json"))
	assert.NoFileExists(t, filepath.Join(dropbox, "la.copy-1.sql.zst.changes.zst"), "the first copy is whole")
	rep = runPlan(t, cpre, env)
	assert.Equal(t, "pull=done verify=done import=done verify-db=done", statuses(rep.Steps))
	assert.Equal(t, original, sourceSwitches(t, src.DB), "a pre-copy isolates nothing")

	// The help desk works on; a second pre-copy carries the changes.
	src.MustExec(t,
		"UPDATE qu_la_conversations SET subject = CONCAT(subject, ' (2)') WHERE conversationid < '4'",
		"DELETE FROM qu_la_messages WHERE messageid < '1'",
		"INSERT INTO qu_la_contacts (contactid, firstname, dateinserted) VALUES ('~new0001', 'New', NOW())")
	rep = runPlan(t, pre, env)
	assert.Equal(t, "check=done dump=done verify=done push=done", statuses(rep.Steps))
	assert.FileExists(t, filepath.Join(dropbox, "la.copy-2.sql.zst.changes.zst"), "the second copy is a delta")
	rep = runPlan(t, cpre, env)
	assert.Equal(t, "pull=done verify=done import=done verify-db=done", statuses(rep.Steps))
	assert.Positive(t, rep.Steps[2].Output.Counts["delta_rows_checked"], "the import checked the cloud database against the delta")

	// More changes, then the cutover.
	src.MustExec(t,
		"UPDATE qu_la_contacts SET firstname = 'Changed' WHERE contactid = '~new0001'",
		"DELETE FROM qu_la_conversations WHERE conversationid < '1'")
	cut = source
	cut.Phase = PhaseCutover
	rep = runPlan(t, cut, env)
	assert.Equal(t, "check=done isolate=done drain=done cron=skipped dump=done verify=done push=done", statuses(rep.Steps))
	assert.FileExists(t, filepath.Join(dropbox, "la.cutover.sql.zst.changes.zst"))
	ccut := cloud
	ccut.Phase = PhaseCutover
	rep = runPlan(t, ccut, env)
	assert.Equal(t, "pull=done verify=done import=done verify-db=done adjust=skipped restore=done", statuses(rep.Steps))

	// The cloud database is the source as the cutover dumped it (isolated),
	// with the sources switched back on by restore.
	assert.Equal(t, original, sourceSwitches(t, dst.DB), "the cloud database's sources after restore")
	// Every other table as in the source (isolation and restore change the
	// sources' tables and settings only; ignored tables are not copied).
	touched := map[string]bool{"qu_g_settings": true}
	for _, s := range isolate.DefaultProfile().Sources {
		touched[s.Table] = true
	}
	srcDigests, dstDigests := src.Digests(t), dst.Digests(t)
	assert.Greater(t, len(dstDigests), 20, "tables in the cloud database")
	for name, d := range dstDigests {
		if !touched[name] {
			assert.Equal(t, srcDigests[name], d, "table %s", name)
		}
	}
	// Each phase has its own journal.
	for _, j := range []string{"lamigrate-source-copy-1.journal.json", "lamigrate-source-copy-2.journal.json", "lamigrate-source-cutover.journal.json"} {
		_, err := os.Stat(filepath.Join(source.OutputDir, j))
		assert.NoError(t, err, "journal %s", j)
	}
}

// TestCutoverRefusesSkippedCopy: a cloud side that skipped a pre-copy is
// told, before its database changes, which copy to import first; after
// that pre-copy the same cutover resumes and finishes.
func TestCutoverRefusesSkippedCopy(t *testing.T) {
	ps := newPhaseSetup(t, 2<<20)
	src, dst, env, source, cloud := ps.src, ps.dst, ps.env, ps.source, ps.cloud
	pre, cpre, cut, ccut := source, cloud, source, cloud
	pre.Phase, cpre.Phase, cut.Phase, ccut.Phase = PhasePreCopy, PhasePreCopy, PhaseCutover, PhaseCutover

	runPlan(t, pre, env)
	runPlan(t, cpre, env)
	src.MustExec(t, "CREATE TABLE qu_extra (id INT PRIMARY KEY)", "INSERT INTO qu_extra VALUES (1)")
	runPlan(t, pre, env) // copy 2: the cloud skips it
	src.MustExec(t, "INSERT INTO qu_extra VALUES (2)")
	runPlan(t, cut, env)

	before := dst.Digests(t)
	p, err := NewPlan(ccut)
	require.NoError(t, err)
	_, err = p.Run(context.Background(), RunOptions{Getenv: envOf(env)})
	require.Error(t, err, "a cutover onto copy 1 when its delta is since copy 2")
	assert.Contains(t, err.Error(), "la.cutover.sql.zst is a delta since la.copy-2.sql.zst, but this side's last imported copy is la.copy-1.sql.zst (pre-copy 1)")
	assert.Contains(t, err.Error(), "run this side's pre-copy until it has imported la.copy-2.sql.zst")
	assert.Equal(t, before, dst.Digests(t), "the refused cutover changed the cloud database")

	runPlan(t, cpre, env) // copy 2 now
	p, err = NewPlan(ccut)
	require.NoError(t, err)
	rep, err := p.Run(context.Background(), RunOptions{Getenv: envOf(env), Resume: true})
	require.NoError(t, err, "the cutover resumed after the missing pre-copy")
	assert.Equal(t, "pull=done verify=done import=done verify-db=done adjust=skipped restore=done", statuses(rep.Steps))
	var n int
	require.NoError(t, dst.QueryRow("SELECT COUNT(*) FROM qu_extra").Scan(&n))
	assert.Equal(t, 2, n)
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/migrate"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// step is a done step from second a to second b.
func step(name string, a, b float64) migrate.StepRecord {
	return migrate.StepRecord{Name: name, Status: migrate.Done, Started: at(a), Ended: at(b), Seconds: b - a}
}

// writeJournal writes a journal of steps run from second a to second b.
func writeJournal(t *testing.T, path string, side migrate.Side, a, b float64, steps ...migrate.StepRecord) {
	t.Helper()
	j := migrate.Journal{Format: migrate.JournalFormat, Side: side, Created: at(a), Updated: at(b), Steps: steps,
		Runs: []migrate.RunRecord{{Started: at(a), Ended: at(b), Result: "done"}}}
	buf, err := json.Marshal(j)
	require.NoError(t, err, "encoding the journal")
	require.NoError(t, os.WriteFile(path, buf, 0o600), "writing the journal")
}

// writeArchive writes a fake archive of size bytes with manifest m and
// returns the dump step that wrote it.
func writeArchive(t *testing.T, path string, size int64, m *manifest.Manifest, a, b float64) migrate.StepRecord {
	t.Helper()
	require.NoError(t, os.WriteFile(path, make([]byte, size), 0o600), "writing the archive")
	m.Format, m.Tool, m.Created, m.File = manifest.FormatVersion, "lamigrate", at(a), manifest.File{Name: filepath.Base(path), Size: size}
	require.NoError(t, manifest.Write(manifest.PathFor(path), m), "writing the manifest")
	s := step(migrate.StepDump, a, b)
	s.Output = &migrate.Output{Files: []migrate.File{{Path: path, Size: size}}}
	return s
}

// TestSummary: a one-shot run and a cutover, read from their journals and
// manifests: the archive sizes, the rows, the sides' times, how long the
// help desk was off, and the comparison of the two.
func TestSummary(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	full := &manifest.Manifest{Tables: []manifest.Table{{Name: "a", Rows: 1000}, {Name: "b", Rows: 234}}}
	dump := writeArchive(t, path("dump.sql.gz"), 2<<20, full, 5, 7)
	writeJournal(t, path("s1.json"), migrate.SourceSide, 0, 8,
		step(migrate.StepCheck, 0, 1), step(migrate.StepIsolate, 1, 1.5), step(migrate.StepDrain, 1.5, 5), dump, step(migrate.StepPush, 7, 8))
	writeJournal(t, path("c1.json"), migrate.CloudSide, 10, 12, step(migrate.StepPull, 10, 12))

	pre := writeArchive(t, path("dump.copy-1.sql.gz"), 2<<20, full, 20, 21)
	writeJournal(t, path("s2.json"), migrate.SourceSide, 20, 21.5, step(migrate.StepCheck, 20, 20.5), pre)
	writeJournal(t, path("c2.json"), migrate.CloudSide, 22, 23, step(migrate.StepPull, 22, 23))

	delta := &manifest.Manifest{Tables: full.Tables, Delta: &manifest.Delta{
		Changes: manifest.File{Size: 1024},
		Tables: []manifest.DeltaTable{
			{Name: "a", Action: manifest.DeltaRows, Replaced: 7, Deleted: 2, Blocks: 10, ChangedBlocks: 3},
			{Name: "c", Action: manifest.DeltaWhole, Why: "new", Replaced: 5},
		}}}
	cut := writeArchive(t, path("dump.cutover.sql.gz"), 3072, delta, 31, 32)
	writeJournal(t, path("s3.json"), migrate.SourceSide, 30, 32.5,
		step(migrate.StepCheck, 30, 31), step(migrate.StepIsolate, 31, 31), cut, step(migrate.StepPush, 32, 32.5))
	writeJournal(t, path("c3.json"), migrate.CloudSide, 33, 33.5, step(migrate.StepPull, 33, 33.5))

	var out strings.Builder
	require.NoError(t, run(&out, []string{
		"one-shot", path("s1.json"), path("c1.json"),
		"pre-copy 1", path("s2.json"), path("c2.json"),
		"cutover", path("s3.json"), path("c3.json")}), "summary")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 7, "header, three phases, the cutover's tables on two lines, the comparison:\n%s", out.String())
	assert.Regexp(t, `^one-shot +off +2\.0 MiB +1234 \(every row\) +8\.0s +2\.0s +9\.0s, 3\.5s of it waiting for background jobs$`, lines[1], "the one-shot run")
	assert.Regexp(t, `^pre-copy 1 +live +2\.0 MiB +1234 \(every row\) +1\.5s +1\.0s +-$`, lines[2], "the pre-copy")
	assert.Regexp(t, `^cutover +off +4\.0 KiB +12 written, 2 deleted +2\.5s +0\.5s +2\.0s$`, lines[3], "the cutover: its archive and changes file, help desk off from isolate to the cloud's end")
	assert.Equal(t, strings.Repeat(" ", 17)+"rows written/deleted: a 7/2, c 5/all (whole: new); 3 of 10 blocks of keys held a", lines[4], "the cutover's tables, wrapped at 100 characters")
	assert.Equal(t, strings.Repeat(" ", 17)+"change", lines[5], "the cutover's tables, wrapped at 100 characters")
	assert.Equal(t, "the cutover moved 4.0 KiB (0.20% of the one-shot's 2.0 MiB) and kept the help desk off 2.0s (the one-shot: 9.0s, 3.5s of it waiting for background jobs)", lines[6], "the comparison")

	assert.Error(t, run(&out, []string{"one-shot", path("s1.json")}), "a phase without its cloud journal")
	assert.Error(t, run(&out, []string{"x", path("c1.json"), path("c1.json")}), "a source journal without a dump step")
}

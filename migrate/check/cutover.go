package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// Copy is one pre-copy of a migration in phases (lamigrate run with
// "phase": "pre-copy"), as its output folder holds it.
type Copy struct {
	// N is the copy's number: 1 is the full base, each later one a delta
	// since the one before.
	N int `json:"n"`
	// Manifest is the path of the copy's manifest; M the manifest.
	Manifest string             `json:"manifest"`
	M        *manifest.Manifest `json:"-"`
	// DumpSeconds is how long the copy's dump took, from the dump step of
	// the source side's journal of that copy beside the manifest
	// (lamigrate-source-copy-N.journal.json); 0 when it is not there.
	DumpSeconds float64 `json:"dump_seconds,omitempty"`
}

// copyName matches the manifest of pre-copy N of an archive: the archive's
// name with ".copy-N" before its extension (migrate's Config.CopyArchive),
// then manifest.Suffix.
var copyName = regexp.MustCompile(`^(.+)\.copy-([0-9]+)((?:\.[^.]+)*)` + regexp.QuoteMeta(manifest.Suffix) + `$`)

// FindCopies lists the manifests of the pre-copies in dir, by copy number.
// When dir holds the copies of several archive names, those of the name
// whose latest copy was written last. None: nil.
func FindCopies(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pre-copies in %s: %w", dir, err)
	}
	type found struct {
		n    int
		path string
	}
	groups := map[string][]found{}
	newest := map[string]time.Time{}
	for _, e := range ents {
		m := copyName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 {
			continue
		}
		key := m[1] + m[3]
		groups[key] = append(groups[key], found{n, filepath.Join(dir, e.Name())})
		if fi, err := e.Info(); err == nil && fi.ModTime().After(newest[key]) {
			newest[key] = fi.ModTime()
		}
	}
	best := ""
	for key := range groups {
		if best == "" || newest[key].After(newest[best]) || (newest[key].Equal(newest[best]) && key < best) {
			best = key
		}
	}
	g := groups[best]
	sort.Slice(g, func(i, j int) bool { return g[i].n < g[j].n })
	var out []string
	for _, f := range g {
		out = append(out, f.path)
	}
	return out, nil
}

// ReadCopies reads the pre-copies' manifests (named as FindCopies finds
// them, in order) and, from the source side's journal of each copy in the
// same folder, how long its dump took.
func ReadCopies(manifests []string) ([]Copy, error) {
	var out []Copy
	for _, p := range manifests {
		m := copyName.FindStringSubmatch(filepath.Base(p))
		if m == nil {
			return nil, fmt.Errorf("%s is not named as a pre-copy's manifest (ARCHIVE.copy-N…%s)", p, manifest.Suffix)
		}
		n, _ := strconv.Atoi(m[2])
		mf, err := manifest.Read(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Copy{N: n, Manifest: p, M: mf, DumpSeconds: journalDumpSeconds(filepath.Join(filepath.Dir(p), fmt.Sprintf("lamigrate-source-copy-%d.journal.json", n)))})
	}
	return out, nil
}

// journalDumpSeconds reads the finished dump step's duration in a run's
// journal (migrate.Journal; format 1); 0 when there is none.
func journalDumpSeconds(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var j struct {
		Format int `json:"format"`
		Steps  []struct {
			Name    string  `json:"name"`
			Status  string  `json:"status"`
			Seconds float64 `json:"seconds"`
		} `json:"steps"`
	}
	if json.Unmarshal(b, &j) != nil || j.Format != 1 {
		return 0
	}
	for _, s := range j.Steps {
		if s.Name == "dump" && s.Status == "done" {
			return s.Seconds
		}
	}
	return 0
}

// CutoverAssumptions are what a cutover estimate assumes besides the
// copies: the throughputs (MB/s of the uncompressed SQL stream, Mbit/s of
// the link), and the whole database's size when no full copy is among the
// copies.
type CutoverAssumptions struct {
	DumpMBps   float64
	ImportMBps float64
	// VerifyMBps is how fast the whole database is read to verify it.
	VerifyMBps float64
	LinkMbps   float64
	// FullSQLBytes and FullArchiveBytes stand for the whole database
	// when the first copy is not there (check's size estimate); 0:
	// unknown.
	FullSQLBytes, FullArchiveBytes int64
}

// CutoverEstimate is how long the cutover after the pre-copies keeps the
// installation isolated, from the rate at which the source changed
// between the last two copies.
type CutoverEstimate struct {
	// Copies counts the pre-copies found; Copy is the one the cutover's
	// delta is taken since, dumped at CopyCreated.
	Copies      int       `json:"copies"`
	Copy        int       `json:"copy"`
	CopyCreated time.Time `json:"copy_created"`
	// RateKnown: Copy is a delta (a second copy or later), which measured
	// how much changed since the copy before it. Without it the fields
	// below stay zero but FullSQLBytes and FullArchiveBytes, and the
	// cutover is estimated from the full size.
	RateKnown bool `json:"rate_known"`
	// Measured: Copy's delta held MeasuredRows changed rows (deleted,
	// replaced or new), MeasuredSQLBytes of SQL and MeasuredArchiveBytes
	// of archive, gathered in IntervalSeconds (from the start of the copy
	// before to that of Copy).
	MeasuredRows         int64   `json:"measured_rows,omitempty"`
	MeasuredSQLBytes     int64   `json:"measured_sql_bytes,omitempty"`
	MeasuredArchiveBytes int64   `json:"measured_archive_bytes,omitempty"`
	IntervalSeconds      float64 `json:"interval_seconds,omitempty"`
	// SinceSeconds runs from Copy's dump to the cutover; Rows, SQLBytes
	// and ArchiveBytes are its delta at the measured rate (measured ×
	// SinceSeconds / IntervalSeconds).
	SinceSeconds float64 `json:"since_seconds,omitempty"`
	Rows         int64   `json:"rows,omitempty"`
	SQLBytes     int64   `json:"sql_bytes,omitempty"`
	ArchiveBytes int64   `json:"archive_bytes,omitempty"`
	// FullSQLBytes and FullArchiveBytes are the whole database's dump:
	// the first (full) copy's, scaled by how the row count grew since;
	// CutoverAssumptions' when the first copy is not there.
	FullSQLBytes     int64 `json:"full_sql_bytes,omitempty"`
	FullArchiveBytes int64 `json:"full_archive_bytes,omitempty"`
	// The steps: the delta dump (its digest pass reads every row: as long
	// as Copy's own dump took when its journal says, else the full size at
	// DumpMBps), the transfer of the delta, its import, and the verify of
	// the whole database. DumpFromJournal says which.
	DumpSeconds     float64  `json:"dump_seconds,omitempty"`
	DumpFromJournal bool     `json:"dump_from_journal,omitempty"`
	TransferSeconds float64  `json:"transfer_seconds,omitempty"`
	ImportSeconds   float64  `json:"import_seconds,omitempty"`
	VerifySeconds   float64  `json:"verify_seconds,omitempty"`
	TotalSeconds    float64  `json:"total_seconds,omitempty"`
	Assumptions     []string `json:"assumptions,omitempty"`
}

// EstimateCutover estimates the cutover after copies (in order; the last
// is the one the cutover starts from) at the moment at.
func EstimateCutover(copies []Copy, at time.Time, r CutoverAssumptions) *CutoverEstimate {
	if len(copies) == 0 {
		return nil
	}
	last := copies[len(copies)-1]
	e := &CutoverEstimate{Copies: len(copies), Copy: last.N, CopyCreated: last.M.Created,
		FullSQLBytes: r.FullSQLBytes, FullArchiveBytes: r.FullArchiveBytes}
	for _, c := range copies {
		if c.M.Delta == nil && c.M.SQL.Bytes > 0 {
			grow := 1.0
			if base := rowsOf(c.M); base > 0 {
				grow = float64(rowsOf(last.M)) / float64(base)
			}
			e.FullSQLBytes = int64(float64(c.M.SQL.Bytes) * grow)
			e.FullArchiveBytes = int64(float64(c.M.File.Size) * grow)
		}
	}
	d := last.M.Delta
	if d == nil {
		return e
	}
	interval := last.M.Created.Sub(d.Base.Created).Seconds()
	if interval <= 0 {
		return e
	}
	e.RateKnown = true
	for _, t := range d.Tables {
		e.MeasuredRows += t.Deleted + t.Replaced
	}
	e.MeasuredSQLBytes, e.MeasuredArchiveBytes = last.M.SQL.Bytes, last.M.File.Size
	e.IntervalSeconds = round3(interval)
	since := max(at.Sub(last.M.Created).Seconds(), 0)
	e.SinceSeconds = round3(since)
	f := since / interval
	e.Rows = int64(math.Round(float64(e.MeasuredRows) * f))
	e.SQLBytes = int64(math.Round(float64(e.MeasuredSQLBytes) * f))
	e.ArchiveBytes = int64(math.Round(float64(e.MeasuredArchiveBytes) * f))
	mb := func(bytes int64, rate float64) float64 { return round3(float64(bytes) / (rate * 1e6)) }
	digest := fmt.Sprintf("the delta dump reads every row (its digest pass): the whole database, ~%s of SQL, at %.0f MB/s like a full dump", bytesize.Format(e.FullSQLBytes), r.DumpMBps)
	switch {
	case last.DumpSeconds > 0:
		e.DumpFromJournal = true
		e.DumpSeconds = round3(last.DumpSeconds + float64(max(e.SQLBytes-e.MeasuredSQLBytes, 0))/(r.DumpMBps*1e6))
		digest = fmt.Sprintf("the delta dump reads every row (its digest pass) as copy %d's did in %s (its journal), plus the larger delta at %.0f MB/s", last.N, dur(last.DumpSeconds), r.DumpMBps)
	case e.FullSQLBytes > 0:
		e.DumpSeconds = mb(e.FullSQLBytes+e.SQLBytes, r.DumpMBps)
	}
	if r.LinkMbps > 0 {
		e.TransferSeconds = round3(float64(e.ArchiveBytes) * 8 / (r.LinkMbps * 1e6))
	}
	e.ImportSeconds = mb(e.SQLBytes, r.ImportMBps)
	e.VerifySeconds = mb(e.FullSQLBytes, r.VerifyMBps)
	e.TotalSeconds = round3(e.DumpSeconds + e.TransferSeconds + e.ImportSeconds + e.VerifySeconds)
	e.Assumptions = []string{
		fmt.Sprintf("the source changes as fast as between copies %d and %d: %d rows, %s of SQL (%s archive) in %s",
			last.N-1, last.N, e.MeasuredRows, bytesize.Format(e.MeasuredSQLBytes), bytesize.Format(e.MeasuredArchiveBytes), dur(interval)),
		fmt.Sprintf("the cutover starts %s after copy %d (%s)", dur(since), last.N, last.M.Created.UTC().Format(time.RFC3339)),
		digest,
		fmt.Sprintf("upload at %g Mbit/s, import at %.0f MB/s of SQL, verify of the whole database at %.0f MB/s", r.LinkMbps, r.ImportMBps, r.VerifyMBps),
	}
	return e
}

// Summary says in one line what the estimate comes to and rests on.
func (e *CutoverEstimate) Summary() string {
	if !e.RateKnown {
		return fmt.Sprintf("pre-copy %d (%s) is a full dump: the change rate is unknown until another pre-copy measures it, so the cutover is estimated from the full size",
			e.Copy, e.CopyCreated.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("cutover since copy %d: %d rows, %s of SQL, %s archive changed between copies %d and %d in %s; at that rate the %s since copy %d make %d rows, %s of SQL, %s archive",
		e.Copy, e.MeasuredRows, bytesize.Format(e.MeasuredSQLBytes), bytesize.Format(e.MeasuredArchiveBytes), e.Copy-1, e.Copy, dur(e.IntervalSeconds),
		dur(e.SinceSeconds), e.Copy, e.Rows, bytesize.Format(e.SQLBytes), bytesize.Format(e.ArchiveBytes))
}

// round3 keeps milliseconds: a small database's steps take less than
// the tenth of a second round1 keeps.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func rowsOf(m *manifest.Manifest) int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/migrate/check"
)

// DryRun is a plan as it would run: each step with its status in the
// journal (when one exists) and its estimated duration.
type DryRun struct {
	Side    Side   `json:"side"`
	Journal string `json:"journal"`
	// JournalExists says a run would need --resume.
	JournalExists bool          `json:"journal_exists"`
	Steps         []PlannedStep `json:"steps"`
	// TotalSeconds adds up the estimates of the steps still to run.
	TotalSeconds float64 `json:"total_seconds"`
	// Basis says what the estimates rest on.
	Basis string `json:"basis"`
	// Cutover is a cutover's estimate from the change rate the pre-copies
	// in the output folder measured (nil for other configs).
	Cutover *check.CutoverEstimate `json:"cutover,omitempty"`
	// Blockers are what would make the run fail early: the database it
	// cannot connect to, an output folder it cannot create or write, an
	// archive name whose extension names no known format. Empty: none
	// found.
	Blockers []string `json:"blockers,omitempty"`
}

// PlannedStep is one step of a dry run.
type PlannedStep struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// EstimateSeconds is the expected duration (0 with an empty Basis:
	// unknown).
	EstimateSeconds float64 `json:"estimate_seconds"`
	Basis           string  `json:"basis,omitempty"`
	// Redo: safe to redo after a crash; Undo: rolled back on failure.
	Redo bool `json:"redo"`
	Undo bool `json:"undo"`
}

// Estimate returns the planned step's estimate.
func (p PlannedStep) Estimate() time.Duration {
	return time.Duration(p.EstimateSeconds * float64(time.Second))
}

// DryRun describes what Run would do, with the estimated duration of each
// step, without changing anything (it reads the journal, the manifest and,
// on the source side, runs check's read-only size estimate). It also looks
// for what would make the run fail early and lists it in Blockers: it
// connects to the configured database (the source side's installation,
// the cloud side's target, which must exist), checks that the output
// folder exists or can be created and is writable, and that the archive's
// name ends in an extension that names its format.
func (p *Plan) DryRun(ctx context.Context, opt RunOptions) (*DryRun, error) {
	s, err := p.session(opt)
	if err != nil {
		return nil, err
	}
	defer s.close()
	cfg := s.Config
	jpath := JournalPath(cfg)
	d := &DryRun{Side: cfg.Side, Journal: jpath}
	if j, err := ReadJournal(jpath); err == nil {
		d.JournalExists = true
		s.journal = j
	} else if _, serr := os.Stat(jpath); serr == nil {
		return nil, err
	}
	d.Blockers = p.dryRunBlockers(ctx, s)
	for i, st := range p.Steps {
		ps := PlannedStep{Name: st.Name, Title: st.Title, Status: Pending, Redo: st.Redo, Undo: st.Undo != nil}
		if s.journal != nil {
			if r := s.journal.Step(st.Name); r != nil {
				ps.Status = r.Status
			}
		}
		if slices.Contains(cfg.Skip, st.Name) {
			ps.Status, ps.Basis = Skipped, "skipped by the configuration"
		}
		if ps.Status != Done && ps.Status != Skipped && st.Estimate != nil {
			s.step, s.index = st.Name, i+1
			e, basis := st.Estimate(ctx, s)
			if ce, cb, ok := s.cutoverEstimate(ctx, st.Name); ok {
				e, basis = ce, cb
			}
			ps.EstimateSeconds, ps.Basis = e.Seconds(), basis
			d.TotalSeconds += e.Seconds()
		}
		d.Steps = append(d.Steps, ps)
	}
	if s.est != nil {
		d.Basis, d.Cutover = s.est.note, s.est.cut
	}
	return d, nil
}

// basis is the size the estimates rest on.
type basis struct {
	sqlBytes, archiveBytes int64
	note                   string
	// cut is a cutover's estimate from the pre-copies (see
	// Session.cutover); projected says sqlBytes and archiveBytes are its
	// delta at the measured change rate.
	cut       *check.CutoverEstimate
	projected bool
}

// SQLPerDataByte is how many bytes of SQL the dump writes per byte of
// InnoDB data (information_schema DATA_LENGTH) when check cannot estimate
// it: InnoDB pages are partly empty, while hex and quoting grow the text;
// on the LiveAgent-like benchmark database the two roughly cancel.
const SQLPerDataByte = 1.0

// basis finds the size of the dump: from its manifest when it exists, else
// for a cutover from the pre-copies (see Session.cutover), else (source
// side) from check's estimate, else from information_schema.
func (s *Session) basis(ctx context.Context) *basis {
	if s.est != nil {
		return s.est
	}
	b := &basis{}
	s.est = b
	path := s.Config.ArchivePath()
	if s.Config.Phase == PhaseCutover {
		s.cutover(b)
	}
	if m, err := manifest.Read(manifest.PathFor(path)); err == nil {
		b.sqlBytes, b.archiveBytes, b.projected = m.SQL.Bytes, m.File.Size, false
		b.note = "sizes from the manifest " + manifest.PathFor(path)
		return b
	}
	if b.cut != nil && (b.projected || b.cut.FullSQLBytes > 0) {
		return b
	}
	if s.Config.Side == CloudSide {
		b.note = "size unknown until the archive's manifest is here (pull it first)"
		if s.Config.Stream {
			b.note = "size unknown until the source side's dump completes"
		}
		return b
	}
	db, err := s.DB(ctx)
	if err != nil {
		b.note = "size unknown: " + err.Error()
		return b
	}
	cc := s.checkConfig()
	cc.CrontabCommand = []string{}
	if rep, err := check.Run(ctx, db, cc); err == nil && rep.Facts.Size.SQLBytes > 0 {
		b.sqlBytes, b.archiveBytes = rep.Facts.Size.SQLBytes, rep.Facts.Size.ArchiveBytes
		b.note = fmt.Sprintf("check's estimate: %s of SQL, %s archive (%s)", bytesize.Format(b.sqlBytes), bytesize.Format(b.archiveBytes), rep.Facts.Size.Method)
		return b
	} else if err != nil && errors.Is(err, context.Canceled) {
		b.note = "size unknown: " + err.Error()
		return b
	}
	r, _ := s.Resolve()
	var data int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(DATA_LENGTH),0) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`, r.Config.DBName).Scan(&data)
	if err != nil {
		b.note = "size unknown: " + err.Error()
		return b
	}
	b.sqlBytes = int64(float64(data) * SQLPerDataByte)
	b.archiveBytes = int64(float64(b.sqlBytes) * check.TextArchiveRatio)
	b.note = fmt.Sprintf("information_schema: %s of data, at %.2f bytes of SQL per byte and a %.2f compression ratio", bytesize.Format(data), SQLPerDataByte, check.TextArchiveRatio)
	return b
}

// dryRunBlockers finds what would make the run fail early.
func (p *Plan) dryRunBlockers(ctx context.Context, s *Session) []string {
	cfg := s.Config
	var out []string
	pending := func(step string) bool {
		if p.Step(step) == nil || slices.Contains(cfg.Skip, step) {
			return false
		}
		if s.journal != nil {
			if r := s.journal.Step(step); r != nil && (r.Status == Done || r.Status == Skipped) {
				return false
			}
		}
		return true
	}
	if err := outputDirUsable(cfg.OutputDir); err != nil {
		out = append(out, err.Error())
	}
	if pending(StepDump) || pending(StepDumpToTransfer) {
		if err := archiveNameKnown(cfg.Archive, cfg.Dump.Compress); err != nil {
			out = append(out, err.Error())
		}
	}
	if pending(StepAdjust) && cfg.Adjust.Rules != "" {
		if _, err := s.rules(); err != nil {
			out = append(out, err.Error())
		}
	}
	if cfg.Transfer.URL != "" && (pending(StepPush) || pending(StepPull) || pending(StepDumpToTransfer)) {
		if err := s.transferReachable(ctx, pending(StepPull)); err != nil {
			out = append(out, err.Error())
		}
	}
	if pending(StepFollowImport) {
		// The archive is not there yet: the source side writes it while
		// the import follows. The folder must be.
		dir := filepath.Dir(cfg.ArchivePath())
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			out = append(out, fmt.Sprintf("transfer.url %s is not a folder on this machine: in stream mode it must be the local folder the source side dumps into (the SFTP server's dropbox)", dir))
		}
	}
	needDB := false
	for _, st := range p.Steps {
		if pending(st.Name) && dbSteps[st.Name] {
			needDB = true
		}
	}
	if needDB {
		which := "the source database"
		if cfg.Side == CloudSide {
			which = "the target database (it must exist: the import loads into it)"
		}
		if _, err := s.DB(ctx); err != nil {
			out = append(out, fmt.Sprintf("cannot connect to %s: %v", which, err))
		}
	}
	return out
}

// dbSteps are the standard steps that use the configured database.
var dbSteps = map[string]bool{
	StepCheck: true, StepIsolate: true, StepDrain: true, StepDump: true,
	StepImport: true, StepVerifyDB: true, StepAdjust: true, StepRestore: true,
	StepDumpToTransfer: true, StepFollowImport: true,
}

// outputDirUsable reports why dir could not hold the run's files: it is
// not a folder, or it (or, when it does not exist yet, the nearest folder
// above it, where the run would create it) is not writable.
func outputDirUsable(dir string) error {
	at := dir
	for {
		fi, err := os.Stat(at)
		if err == nil {
			if !fi.IsDir() {
				if at == dir {
					return fmt.Errorf("output_dir %s is not a folder", dir)
				}
				return fmt.Errorf("output_dir %s cannot be created: %s is not a folder", dir, at)
			}
			if err := writable(at); err != nil {
				if at == dir {
					return fmt.Errorf("output_dir %s is not writable: %v", dir, err)
				}
				return fmt.Errorf("output_dir %s cannot be created: %s is not writable: %v", dir, at, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("output_dir %s: %v", dir, err)
		}
		up := filepath.Dir(at)
		if up == at {
			return fmt.Errorf("output_dir %s: no folder above it exists", dir)
		}
		at = up
	}
}

// archiveNameKnown refuses an archive name whose extension names no format
// lamigrate writes (the rule of codec.KindOfName, which dump.File applies
// too), unless the config names the compression explicitly.
func archiveNameKnown(name, compress string) error {
	if name == "" {
		name = DefaultArchive
	}
	if _, ok := codec.KindOfName(name); ok || compress != "" {
		return nil
	}
	return fmt.Errorf("archive %s: unknown extension %q: end it in %s, or set dump.compress", name, filepath.Ext(strings.TrimSuffix(strings.ToLower(name), ".age")), codec.Extensions)
}

package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/migrate/check"
)

func (s *Session) transferEstimate(ctx context.Context) (time.Duration, string) {
	b := s.basis(ctx)
	if b.archiveBytes <= 0 {
		return 0, b.note
	}
	link := s.linkMbps()
	d := time.Duration(float64(b.archiveBytes) * 8 / (link * 1e6) * float64(time.Second)).Round(time.Second)
	return d, fmt.Sprintf("%s archive at %.0f Mbit/s", bytesize.Format(b.archiveBytes), link)
}

// linkMbps is the upload speed the estimates assume.
func (s *Session) linkMbps() float64 {
	if s.Config.Check.LinkMbps > 0 {
		return s.Config.Check.LinkMbps
	}
	return check.DefaultLinkMbps
}

// cutover estimates a cutover from the pre-copies in the output folder
// (copies 1 to Config.Copy, named by Config.CopyArchive; see
// check.EstimateCutover) at the run's clock, into b. When the last copy is
// a delta, which measured how fast the source changes, b's sizes become
// the cutover's delta at that rate over the time since that copy
// (projected); with a single copy the rate is unknown and b's sizes are
// the whole database's (the first copy's, grown with the row count).
func (s *Session) cutover(b *basis) {
	cfg := s.Config
	var paths []string
	for n := 1; n <= cfg.Copy; n++ {
		p := manifest.PathFor(filepath.Join(cfg.OutputDir, cfg.CopyArchive(n)))
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	copies, err := check.ReadCopies(paths)
	if err != nil {
		return
	}
	e := check.EstimateCutover(copies, s.now(), check.CutoverAssumptions{
		DumpMBps: check.DefaultDumpMBps, ImportMBps: check.DefaultImportMBps, VerifyMBps: VerifyDBMBps, LinkMbps: s.linkMbps(),
	})
	if e == nil {
		return
	}
	b.cut = e
	switch {
	case e.RateKnown:
		b.sqlBytes, b.archiveBytes, b.projected = e.SQLBytes, e.ArchiveBytes, true
		b.note = e.Summary()
	case e.FullSQLBytes > 0:
		b.sqlBytes, b.archiveBytes = e.FullSQLBytes, e.FullArchiveBytes
		b.note = fmt.Sprintf("%s: %s of SQL, %s archive", e.Summary(), bytesize.Format(e.FullSQLBytes), bytesize.Format(e.FullArchiveBytes))
	}
}

// cutoverEstimate is a cutover's estimate of step from the change rate
// the pre-copies measured (see Session.cutover); ok false leaves the
// step's own. The delta dump reads every row for its digest pass, the
// transfer, the archive's verify and the import carry the projected
// delta, and the verify of the imported database reads it whole.
func (s *Session) cutoverEstimate(ctx context.Context, step string) (time.Duration, string, bool) {
	if s.Config.Phase != PhaseCutover {
		return 0, "", false
	}
	b := s.basis(ctx)
	e := b.cut
	if e == nil {
		return 0, "", false
	}
	delta := fmt.Sprintf("the delta at the measured change rate: ~%d rows, %s of SQL", e.Rows, bytesize.Format(e.SQLBytes))
	switch step {
	case StepDump:
		if !b.projected || (e.DumpSeconds <= 0 && !e.DumpFromJournal) {
			return 0, "", false
		}
		how := fmt.Sprintf("its digest pass reads the whole database, ~%s of SQL, at %.0f MB/s", bytesize.Format(e.FullSQLBytes), check.DefaultDumpMBps)
		if e.DumpFromJournal {
			how = fmt.Sprintf("its digest pass reads every row, as copy %d's dump did (its journal)", e.Copy)
		}
		return seconds(e.DumpSeconds), delta + "; " + how, true
	case StepVerify:
		if !b.projected {
			return 0, "", false
		}
		return mbps(e.SQLBytes, VerifyMBps), fmt.Sprintf("%s at %.0f MB/s", delta, VerifyMBps), true
	case StepPush, StepPull:
		if !b.projected {
			return 0, "", false
		}
		return seconds(e.TransferSeconds), fmt.Sprintf("%s archive at %.0f Mbit/s (%s)", bytesize.Format(e.ArchiveBytes), s.linkMbps(), delta), true
	case StepImport:
		if !b.projected {
			return 0, "", false
		}
		return mbps(e.SQLBytes, check.DefaultImportMBps), fmt.Sprintf("%s at %.0f MB/s", delta, check.DefaultImportMBps), true
	case StepVerifyDB:
		if e.FullSQLBytes <= 0 {
			return 0, "", false
		}
		return mbps(e.FullSQLBytes, VerifyDBMBps), fmt.Sprintf("one scan of the whole database, ~%s of SQL, at %.0f MB/s", bytesize.Format(e.FullSQLBytes), VerifyDBMBps), true
	}
	return 0, "", false
}

func seconds(x float64) time.Duration {
	return time.Duration(x * float64(time.Second)).Round(time.Second)
}

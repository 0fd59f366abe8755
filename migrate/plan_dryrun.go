package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/manifest"
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
// on the source side, runs check's read-only size estimate).
func (p *Plan) DryRun(ctx context.Context, opt RunOptions) (*DryRun, error) {
	cfg := p.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	s := &Session{Config: cfg, opt: opt, count: len(p.Steps)}
	defer s.close()
	jpath := JournalPath(cfg)
	d := &DryRun{Side: cfg.Side, Journal: jpath}
	if j, err := ReadJournal(jpath); err == nil {
		d.JournalExists = true
		s.journal = j
	} else if _, serr := os.Stat(jpath); serr == nil {
		return nil, err
	}
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
			ps.EstimateSeconds, ps.Basis = e.Seconds(), basis
			d.TotalSeconds += e.Seconds()
		}
		d.Steps = append(d.Steps, ps)
	}
	if s.est != nil {
		d.Basis = s.est.note
	}
	return d, nil
}

// basis is the size the estimates rest on.
type basis struct {
	sqlBytes, archiveBytes int64
	note                   string
}

// SQLPerDataByte is how many bytes of SQL the dump writes per byte of
// InnoDB data (information_schema DATA_LENGTH) when check cannot estimate
// it: InnoDB pages are partly empty, while hex and quoting grow the text;
// on the LiveAgent-like benchmark database the two roughly cancel.
const SQLPerDataByte = 1.0

// basis finds the size of the dump: from its manifest when it exists, else
// (source side) from check's estimate, else from information_schema.
func (s *Session) basis(ctx context.Context) *basis {
	if s.est != nil {
		return s.est
	}
	b := &basis{}
	s.est = b
	path := s.Config.ArchivePath()
	if m, err := manifest.Read(manifest.PathFor(path)); err == nil {
		b.sqlBytes, b.archiveBytes = m.SQL.Bytes, m.File.Size
		b.note = "sizes from the manifest " + manifest.PathFor(path)
		return b
	}
	if s.Config.Side == CloudSide {
		b.note = "size unknown until the archive's manifest is here (pull it first)"
		return b
	}
	db, err := s.DB(ctx)
	if err != nil {
		b.note = "size unknown: " + err.Error()
		return b
	}
	cc := s.checkConfig()
	cc.CrontabCommand = []string{}
	if rep, err := Check(ctx, db, cc); err == nil && rep.Facts.Size.SQLBytes > 0 {
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
	b.archiveBytes = int64(float64(b.sqlBytes) * TextArchiveRatio)
	b.note = fmt.Sprintf("information_schema: %s of data, at %.2f bytes of SQL per byte and a %.2f compression ratio", bytesize.Format(data), SQLPerDataByte, TextArchiveRatio)
	return b
}

package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/load"
)

type loadProgress struct{ s *Session }

func (p loadProgress) Update(st load.Status) {
	p.s.Progress(st.ArchiveRead, st.ArchiveSize, true,
		fmt.Sprintf("%d/%d tables, %d rows", st.TablesDone, st.Tables, st.Rows))
}

// chainCheck refuses, before anything changes, a delta of a phase whose
// base is not the copy this side imported last (its manifest, pulled into
// the output folder, has the SHA-256 the delta names): a copy skipped on
// this side. The import's own check proves the rows by content; this one
// names the copy to run.
func (s *Session) chainCheck(m *manifest.Manifest) error {
	if m.Delta == nil || s.Config.Phase == "" {
		return nil
	}
	prev := s.Config.Copy
	if s.Config.Phase == PhasePreCopy {
		prev--
	}
	what := "the cutover"
	if s.Config.Phase == PhasePreCopy {
		what = fmt.Sprintf("pre-copy %d", s.Config.Copy)
	}
	name := s.Config.CopyArchive(prev)
	b, err := os.ReadFile(manifest.PathFor(filepath.Join(s.Config.OutputDir, name)))
	sum := sha256.Sum256(b)
	if err != nil || hex.EncodeToString(sum[:]) != m.Delta.Base.Manifest {
		return fmt.Errorf("import: %s is a delta since %s, but this side's last imported copy is %s (pre-copy %d)%s: run this side's pre-copy until it has imported %s, then %s again",
			filepath.Base(s.Config.ArchivePath()), m.Delta.Base.Archive, name, prev, map[bool]string{true: ", whose manifest is not here"}[err != nil], m.Delta.Base.Archive, what)
	}
	return nil
}

// load imports the archive. The importer records finished tables in the
// target and continues an unfinished import of the same archive (its
// fingerprint is the manifest's SHA-256), so a redo never duplicates rows.
func (s *Session) load(ctx context.Context) (Output, error) {
	var out Output
	path := s.Config.ArchivePath()
	m, err := manifest.Read(manifest.PathFor(path))
	if err != nil {
		return out, fmt.Errorf("import: %w", err)
	}
	if err := s.chainCheck(m); err != nil {
		return out, err
	}
	r, err := s.Resolve()
	if err != nil {
		return out, err
	}
	f, err := os.Open(path)
	if err != nil {
		return out, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	cfg := load.Config{
		Threads:       s.Config.Import.Threads,
		StripDefiners: s.Config.Import.StripDefiners,
		Force:         s.Config.Import.Force,
		Fingerprint:   m.File.SHA256,
		RequireMarker: true,
		ArchiveSize:   size,
	}
	opts := []load.Option{load.WithProgress(loadProgress{s}), load.WithPassphrase(s.passphrase())}
	if m.Delta != nil {
		// A later copy or the cutover: checked against the database first.
		opts = append(opts, load.WithDelta(load.Delta{Archive: path, Manifest: m}))
	}
	res, err := load.Load(ctx, r.Config.Clone(), f, cfg, opts...)
	var de *load.DefinerError
	if errors.As(err, &de) {
		return out, fmt.Errorf("%s: set \"import\": {\"strip_definers\": true} in the run config to create them as %s", de.Summary(), de.Account)
	}
	if err != nil {
		return out, err
	}
	out.Count("tables", int64(res.Tables))
	out.Count("tables_skipped", int64(res.Skipped))
	if m.Delta != nil {
		// The server's affected rows count a REPLACE of an existing row
		// twice: say what the delta carries instead.
		var del, rep int64
		for _, t := range m.Delta.Tables {
			del += t.Deleted
			rep += t.Replaced
		}
		out.Count("delta_rows_written", rep)
		out.Count("delta_rows_deleted", del)
	} else {
		out.Count("rows", res.Rows)
	}
	out.Count("sql_bytes", res.SQLBytes)
	if res.Resumed {
		out.Value("resumed", "true")
	}
	if res.AlreadyApplied {
		out.Value("already_applied", "true")
	}
	if d := res.Delta; d != nil {
		out.Count("delta_rows_checked", d.Rows)
	}
	return out, nil
}

package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/atomicfile"
	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/jsonfile"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/migrate/check"
	"github.com/qualityunit/lamigrate/verify"
)

// StandardSteps returns the standard steps of a side, in order.
func StandardSteps(side Side) []Step {
	switch side {
	case SourceSide:
		return []Step{CheckStep(), IsolateStep(), DrainStep(), CronStep(), DumpStep(), VerifyStep(), PushStep()}
	case CloudSide:
		return []Step{PullStep(), VerifyStep(), ImportStep(), VerifyDBStep(), AdjustStep(), RestoreStep()}
	}
	return nil
}

// PreCopySteps returns the steps of a pre-copy (Config.Phase
// PhasePreCopy): the help desk stays live and nothing is isolated.
func PreCopySteps(side Side) []Step {
	switch side {
	case SourceSide:
		return []Step{CheckStep(), DumpStep(), VerifyStep(), PushStep()}
	case CloudSide:
		return []Step{PullStep(), VerifyStep(), ImportStep(), VerifyDBStep()}
	}
	return nil
}

// CheckStep analyses the installation (check.Run), writes the report to
// check-report.json in the output folder and fails on blockers unless
// Config.Check.AllowBlockers.
func CheckStep() Step {
	return Step{
		Name:  StepCheck,
		Title: "analyse the installation",
		Redo:  true, // read-only
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			db, err := s.DB(ctx)
			if err != nil {
				return out, err
			}
			rep, err := check.Run(ctx, db, s.checkConfig())
			if err != nil {
				return out, err
			}
			path := s.Path("check-report.json")
			b, err := jsonfile.Encode(rep)
			if err != nil {
				return out, fmt.Errorf("check: writing %s: %w", path, err)
			}
			if err := atomicfile.Write(path, b, 0o600); err != nil {
				return out, fmt.Errorf("check: writing %s: %w", path, err)
			}
			out.AddFile(path, int64(len(b)), "")
			out.Count("blockers", int64(rep.Blockers))
			out.Count("warnings", int64(rep.Warnings))
			out.Count("sql_bytes_estimate", rep.Facts.Size.SQLBytes)
			out.Value("downtime_estimate", (time.Duration(rep.Facts.Downtime.TotalSeconds) * time.Second).String())
			var blockers []string
			for _, f := range rep.Findings {
				switch f.Severity {
				case check.Blocker:
					blockers = append(blockers, f.Message)
					s.Warn("blocker: %s", findingLine(f))
				case check.Warning:
					s.Warn("%s", findingLine(f))
				}
			}
			if len(blockers) > 0 && !s.Config.Check.AllowBlockers {
				return out, fmt.Errorf("check: %d blocker(s): %s (full report in %s; fix them, or set check.allow_blockers)",
					len(blockers), strings.Join(blockers, "; "), path)
			}
			return out, nil
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return 30 * time.Second, "a few information_schema queries and samples"
		},
	}
}

func findingLine(f check.Finding) string {
	msg := f.Message
	if f.Action != "" {
		msg += " (" + f.Action + ")"
	}
	return msg
}

// checkConfig is check as this run will migrate: its ignore list, its
// way of writing binary values, and cron where isolate.cron will look for
// it (a line found without isolate.cron is a warning: it keeps running).
func (s *Session) checkConfig() check.Config {
	c := s.Config
	dc := s.dumpConfig("")
	cc := check.Config{
		InstallDir:    c.Connection.InstallDir,
		OutDir:        c.OutputDir,
		LinkMbps:      c.Check.LinkMbps,
		ProfilePath:   c.Profile,
		Ignore:        dc.IgnoreList(),
		HexBlob:       dc.HexBlob,
		Cron:          c.Isolate.Cron,
		CronIsolation: check.CronKept,
		StripDefiners: c.Dump.StripDefiners || c.Import.StripDefiners,
		Stream:        c.Stream,
	}
	if c.Isolate.Cron != nil {
		cc.CronIsolation = check.CronIsolated
	}
	return cc
}

func (s *Session) profile() (*isolate.Profile, error) {
	if s.Config.Profile == "" {
		return isolate.DefaultProfile(), nil
	}
	return isolate.LoadProfile(s.Config.Profile)
}

// isolateProgress turns isolate's events into the run's.
// The drain's pending count is a line each time it changes, not a progress
// bar: it counts down, and a rate means nothing there.
func (s *Session) isolateProgress() isolate.Progress {
	lastPending := int64(-1)
	return isolate.ProgressFunc(func(e isolate.Event) {
		switch {
		case e.Step == "warning":
			s.Warn("%s", e.Message)
		case e.Step == "drain":
			if e.Count != lastPending {
				lastPending = e.Count
				s.Info("%d background jobs pending", e.Count)
			}
		case e.Message != "":
			s.Info("%s", e.Message)
		case e.Name != "":
			s.Info("%s %s: %s (%d)", e.Step, e.Name, e.State, e.Count)
		}
	})
}

// StepCron is the source side's step that comments out the jobs.php cron
// lines, after drain: the background jobs run from them.
const StepCron = "cron"

// isolateError words isolate's errors for a run: the run config's field
// instead of the library option, the restore command with the run's
// connection, and step for the origin.
func (s *Session) isolateError(step string, err error) error {
	var rb *isolate.RollbackError
	var ai *isolate.AlreadyIsolatedError
	switch {
	case errors.As(err, &rb):
		rb.RestoreCommand = s.Config.RestoreCommand()
	case errors.As(err, &ai):
		return &stepErr{err: err, msg: step + ": " + strings.Replace(strings.TrimPrefix(err.Error(), "isolate: "), "set AlreadyIsolatedOK", "set isolate.already_isolated_ok in the run config", 1)}
	}
	msg := strings.TrimPrefix(err.Error(), "isolate: ")
	if !strings.HasPrefix(msg, step+": ") {
		msg = step + ": " + msg
	}
	return &stepErr{msg: msg, err: err}
}

// stepErr is an error reworded for the run; it unwraps to the original.
type stepErr struct {
	msg string
	err error
}

func (e *stepErr) Error() string { return e.msg }
func (e *stepErr) Unwrap() error { return e.err }

// IsolateStep deactivates the external sources, moves the mail pipe script
// aside and stops the web server (isolate.Isolate) with the state file
// Config.StatePath(). The cron lines stay on: the background jobs run from
// them, and CronStep switches them off after DrainStep. Its Undo restores
// everything the state file holds (cron lines included) and says what it
// switched back on. An interrupted isolate is safe to redo: it continues
// from its state file.
func IsolateStep() Step {
	return Step{
		Name:  StepIsolate,
		Title: "deactivate the external sources",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			c := s.Config
			return s.isolate(ctx, StepIsolate, isolate.Options{
				InstallDir:        c.Connection.InstallDir,
				WebServer:         c.Isolate.WebServer,
				Keep:              c.Isolate.StayIsolatedOnFailure,
				AlreadyIsolatedOK: c.Isolate.AlreadyIsolatedOK,
			})
		},
		Undo: func(ctx context.Context, s *Session) error {
			state := s.Config.StatePath()
			if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
				s.Info("nothing to restore: no state file %s", state)
				return nil
			}
			db, err := s.DB(ctx)
			if err != nil {
				return err
			}
			res, err := isolate.Restore(ctx, db, state, isolate.Options{Progress: s.isolateProgress()})
			if res != nil {
				s.Info("switched back on: %s", res.SwitchedOn())
				if n := res.Conflicts(); n > 0 {
					s.Warn("%d conflicts left alone (changed since isolate); check them with %s", n, s.Config.RestoreCommand())
				}
			}
			if err != nil {
				return fmt.Errorf("%w; check with %s", err, s.Config.RestoreCommand())
			}
			return nil
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return 5 * time.Second, "a few updates"
		},
	}
}

// isolate runs isolate.Isolate with o for step and reports its result.
func (s *Session) isolate(ctx context.Context, step string, o isolate.Options) (Output, error) {
	var out Output
	db, err := s.DB(ctx)
	if err != nil {
		return out, err
	}
	p, err := s.profile()
	if err != nil {
		return out, err
	}
	o.Progress = s.isolateProgress()
	state := s.Config.StatePath()
	res, err := isolate.Isolate(ctx, db, p, state, o)
	if errors.Is(err, isolate.ErrJobsPending) && step == StepCron {
		// A job queued after drain: wait for it too, then try again.
		s.Info("background jobs were queued after drain; waiting for them")
		if _, derr := s.drain(ctx); derr != nil {
			return out, derr
		}
		res, err = isolate.Isolate(ctx, db, p, state, o)
	}
	if err != nil {
		return out, s.isolateError(step, err)
	}
	var changed, recorded int64
	for _, src := range res.Sources {
		changed += src.Changed
		recorded += int64(src.Recorded)
	}
	// res.Warnings were reported through isolateProgress as they happened.
	if fi, err := os.Stat(state); err == nil {
		out.AddFile(state, fi.Size(), "")
	}
	if step == StepCron {
		lines := 0
		for _, c := range res.Cron {
			lines += len(c.Lines)
		}
		out.Count("cron_files", int64(len(res.Cron)))
		out.Count("cron_lines", int64(lines))
		return out, nil
	}
	out.Count("rows_changed", changed)
	out.Count("rows_recorded", recorded)
	out.Count("files", int64(len(res.Files)))
	out.Count("services", int64(len(res.Services)))
	return out, nil
}

// CronStep comments out the jobs.php/queue.php cron lines
// (Config.Isolate.Cron) in the same state file, after DrainStep: the
// background jobs run from them. Jobs queued after the drain are waited for
// first. Skipped without Config.Isolate.Cron. It has no Undo of its own:
// IsolateStep's Undo restores everything the state file holds, these cron
// lines included. Safe to redo.
func CronStep() Step {
	return Step{
		Name:  StepCron,
		Title: "switch off the jobs.php cron",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			c := s.Config
			if c.Isolate.Cron == nil {
				return Output{}, Skip("no isolate.cron: the jobs.php cron line stays on (set isolate.cron to {} to switch it off)")
			}
			return s.isolate(ctx, StepCron, isolate.Options{
				Cron:              c.Isolate.Cron,
				Keep:              c.Isolate.StayIsolatedOnFailure,
				AlreadyIsolatedOK: c.Isolate.AlreadyIsolatedOK,
			})
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return time.Second, "edits the crontabs"
		},
	}
}

// drain waits for the background jobs with the run's drain options.
func (s *Session) drain(ctx context.Context) (*isolate.DrainResult, error) {
	db, err := s.DB(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.profile()
	if err != nil {
		return nil, err
	}
	timeout := s.Config.Drain.Timeout.D()
	res, err := isolate.Drain(ctx, db, isolate.DrainOptions{
		Query:    p.Drain(),
		Interval: s.Config.Drain.Interval.D(),
		Timeout:  timeout,
		Progress: s.isolateProgress(),
	})
	if errors.Is(err, isolate.ErrTimeout) {
		return res, &stepErr{err: err, msg: fmt.Sprintf("drain: timed out after %s with %d background jobs still pending; they run from the jobs.php cron line, which is still on: "+
			"check that it runs, then raise drain.timeout in the run config and run it again", timeout, res.Remaining)}
	}
	if err != nil {
		return res, &stepErr{err: err, msg: "drain: " + strings.TrimPrefix(strings.TrimPrefix(err.Error(), "isolate: "), "drain: ")}
	}
	return res, nil
}

// DrainStep waits until no background job is pending (isolate.Drain),
// after IsolateStep and before CronStep.
func DrainStep() Step {
	return Step{
		Name:  StepDrain,
		Title: "wait for background jobs",
		Redo:  true, // read-only
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			res, err := s.drain(ctx)
			if err != nil {
				return out, err
			}
			out.Count("polls", int64(res.Polls))
			out.Count("remaining", res.Remaining)
			return out, nil
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return 0, fmt.Sprintf("depends on pending jobs (at most %s)", s.Config.Drain.Timeout.D())
		},
	}
}

// dumpOptions are the runtime options of the run's dump into the archive
// named name: progress, tool version, and the passphrase function,
// asked here when the archive is encrypted (dump decides: Config.Encrypt,
// or a name ending in .age), so a missing passphrase fails before the
// dump-to-transfer step creates its upload.
func (s *Session) dumpOptions(cfg dump.Config, name string) (dump.Options, error) {
	return cfg.AskPassphrase(name, dump.Options{Progress: dumpProgress{s}, ToolVersion: s.opt.ToolVersion, Passphrase: s.passphrase()})
}

func (s *Session) dumpConfig(db string) dump.Config {
	c := s.Config.Dump
	// A copy after the first, and the cutover, are deltas since the last
	// copy; only the cutover's must prove that nothing wrote during it.
	var since string
	switch {
	case s.Config.Phase == PhasePreCopy && s.Config.Copy > 1:
		since = manifest.PathFor(filepath.Join(s.Config.OutputDir, s.Config.CopyArchive(s.Config.Copy-1)))
	case s.Config.Phase == PhaseCutover:
		since = manifest.PathFor(filepath.Join(s.Config.OutputDir, s.Config.CopyArchive(s.Config.Copy)))
	}
	return dump.Config{
		Since:            since,
		Live:             since != "" && s.Config.Phase == PhasePreCopy,
		Database:         db,
		IgnoreTables:     c.Ignore,
		NoDefaultIgnores: c.NoDefaultIgnores,
		KeepTables:       c.Keep,
		StripDefiners:    c.StripDefiners,
		Compression:      c.Compress,
		Level:            c.Level,
	}
}

// passphrase returns the archive's passphrase function, nil when the
// archive is not encrypted by name and no variable is configured.
func (s *Session) passphrase() func() (string, error) {
	env := s.Config.Dump.PassphraseEnv
	if env == "" {
		env = "LAMIGRATE_PASSPHRASE"
	}
	return s.Secret(env, "Archive passphrase")
}

type dumpProgress struct{ s *Session }

func (p dumpProgress) Update(st dump.Status) {
	p.s.Progress(st.DataBytes, st.DataBytesTotal, true,
		fmt.Sprintf("table %d/%d %s, %d rows", st.TablesDone, st.Tables, st.Table, st.Rows))
}
func (p dumpProgress) Warn(msg string) { p.s.Warn("%s", msg) }

// DumpStep writes the archive and its manifest (dump.File). An interrupted
// dump is safe to redo: only a finished dump is renamed into place.
func DumpStep() Step {
	return Step{
		Name:  StepDump,
		Title: "dump the database",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			db, err := s.DB(ctx)
			if err != nil {
				return out, err
			}
			r, _ := s.Resolve()
			cfg := s.dumpConfig(r.Config.DBName)
			path := s.Config.ArchivePath()
			opt, err := s.dumpOptions(cfg, path)
			if err != nil {
				return out, err
			}
			res, err := dump.File(ctx, db, path, cfg, opt)
			var nq *dump.NotQuietError
			if errors.As(err, &nq) {
				return out, fmt.Errorf("dump: %s may have been written after the cutover's snapshot although the help desk was isolated and drained (the server counted %d row writes meanwhile, on any of its databases): something the isolation profile does not cover writes to it (another cron job, a service, an application); stop it, then continue with --resume",
					strings.Join(nq.Tables, ", "), nq.Writes)
			}
			if err != nil {
				return out, err
			}
			out.AddFile(res.File.Path, res.File.Size, res.File.SHA256)
			if fi, err := os.Stat(res.File.Manifest); err == nil {
				out.AddFile(res.File.Manifest, fi.Size(), "")
			}
			countDump(&out, res)
			return out, nil
		},
		Estimate: bySQLBytes(check.DefaultDumpMBps, "{size} of SQL at {rate} MB/s", true),
	}
}

// countDump records what a dump wrote in its step's output.
func countDump(out *Output, res *dump.Result) {
	var rows int64
	for _, t := range res.Tables {
		rows += t.Rows
	}
	if dl := res.Delta; dl != nil {
		// A delta: what it carries, beside the full state it describes.
		var del, rep int64
		for _, t := range dl.Tables {
			del += t.Deleted
			rep += t.Replaced
		}
		out.Count("delta_tables", int64(len(dl.Tables)))
		out.Count("delta_rows_written", rep)
		out.Count("delta_rows_deleted", del)
		out.Count("rows_read", rows)
		out.Count("sql_bytes", res.SQL.Bytes)
		return
	}
	out.Count("tables", int64(len(res.Tables)))
	out.Count("rows", rows)
	out.Count("sql_bytes", res.SQL.Bytes)
	out.Count("ignored", int64(len(res.Ignored)))
}

type verifyProgress struct{ s *Session }

func (p verifyProgress) Update(done, total int64, note string) { p.s.Progress(done, total, true, note) }

// verifyDBProgress reports verify.Database's progress, which counts rows.
type verifyDBProgress struct{ s *Session }

func (p verifyDBProgress) Update(done, total int64, note string) {
	msg := "rows"
	if note != "" {
		msg = "rows, table " + note
	}
	p.s.Progress(done, total, false, msg)
}

// VerifyStep proves the archive whole and checks it against its manifest
// (verify.File). Read-only: safe to redo.
func VerifyStep() Step {
	return Step{
		Name:  StepVerify,
		Title: "verify the archive",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			path := s.Config.ArchivePath()
			mpath := manifest.PathFor(path)
			if _, err := os.Stat(mpath); err != nil {
				return out, fmt.Errorf("verify: no manifest beside the archive (%s): the run needs lamigrate's manifest to prove the archive complete", mpath)
			}
			rep, err := verify.File(ctx, path, verify.Options{Passphrase: s.passphrase(), Progress: verifyProgress{s}})
			if err != nil {
				return out, err
			}
			if !rep.OK {
				return out, fmt.Errorf("verify: %s: %s", path, rep.Failure)
			}
			if rep.Evidence != verify.EvidenceStrong {
				s.Warn("%s passed with %s evidence only", path, rep.Evidence)
			}
			out.AddFile(path, rep.File.Bytes, rep.File.SHA256)
			out.Count("sql_bytes", rep.SQL.Bytes)
			out.Count("tables", int64(len(rep.Tables)))
			out.Value("evidence", rep.Evidence)
			return out, nil
		},
		Estimate: bySQLBytes(VerifyMBps, "{size} of SQL at {rate} MB/s", false),
	}
}

// VerifyDBStep proves the imported database matches the manifest row for
// row (verify.Database). Read-only: safe to redo.
func VerifyDBStep() Step {
	return Step{
		Name:  StepVerifyDB,
		Title: "verify the imported database against the manifest",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			m, err := manifest.Read(manifest.PathFor(s.Config.ArchivePath()))
			if err != nil {
				return out, fmt.Errorf("verify: %w", err)
			}
			db, err := s.DB(ctx)
			if err != nil {
				return out, err
			}
			r, _ := s.Resolve()
			rep, err := verify.Database(ctx, db, m, verify.Options{Schema: r.Config.DBName, Progress: verifyDBProgress{s}})
			if err != nil {
				return out, err
			}
			if !rep.OK {
				return out, fmt.Errorf("verify: database %s: %s", rep.Database, rep.Failure)
			}
			out.Count("tables", int64(len(rep.Tables)))
			out.Count("rows", rep.Rows)
			return out, nil
		},
		Estimate: bySQLBytes(VerifyDBMBps, "one scan of {size} at {rate} MB/s", false),
	}
}

// RestoreStep re-activates the external sources in the imported database
// with the source side's state file (in stream mode, copied from
// Config.Transfer.URL's folder, where the source side sent it, unless a
// copy is already there). Only the database rows are restored
// (isolate.Options.RowsOnly): the files, cron lines and services the state
// file also records belong to the source server. Restore is idempotent and
// records its progress in the state file: safe to redo.
func RestoreStep() Step {
	return Step{
		Name:  StepRestore,
		Title: "re-activate the external sources in the imported database",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			var out Output
			if err := s.streamState(); err != nil {
				return out, err
			}
			state := s.Config.StatePath()
			if _, err := os.Stat(state); err != nil {
				return out, fmt.Errorf("restore: the source side's state file: %w (pull it with the archive, or name it in restore.state_file)", err)
			}
			db, err := s.DB(ctx)
			if err != nil {
				return out, err
			}
			res, err := isolate.Restore(ctx, db, state, isolate.Options{Progress: s.isolateProgress(), RowsOnly: true})
			if res != nil {
				out.Count("rows_restored", res.Restored())
				out.Count("conflicts", int64(res.Conflicts()))
				s.Info("switched back on: %s", res.SwitchedOn())
			}
			if err != nil {
				return out, err
			}
			return out, nil
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return 5 * time.Second, "a few updates"
		},
	}
}

// PushStep sends the archive, its manifest and the isolation state file to
// Config.Transfer.URL. Resumable: safe to redo.
func PushStep() Step {
	return Step{
		Name:  StepPush,
		Title: "send the archive",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			if s.Config.Transfer.URL == "" {
				return Output{}, Skip("no transfer.url: carry " + s.Config.ArchivePath() + ", its manifest and " + filepath.Base(s.Config.StatePath()) + " to the cloud some other way")
			}
			return s.push(ctx)
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return s.transferEstimate(ctx)
		},
	}
}

// PullStep fetches the archive, its manifest and (unless
// Config.Restore.StateFile names one) the isolation state file from
// Config.Transfer.URL. Resumable: safe to redo.
func PullStep() Step {
	return Step{
		Name:  StepPull,
		Title: "fetch the archive",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			if s.Config.Transfer.URL == "" {
				if _, err := os.Stat(s.Config.ArchivePath()); err != nil {
					return Output{}, fmt.Errorf("pull: no transfer.url and no archive at %s", s.Config.ArchivePath())
				}
				return Output{}, Skip("no transfer.url: using " + s.Config.ArchivePath())
			}
			return s.pull(ctx)
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return s.transferEstimate(ctx)
		},
	}
}

// ImportStep loads the archive into the database. The importer resumes by
// itself: safe to redo.
func ImportStep() Step {
	return Step{
		Name:  StepImport,
		Title: "import the archive",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			return s.load(ctx)
		},
		Estimate: bySQLBytes(check.DefaultImportMBps, "{size} of SQL at {rate} MB/s", false),
	}
}

// AdjustStep applies the reviewed rules file (Config.Adjust.Rules) to the
// imported database (adjust.Apply). It is idempotent: safe to redo.
// Without a rules file the step is skipped.
func AdjustStep() Step {
	return Step{
		Name:  StepAdjust,
		Title: "apply the cloud adjustments",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			if s.Config.Adjust.Rules == "" {
				return Output{}, Skip("no adjust.rules file")
			}
			return s.adjust(ctx)
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			return 5 * time.Second, "one transaction"
		},
	}
}

// Throughputs the dry run assumes where check has no figure (MB/s of the
// uncompressed SQL stream). Unlike check's DefaultDumpMBps and
// DefaultImportMBps these are conservative round figures, not measurements:
// both checks read the data once and are usually faster than the dump.
const (
	VerifyMBps   = 150.0
	VerifyDBMBps = 80.0
)

func mbps(bytes int64, rate float64) time.Duration {
	return time.Duration(float64(bytes) / (rate * 1e6) * float64(time.Second)).Round(time.Second)
}

// bySQLBytes estimates a step that works through the SQL stream at rate
// MB/s; what describes it, with {size} and {rate} filled in. withNote adds
// where the size estimate came from.
func bySQLBytes(rate float64, what string, withNote bool) func(context.Context, *Session) (time.Duration, string) {
	return func(ctx context.Context, s *Session) (time.Duration, string) {
		b := s.basis(ctx)
		if b.sqlBytes <= 0 {
			return 0, b.note
		}
		desc := strings.NewReplacer("{size}", bytesize.Format(b.sqlBytes), "{rate}", fmt.Sprintf("%.0f", rate)).Replace(what)
		if withNote {
			desc += " (" + b.note + ")"
		}
		return mbps(b.sqlBytes, rate), desc
	}
}

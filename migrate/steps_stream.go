package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/atomicfile"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/load"
	"github.com/qualityunit/lamigrate/migrate/check"
	"github.com/qualityunit/lamigrate/transfer"
)

// StreamingSteps returns the steps of a side in streaming mode
// (Config.Stream), in order: on the source side check, isolate, drain,
// cron, dump-to-transfer; on the cloud side follow-import, verify-db,
// adjust, restore.
//
// The source side has no verify and no push step: the dump goes straight
// into Transfer.URL's folder, and the upload is checked when it is
// committed (size and SHA-256 of the file as the destination holds it,
// against the dump's own) before it gets its name and manifest. The cloud
// side has no pull: the archive is already in its local folder; and no
// archive verify: the upload's commit checked the file's size and SHA-256
// against the dump's own, and follow-import checks the SQL stream's size
// and XXH3 against the completion marker and the manifest as it finishes.
// verify-db then proves the database row for row, as in the standard plan.
func StreamingSteps(side Side) []Step {
	switch side {
	case SourceSide:
		return []Step{CheckStep(), IsolateStep(), DrainStep(), CronStep(), DumpToTransferStep()}
	case CloudSide:
		return []Step{FollowImportStep(), VerifyDBStep(), AdjustStep(), RestoreStep()}
	}
	return nil
}

// DumpToTransferStep (stream mode, source side) sends the isolation state
// file into Config.Transfer.URL's folder (as transfer.StateName), removes
// an older complete archive of the same name there, then dumps the
// database straight into the folder (transfer.NewUpload and
// dump.WriteArchive, over one connection): the archive arrives as
// ARCHIVE.partial, is checked on commit, renamed to ARCHIVE and its
// manifest written last. Nothing but buffers is kept on this machine. The
// state file goes first so that the cloud side, which restores the
// sources at its end, never finds an older one beside a new archive.
//
// An interrupted or failed step starts over: a dump is one database
// snapshot and cannot be continued from another, so the redo dumps again
// and replaces the partial file (a cloud side following it stops, see
// FollowImportStep).
func DumpToTransferStep() Step {
	return Step{
		Name:  StepDumpToTransfer,
		Title: "dump the database straight to transfer.url",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			return s.dumpToTransfer(ctx)
		},
		Estimate: func(ctx context.Context, s *Session) (time.Duration, string) {
			dumpD, dumpWhat := bySQLBytes(check.DefaultDumpMBps, "{size} of SQL at {rate} MB/s", false)(ctx, s)
			wire, wireWhat := s.transferEstimate(ctx)
			if wire > dumpD {
				return wire, "the link: " + wireWhat + " (the dump runs alongside)"
			}
			return dumpD, dumpWhat + " (the transfer runs alongside)"
		},
	}
}

func (s *Session) dumpToTransfer(ctx context.Context) (Output, error) {
	var out Output
	db, err := s.DB(ctx)
	if err != nil {
		return out, err
	}
	b, err := s.backend(ctx)
	if err != nil {
		return out, err
	}
	defer b.Close()
	opts := transfer.Options{Mkdir: s.Config.Transfer.Mkdir}
	if err := b.Folder(ctx, opts.Mkdir); err != nil {
		if errors.Is(err, transfer.ErrNoFolder) {
			return out, fmt.Errorf("dump-to-transfer: %w: check transfer.url, or set \"mkdir\": true in the config's transfer section to create it", err)
		}
		return out, fmt.Errorf("dump-to-transfer: %w", err)
	}
	if err := s.pushState(ctx, b, &out); err != nil {
		return out, err
	}
	name := filepath.Base(s.Config.ArchivePath())
	for _, old := range []string{name, name + ".manifest.json"} {
		if err := b.Remove(ctx, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return out, fmt.Errorf("dump-to-transfer: removing the older %s%s: %w", b, old, err)
		}
	}
	r, _ := s.Resolve()
	cfg := s.dumpConfig(r.Config.DBName)
	// Extra connections would spill to this machine's disk what the link
	// cannot take yet; the link is the bottleneck anyway.
	cfg.Connections = 1
	opt, err := s.dumpOptions(cfg, name)
	if err != nil {
		return out, err
	}
	dest := b.String() + name
	partial := dest + transfer.UploadPartialSuffix
	up, err := transfer.NewUpload(ctx, b, name, opts, uploadProgress{s})
	if err != nil {
		return out, fmt.Errorf("dump-to-transfer: %w", err)
	}
	res, err := dump.WriteArchive(ctx, db, up, name, cfg, opt)
	if err != nil {
		if uerr := up.Abort(err); uerr != nil && ctx.Err() == nil {
			// The upload failed first: that is why the dump's writes failed.
			return out, fmt.Errorf("dump-to-transfer: sending to %s failed: %v; only %s was left there: run again, the dump starts over (a new snapshot)", b, strings.TrimPrefix(uerr.Error(), "transfer: "), partial)
		}
		return out, fmt.Errorf("%w; only %s was left at the destination (the next run starts the dump over and replaces it)", err, partial)
	}
	mb, err := res.ManifestJSON(s.opt.ToolVersion)
	if err != nil {
		up.Abort(err)
		return out, err
	}
	tres, err := up.Commit(ctx, mb)
	if err != nil {
		return out, fmt.Errorf("dump-to-transfer: %w; %s was not committed, only %s is there: run again, the dump starts over (a new snapshot)", err, dest, partial)
	}
	out.AddFile(dest, res.File.Size, res.File.SHA256)
	out.Value("verified", string(tres.Verified))
	out.Value("destination", b.String())
	countDump(&out, res)
	return out, nil
}

// pushState sends the isolation state file into b's folder as
// transfer.StateName (verified and renamed into place, as push does).
func (s *Session) pushState(ctx context.Context, b transfer.Backend, out *Output) error {
	state := s.Config.StatePath()
	if _, err := os.Stat(state); err != nil {
		s.Warn("no isolation state file %s to send: the cloud side cannot re-activate the sources without it", state)
		return nil
	}
	file := state
	if filepath.Base(state) != transfer.StateName {
		// Push sends a file under its own name: give it the one the
		// cloud side looks for.
		tmp, err := os.MkdirTemp(s.Config.OutputDir, ".state-")
		if err != nil {
			return fmt.Errorf("dump-to-transfer: %w", err)
		}
		defer os.RemoveAll(tmp)
		data, err := os.ReadFile(state)
		if err != nil {
			return fmt.Errorf("dump-to-transfer: %w", err)
		}
		file = filepath.Join(tmp, transfer.StateName)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return fmt.Errorf("dump-to-transfer: %w", err)
		}
	}
	r, err := transfer.Push(ctx, b, file, transfer.Options{}, nil)
	if err != nil {
		return fmt.Errorf("dump-to-transfer: sending the isolation state file %s: %w", state, err)
	}
	addResult(out, r)
	s.Info("sent the isolation state file %s as %s%s", state, b, transfer.StateName)
	return nil
}

// uploadProgress shows the upload's commit steps.
type uploadProgress struct{ s *Session }

func (u uploadProgress) Step(step string, _, _ int64) {
	switch step {
	case "verifying":
		u.s.Info("verifying size and SHA-256 of the archive at the destination")
	case "retrying":
		u.s.Warn("connection lost while committing the archive; reconnecting")
	}
}

func (u uploadProgress) Sent(int64, int64) {}

// FollowImportStep (stream mode, cloud side) imports the archive from
// Config.Transfer.URL's local folder while the source side still dumps it
// there (load.Follow): it waits for ARCHIVE.partial to appear (up to
// import.stall), loads statements as they arrive, and at the end checks
// the stream against the manifest the dump writes last. An archive already
// complete is imported as it is.
//
// Safe to redo: an import interrupted while the same dump goes on (or has
// completed) continues after the tables it committed. When the dump gave
// up (its partial file stopped growing for import.stall, vanished, or was
// replaced by a dump that started over), the tables loaded belong to a
// snapshot that will never be complete: the step drops the import's
// progress, so a redo refuses the non-empty database until import.force
// is set, and then reloads every table from the new dump.
func FollowImportStep() Step {
	return Step{
		Name:  StepFollowImport,
		Title: "import the archive while the source side dumps it",
		Redo:  true,
		Do: func(ctx context.Context, s *Session) (Output, error) {
			return s.followLoad(ctx)
		},
		Estimate: bySQLBytes(check.DefaultImportMBps, "{size} of SQL at {rate} MB/s, as it arrives", false),
	}
}

func (s *Session) followLoad(ctx context.Context) (Output, error) {
	var out Output
	path := s.Config.ArchivePath()
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return out, fmt.Errorf("follow-import: transfer.url %s is not a folder on this machine: in stream mode it must be the local folder the source side dumps into (the SFTP server's dropbox)", filepath.Dir(path))
	}
	if !stillWritten(path) {
		// The dump renames the archive before it writes the manifest.
		if _, err := waitManifest(ctx, manifest.PathFor(path), s.Config.Import.Stall.D()); err != nil {
			return out, err
		}
		s.Info("%s is complete: importing it as it is", path)
		out, err := s.load(ctx)
		if errors.Is(err, load.ErrTargetNotEmpty) {
			err = fmt.Errorf("%w; if this run loaded those tables from a dump that started over, set \"import\": {\"force\": true} in the run config to replace the tables the archive holds", err)
		}
		return out, err
	}
	r, err := s.Resolve()
	if err != nil {
		return out, err
	}
	stall := s.Config.Import.Stall.D()
	fl, err := load.Follow(ctx, path, load.FollowOptions{Stall: stall})
	if err != nil {
		return out, fmt.Errorf("follow-import: %s", strings.TrimPrefix(err.Error(), "load: "))
	}
	defer fl.Close()
	mpath := manifest.PathFor(path)
	check := func(ctx context.Context, st manifest.Stream) error {
		m, err := waitManifest(ctx, mpath, stall)
		if err != nil {
			return err
		}
		if m.File.Size != 0 && m.File.Size != fl.Offset() {
			return fmt.Errorf("follow-import: %s records an archive of %d bytes, %d were read: the manifest belongs to another dump; the loaded tables stay", mpath, m.File.Size, fl.Offset())
		}
		if m.SQL.XXH3 != "" && (m.SQL.Bytes != st.Bytes || m.SQL.XXH3 != st.XXH3) {
			return fmt.Errorf("follow-import: %s records a stream of %d bytes with xxh3 %s, the archive holds %d bytes with xxh3 %s: the manifest belongs to another dump; the loaded tables stay", mpath, m.SQL.Bytes, m.SQL.XXH3, st.Bytes, st.XXH3)
		}
		return nil
	}
	cfg := load.Config{
		Threads:       s.Config.Import.Threads,
		StripDefiners: s.Config.Import.StripDefiners,
		Force:         s.Config.Import.Force,
		Followed:      true,
		RequireMarker: true,
	}
	s.Info("following %s%s", path, load.FollowPartialSuffix)
	res, err := load.Load(ctx, r.Config.Clone(), fl, cfg, load.WithProgress(loadProgress{s}),
		load.WithPassphrase(s.passphrase()), load.WithStreamCheck(check))
	var fe *load.FollowError
	var de *load.DefinerError
	switch {
	case errors.As(err, &fe):
		return out, s.followFailed(ctx, r.Config, fe)
	case errors.As(err, &de):
		return out, fmt.Errorf("%s: set \"import\": {\"strip_definers\": true} in the run config to create them as %s", de.Summary(), de.Account)
	case errors.Is(err, load.ErrTargetNotEmpty):
		return out, fmt.Errorf("%w; if this run loaded those tables from a dump that started over, set \"import\": {\"force\": true} in the run config to replace the tables the archive holds", err)
	case err != nil:
		return out, err
	}
	out.Count("tables", int64(res.Tables))
	out.Count("tables_skipped", int64(res.Skipped))
	out.Count("rows", res.Rows)
	out.Count("sql_bytes", res.SQLBytes)
	out.Count("archive_bytes", fl.Offset())
	if res.Resumed {
		out.Value("resumed", "true")
	}
	return out, nil
}

// stillWritten says whether the archive at path is to be followed: its
// partial file is there, or nothing is there yet (the dump has not
// started). A complete archive without a partial file is imported as it
// is.
func stillWritten(path string) bool {
	if _, err := os.Stat(path + load.FollowPartialSuffix); err == nil {
		return true
	}
	_, err := os.Stat(path)
	return err != nil
}

// followFailed explains a followed archive whose dump gave up. A source
// run never continues a partial file: a dump that stopped, vanished or
// was replaced will be done again as a new snapshot, so the tables loaded
// from it must not be continued with the new one's rows. The import's
// progress table is dropped: the next import refuses the non-empty
// database until import.force is set, and then replaces every table. A
// partial file that stalled is removed (when it has not grown since), so
// that the next follow-import waits for the new dump's instead of
// following the dead one again.
func (s *Session) followFailed(ctx context.Context, target *mysql.Config, fe *load.FollowError) error {
	msg := "follow-import: " + strings.TrimPrefix(fe.Error(), "load: ")
	if errors.Is(fe, load.ErrStalled) && fe.Offset == 0 {
		return fmt.Errorf("%s: start the source side's run (stream mode), then run the cloud side again, or raise import.stall to wait longer for it", msg)
	}
	removed := ""
	if errors.Is(fe, load.ErrStalled) {
		// The dead dump's partial file, unchanged since the stall: a
		// cloud side run again must wait for the new dump's, not follow
		// this one again. A source run never continues it.
		partial := fe.Path + load.FollowPartialSuffix
		if fi, err := os.Stat(partial); err == nil && fi.Size() == fe.Offset && os.Remove(partial) == nil {
			removed = "; removed the dead " + partial
		}
	}
	msg += removed
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := load.Forget(dctx, target)
	cancel()
	if err != nil {
		return fmt.Errorf("%s; the source side's dump will start over (a new snapshot): drop the tables of %s, then run the cloud side again once the source side runs again", msg, target.DBName)
	}
	return fmt.Errorf("%s; the tables loaded so far belong to that dump's snapshot, and the source side's dump starts over (a new snapshot) when it runs again: set \"import\": {\"force\": true} in the cloud side's run config to replace them, then run the cloud side again", msg)
}

// waitManifest reads the manifest a dump writes after renaming the
// archive, waiting for it up to stall.
func waitManifest(ctx context.Context, mpath string, stall time.Duration) (*manifest.Manifest, error) {
	m, err := manifest.Wait(ctx, mpath, stall)
	if errors.Is(err, manifest.ErrNotThere) {
		return nil, fmt.Errorf("follow-import: %s is complete (its completion marker checks out) but %s did not appear within %s: run the cloud side again once it is there; every table is loaded, the import only checks and finishes", strings.TrimSuffix(mpath, ".manifest.json"), mpath, stall)
	}
	return m, err
}

// streamState copies the isolation state file the source side sent into
// Transfer.URL's folder to StatePath (stream mode, cloud side), unless the
// config names one or a copy is already there (restore records its
// progress in the copy).
func (s *Session) streamState() error {
	c := s.Config
	if !c.Stream || c.Side != CloudSide || c.Restore.StateFile != "" {
		return nil
	}
	dst := c.StatePath()
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	src := filepath.Join(c.Transfer.URL, transfer.StateName)
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("restore: no isolation state file %s: the source side sends it before its dump; copy it there, or name a copy in restore.state_file", src)
	}
	if err := os.MkdirAll(c.OutputDir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(dst, data, 0o600); err != nil {
		return fmt.Errorf("restore: copying %s: %w", src, err)
	}
	s.Info("copied the isolation state file %s to %s", src, dst)
	return nil
}

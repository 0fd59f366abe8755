package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qualityunit/lamigrate/transfer"
)

// backend opens the transfer destination (source side) or origin (cloud
// side) named by Config.Transfer.URL.
func (s *Session) backend(ctx context.Context) (transfer.Backend, error) {
	t := s.Config.Transfer
	loc, err := transfer.ParseTarget(t.URL)
	if err != nil {
		return nil, fmt.Errorf("transfer: transfer.url: %w", err)
	}
	if loc == nil {
		return transfer.NewLocal(t.URL), nil
	}
	if !loc.IsDir() {
		return nil, fmt.Errorf("transfer: transfer.url %q must name a folder (end it with /)", t.URL)
	}
	kh := t.KnownHosts
	if kh == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("transfer: no transfer.known_hosts and no home folder: %v", err)
		}
		kh = filepath.Join(home, ".ssh", "known_hosts")
	}
	cfg := transfer.SFTPConfig{
		User: loc.User, Host: loc.Host, Port: loc.Port, Dir: loc.Path,
		IdentityFile:     t.Identity,
		AgentSocket:      s.Getenv("SSH_AUTH_SOCK"),
		KnownHostsFile:   kh,
		AcceptNewHostKey: t.AcceptNewHostKey,
	}
	ppEnv, pwEnv := t.PassphraseEnv, t.PasswordEnv
	if ppEnv == "" {
		ppEnv = "LAMIGRATE_SSH_PASSPHRASE"
	}
	if pwEnv == "" {
		pwEnv = "LAMIGRATE_SSH_PASSWORD"
	}
	sec := transfer.Secrets{
		Passphrase: func(key string) (string, error) { return s.Secret(ppEnv, "Passphrase of "+key)() },
		Password:   s.Secret(pwEnv, "SSH password"),
	}
	return transfer.DialSFTP(ctx, cfg, sec)
}

// transferReachable is the dry run's look at Config.Transfer.URL: it
// connects, and checks that the folder exists (or transfer.mkdir will make
// it) for a push, and that the archive is there for a pull.
func (s *Session) transferReachable(ctx context.Context, pull bool) error {
	b, err := s.backend(ctx)
	if err != nil {
		return err
	}
	defer b.Close()
	if pull {
		if _, err := b.Stat(ctx, s.Config.archiveName()); err != nil {
			return fmt.Errorf("transfer: %s%s is not there yet: %v", b, s.Config.archiveName(), err)
		}
		return nil
	}
	if err := b.Folder(ctx, false); err != nil {
		if errors.Is(err, transfer.ErrNoFolder) && s.Config.Transfer.Mkdir {
			return nil
		}
		return fmt.Errorf("%v: check transfer.url, or set \"mkdir\": true in the config's transfer section to create it", err)
	}
	return nil
}

type transferProgress struct {
	s    *Session
	what string
}

// Step says nothing: from is where the copy stands in its one total (file,
// manifest, state file), not a resume point; a resumed copy is in the
// step's output (resumed_at).
func (p transferProgress) Step(step string, from, total int64) {}

func (p transferProgress) Sent(done, total int64) { p.s.Progress(done, total, true, p.what) }

func addResult(out *Output, r *transfer.Result) {
	out.AddFile(r.Name, r.Size, r.SHA256)
	if r.Sent > 0 || out.Counts["sent_bytes"] > 0 {
		out.Count("sent_bytes", out.Counts["sent_bytes"]+r.Sent)
	}
	if r.Received > 0 || out.Counts["received_bytes"] > 0 {
		out.Count("received_bytes", out.Counts["received_bytes"]+r.Received)
	}
	if r.ResumedAt > 0 {
		out.Count("resumed_at", r.ResumedAt)
	}
	out.Count("retries", out.Counts["retries"]+int64(r.Retries))
}

// push sends the archive, its manifest and the isolation state file (last,
// as transfer.StateName), as one transfer with one progress total.
func (s *Session) push(ctx context.Context) (Output, error) {
	var out Output
	b, err := s.backend(ctx)
	if err != nil {
		return out, err
	}
	defer b.Close()
	archive := s.Config.ArchivePath()
	opts := transfer.Options{Mkdir: s.Config.Transfer.Mkdir}
	state := s.Config.StatePath()
	if _, err := os.Stat(state); err == nil && s.Config.Phase != PhasePreCopy {
		opts.State = state
	} else if s.Config.Phase != PhasePreCopy {
		s.Warn("no isolation state file %s to send: the cloud side cannot re-activate the sources without it", state)
	}
	r, err := transfer.Push(ctx, b, archive, opts, transferProgress{s, filepath.Base(archive)})
	if err != nil {
		if errors.Is(err, transfer.ErrNoFolder) {
			return out, fmt.Errorf("%w: check transfer.url, or set \"mkdir\": true in the config's transfer section to create it", err)
		}
		return out, err
	}
	if !r.Manifest {
		return out, fmt.Errorf("push: %s travelled without its manifest", archive)
	}
	if r.Changes != nil {
		addResult(&out, r.Changes)
	}
	addResult(&out, r)
	out.Value("verified", string(r.Verified))
	if r.State != nil {
		addResult(&out, r.State)
		s.Info("carried the isolation state file %s as %s", state, r.State.Name)
	}
	out.Value("destination", b.String())
	return out, nil
}

// pull fetches the archive with its manifest and, unless the config names a
// state file, the source side's isolation state file (transfer.StateName
// beside the archive) into StatePath.
func (s *Session) pull(ctx context.Context) (Output, error) {
	var out Output
	if err := os.MkdirAll(s.Config.OutputDir, 0o700); err != nil {
		return out, err
	}
	b, err := s.backend(ctx)
	if err != nil {
		return out, err
	}
	defer b.Close()
	archive := s.Config.ArchivePath()
	var opts transfer.Options
	if s.Config.Restore.StateFile == "" && s.Config.Phase != PhasePreCopy {
		// A pre-copy isolated nothing: there is no state file to fetch.
		opts.State = s.Config.StatePath()
	}
	r, err := transfer.Pull(ctx, b, filepath.Base(archive), archive, opts, transferProgress{s, filepath.Base(archive)})
	if err != nil {
		return out, err
	}
	if !r.Manifest {
		return out, fmt.Errorf("pull: %s has no manifest beside it at %s: the run needs it to verify the import", filepath.Base(archive), b)
	}
	if r.Changes != nil {
		addResult(&out, r.Changes)
	}
	addResult(&out, r)
	if opts.State != "" {
		if r.State == nil {
			return out, fmt.Errorf("pull: no isolation state file %s beside %s at %s: push it there, or name a copy in restore.state_file", transfer.StateName, filepath.Base(archive), b)
		}
		addResult(&out, r.State)
	}
	out.Value("origin", b.String())
	return out, nil
}

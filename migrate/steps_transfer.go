package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/transfer"
)

// backend opens the transfer destination (source side) or origin (cloud
// side) named by Config.Transfer.URL.
func (s *Session) backend(ctx context.Context) (transfer.Backend, error) {
	t := s.Config.Transfer
	if !transfer.IsURL(t.URL) {
		return transfer.NewLocal(t.URL), nil
	}
	loc, err := transfer.ParseURL(t.URL)
	if err != nil {
		return nil, err
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

type transferProgress struct {
	s    *Session
	what string
}

func (p transferProgress) Step(step string, from, total int64) {
	if from > 0 {
		p.s.Info("%s: %s, resuming at %s of %s", p.what, step, bytesize.Format(from), bytesize.Format(total))
	}
}
func (p transferProgress) Sent(done, total int64) { p.s.Progress(done, total, true, p.what) }

func addResult(out *Output, r *transfer.Result) {
	out.AddFile(r.Name, r.Size, r.SHA256)
	out.Count("sent_bytes", out.Counts["sent_bytes"]+r.Sent)
	if r.ResumedAt > 0 {
		out.Count("resumed_at", r.ResumedAt)
	}
	out.Count("retries", out.Counts["retries"]+int64(r.Retries))
}

// push sends the archive (its manifest travels with it) and the state file.
func (s *Session) push(ctx context.Context) (Output, error) {
	var out Output
	b, err := s.backend(ctx)
	if err != nil {
		return out, err
	}
	defer b.Close()
	archive := s.Config.ArchivePath()
	r, err := transfer.Push(ctx, b, archive, transfer.Options{}, transferProgress{s, filepath.Base(archive)})
	if err != nil {
		return out, err
	}
	if !r.Manifest {
		return out, fmt.Errorf("push: %s travelled without its manifest", archive)
	}
	addResult(&out, r)
	out.Value("verified", string(r.Verified))
	state := s.Config.StatePath()
	if _, err := os.Stat(state); err == nil {
		r, err := transfer.Push(ctx, b, state, transfer.Options{}, transferProgress{s, filepath.Base(state)})
		if err != nil {
			return out, err
		}
		addResult(&out, r)
	} else {
		s.Warn("push: no isolation state file %s to send: the cloud side cannot re-activate the sources without it", state)
	}
	out.Value("destination", b.String())
	return out, nil
}

// pull fetches the archive with its manifest and, unless the config names a
// state file, the source side's isolation state file.
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
	r, err := transfer.Pull(ctx, b, filepath.Base(archive), archive, transfer.Options{}, transferProgress{s, filepath.Base(archive)})
	if err != nil {
		return out, err
	}
	if !r.Manifest {
		return out, fmt.Errorf("pull: %s has no manifest beside it at %s: the run needs it to verify the import", filepath.Base(archive), b)
	}
	addResult(&out, r)
	if s.Config.Restore.StateFile == "" {
		state := s.Config.StatePath()
		r, err := transfer.Pull(ctx, b, filepath.Base(state), state, transfer.Options{}, transferProgress{s, filepath.Base(state)})
		if err != nil {
			return out, fmt.Errorf("pull: the isolation state file: %w (or name a copy in restore.state_file)", err)
		}
		addResult(&out, r)
	}
	out.Value("origin", b.String())
	return out, nil
}

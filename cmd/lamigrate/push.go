package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/transfer"
)

// sshFlags are push's and pull's SSH options.
type sshFlags struct {
	Identity         string `name:"identity" help:"SSH private key file (passphrase from LAMIGRATE_SSH_PASSPHRASE or a prompt). Default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa; a password (LAMIGRATE_SSH_PASSWORD or a prompt) last." placeholder:"KEY" type:"path"`
	KnownHosts       string `name:"known-hosts" help:"known_hosts file (default ~/.ssh/known_hosts)." placeholder:"FILE" type:"path"`
	AcceptNewHostKey bool   `name:"accept-new-host-key" help:"Trust a server not yet in known_hosts and add its key there (a CHANGED key is always refused)."`
}

type pushCmd struct {
	File string `arg:"" help:"File to send (its manifest travels with it)." type:"path"`
	Dest string `arg:"" help:"sftp://USER@HOST[:PORT]/DIR/ (DIR absolute; /~/DIR for the login folder) or a local folder."`
	sshFlags
}

func (c *pushCmd) Run(e *env) error {
	fi, err := os.Stat(c.File)
	if err != nil {
		return withStatus(exitUsage, fmt.Errorf("cannot read the file to send: %w", err))
	}
	if !fi.Mode().IsRegular() {
		return usageErr("%s is not a regular file", c.File)
	}
	var b transfer.Backend
	if transfer.IsURL(c.Dest) {
		loc, err := transfer.ParseURL(c.Dest)
		if err != nil {
			return withStatus(exitUsage, err)
		}
		dir := loc.Path
		// sftp://h/in/dump.sql.gz names the file itself; anything else is
		// the folder.
		if !loc.IsDir() && path.Base(dir) == filepath.Base(c.File) {
			dir = path.Dir(dir)
		}
		s, err := c.dial(e, loc, dir)
		if err != nil {
			return err
		}
		b = s
	} else {
		b = transfer.NewLocal(c.Dest)
	}
	defer b.Close()
	p := newTransferProgress(e, "push", filepath.Base(c.File))
	res, err := transfer.Push(e.ctx, b, c.File, transfer.Options{}, p)
	p.stop()
	if err != nil {
		return transferError(err, b)
	}
	return e.ui.result(res, func(w io.Writer) {
		printTransfer(w, "pushed", c.File, b.String()+res.Name, res)
	})
}

// dial connects to the server of loc, with its folder dir.
func (c *sshFlags) dial(e *env, loc *transfer.Location, dir string) (*transfer.SFTP, error) {
	home := e.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	cfg := transfer.SFTPConfig{
		User: loc.User, Host: loc.Host, Port: loc.Port, Dir: dir,
		IdentityFile:     c.Identity,
		KnownHostsFile:   c.KnownHosts,
		AcceptNewHostKey: c.AcceptNewHostKey,
		AgentSocket:      e.getenv("SSH_AUTH_SOCK"),
	}
	if home != "" {
		if cfg.KnownHostsFile == "" {
			cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
		}
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			cfg.DefaultIdentityFiles = append(cfg.DefaultIdentityFiles, filepath.Join(home, ".ssh", k))
		}
	}
	if cfg.KnownHostsFile == "" {
		return nil, usageErr("no home folder to find known_hosts in: give --known-hosts")
	}
	if c.Identity != "" {
		if _, err := os.Stat(c.Identity); err != nil {
			return nil, withStatus(exitUsage, fmt.Errorf("--identity: %w", err))
		}
	}
	passphrase := e.secret("LAMIGRATE_SSH_PASSPHRASE", "SSH key passphrase")
	sec := transfer.Secrets{
		Passphrase: func(string) (string, error) { return passphrase() },
		Password:   e.secret("LAMIGRATE_SSH_PASSWORD", fmt.Sprintf("SSH password for %s@%s", loc.User, loc.Host)),
	}
	s, err := transfer.DialSFTP(e.ctx, cfg, sec)
	if err != nil {
		return nil, transferError(err, nil)
	}
	return s, nil
}

// transferError adds what the user can do to the library's message.
func transferError(err error, b transfer.Backend) error {
	var hk *transfer.HostKeyError
	switch {
	case errors.As(err, &hk) && !hk.Changed:
		return fmt.Errorf("%w; or rerun with --accept-new-host-key to trust it", err)
	case errors.Is(err, transfer.ErrAuth):
		return fmt.Errorf("%w; give the key with --identity (its passphrase in LAMIGRATE_SSH_PASSPHRASE), load it into ssh-agent, or set LAMIGRATE_SSH_PASSWORD", err)
	case errors.Is(err, transfer.ErrManifestMismatch):
		return fmt.Errorf("%w; the file or its manifest was changed after the dump: run lamigrate verify on it", err)
	case errors.Is(err, transfer.ErrVerify):
		return fmt.Errorf("%w; the partial file was kept: run the same command again to resume and re-check", err)
	case transfer.IsTransient(err):
		return fmt.Errorf("%w; the network failed: run the same command again to resume", err)
	}
	return err
}

func printTransfer(w io.Writer, verb, from, to string, r *transfer.Result) {
	var notes []string
	if r.AlreadyPresent {
		notes = append(notes, "already there")
	} else if r.ResumedAt > 0 {
		notes = append(notes, fmt.Sprintf("resumed at %s, sent %s", bytesize.Format(r.ResumedAt), bytesize.Format(r.Sent)))
	} else if r.Restarted {
		notes = append(notes, "the partial file did not match and was sent again")
	}
	if r.Manifest {
		notes = append(notes, "manifest carried along")
	}
	if r.Retries > 0 {
		notes = append(notes, fmt.Sprintf("%d reconnects", r.Retries))
	}
	fmt.Fprintf(w, "%s %s to %s: %s, sha256 %s, verified (%s) in %s", verb, from, to, bytesize.Format(r.Size), r.SHA256, r.Verified, r.Duration.Round(1e7))
	if len(notes) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(notes, "; "))
	}
	fmt.Fprintln(w)
}

// transferProgress renders transfer.Progress with the CLI's task display:
// rate and ETA count only the bytes this run moves.
type transferProgress struct {
	e          *env
	verb, name string
	t          *task
	from       int64
}

func newTransferProgress(e *env, verb, name string) *transferProgress {
	return &transferProgress{e: e, verb: verb, name: name}
}

func (p *transferProgress) Step(step string, from, total int64) {
	switch step {
	case "sending":
		p.stop()
		p.from = from
		if from > 0 {
			p.e.ui.info("%s %s: resuming at %s of %s", p.verb, p.name, bytesize.Format(from), bytesize.Format(total))
		}
		p.t = p.e.ui.task(p.verb+" "+p.name, total-from, true)
	case "verifying":
		p.stop()
		p.e.ui.info("%s %s: verifying size and SHA-256", p.verb, p.name)
	case "retrying":
		p.stop()
		p.e.ui.warn("%s %s: connection lost; reconnecting to resume", p.verb, p.name)
	}
}

func (p *transferProgress) Sent(done, total int64) {
	if p.t != nil {
		p.t.Update(done-p.from, total-p.from, "")
	}
}

func (p *transferProgress) stop() {
	if p.t != nil {
		p.t.Finish("")
		p.t = nil
	}
}

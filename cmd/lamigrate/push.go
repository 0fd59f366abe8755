package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osuser "os/user"
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
	File    string `arg:"" help:"File to send (its manifest travels with it, and a delta's FILE.changes.zst before it)." type:"path"`
	Dest    string `arg:"" help:"sftp://USER@HOST[:PORT]/DIR/ (DIR absolute; /~/DIR for the login folder) or a local folder (a path with a colon: ./PATH or /PATH)."`
	State   string `name:"state" help:"Isolation state file to send last, as isolate-state.json (default: isolate-state.json beside FILE, when there)." placeholder:"FILE" type:"path"`
	NoState bool   `name:"no-state" help:"Do not send an isolation state file."`
	Mkdir   bool   `name:"mkdir" help:"Create the destination folder when it does not exist."`
	sshFlags
}

func (c *pushCmd) Run(ctx context.Context, e *env) error {
	fi, err := os.Stat(c.File)
	if err != nil {
		return withStatus(exitUsage, fmt.Errorf("cannot read the file to send: %w", err))
	}
	if !fi.Mode().IsRegular() {
		return usageErr("%s is not a regular file", c.File)
	}
	opts := transfer.Options{Mkdir: c.Mkdir}
	switch {
	case c.State != "" && c.NoState:
		return usageErr("--state and --no-state contradict each other: give one")
	case c.State != "":
		if _, err := os.Stat(c.State); err != nil {
			return withStatus(exitUsage, fmt.Errorf("--state: %w", err))
		}
		opts.State = c.State
	case !c.NoState:
		if beside := filepath.Join(filepath.Dir(c.File), transfer.StateName); fileExists(beside) {
			opts.State = beside
		}
	}
	loc, err := parseTarget(e, c.Dest)
	if err != nil {
		return err
	}
	var b transfer.Backend
	if loc != nil {
		dir := loc.Path
		// sftp://h/in/dump.sql.gz names the file itself; anything else is
		// the folder.
		if !loc.IsDir() && path.Base(dir) == filepath.Base(c.File) {
			dir = path.Dir(dir)
		}
		s, err := c.dial(ctx, e, loc, dir)
		if err != nil {
			return err
		}
		b = s
	} else {
		b = transfer.NewLocal(c.Dest)
	}
	defer b.Close()
	p := newTransferProgress(e, "push", filepath.Base(c.File))
	res, err := transfer.Push(ctx, b, c.File, opts, p)
	if err != nil {
		p.stop()
		return transferError(err, b)
	}
	p.done()
	return e.ui.result(res, func(w io.Writer) {
		printTransfer(w, "pushed", c.File, b.String()+res.Name, res)
		if res.State != nil {
			printTransfer(w, "pushed", opts.State, b.String()+res.State.Name, res.State)
		} else {
			fmt.Fprintf(w, "no isolation state file sent (none at %s; name one with --state)\n", filepath.Join(filepath.Dir(c.File), transfer.StateName))
		}
	})
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// parseTarget reads push's destination or pull's source: an sftp:// URL
// (loc set) or a local path (loc nil). An scp-style USER@HOST:PATH is
// refused with the sftp:// spelling to use.
func parseTarget(e *env, s string) (*transfer.Location, error) {
	loc, err := transfer.ParseTarget(s)
	var se *transfer.SCPError
	switch {
	case errors.As(err, &se):
		user := e.getenv("USER")
		if user == "" {
			if u, uerr := osuser.Current(); uerr == nil {
				user = u.Username
			}
		}
		return nil, usageErr("%s looks like an scp destination; write it as %s (or ./%s for a local folder of that name)", s, se.URL(user), s)
	case err != nil:
		return nil, withStatus(exitUsage, trimPrefixErr{err, "transfer: "})
	}
	return loc, nil
}

// dial connects to the server of loc, with its folder dir.
func (c *sshFlags) dial(ctx context.Context, e *env, loc *transfer.Location, dir string) (*transfer.SFTP, error) {
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
	s, err := transfer.DialSFTP(ctx, cfg, sec)
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
		return trimPrefixErr{fmt.Errorf("%w; the connection broke during the transfer: run the same command again to resume", err), "transfer: "}
	case errors.Is(err, transfer.ErrConnect):
		return trimPrefixErr{fmt.Errorf("%w; check the host name and the port, that sshd runs there, and that no firewall blocks this machine", err), "transfer: "}
	case errors.Is(err, transfer.ErrNoFolder):
		return trimPrefixErr{fmt.Errorf("%w: check the path, or run the same command with --mkdir to create it", err), "transfer: "}
	}
	return trimPrefixErr{err, "transfer: "}
}

func printTransfer(w io.Writer, verb, from, to string, r *transfer.Result) {
	var notes []string
	if r.AlreadyPresent {
		notes = append(notes, "already there")
	} else if r.ResumedAt > 0 {
		notes = append(notes, fmt.Sprintf("resumed at %s, moved %s", bytesize.Format(r.ResumedAt), bytesize.Format(r.Sent+r.Received)))
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
		// One display for everything the call moves (file, manifest,
		// state file): later files continue it.
		if p.t != nil {
			return
		}
		p.from = from
		if from > 0 {
			p.e.ui.info("%s %s: %s of %s already there (resumed or unchanged)", p.verb, p.name, bytesize.Format(from), bytesize.Format(total))
		}
		p.t = p.e.ui.task(p.verb+" "+p.name, total-from, true)
	case "verifying":
		if p.t != nil {
			p.t.Update(p.t.done, 0, "verifying size and SHA-256")
		} else {
			p.e.ui.info("%s %s: verifying size and SHA-256", p.verb, p.name)
		}
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

// done ends the display of a transfer that finished: 100% of what moved.
func (p *transferProgress) done() {
	if p.t != nil {
		p.t.Complete("")
		p.t = nil
	}
}

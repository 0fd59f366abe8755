package transfer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/sftptest"
)

func TestParseTarget(t *testing.T) {
	cases := []struct {
		in      string
		local   bool   // a local path
		scp     string // the sftp:// spelling an *SCPError suggests (user "me")
		anyErr  bool
		wantLoc Location
	}{
		{in: "/srv/in/", local: true},
		{in: "in", local: true},
		{in: "./root@127.0.0.1:/srv/in/", local: true},
		{in: "/data/a:b/", local: true},
		{in: "dir/a:b", local: true},
		{in: "root@127.0.0.1:/srv/in/", scp: "sftp://root@127.0.0.1/srv/in/"},
		{in: "root@host:in/", scp: "sftp://root@host/~/in/"},
		{in: "host:", scp: "sftp://me@host/~/"},
		{in: "host:~/in/", scp: "sftp://me@host/~/in/"},
		{in: "root@[::1]:/x/", scp: "sftp://root@[::1]/x/"},
		{in: "ftp://host/in/", anyErr: true},
		{in: "sftp://me@host/in/", wantLoc: Location{User: "me", Host: "host", Path: "/in/"}},
	}
	for _, tc := range cases {
		loc, err := ParseTarget(tc.in)
		var se *SCPError
		switch {
		case tc.local:
			if err != nil || loc != nil {
				t.Errorf("ParseTarget(%q) = %v, %v; want a local path", tc.in, loc, err)
			}
		case tc.scp != "":
			if !errors.As(err, &se) || se.URL("me") != tc.scp {
				t.Errorf("ParseTarget(%q) = %v, %v; want an *SCPError suggesting %s", tc.in, loc, err, tc.scp)
			}
		case tc.anyErr:
			if err == nil {
				t.Errorf("ParseTarget(%q) = %v; want an error", tc.in, loc)
			}
		default:
			if err != nil || loc == nil || *loc != tc.wantLoc {
				t.Errorf("ParseTarget(%q) = %v, %v; want %+v", tc.in, loc, err, tc.wantLoc)
			}
		}
	}
	// The suggested URL parses to what scp would have used.
	_, err := ParseTarget("root@127.0.0.1:/srv/in/")
	var se *SCPError
	errors.As(err, &se)
	if loc, perr := ParseURL(se.URL("")); perr != nil || loc.Host != "127.0.0.1" || loc.Path != "/srv/in/" || loc.User != "root" {
		t.Errorf("suggested URL %q parses to %+v, %v", se.URL(""), loc, perr)
	}
}

// recorder is a Progress that keeps every count.
type recorder struct {
	sends  [][2]int64 // Step("sending") from, total
	last   [2]int64   // last Sent
	maxTot int64
}

func (r *recorder) Step(step string, from, total int64) {
	if step == "sending" {
		r.sends = append(r.sends, [2]int64{from, total})
	}
}
func (r *recorder) Sent(done, total int64) {
	r.last = [2]int64{done, total}
	r.maxTot = max(r.maxTot, total)
}

// TestStateFileAndFolders runs against every backend: the state file
// travels last under StateName, progress counts everything as one total, a
// missing destination folder is an error unless Mkdir.
func TestStateFileAndFolders(t *testing.T) {
	client := sftptest.NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	client.WriteFile(t, keyFile, "")
	openAt := func(srv *sftptest.Server) func(t *testing.T, dir string) Backend {
		return func(t *testing.T, dir string) Backend {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			srv.WriteKnownHosts(t, kh)
			return dialTest(t, srv, SFTPConfig{User: srv.User, Host: srv.Host, Port: srv.Port, Dir: dir, IdentityFile: keyFile, KnownHostsFile: kh}, Secrets{})
		}
	}
	backends := []struct {
		name string
		open func(t *testing.T, dir string) Backend
	}{
		{"local", func(t *testing.T, dir string) Backend { return NewLocal(dir) }},
		{"sftp-inprocess", openAt(sftptest.Start(t, sftptest.Options{Authorized: client.Pub}))},
		{"openssh-sshd", openAt(sftptest.StartSSHD(t, client))},
	}
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			local := t.TempDir()
			data := testData(20, 1<<20+7)
			file := filepath.Join(local, "dump.sql.gz")
			mustWrite(t, file, data)
			mb := writeManifest(t, file, int64(len(data)), sha(data))
			state := filepath.Join(local, "my-state.json")
			stateData := []byte(`{"sources":[1,2,3]}`)
			mustWrite(t, state, stateData)

			// A missing folder: refused, not created; Mkdir creates it.
			remote := filepath.Join(t.TempDir(), "incoming")
			b := bk.open(t, remote)
			_, err := Push(context.Background(), b, file, fastRetry, nil)
			var fe *FolderError
			if !errors.Is(err, ErrNoFolder) || !errors.As(err, &fe) || exists(remote) {
				t.Fatalf("Push into a missing folder = %v (exists %v); want ErrNoFolder, nothing created", err, exists(remote))
			}
			opts := fastRetry
			opts.Mkdir, opts.State = true, state
			rec := &recorder{}
			res, err := Push(context.Background(), b, file, opts, rec)
			if err != nil {
				t.Fatalf("Push with Mkdir and State = %v", err)
			}
			total := int64(len(data) + len(mb) + len(stateData))
			if res.State == nil || res.State.Name != StateName || res.State.SHA256 != sha(stateData) {
				t.Errorf("Push result State = %+v; want %s with the state file's SHA-256", res.State, StateName)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(remote, StateName)), stateData) || !bytes.Equal(mustRead(t, filepath.Join(remote, "dump.sql.gz")), data) {
				t.Fatal("remote archive or state file differs")
			}
			if len(rec.sends) != 2 || rec.sends[0] != [2]int64{0, total} || rec.sends[1] != [2]int64{int64(len(data) + len(mb)), total} || rec.last != [2]int64{total, total} {
				t.Errorf("progress sends %v, last %v; want two sends over one total %d ending at 100%%", rec.sends, rec.last, total)
			}

			// Pull fetches it when there, not an error when absent, and
			// never replaces a different local file.
			in := filepath.Join(t.TempDir(), "in")
			popts := fastRetry
			popts.State = filepath.Join(in, "state.json")
			if _, err := Pull(context.Background(), b, "dump.sql.gz", filepath.Join(in, "dump.sql.gz"), popts, nil); !errors.Is(err, ErrNoFolder) {
				t.Fatalf("Pull into a missing local folder = %v; want ErrNoFolder", err)
			}
			popts.Mkdir = true
			rec = &recorder{}
			pres, err := Pull(context.Background(), b, "dump.sql.gz", filepath.Join(in, "dump.sql.gz"), popts, rec)
			if err != nil {
				t.Fatalf("Pull with State = %v", err)
			}
			if pres.Received != int64(len(data)) || pres.Sent != 0 || pres.State == nil || !bytes.Equal(mustRead(t, popts.State), stateData) {
				t.Errorf("Pull = received %d sent %d state %+v; want %d received and the state file", pres.Received, pres.Sent, pres.State, len(data))
			}
			if rec.last != [2]int64{total, total} {
				t.Errorf("Pull progress ended at %v; want %d of %d", rec.last, total, total)
			}
			os.WriteFile(popts.State, []byte("originals"), 0o600)
			os.WriteFile(filepath.Join(in, "dump.sql.gz"), []byte("an older archive"), 0o600)
			if _, err := Pull(context.Background(), b, "dump.sql.gz", filepath.Join(in, "dump.sql.gz"), popts, nil); err == nil || string(mustRead(t, popts.State)) != "originals" {
				t.Errorf("Pull over a different state file = %v; want an error and the file untouched", err)
			}
			if got := string(mustRead(t, filepath.Join(in, "dump.sql.gz"))); got != "an older archive" {
				t.Errorf("Pull refused for the state file but replaced the archive (%d bytes): a new archive beside an old state file", len(got))
			}
			require.NoError(t, os.Remove(filepath.Join(remote, StateName)), "removing the remote state file")
			os.Remove(popts.State)
			if pres, err := Pull(context.Background(), b, "dump.sql.gz", filepath.Join(in, "dump.sql.gz"), popts, nil); err != nil || pres.State != nil || exists(popts.State) {
				t.Errorf("Pull without a remote state file = %+v, %v; want no error, no state", pres, err)
			}
		})
	}
}

func TestDialRefusedIsNotTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listening on a free port")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	mustWrite(t, kh, nil)
	_, err = DialSFTP(context.Background(), SFTPConfig{User: "me", Host: "127.0.0.1", Port: port, Dir: "/x", KnownHostsFile: kh},
		Secrets{Password: func() (string, error) { return "pw", nil }})
	var ce *ConnectError
	if !errors.Is(err, ErrConnect) || !errors.As(err, &ce) || IsTransient(err) || ce.Address != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("DialSFTP to a closed port = %v (transient %v); want a permanent *ConnectError", err, IsTransient(err))
	}
}

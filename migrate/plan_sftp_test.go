package migrate

import (
	"path/filepath"
	"testing"

	"github.com/qualityunit/lamigrate/internal/sftptest"
)

// sftpServer is an in-process SFTP-only server for one client key, with the
// key file and a known_hosts file a run config can name.
type sftpServer struct {
	*sftptest.Server
	Identity   string // the client's private key file
	KnownHosts string // a known_hosts file listing the server
}

func startSFTP(t *testing.T) *sftpServer {
	t.Helper()
	dir := t.TempDir()
	client := sftptest.NewKey(t)
	srv := &sftpServer{
		Server:     sftptest.Start(t, sftptest.Options{Authorized: client.Pub}),
		Identity:   filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
	}
	client.WriteFile(t, srv.Identity, "")
	srv.WriteKnownHosts(t, srv.KnownHosts)
	return srv
}

package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/transfer"
)

// TestPushPullSteps: run's push sends the archive, its manifest and the
// state file as one total and needs transfer.mkdir for a missing folder;
// run's pull reports received bytes and fetches the state file.
func TestPushPullSteps(t *testing.T) {
	server := startSFTP(t)
	out := t.TempDir()
	src := Config{Side: SourceSide, OutputDir: out,
		Transfer: TransferOptions{Identity: server.Identity, KnownHosts: server.KnownHosts}}
	data := bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 40000)
	archive := src.ArchivePath()
	require.NoError(t, os.WriteFile(archive, data, 0o600), "writing the archive %s", archive)
	m := &manifest.Manifest{Format: manifest.FormatVersion, File: manifest.File{Name: filepath.Base(archive), Size: int64(len(data)), SHA256: sumOf(data)}}
	require.NoError(t, manifest.Write(manifest.PathFor(archive), m), "writing the archive's manifest")
	state := []byte(`{"sources":[]}`)
	require.NoError(t, os.WriteFile(src.StatePath(), state, 0o600), "writing the state file %s", src.StatePath())
	remote := filepath.Join(t.TempDir(), "incoming")
	src.Transfer.URL = server.URL(remote)

	log := &eventLog{}
	s := &Session{Config: src.WithDefaults(), opt: RunOptions{Progress: log}}
	_, err := PushStep().Do(context.Background(), s)
	if !errors.Is(err, transfer.ErrNoFolder) || !strings.Contains(err.Error(), `"mkdir": true`) {
		t.Fatalf("push into a missing folder = %v; want ErrNoFolder naming transfer.mkdir", err)
	}
	if _, serr := os.Stat(remote); serr == nil {
		t.Fatal("push created the missing folder without transfer.mkdir")
	}
	s.Config.Transfer.Mkdir = true
	o, err := PushStep().Do(context.Background(), s)
	if err != nil {
		t.Fatalf("push with transfer.mkdir = %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(remote, transfer.StateName)); !bytes.Equal(got, state) {
		t.Errorf("remote state file = %q; want the pushed one", got)
	}
	mb, _ := os.ReadFile(manifest.PathFor(archive))
	total := int64(len(data) + len(mb) + len(state))
	var last Event
	for _, e := range log.events {
		if e.Kind == EventStepProgress {
			last = e
			if e.Total != total {
				t.Fatalf("push progress total = %d; want %d (archive + manifest + state file)", e.Total, total)
			}
		}
	}
	if last.Done != total {
		t.Errorf("last push progress = %d of %d; want 100%%", last.Done, last.Total)
	}
	if o.Counts["sent_bytes"] != int64(len(data)+len(state)) || o.Counts["received_bytes"] != 0 {
		t.Errorf("push counts = %v; want sent_bytes %d", o.Counts, len(data)+len(state))
	}

	cloud := Config{Side: CloudSide, OutputDir: t.TempDir(),
		Transfer: TransferOptions{URL: server.URL(remote), Identity: server.Identity, KnownHosts: server.KnownHosts}}
	cs := &Session{Config: cloud.WithDefaults(), opt: RunOptions{Progress: &eventLog{}}}
	o, err = PullStep().Do(context.Background(), cs)
	if err != nil {
		t.Fatalf("pull = %v", err)
	}
	if o.Counts["received_bytes"] != int64(len(data)+len(state)) || o.Counts["sent_bytes"] != 0 {
		t.Errorf("pull counts = %v; want received_bytes %d and no sent_bytes", o.Counts, len(data)+len(state))
	}
	if got, _ := os.ReadFile(cloud.StatePath()); !bytes.Equal(got, state) {
		t.Errorf("pulled state file = %q; want the pushed one", got)
	}
}

func TestBackendRefusesSCPURL(t *testing.T) {
	s := &Session{Config: Config{Transfer: TransferOptions{URL: "root@127.0.0.1:/srv/in/"}}}
	_, err := s.backend(context.Background())
	var se *transfer.SCPError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "sftp://root@127.0.0.1/srv/in/") {
		t.Errorf("backend(scp-style transfer.url) = %v; want an *SCPError with the sftp:// spelling", err)
	}
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/sftptest"
)

// conformanceEnv is one backend under test, with the folder it writes into
// as seen from this machine (every backend here stores on the local disk).
type conformanceEnv struct {
	b      Backend
	remote string     // the backend's folder, seen locally
	local  string     // a local folder for sources and pull targets
	method HashMethod // how this backend hashes a remote file
}

type backendKind struct {
	name   string
	method HashMethod
	open   func(t *testing.T) (Backend, string)
}

// allBackends returns every backend the suite runs against: a local folder,
// the in-process SFTP server (no shell: read-back) and OpenSSH's sshd
// (remote sha256sum/openssl).
func allBackends(t *testing.T) []backendKind {
	client := sftptest.NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	client.WriteFile(t, keyFile, "")
	sftpOpen := func(srv *sftptest.Server) func(t *testing.T) (Backend, string) {
		return func(t *testing.T) (Backend, string) {
			dir := t.TempDir()
			kh := filepath.Join(t.TempDir(), "known_hosts")
			srv.WriteKnownHosts(t, kh)
			cfg := SFTPConfig{User: srv.User, Host: srv.Host, Port: srv.Port, Dir: dir, IdentityFile: keyFile, KnownHostsFile: kh}
			return dialTest(t, srv, cfg, Secrets{}), dir
		}
	}
	inproc := sftptest.Start(t, sftptest.Options{Authorized: client.Pub})
	sshd := sftptest.StartSSHD(t, client)
	return []backendKind{
		{name: "local", method: HashLocal, open: func(t *testing.T) (Backend, string) {
			dir := t.TempDir()
			return NewLocal(dir), dir
		}},
		{name: "sftp-inprocess", method: HashReadBack, open: sftpOpen(inproc)},
		{name: "openssh-sshd", method: HashRemoteCommand, open: sftpOpen(sshd)},
	}
}

const testSize = 6<<20 + 12345

// testData is random-ish: random blocks mixed with compressible text.
func testData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		end := min(i+4096, n)
		if (i/4096)%3 == 0 {
			copy(b[i:end], bytes.Repeat([]byte("INSERT INTO `qu_la_messages` VALUES (1,'x');\n"), 100))
			continue
		}
		for j := i; j < end; j++ {
			b[j] = byte(r.Uint32())
		}
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755), "making the folder of %s", path)
	require.NoError(t, os.WriteFile(path, b, 0o644), "writing %s", path)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "reading %s", path)
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeManifest writes a manifest for data beside file.
func writeManifest(t *testing.T, file string, size int64, sum string) []byte {
	t.Helper()
	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "lamigrate", Database: "la",
		File: manifest.File{Name: filepath.Base(file), Size: size, SHA256: sum}}
	require.NoError(t, manifest.Write(manifest.PathFor(file), m), "writing the manifest of %s", file)
	return mustRead(t, manifest.PathFor(file))
}

// watcher is a Progress that records events, can check a condition on
// every report and can cancel the transfer half way.
type watcher struct {
	mu       sync.Mutex
	steps    []string
	cancelAt int64 // cancel once this many bytes are there (0: never)
	cancel   context.CancelFunc
	check    func(done int64) // called on every report
}

func (w *watcher) Step(step string, from, total int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.steps = append(w.steps, step)
}

func (w *watcher) Sent(done, total int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.check != nil {
		w.check(done)
	}
	if w.cancelAt > 0 && done >= w.cancelAt && w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
}

var fastRetry = Options{Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}

// TestConformance runs the same cases against every backend.
func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *conformanceEnv)
	}{
		{"fresh push", func(t *testing.T, e *conformanceEnv) {
			data := testData(1, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("Push = %v", err)
			}
			if got := mustRead(t, filepath.Join(e.remote, "dump.sql.gz")); !bytes.Equal(got, data) {
				t.Fatalf("remote file differs (%d bytes, want %d)", len(got), len(data))
			}
			if res.Sent != testSize || res.ResumedAt != 0 || res.SHA256 != sha(data) || res.Verified != e.method || res.Manifest {
				t.Errorf("Push result = %+v; want sent %d, resumed 0, sha %s, verified %s, no manifest", res, testSize, sha(data), e.method)
			}
			if exists(filepath.Join(e.remote, PartialName("dump.sql.gz"))) || exists(filepath.Join(e.remote, "dump.sql.gz.manifest.json")) {
				t.Errorf("Push left a partial file or invented a manifest")
			}
		}},
		{"push with manifest", func(t *testing.T, e *conformanceEnv) {
			data := testData(2, testSize)
			file := filepath.Join(e.local, "dump.sql.zst")
			mustWrite(t, file, data)
			mb := writeManifest(t, file, testSize, sha(data))
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("Push = %v", err)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(e.remote, "dump.sql.zst")), data) {
				t.Fatal("remote file differs")
			}
			if got := mustRead(t, filepath.Join(e.remote, "dump.sql.zst.manifest.json")); !bytes.Equal(got, mb) {
				t.Fatalf("remote manifest = %q; want %q", got, mb)
			}
			if !res.Manifest {
				t.Errorf("Push result Manifest = false; want true")
			}
			if exists(filepath.Join(e.remote, PartialName("dump.sql.zst.manifest.json"))) {
				t.Error("manifest partial left behind")
			}
		}},
		{"manifest sha256 mismatch", func(t *testing.T, e *conformanceEnv) {
			data := testData(3, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			writeManifest(t, file, testSize, sha([]byte("something else")))
			_, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if !errors.Is(err, ErrManifestMismatch) {
				t.Fatalf("Push = %v; want ErrManifestMismatch", err)
			}
			if exists(filepath.Join(e.remote, "dump.sql.gz")) || exists(filepath.Join(e.remote, "dump.sql.gz.manifest.json")) {
				t.Error("a file that does not match its manifest reached its final name")
			}
		}},
		{"manifest size mismatch", func(t *testing.T, e *conformanceEnv) {
			data := testData(3, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			writeManifest(t, file, testSize+1, sha(data))
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if !errors.Is(err, ErrManifestMismatch) {
				t.Fatalf("Push = %v; want ErrManifestMismatch", err)
			}
			if res != nil || exists(filepath.Join(e.remote, PartialName("dump.sql.gz"))) {
				t.Error("Push sent bytes although the size already disagreed")
			}
		}},
		{"resume after partial", func(t *testing.T, e *conformanceEnv) {
			data := testData(4, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			have := int64(testSize * 2 / 5)
			mustWrite(t, filepath.Join(e.remote, PartialName("dump.sql.gz")), data[:have])
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("Push = %v", err)
			}
			if res.ResumedAt != have || res.Sent != testSize-have || res.Restarted {
				t.Errorf("Push resumed at %d and sent %d (restarted %v); want %d and %d", res.ResumedAt, res.Sent, res.Restarted, have, testSize-have)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(e.remote, "dump.sql.gz")), data) {
				t.Fatal("remote file differs after resume")
			}
		}},
		{"interrupted push resumes, no final name before completion", func(t *testing.T, e *conformanceEnv) {
			data := testData(5, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			mb := writeManifest(t, file, testSize, sha(data))
			final := filepath.Join(e.remote, "dump.sql.gz")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var early []int64
			w := &watcher{cancelAt: testSize / 2, cancel: cancel, check: func(done int64) {
				if exists(final) || exists(final+manifest.Suffix) {
					early = append(early, done)
				}
			}}
			_, err := Push(ctx, e.b, file, fastRetry, w)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Push = %v; want context.Canceled", err)
			}
			if len(early) > 0 || exists(final) || exists(final+manifest.Suffix) {
				t.Fatalf("final name present before completion (at %v bytes)", early)
			}
			fi, err := os.Stat(filepath.Join(e.remote, PartialName("dump.sql.gz")))
			if err != nil || fi.Size() == 0 || fi.Size() >= testSize {
				t.Fatalf("partial after interruption: %v, %v; want a part of the file", fi, err)
			}
			if r, ok := e.b.(Reconnecter); ok { // the cancelled run may have closed it
				require.NoError(t, r.Reconnect(context.Background()), "reconnecting after the cancelled push")
			}
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("resumed Push = %v", err)
			}
			if res.ResumedAt != fi.Size() || res.Sent != testSize-fi.Size() {
				t.Errorf("resumed Push at %d sent %d; want at %d sending %d", res.ResumedAt, res.Sent, fi.Size(), testSize-fi.Size())
			}
			if !bytes.Equal(mustRead(t, final), data) || !bytes.Equal(mustRead(t, final+manifest.Suffix), mb) {
				t.Fatal("remote file or manifest differs after resume")
			}
		}},
		{"corrupted partial prefix restarts", func(t *testing.T, e *conformanceEnv) {
			data := testData(6, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			bad := bytes.Clone(data[:testSize*2/5])
			bad[10] ^= 0xff
			mustWrite(t, filepath.Join(e.remote, PartialName("dump.sql.gz")), bad)
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("Push = %v", err)
			}
			if !res.Restarted || res.ResumedAt != 0 || res.Sent != testSize {
				t.Errorf("Push over a corrupt partial: restarted %v at %d sent %d; want true, 0, %d", res.Restarted, res.ResumedAt, res.Sent, testSize)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(e.remote, "dump.sql.gz")), data) {
				t.Fatal("remote file differs")
			}
		}},
		{"replaces an older file and its stale manifest", func(t *testing.T, e *conformanceEnv) {
			old := testData(7, 1000)
			mustWrite(t, filepath.Join(e.remote, "dump.sql.gz"), old)
			mustWrite(t, filepath.Join(e.remote, "dump.sql.gz.manifest.json"), []byte(`{"format":1}`))
			data := testData(8, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			var torn bool
			w := &watcher{check: func(int64) {
				b, err := os.ReadFile(filepath.Join(e.remote, "dump.sql.gz"))
				if err != nil || !bytes.Equal(b, old) {
					torn = true
				}
			}}
			if _, err := Push(context.Background(), e.b, file, fastRetry, w); err != nil {
				t.Fatalf("Push = %v", err)
			}
			if torn {
				t.Error("the final name did not hold the old file while the new one travelled")
			}
			if !bytes.Equal(mustRead(t, filepath.Join(e.remote, "dump.sql.gz")), data) {
				t.Fatal("remote file not replaced")
			}
			if exists(filepath.Join(e.remote, "dump.sql.gz.manifest.json")) {
				t.Error("stale manifest left beside the new file")
			}
		}},
		{"push twice is a no-op", func(t *testing.T, e *conformanceEnv) {
			data := testData(9, testSize)
			file := filepath.Join(e.local, "dump.sql")
			mustWrite(t, file, data)
			writeManifest(t, file, testSize, sha(data))
			if _, err := Push(context.Background(), e.b, file, fastRetry, nil); err != nil {
				t.Fatalf("first Push = %v", err)
			}
			res, err := Push(context.Background(), e.b, file, fastRetry, nil)
			if err != nil {
				t.Fatalf("second Push = %v", err)
			}
			if !res.AlreadyPresent || res.Sent != 0 {
				t.Errorf("second Push: already present %v, sent %d; want true, 0", res.AlreadyPresent, res.Sent)
			}
		}},
		{"pull with manifest", func(t *testing.T, e *conformanceEnv) {
			data := testData(10, testSize)
			rfile := filepath.Join(e.remote, "in", "dump.sql.gz")
			mustWrite(t, rfile, data)
			mb := writeManifest(t, rfile, testSize, sha(data))
			out := filepath.Join(e.local, "got.sql.gz")
			res, err := Pull(context.Background(), e.b, "in/dump.sql.gz", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if !bytes.Equal(mustRead(t, out), data) || !bytes.Equal(mustRead(t, manifest.PathFor(out)), mb) {
				t.Fatal("pulled file or manifest differs")
			}
			if !res.Manifest || res.Received != testSize || res.Verified != HashStream || exists(filepath.Join(e.local, PartialName("got.sql.gz"))) {
				t.Errorf("Pull result = %+v; want manifest, sent %d, verified stream, no partial", res, testSize)
			}
		}},
		{"files land owner-only", func(t *testing.T, e *conformanceEnv) {
			data := testData(12, testSize)
			file := filepath.Join(e.local, "dump.sql.gz")
			mustWrite(t, file, data)
			writeManifest(t, file, testSize, sha(data))
			if _, err := Push(context.Background(), e.b, file, fastRetry, nil); err != nil {
				t.Fatalf("Push = %v", err)
			}
			out := filepath.Join(e.local, "back", "got.sql.gz")
			require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o700), "making the folder to pull into")
			if _, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil); err != nil {
				t.Fatalf("Pull = %v", err)
			}
			for _, p := range []string{filepath.Join(e.remote, "dump.sql.gz"), manifest.PathFor(filepath.Join(e.remote, "dump.sql.gz")), out, manifest.PathFor(out)} {
				fi, err := os.Stat(p)
				require.NoError(t, err, "stat of %s", p)
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("mode of %s = %o; want 600 (it holds the customer's help desk)", p, fi.Mode().Perm())
				}
			}
		}},
		{"pull without manifest", func(t *testing.T, e *conformanceEnv) {
			data := testData(11, testSize)
			mustWrite(t, filepath.Join(e.remote, "plain.sql"), data)
			out := filepath.Join(e.local, "plain.sql")
			res, err := Pull(context.Background(), e.b, "plain.sql", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if !bytes.Equal(mustRead(t, out), data) || exists(manifest.PathFor(out)) {
				t.Fatal("pulled file differs or a manifest appeared")
			}
			if res.Manifest || res.Verified != e.method || res.SHA256 != sha(data) {
				t.Errorf("Pull result = %+v; want no manifest, verified %s", res, e.method)
			}
		}},
		{"pull resume", func(t *testing.T, e *conformanceEnv) {
			data := testData(12, testSize)
			rfile := filepath.Join(e.remote, "dump.sql.gz")
			mustWrite(t, rfile, data)
			writeManifest(t, rfile, testSize, sha(data))
			out := filepath.Join(e.local, "dump.sql.gz")
			have := int64(testSize / 2)
			mustWrite(t, filepath.Join(e.local, PartialName("dump.sql.gz")), data[:have])
			res, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if res.ResumedAt != have || res.Received != testSize-have {
				t.Errorf("Pull resumed at %d sent %d; want %d and %d", res.ResumedAt, res.Received, have, testSize-have)
			}
			if !bytes.Equal(mustRead(t, out), data) {
				t.Fatal("pulled file differs after resume")
			}
		}},
		{"interrupted pull resumes", func(t *testing.T, e *conformanceEnv) {
			data := testData(13, testSize)
			mustWrite(t, filepath.Join(e.remote, "dump.sql.gz"), data)
			out := filepath.Join(e.local, "dump.sql.gz")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &watcher{cancelAt: testSize / 2, cancel: cancel}
			if _, err := Pull(ctx, e.b, "dump.sql.gz", out, fastRetry, w); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Pull = %v; want context.Canceled", err)
			}
			if exists(out) {
				t.Fatal("final name present before completion")
			}
			if r, ok := e.b.(Reconnecter); ok {
				require.NoError(t, r.Reconnect(context.Background()), "reconnecting after the cancelled transfer")
			}
			res, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("resumed Pull = %v", err)
			}
			if res.ResumedAt == 0 || res.Received != testSize-res.ResumedAt {
				t.Errorf("resumed Pull at %d sent %d; want a resume sending only the rest", res.ResumedAt, res.Received)
			}
			if !bytes.Equal(mustRead(t, out), data) {
				t.Fatal("pulled file differs")
			}
		}},
		{"pull over a corrupted partial restarts", func(t *testing.T, e *conformanceEnv) {
			data := testData(14, testSize)
			mustWrite(t, filepath.Join(e.remote, "dump.sql.gz"), data)
			out := filepath.Join(e.local, "dump.sql.gz")
			bad := bytes.Clone(data[:testSize/2])
			bad[len(bad)-1] ^= 1
			mustWrite(t, filepath.Join(e.local, PartialName("dump.sql.gz")), bad)
			res, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if !res.Restarted || res.Received != testSize || !bytes.Equal(mustRead(t, out), data) {
				t.Errorf("Pull over a corrupt partial: restarted %v sent %d; want true, %d, same bytes", res.Restarted, res.Received, testSize)
			}
		}},
		{"pull of a file that does not match its manifest", func(t *testing.T, e *conformanceEnv) {
			data := testData(15, testSize)
			rfile := filepath.Join(e.remote, "dump.sql.gz")
			mustWrite(t, rfile, data)
			writeManifest(t, rfile, testSize, sha(data[1:]))
			out := filepath.Join(e.local, "dump.sql.gz")
			_, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil)
			if !errors.Is(err, ErrManifestMismatch) {
				t.Fatalf("Pull = %v; want ErrManifestMismatch", err)
			}
			if exists(out) || exists(manifest.PathFor(out)) {
				t.Error("a mismatching file reached its final name")
			}
		}},
		{"pull twice is a no-op", func(t *testing.T, e *conformanceEnv) {
			data := testData(16, testSize)
			rfile := filepath.Join(e.remote, "dump.sql.gz")
			mustWrite(t, rfile, data)
			mb := writeManifest(t, rfile, testSize, sha(data))
			out := filepath.Join(e.local, "dump.sql.gz")
			if _, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil); err != nil {
				t.Fatalf("first Pull = %v", err)
			}
			os.Remove(manifest.PathFor(out))
			res, err := Pull(context.Background(), e.b, "dump.sql.gz", out, fastRetry, nil)
			if err != nil {
				t.Fatalf("second Pull = %v", err)
			}
			if !res.AlreadyPresent || res.Received != 0 || res.Verified != HashLocal || res.SHA256 != sha(data) {
				t.Errorf("second Pull = %+v; want already present, nothing received, verified %s", res, HashLocal)
			}
			if !bytes.Equal(mustRead(t, manifest.PathFor(out)), mb) {
				t.Error("second Pull did not put the manifest back beside the file")
			}
		}},
		{"writing past a file's end is refused", func(t *testing.T, e *conformanceEnv) {
			// Write and openStream both start at openAt: continuing at an
			// offset the file does not reach would leave a hole.
			mustWrite(t, filepath.Join(e.remote, "short"), []byte("12345"))
			_, err := e.b.Write(context.Background(), "short", 10, bytes.NewReader([]byte("x")))
			if err == nil || !strings.Contains(err.Error(), "cannot continue at byte 10") {
				t.Errorf("Write(short, 10) = %v; want cannot continue at byte 10", err)
			}
			if _, err := e.b.(streamWriter).openStream(context.Background(), "short", 10); err == nil {
				t.Error("openStream(short, 10) = nil error; want cannot continue")
			}
			if got := mustRead(t, filepath.Join(e.remote, "short")); string(got) != "12345" {
				t.Errorf("short file after refused writes = %q; want it untouched", got)
			}
		}},
		{"missing remote file", func(t *testing.T, e *conformanceEnv) {
			out := filepath.Join(e.local, "x.sql.gz")
			_, err := Pull(context.Background(), e.b, "nope.sql.gz", out, fastRetry, nil)
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Pull(missing) = %v; want fs.ErrNotExist", err)
			}
			if exists(out) || exists(filepath.Join(e.local, PartialName("x.sql.gz"))) {
				t.Error("Pull of a missing file created a local file")
			}
		}},
	}
	for _, bk := range allBackends(t) {
		t.Run(bk.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					b, remote := bk.open(t)
					tc.run(t, &conformanceEnv{b: b, remote: remote, local: t.TempDir(), method: bk.method})
				})
			}
		})
	}
}

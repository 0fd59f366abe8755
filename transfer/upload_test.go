package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/sftptest"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// manifestFor is the manifest a dump of data would write.
func manifestFor(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "lamigrate",
		File:   manifest.File{Name: name, Size: int64(len(data)), SHA256: sha256Hex(data)},
		Tables: []manifest.Table{}, Ignored: []string{}, Options: manifest.Options{IgnoreList: []string{}}}
	b, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	return append(b, '\n')
}

// names lists the files in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// sendAll writes data through u and commits it with mb; after a failed
// write it aborts and returns the upload's own error.
func sendAll(t *testing.T, u *Upload, data, mb []byte) error {
	if err := writeInPieces(u, data, 32<<10); err != nil {
		return u.Abort(err)
	}
	_, err := u.Commit(context.Background(), mb)
	return err
}

// writeInPieces writes data through u as a producer would.
func writeInPieces(u *Upload, data []byte, piece int) error {
	for i := 0; i < len(data); i += piece {
		if _, err := u.Write(data[i:min(i+piece, len(data))]); err != nil {
			return err
		}
	}
	return nil
}

func TestUploadCommit(t *testing.T) {
	data := testData(7, testSize)
	for _, bk := range allBackends(t) {
		t.Run(bk.name, func(t *testing.T) {
			b, dir := bk.open(t)
			// A partial file an earlier, broken attempt left is replaced.
			require.NoError(t, os.WriteFile(filepath.Join(dir, "d.sql.zst.partial"), testData(8, 1<<20), 0o600))
			u, err := NewUpload(context.Background(), b, "d.sql.zst", Options{}, nil)
			require.NoError(t, err)
			require.NoError(t, writeInPieces(u, data, 100_000))
			res, err := u.Commit(context.Background(), manifestFor(t, "d.sql.zst", data))
			require.NoError(t, err)
			assert.Equal(t, bk.method, res.Verified)
			assert.Equal(t, int64(len(data)), res.Size)
			assert.Equal(t, sha256Hex(data), res.SHA256)
			assert.ElementsMatch(t, []string{"d.sql.zst", "d.sql.zst.manifest.json"}, names(t, dir))
			got, err := os.ReadFile(filepath.Join(dir, "d.sql.zst"))
			require.NoError(t, err)
			assert.True(t, string(got) == string(data), "the file holds other bytes than were written")
			for _, n := range []string{"d.sql.zst", "d.sql.zst.manifest.json"} {
				fi, err := os.Stat(filepath.Join(dir, n))
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), n)
			}
			assert.NoError(t, u.Abort(nil), "Abort after Commit does nothing")
		})
	}
}

func TestUploadAbortLeavesOnlyThePartialFile(t *testing.T) {
	data := testData(9, 3<<20)
	for _, bk := range allBackends(t) {
		t.Run(bk.name, func(t *testing.T) {
			b, dir := bk.open(t)
			u, err := NewUpload(context.Background(), b, "d.sql", Options{}, nil)
			require.NoError(t, err)
			require.NoError(t, writeInPieces(u, data[:1<<20], 64<<10))
			assert.NoError(t, u.Abort(errors.New("dump: table changed")), "the upload itself did not fail")
			assert.Equal(t, []string{"d.sql.partial"}, names(t, dir))
			_, err = u.Commit(context.Background(), manifestFor(t, "d.sql", data))
			assert.Error(t, err, "Commit after Abort")
		})
	}
}

func TestUploadCommitRefusesWhatTheManifestDoesNotDescribe(t *testing.T) {
	data := testData(10, 1<<20)
	for _, bk := range allBackends(t) {
		t.Run(bk.name, func(t *testing.T) {
			b, dir := bk.open(t)
			u, err := NewUpload(context.Background(), b, "d.sql", Options{}, nil)
			require.NoError(t, err)
			require.NoError(t, writeInPieces(u, data, 1<<16))
			other := append([]byte{}, data...)
			other[len(other)/2] ^= 1
			_, err = u.Commit(context.Background(), manifestFor(t, "d.sql", other))
			require.ErrorIs(t, err, ErrVerify)
			var me *MismatchError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, "sha256", me.What)
			assert.Equal(t, []string{"d.sql.partial"}, names(t, dir))
		})
	}
}

func TestUploadLinkDroppedThenStartsOver(t *testing.T) {
	client := sftptest.NewKey(t)
	// The first connection breaks after 256 KiB from the client.
	srv := sftptest.Start(t, sftptest.Options{Authorized: client.Signer.PublicKey(), DropAfter: 256 << 10, DropConns: 1})
	keyFile := filepath.Join(t.TempDir(), "id")
	client.WriteFile(t, keyFile, "")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	srv.WriteKnownHosts(t, kh)
	dir := t.TempDir()
	cfg := SFTPConfig{User: srv.User, Host: srv.Host, Port: srv.Port, Dir: dir, IdentityFile: keyFile, KnownHostsFile: kh}
	data := testData(11, 2<<20)

	b := dialTest(t, srv, cfg, Secrets{})
	u, err := NewUpload(context.Background(), b, "d.sql", Options{}, nil)
	require.NoError(t, err)
	uerr := sendAll(t, u, data, manifestFor(t, "d.sql", data))
	require.ErrorIs(t, uerr, ErrNotSent)
	assert.True(t, IsTransient(uerr), "a dropped link is transient: %v", uerr)
	assert.Equal(t, []string{"d.sql.partial"}, names(t, dir))

	// The same producer, started over on a new connection, succeeds.
	b2 := dialTest(t, srv, cfg, Secrets{})
	u2, err := NewUpload(context.Background(), b2, "d.sql", Options{}, nil)
	require.NoError(t, err)
	require.NoError(t, writeInPieces(u2, data, 32<<10))
	_, err = u2.Commit(context.Background(), manifestFor(t, "d.sql", data))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"d.sql", "d.sql.manifest.json"}, names(t, dir))
}

func TestUploadCancelled(t *testing.T) {
	client := sftptest.NewKey(t)
	sshd := sftptest.StartSSHD(t, client)
	keyFile := filepath.Join(t.TempDir(), "id")
	client.WriteFile(t, keyFile, "")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	sshd.WriteKnownHosts(t, kh)
	dir := t.TempDir()
	b := dialTest(t, sshd, SFTPConfig{User: sshd.User, Host: sshd.Host, Port: sshd.Port, Dir: dir, IdentityFile: keyFile, KnownHostsFile: kh}, Secrets{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := NewUpload(ctx, b, "d.sql", Options{}, nil)
	require.NoError(t, err)
	data := testData(12, 4<<20)
	require.NoError(t, writeInPieces(u, data[:1<<20], 64<<10))
	cancel()
	uerr := sendAll(t, u, data[1<<20:], manifestFor(t, "d.sql", data))
	require.ErrorIs(t, uerr, context.Canceled)
	require.ErrorIs(t, uerr, ErrNotSent)
	assert.Equal(t, []string{"d.sql.partial"}, names(t, dir))
}

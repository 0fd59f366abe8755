package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// deltaFixture writes a delta archive, its changes file and its manifest
// into dir.
func deltaFixture(t *testing.T, dir string) string {
	t.Helper()
	file := filepath.Join(dir, "d.sql.zst")
	body := []byte("the delta's bytes")
	changes := []byte("the changes file's bytes")
	require.NoError(t, os.WriteFile(file, body, 0o600))
	require.NoError(t, os.WriteFile(ChangesName(file), changes, 0o600))
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	m := &manifest.Manifest{Format: manifest.FormatVersion, Tool: "lamigrate", Database: "db",
		File:  manifest.File{Name: "d.sql.zst", Size: int64(len(body)), SHA256: sum(body)},
		Delta: &manifest.Delta{Changes: manifest.File{Name: "d.sql.zst.changes.zst", Size: int64(len(changes)), SHA256: sum(changes)}}}
	require.NoError(t, manifest.Write(manifest.PathFor(file), m))
	return file
}

// TestDeltaCarriesChanges: Push and Pull carry a delta's changes file with
// it, checked against the manifest, before the archive; a damaged one
// stops the copy before anything is renamed into place.
func TestDeltaCarriesChanges(t *testing.T) {
	ctx := context.Background()
	src, mid, back := t.TempDir(), t.TempDir(), t.TempDir()
	file := deltaFixture(t, src)

	res, err := Push(ctx, NewLocal(mid), file, Options{}, nil)
	require.NoError(t, err, "push")
	require.NotNil(t, res.Changes, "the changes file's transfer is reported")
	for _, n := range []string{"d.sql.zst", "d.sql.zst.changes.zst", "d.sql.zst.manifest.json"} {
		assert.FileExists(t, filepath.Join(mid, n))
	}
	res, err = Pull(ctx, NewLocal(mid), "d.sql.zst", filepath.Join(back, "d.sql.zst"), Options{}, nil)
	require.NoError(t, err, "pull")
	require.NotNil(t, res.Changes)
	got, err := os.ReadFile(filepath.Join(back, "d.sql.zst.changes.zst"))
	require.NoError(t, err)
	assert.Equal(t, "the changes file's bytes", string(got))

	// Damaged (same size): refused against the manifest's SHA-256, and
	// nothing of the delta lands.
	other := t.TempDir()
	require.NoError(t, os.WriteFile(ChangesName(file), []byte("the changes file's bytez"), 0o600))
	_, err = Push(ctx, NewLocal(other), file, Options{}, nil)
	var me *MismatchError
	require.ErrorAs(t, err, &me, "a damaged changes file")
	assert.True(t, me.Manifest)
	for _, n := range []string{"d.sql.zst", "d.sql.zst.changes.zst", "d.sql.zst.manifest.json"} {
		assert.NoFileExists(t, filepath.Join(other, n))
	}
	// Missing: refused before anything is written.
	require.NoError(t, os.Remove(ChangesName(file)))
	other = t.TempDir()
	_, err = Push(ctx, NewLocal(other), file, Options{}, nil)
	require.Error(t, err, "a missing changes file")
	assert.Contains(t, err.Error(), "d.sql.zst.changes.zst does not exist")
	entries, _ := os.ReadDir(other)
	assert.Empty(t, entries)
}

package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
)

// entries lists the names in dir, to see that no temporary file is left.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err, "listing %s", dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")

	require.NoError(t, atomicfile.Write(path, []byte("first\n"), 0o600), "writing a new file")
	b, err := os.ReadFile(path)
	require.NoError(t, err, "reading the new file")
	assert.Equal(t, "first\n", string(b), "content of the new file")
	fi, err := os.Stat(path)
	require.NoError(t, err, "stat of the new file")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode of the new file")

	require.NoError(t, atomicfile.Write(path, []byte("second\n"), 0o644), "replacing the file")
	b, err = os.ReadFile(path)
	require.NoError(t, err, "reading the replaced file")
	assert.Equal(t, "second\n", string(b), "content of the replaced file")
	fi, err = os.Stat(path)
	require.NoError(t, err, "stat of the replaced file")
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "mode of the replaced file: the one asked for, not the old one's")
	assert.Equal(t, []string{"state.json"}, entries(t, dir), "no temporary file is left beside the file")
}

// A write that cannot rename (the path is a folder) leaves what was there
// and removes its temporary file.
func TestWriteFailureLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(path, 0o755), "making a folder where the file should go")
	require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), nil, 0o600), "filling the folder")

	err := atomicfile.Write(path, []byte("data"), 0o600)
	require.Error(t, err, "replacing a folder that is not empty must fail")
	fi, err := os.Stat(path)
	require.NoError(t, err, "stat of the folder after the failed write")
	assert.True(t, fi.IsDir(), "the folder is still there")
	assert.Equal(t, []string{"taken"}, entries(t, dir), "the temporary file is removed after a failed write")

	err = atomicfile.Write(filepath.Join(dir, "no-such-folder", "f"), []byte("data"), 0o600)
	assert.ErrorIs(t, err, os.ErrNotExist, "writing into a missing folder fails with the file system's error")
}

func TestRename(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "f.partial"), filepath.Join(dir, "sub", "f")
	require.NoError(t, os.WriteFile(from, []byte("x"), 0o600), "writing the file to rename")
	require.NoError(t, os.Mkdir(filepath.Dir(to), 0o700), "making the target folder")

	require.NoError(t, atomicfile.Rename(from, to), "renaming into another folder")
	b, err := os.ReadFile(to)
	require.NoError(t, err, "reading the renamed file")
	assert.Equal(t, "x", string(b), "content after the rename")
	_, err = os.Stat(from)
	assert.ErrorIs(t, err, os.ErrNotExist, "the old name is gone")

	assert.ErrorIs(t, atomicfile.Rename(from, to), os.ErrNotExist, "renaming a missing file fails with the file system's error")
}

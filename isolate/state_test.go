package isolate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

// A damaged state file and one of a newer format are refused, each with
// one error saying which and what to do.
func TestReadStateDamagedOrNewer(t *testing.T) {
	dir := t.TempDir()
	damaged, newer := filepath.Join(dir, "damaged.json"), filepath.Join(dir, "newer.json")
	require.NoError(t, os.WriteFile(damaged, []byte(`{"format": 1, "sources": [{"name": "mail accounts", "rows": [`), 0o600), "writing a cut state file")
	require.NoError(t, os.WriteFile(newer, []byte(`{"format": 2, "sources": {"mail accounts": 3}}`), 0o600), "writing a state file of format 2")

	_, err := ReadState(damaged)
	require.ErrorIs(t, err, jsonfile.ErrDamaged, "a cut state file is damaged")
	assert.Equal(t, "isolate: state file "+damaged+" is damaged (unexpected end of JSON input): restore needs the original values it holds: mend it by hand, or use a copy of it", err.Error(),
		"message for a damaged state file")

	_, err = ReadState(newer)
	require.ErrorIs(t, err, jsonfile.ErrFormat, "a state file of format 2 is of another format, whatever its sources look like")
	assert.Equal(t, "isolate: state file "+newer+" has format 2, newer than this lamigrate reads (format 1): use the lamigrate release that wrote it, or a newer one", err.Error(),
		"message for a newer state file")

	_, err = Restore(t.Context(), nil, damaged, Options{})
	require.ErrorIs(t, err, jsonfile.ErrDamaged, "restore refuses a damaged state file before it touches anything")
}

package adjust

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

// A damaged record and one of a newer format are refused, each with one
// error saying which and what to do.
func TestReadRecordDamagedOrNewer(t *testing.T) {
	dir := t.TempDir()
	damaged, newer := filepath.Join(dir, "damaged.json"), filepath.Join(dir, "newer.json")
	require.NoError(t, os.WriteFile(damaged, []byte(`{"format": 1, "database": "la", "changes": [{"rule": "x"`), 0o600), "writing a cut record")
	require.NoError(t, os.WriteFile(newer, []byte(`{"format": 2, "changes": {"x": 1}}`), 0o600), "writing a record of format 2")

	_, err := ReadRecord(damaged)
	require.ErrorIs(t, err, jsonfile.ErrDamaged, "a cut record is damaged")
	assert.Equal(t, "migrate: adjust record "+damaged+" is damaged (unexpected end of JSON input): undo needs the values it holds: mend it by hand, or use a copy of it", err.Error(),
		"message for a damaged record")

	_, err = ReadRecord(newer)
	require.ErrorIs(t, err, jsonfile.ErrFormat, "a record of format 2 is of another format, whatever its changes look like")
	assert.Equal(t, "migrate: adjust record "+newer+" has format 2, newer than this lamigrate reads (format 1): use the lamigrate release that wrote it, or a newer one", err.Error(),
		"message for a newer record")
}

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

// oldRecord is a record as adjust wrote it before its values were shared
// with isolate's state file (internal/sqlvalue).
const oldRecord = `{
  "format": 1,
  "database": "la",
  "changes": [
    {
      "rule": "server name",
      "table": "qu_g_settings",
      "key": {
        "settingid": "1"
      },
      "before": {
        "value": "help.old.com"
      },
      "after": {
        "value": "help.cloud.example"
      }
    },
    {
      "rule": "file data",
      "table": "qu_g_files",
      "key": {
        "fileid": "f1",
        "part": "1"
      },
      "before": {
        "data": {
          "base64": "AP8Q"
        }
      },
      "after": {
        "data": null
      }
    }
  ]
}
`

// An old record still loads, with the values it recorded, and is written
// back byte for byte as it was.
func TestReadOldRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "adjust-record.json")
	require.NoError(t, os.WriteFile(path, []byte(oldRecord), 0o600), "writing the old record")

	r, err := ReadRecord(path)
	require.NoError(t, err, "reading a record of the old form")
	require.Len(t, r.Changes, 2, "changes of the old record")
	assert.True(t, r.Changes[0].Before["value"].Equal(Text("help.old.com")), "a text value: %v", r.Changes[0].Before["value"])
	assert.Equal(t, "0x00ff10", r.Changes[1].Before["data"].String(), "a value that is not UTF-8")
	assert.False(t, r.Changes[1].After["data"].Valid, "a NULL value")

	out := filepath.Join(t.TempDir(), "again.json")
	require.NoError(t, r.Write(out), "writing the record again")
	b, err := os.ReadFile(out)
	require.NoError(t, err, "reading the written record")
	assert.Equal(t, oldRecord, string(b), "the record is written as it was read")
}

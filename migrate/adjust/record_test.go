package adjust

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A damaged record is refused, saying what to do (internal/jsonfile tests
// the other cases).
func TestReadRecordDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "adjust-record.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"format": 1, "database": "la", "changes": [{"rule": "x"`), 0o600), "writing a cut record")
	_, err := ReadRecord(path)
	assert.EqualError(t, err, "migrate: adjust record "+path+" is damaged (unexpected end of JSON input): undo needs the values it holds: mend it by hand, or use a copy of it", "reading a cut record")
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

package isolate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

// A damaged state file is refused, saying what to do, before restore
// touches anything (internal/jsonfile tests the other cases).
func TestReadStateDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"format": 1, "sources": [{"name": "mail accounts", "rows": [`), 0o600), "writing a cut state file")
	_, err := Restore(t.Context(), nil, path, Options{})
	assert.EqualError(t, err, "isolate: state file "+path+" is damaged (unexpected end of JSON input): restore needs the original values it holds: mend it by hand, or use a copy of it", "restoring from a cut state file")
}

// oldStateFile is a state file as isolate wrote it before its values were
// shared with adjust (internal/sqlvalue): keys and values as strings, a
// NULL original as null, bytes that are not UTF-8 as {"base64": ...}.
const oldStateFile = `{
  "format": 1,
  "database": "la",
  "created": "2025-03-12T09:00:00Z",
  "updated": "2025-03-12T09:00:01Z",
  "host": {
    "hostname": "la1",
    "machine_id": "0123"
  },
  "sources": [
    {
      "name": "mail accounts",
      "table": "qu_la_mail_accounts",
      "key": "accountid",
      "column": "status",
      "write": "I",
      "status": "done",
      "rows": [
        {
          "key": "m0000001",
          "original": "A"
        },
        {
          "key": {
            "base64": "AP8Q"
          },
          "original": null
        }
      ]
    }
  ],
  "cron": [
    {
      "kind": "file",
      "path": "/etc/cron.d/liveagent",
      "original": "* * * * * php jobs.php\n",
      "written": "#lamigrate-isolated# * * * * * php jobs.php\n",
      "lines": [
        "* * * * * php jobs.php"
      ],
      "status": "done"
    }
  ]
}
`

// An old state file still loads, with the values it recorded, and is
// written back byte for byte as it was.
func TestReadOldStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte(oldStateFile), 0o600), "writing the old state file")

	s, err := ReadState(path)
	require.NoError(t, err, "reading a state file of the old form")
	require.Len(t, s.Sources, 1, "sources of the old state file")
	rows := s.Sources[0].Rows
	require.Len(t, rows, 2, "rows of the old state file")
	assert.Equal(t, `"m0000001"`, rows[0].Key.String(), "a text key")
	assert.True(t, rows[0].Original.Equal(String("A")), "a text original: %v", rows[0].Original)
	assert.Equal(t, "0x00ff10", rows[1].Key.String(), "a key that is not UTF-8")
	assert.False(t, rows[1].Original.Valid, "a NULL original")
	require.Len(t, s.Cron, 1, "crontabs of the old state file")
	assert.Equal(t, "* * * * * php jobs.php\n", string(s.Cron[0].Original.Bytes), "a crontab's original text")

	b, err := jsonfile.Encode(s)
	require.NoError(t, err, "encoding the state again")
	assert.Equal(t, oldStateFile, string(b), "the state is written as it was read")
}

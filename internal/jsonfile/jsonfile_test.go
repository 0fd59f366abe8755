package jsonfile_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
)

type doc struct {
	Format int    `json:"format"`
	Name   string `json:"name"`
	Count  int    `json:"count"`
}

var kind = jsonfile.Kind{Name: "test: record", Format: 3, Damaged: "move it aside"}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		content string
		is      error  // the sentinel the error wraps; nil: no error
		msg     string // the whole message, PATH for the file's path
	}{
		{"current format", `{"format": 3, "name": "a", "count": 2}`, nil, ""},
		{"unknown fields are ignored", `{"format": 3, "name": "a", "later": {"x": 1}}`, nil, ""},
		{"not JSON", `format: 3`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (invalid character 'o' in literal false (expecting 'a')): move it aside"},
		{"cut short", `{"format": 3, "name": "a`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (unexpected end of JSON input): move it aside"},
		{"not an object", `[3]`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (not a JSON object): move it aside"},
		{"format is text", `{"format": "x"}`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (json: invalid number literal, trying to unmarshal \"\\\"x\\\"\" into Number): move it aside"},
		{"format is a number in quotes", `{"format": "3"}`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (json: cannot unmarshal string into Go struct field doc.format of type int): move it aside"},
		{"format is a fraction", `{"format": 3.5}`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (format 3.5 is not a whole number): move it aside"},
		{"a field of the wrong type", `{"format": 3, "count": "two"}`, jsonfile.ErrDamaged,
			"test: record PATH is damaged (json: cannot unmarshal string into Go struct field doc.count of type int): move it aside"},
		{"no format", `{"name": "a"}`, jsonfile.ErrFormat,
			"test: record PATH has no format number: it is not a file lamigrate wrote"},
		{"format 0", `{"format": 0}`, jsonfile.ErrFormat,
			"test: record PATH has format 0: it is not a file lamigrate wrote"},
		{"older", `{"format": 2}`, jsonfile.ErrFormat,
			"test: record PATH has format 2, older than this lamigrate reads (format 3): use the lamigrate release that wrote it"},
		// A newer layout may change any field: the version is what counts.
		{"newer with another layout", `{"format": 4, "count": {"rows": 2}}`, jsonfile.ErrFormat,
			"test: record PATH has format 4, newer than this lamigrate reads (format 3): use the lamigrate release that wrote it, or a newer one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600), "writing the test file")
			var d doc
			err := kind.Read(path, &d)
			if tt.is == nil {
				require.NoError(t, err, "reading %s", tt.content)
				assert.Equal(t, doc{Format: 3, Name: "a", Count: d.Count}, d, "decoded value")
				return
			}
			require.ErrorIs(t, err, tt.is, "reading %s", tt.content)
			assert.Equal(t, tt.msg, strings.ReplaceAll(err.Error(), path, "PATH"), "message for %s", tt.content)
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.json")
	err := kind.Read(path, &doc{})
	require.ErrorIs(t, err, fs.ErrNotExist, "a missing file is reported as such, so callers can start a new one")
	assert.Equal(t, "test: record: open "+path+": no such file or directory", err.Error(), "message for a missing file")
}

func TestDamagedWithoutAdvice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600), "writing the test file")
	err := jsonfile.Kind{Name: "x: file", Format: 1}.Read(path, &doc{})
	require.ErrorIs(t, err, jsonfile.ErrDamaged, "a cut file is damaged")
	assert.Equal(t, "x: file "+path+" is damaged (unexpected end of JSON input)", err.Error(), "no advice, no colon after the detail")
}

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	in := doc{Format: 3, Name: "<a & b>", Count: 7}
	require.NoError(t, jsonfile.Write(path, in), "writing the file")

	b, err := os.ReadFile(path)
	require.NoError(t, err, "reading the file back")
	assert.Equal(t, "{\n  \"format\": 3,\n  \"name\": \"\\u003ca \\u0026 b\\u003e\",\n  \"count\": 7\n}\n", string(b),
		"indented JSON with a final newline, as json.MarshalIndent writes it")
	fi, err := os.Stat(path)
	require.NoError(t, err, "stat of the file")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the file is owner-only")

	var out doc
	require.NoError(t, kind.Read(path, &out), "reading what Write wrote")
	assert.Equal(t, in, out, "the value comes back")
}

func TestWriteUnencodable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	require.Error(t, jsonfile.Write(path, map[string]any{"f": func() {}}), "a value JSON cannot hold is an error")
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing is written when encoding fails")
}

package strictjson

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnmarshal(t *testing.T) {
	type T struct {
		Name string `json:"name"`
	}
	tests := []struct {
		in      string
		wantErr bool
	}{
		{`{"name":"x"}`, false},
		{"  {\"name\":\"x\"}\n", false},
		{`{"nmae":"x"}`, true},
		{`{"name":"x"} {}`, true},
		{`{"name":"x"} junk`, true},
		{`{"name":`, true},
		{``, true},
	}
	for _, tt := range tests {
		var v T
		err := Unmarshal([]byte(tt.in), &v, "test")
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%q) = %v; want error %v", tt.in, err, tt.wantErr)
		}
	}
	var v T
	if err := Unmarshal([]byte(`{} 1`), &v, "test"); !errors.Is(err, ErrTrailingData) {
		t.Errorf("Unmarshal(trailing) = %v; want ErrTrailingData", err)
	}
}

func TestReadFile(t *testing.T) {
	type T struct {
		Name string `json:"name"`
	}
	parse := func(b []byte) (*T, error) {
		var v T
		if err := Unmarshal(b, &v, "thing"); err != nil {
			return nil, fmt.Errorf("x: thing is not valid JSON: %w", err)
		}
		return &v, nil
	}
	dir := t.TempDir()
	good, typo := filepath.Join(dir, "good.json"), filepath.Join(dir, "typo.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"name": "a"}`), 0o600), "writing the good file")
	require.NoError(t, os.WriteFile(typo, []byte(`{"nmae": "a"}`), 0o600), "writing the misspelled file")

	v, err := ReadFile(good, "x: thing", parse)
	require.NoError(t, err, "reading a good file")
	assert.Equal(t, "a", v.Name, "the parsed value")

	_, err = ReadFile(typo, "x: thing", parse)
	require.Error(t, err, "a misspelled field is an error")
	assert.Equal(t, `x: thing is not valid JSON: json: unknown field "nmae" (in `+typo+`)`, err.Error(), "the parser's error names the file")

	missing := filepath.Join(dir, "none.json")
	_, err = ReadFile(missing, "x: thing", parse)
	require.ErrorIs(t, err, fs.ErrNotExist, "a missing file is reported as such")
	assert.Equal(t, "x: thing: open "+missing+": no such file or directory", err.Error(), "a read error names what was read")
}

// Package strictjson decodes hand-written configuration files (profiles,
// rules, run configs) strictly: an unknown field is an error, so a misspelled
// name is never silently ignored, and so is anything after the one value.
// ReadFile is the loader all of them share: read the file, hand it to the
// kind's own parser (which decodes with Unmarshal and validates), and name
// the file in the parser's error.
//
// lamigrate's own versioned files (journal, state file, records) are read
// by internal/jsonfile instead.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTrailingData reports bytes after the JSON value.
var ErrTrailingData = errors.New("trailing data")

// Unmarshal decodes exactly one JSON value from b into v; what names it in
// the error about trailing data ("profile", "rules", "config").
func Unmarshal(b []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the %s object", ErrTrailingData, what)
	}
	return nil
}

// ReadFile reads the hand-written file at path and returns what parse
// makes of its content. An error reading the file comes back as "what:
// <the file system's error>" (a missing file: errors.Is fs.ErrNotExist);
// parse's error as "<parse's error> (in PATH)".
func ReadFile[T any](path, what string, parse func([]byte) (T, error)) (T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	v, err := parse(b)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%w (in %s)", err, path)
	}
	return v, nil
}

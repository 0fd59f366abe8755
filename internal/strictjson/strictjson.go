// Package strictjson decodes hand-written configuration files (profiles,
// rules, run configs) strictly: an unknown field is an error, so a misspelled
// name is never silently ignored, and so is anything after the one value.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
)

// ErrDamaged marks a file that is not the JSON its kind has: cut short,
// edited by hand, or not one of lamigrate's files.
var ErrDamaged = errors.New("damaged")

// ErrFormat marks a file whose format number this lamigrate does not
// read (errors.Is; the message says which and what to do).
var ErrFormat = errors.New("a format this lamigrate does not read")

// formatError is an ErrFormat with its own message.
type formatError struct{ msg string }

func (e *formatError) Error() string        { return e.msg }
func (e *formatError) Is(target error) bool { return target == ErrFormat }

// Kind is one kind of versioned file.
type Kind struct {
	// Name names the file in errors, after the package that owns it:
	// "migrate: journal", "isolate: state file".
	Name string
	// Format is the layout version this lamigrate writes and reads.
	Format int
	// Damaged says what to do about a damaged file, e.g. "move it aside to
	// start over".
	Damaged string
}

// Read decodes the file at path into v (a pointer to a struct whose
// "format" field is the version), checking the version first; see the
// package documentation for the errors.
func (k Kind) Read(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", k.Name, err)
	}
	var head struct {
		Format *json.Number `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		if t := bytes.TrimSpace(b); json.Valid(t) && (len(t) == 0 || t[0] != '{') {
			err = errors.New("not a JSON object")
		}
		return k.damaged(path, err)
	}
	if head.Format == nil {
		return &formatError{fmt.Sprintf("%s %s has no format number: it is not a file lamigrate wrote", k.Name, path)}
	}
	n, err := head.Format.Int64()
	if err != nil {
		return k.damaged(path, fmt.Errorf("format %s is not a whole number", head.Format))
	}
	switch {
	case n > int64(k.Format):
		return &formatError{fmt.Sprintf("%s %s has format %d, newer than this lamigrate reads (format %d): use the lamigrate release that wrote it, or a newer one", k.Name, path, n, k.Format)}
	case n < 1:
		return &formatError{fmt.Sprintf("%s %s has format %d: it is not a file lamigrate wrote", k.Name, path, n)}
	case n != int64(k.Format):
		return &formatError{fmt.Sprintf("%s %s has format %d, older than this lamigrate reads (format %d): use the lamigrate release that wrote it", k.Name, path, n, k.Format)}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return k.damaged(path, err)
	}
	return nil
}

func (k Kind) damaged(path string, err error) error {
	if k.Damaged == "" {
		return fmt.Errorf("%s %s is %w (%v)", k.Name, path, ErrDamaged, err)
	}
	return fmt.Errorf("%s %s is %w (%v): %s", k.Name, path, ErrDamaged, err, k.Damaged)
}

// Encode returns v as indented JSON with a final newline, as Write stores
// it.
func Encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write stores v at path as Encode gives it, atomically and with mode
// 0600 (atomicfile.Write). Its errors are the encoder's or the file
// system's; the caller says what was being written.
func Write(path string, v any) error {
	b, err := Encode(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

package isolate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// StateFormat is the version of the state file layout.
const StateFormat = 1

// Value is one column value as the server returned it: NULL, or bytes. In
// JSON it is null, a string (valid UTF-8), or {"base64": "..."}.
type Value struct {
	Valid bool
	Bytes []byte
}

// String makes a non-NULL Value.
func String(s string) Value { return Value{Valid: true, Bytes: []byte(s)} }

// Equal reports whether two values are the same bytes (NULL equals NULL).
func (v Value) Equal(o Value) bool {
	return v.Valid == o.Valid && bytes.Equal(v.Bytes, o.Bytes)
}

// String renders the value for people: NULL, or the text quoted.
func (v Value) String() string {
	if !v.Valid {
		return "NULL"
	}
	if utf8.Valid(v.Bytes) {
		return fmt.Sprintf("%q", v.Bytes)
	}
	return "0x" + fmt.Sprintf("%X", v.Bytes)
}

// arg is the value as a query parameter.
func (v Value) arg() any {
	if !v.Valid {
		return nil
	}
	if utf8.Valid(v.Bytes) {
		return string(v.Bytes)
	}
	return v.Bytes
}

func (v Value) MarshalJSON() ([]byte, error) {
	if !v.Valid {
		return []byte("null"), nil
	}
	if utf8.Valid(v.Bytes) {
		return json.Marshal(string(v.Bytes))
	}
	return json.Marshal(struct {
		B64 string `json:"base64"`
	}{base64.StdEncoding.EncodeToString(v.Bytes)})
}

func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*v = Value{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = Value{Valid: true, Bytes: []byte(s)}
		return nil
	}
	var o struct {
		B64 *string `json:"base64"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.B64 == nil {
		return fmt.Errorf("value must be null, a string or {\"base64\": ...}, not %.40s", b)
	}
	raw, err := base64.StdEncoding.DecodeString(*o.B64)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	*v = Value{Valid: true, Bytes: raw}
	return nil
}

// Step statuses in the state file. A step is marked Started (and saved)
// before anything changes and Done after; Restore undoes Started and Done
// steps alike.
const (
	Started = "started"
	Done    = "done"
	Skipped = "skipped"
)

// State is the isolation state file: every original value, written before
// it is changed. Restore needs nothing else (no profile), so it works on an
// imported copy of the database too.
type State struct {
	Format   int       `json:"format"`
	Database string    `json:"database"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// Restored is set by the last restore; RestoreConflicts says how many
	// things it had to leave alone.
	Restored         *time.Time     `json:"restored,omitempty"`
	RestoreConflicts int            `json:"restore_conflicts,omitempty"`
	Sources          []SourceState  `json:"sources"`
	Files            []FileState    `json:"files,omitempty"`
	Cron             []CronState    `json:"cron,omitempty"`
	Services         []ServiceState `json:"services,omitempty"`
}

// SourceState is one source's rows and their original values.
type SourceState struct {
	Name   string `json:"name"`
	Table  string `json:"table"`
	Key    string `json:"key"`
	Column string `json:"column"`
	// Write is what isolation stored in Column.
	Write  string `json:"write"`
	Status string `json:"status"`
	// Reason says why a source was skipped.
	Reason string `json:"reason,omitempty"`
	Rows   []Row  `json:"rows"`
}

// Row is one changed row: its key and the value its column had first.
type Row struct {
	Key      Value `json:"key"`
	Original Value `json:"original"`
}

// FileState is a file moved aside (the mail pipe script).
type FileState struct {
	Source string `json:"source,omitempty"`
	Path   string `json:"path"`
	Aside  string `json:"aside"`
	Status string `json:"status"`
}

// CronState is one crontab whose lines were commented out.
type CronState struct {
	// Kind is "user" (the crontab command) or "file" (a system crontab).
	Kind string `json:"kind"`
	// Path is the file, or the crontab command for Kind "user".
	Path     string   `json:"path"`
	Command  []string `json:"command,omitempty"`
	Original Value    `json:"original"`
	Written  Value    `json:"written"`
	// Lines are the disabled lines as they were (without line end).
	Lines  []string `json:"lines"`
	Status string   `json:"status"`
}

// ServiceState is a service stopped by isolate.
type ServiceState struct {
	Name   string   `json:"name"`
	Stop   []string `json:"stop"`
	Start  []string `json:"start"`
	Status string   `json:"status"`
}

func (s *State) source(name string) *SourceState {
	for i := range s.Sources {
		if s.Sources[i].Name == name {
			return &s.Sources[i]
		}
	}
	return nil
}

// ReadState loads a state file.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("isolate: state file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("isolate: state file %s is damaged: %w", path, err)
	}
	if s.Format != StateFormat {
		return nil, fmt.Errorf("isolate: state file %s has format %d; this lamigrate reads %d", path, s.Format, StateFormat)
	}
	return &s, nil
}

// stateFile is a state held under its lock and saved atomically.
type stateFile struct {
	path string
	s    *State
	lock *os.File
}

// ErrLocked means another isolate or restore holds the state file.
var ErrLocked = errors.New("isolate: state file is in use by another isolate or restore")

// openState locks path (via path+".lock") and loads it, or starts a new
// state when it does not exist and create is set.
func openState(path string, create bool) (*stateFile, error) {
	if path == "" {
		return nil, errors.New("isolate: no state file given")
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("isolate: locking state file: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s); wait for it to finish", ErrLocked, path)
		}
		return nil, fmt.Errorf("isolate: locking state file: %w", err)
	}
	sf := &stateFile{path: path, lock: lf}
	s, err := ReadState(path)
	switch {
	case err == nil:
		sf.s = s
	case create && errors.Is(err, fs.ErrNotExist):
		now := time.Now().UTC()
		sf.s = &State{Format: StateFormat, Created: now, Updated: now}
	default:
		sf.close()
		return nil, err
	}
	return sf, nil
}

// save writes the state atomically with mode 0600.
func (sf *stateFile) save() error {
	sf.s.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(sf.s, "", "  ")
	if err != nil {
		return fmt.Errorf("isolate: encoding state: %w", err)
	}
	if err := manifest.WriteFileAtomic(sf.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("isolate: writing state file: %w", err)
	}
	return nil
}

func (sf *stateFile) close() {
	if sf.lock != nil {
		syscall.Flock(int(sf.lock.Fd()), syscall.LOCK_UN)
		sf.lock.Close()
		sf.lock = nil
	}
}

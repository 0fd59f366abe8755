package isolate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/qualityunit/lamigrate/internal/jsonfile"
	"github.com/qualityunit/lamigrate/internal/sqlvalue"
)

// StateFormat is the version of the state file layout.
const StateFormat = 1

// Value is one column value as the server returned it: NULL (Valid false),
// or Bytes. In JSON it is null, a string (valid UTF-8), or {"base64":
// "..."}; see internal/sqlvalue, which adjust's records share.
type Value = sqlvalue.Value

// String makes a non-NULL Value.
func String(s string) Value { return sqlvalue.Text(s) }

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
	// Host is the machine isolate ran on: its files, crontabs and services
	// are only restored there. Missing in state files of older versions.
	Host *Host `json:"host,omitempty"`
	// Server is the database server isolate changed.
	Server *Server `json:"server,omitempty"`
	// Restored is set by the last restore; RestoreConflicts says how many
	// things it had to leave alone. RestoreRowsOnly says the last restore
	// put back the rows only (on another machine, or asked to): the files,
	// cron lines and services it records are still to restore.
	Restored         *time.Time     `json:"restored,omitempty"`
	RestoreConflicts int            `json:"restore_conflicts,omitempty"`
	RestoreRowsOnly  bool           `json:"restore_rows_only,omitempty"`
	Sources          []SourceState  `json:"sources"`
	Files            []FileState    `json:"files,omitempty"`
	Cron             []CronState    `json:"cron,omitempty"`
	Services         []ServiceState `json:"services,omitempty"`
}

// Host identifies a machine: its host name and, when readable,
// /etc/machine-id.
type Host struct {
	Hostname  string `json:"hostname"`
	MachineID string `json:"machine_id,omitempty"`
}

// Same reports whether h and o are the same machine: the machine IDs when
// both are known, else the host names.
func (h Host) Same(o Host) bool {
	if h.MachineID != "" && o.MachineID != "" {
		return h.MachineID == o.MachineID
	}
	return h.Hostname != "" && h.Hostname == o.Hostname
}

func (h Host) String() string {
	if h.Hostname != "" {
		return h.Hostname
	}
	return "machine " + h.MachineID
}

// ThisHost returns the machine this process runs on.
func ThisHost() Host {
	var h Host
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		h.MachineID = strings.TrimSpace(string(b))
	}
	return h
}

// Server identifies a database server and database: @@hostname, @@port
// and DATABASE().
type Server struct {
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
	Database string `json:"database"`
}

// Same reports whether s and o are the same server and database.
func (s Server) Same(o Server) bool { return s == o }

// machineEntries says what of the state belongs to the machine isolate ran
// on, e.g. "2 cron lines, 1 file, 1 service"; "" when nothing does.
func (s *State) machineEntries() string {
	var parts []string
	lines := 0
	for _, c := range s.Cron {
		lines += len(c.Lines)
	}
	if lines > 0 {
		parts = append(parts, plural(lines, "cron line"))
	}
	if n := len(s.Files); n > 0 {
		parts = append(parts, plural(n, "file"))
	}
	if n := len(s.Services); n > 0 {
		parts = append(parts, plural(n, "service"))
	}
	return strings.Join(parts, ", ")
}

// FullyRestored reports whether the last restore put back everything the
// state holds: no conflicts, and not rows only while it records files,
// cron lines or services.
func (s *State) FullyRestored() bool {
	return s.Restored != nil && s.RestoreConflicts == 0 && !(s.RestoreRowsOnly && s.machineEntries() != "")
}

// Isolated says what the state holds isolated, e.g. "mail accounts (3
// rows), 1 cron line"; "" when nothing.
func (s *State) Isolated() string {
	var parts []string
	for _, src := range s.Sources {
		if len(src.Rows) > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s)", src.Name, plural(len(src.Rows), "row")))
		}
	}
	if m := s.machineEntries(); m != "" {
		parts = append(parts, m)
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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

// stateKind is the state file's kind of versioned file.
var stateKind = jsonfile.Kind{Name: "isolate: state file", Format: StateFormat,
	Damaged: "restore needs the original values it holds: mend it by hand, or use a copy of it"}

// ReadState loads a state file. A missing file's error wraps
// fs.ErrNotExist, a damaged one's jsonfile.ErrDamaged, one of another
// format's jsonfile.ErrFormat.
func ReadState(path string) (*State, error) {
	var s State
	if err := stateKind.Read(path, &s); err != nil {
		return nil, err
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
//
// The lock file is removed when the state file is closed, while the lock is
// still held. Whoever opened the old lock file before it was removed and
// locks it after holds a lock on a file no longer at path, so after every
// flock openState checks that path still names the locked file and starts
// over when it does not.
func openState(path string, create bool) (*stateFile, error) {
	if path == "" {
		return nil, errors.New("isolate: no state file given")
	}
	lf, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
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

func lockFile(name string) (*os.File, error) {
	for range 100 {
		lf, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("isolate: locking state file: %w", err)
		}
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lf.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w (%s); wait for it to finish", ErrLocked, strings.TrimSuffix(name, ".lock"))
			}
			return nil, fmt.Errorf("isolate: locking state file: %w", err)
		}
		var held, now syscall.Stat_t
		if syscall.Fstat(int(lf.Fd()), &held) == nil && syscall.Stat(name, &now) == nil &&
			held.Dev == now.Dev && held.Ino == now.Ino {
			return lf, nil
		}
		lf.Close() // removed by its last holder: lock the new one
	}
	return nil, fmt.Errorf("isolate: locking state file: %s keeps being replaced", name)
}

// save writes the state atomically with mode 0600.
func (sf *stateFile) save() error {
	sf.s.Updated = time.Now().UTC()
	if err := jsonfile.Write(sf.path, sf.s); err != nil {
		return fmt.Errorf("isolate: writing state file: %w", err)
	}
	return nil
}

func (sf *stateFile) close() {
	if sf.lock != nil {
		os.Remove(sf.lock.Name()) // still locked: see openState
		syscall.Flock(int(sf.lock.Fd()), syscall.LOCK_UN)
		sf.lock.Close()
		sf.lock = nil
	}
}

package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Backend is a place files are stored: a folder on this machine (Local) or a
// folder on an SSH server (SFTP). Push writes into one, Pull reads from one.
// Names are slash-separated and relative to the backend's folder.
//
// Error contract, per method (restic's backend.Backend is the model):
//   - A missing file is reported with an error for which
//     errors.Is(err, fs.ErrNotExist) is true, and by no other condition.
//   - An error that may go away after reconnecting (a dropped connection, a
//     timeout) satisfies IsTransient; callers may call Reconnect (when the
//     backend is a Reconnecter) and redo the operation only if redoing it is
//     harmless. Every other error is permanent.
//   - Methods honour ctx: a cancelled ctx ends a running operation with an
//     error wrapping ctx.Err().
//
// A Backend is used by one goroutine at a time.
type Backend interface {
	// Stat returns the size of name.
	Stat(ctx context.Context, name string) (int64, error)

	// Open returns a reader of name's bytes starting at offset off.
	// Closing it releases the file. Reading past the end returns io.EOF.
	Open(ctx context.Context, name string, off int64) (io.ReadCloser, error)

	// Write stores r's bytes in name starting at offset off and returns how
	// many bytes it read from r. The file and missing parent folders are
	// created; with off == 0 any old content is dropped; with off > 0 the
	// file is cut to off bytes first (it must already hold at least off
	// bytes, or Write fails) so the result is exactly prefix + r. The data
	// is flushed to stable storage where the backend can ask for it. On
	// error the file holds an unspecified amount of r: callers verify before
	// they trust it.
	Write(ctx context.Context, name string, off int64, r io.Reader) (int64, error)

	// Rename moves oldname to newname, replacing newname if it exists. It is
	// atomic where the backend allows it: a reader sees the old newname or
	// the new one, never a mix. A missing oldname is fs.ErrNotExist.
	Rename(ctx context.Context, oldname, newname string) error

	// Remove deletes name. A missing name is fs.ErrNotExist.
	Remove(ctx context.Context, name string) error

	// Hash returns the lower-case hex SHA-256 of name's first n bytes
	// (n < 0: the whole file) and how it was computed (HashMethod). It fails
	// if the file holds fewer than n bytes.
	Hash(ctx context.Context, name string, n int64) (string, HashMethod, error)

	// Folder checks that the backend's folder exists; with create it is
	// made (with its parents) when missing. A missing folder without
	// create is a *FolderError (ErrNoFolder).
	Folder(ctx context.Context, create bool) error

	// String names the backend's folder for messages (never a secret).
	String() string

	// Close releases the backend's resources.
	Close() error
}

// writable is what openAt needs of an open file: *os.File and *sftp.File
// have it.
type writable interface {
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Seek(offset int64, whence int) (int64, error)
}

// openAt readies f for writing at off, as Write promises: with off > 0 the
// file must already hold at least off bytes; it is cut to off bytes (off
// == 0: emptied) and its offset moved there, so what is written next
// follows the prefix exactly. Every backend's Write and openStream start
// here.
func openAt(f writable, off int64) error {
	if off > 0 {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < off {
			return fmt.Errorf("cannot continue at byte %d: the file holds only %d", off, fi.Size())
		}
	}
	if err := f.Truncate(off); err != nil {
		return err
	}
	_, err := f.Seek(off, io.SeekStart)
	return err
}

// Reconnecter is a Backend whose connection can be rebuilt after a transient
// error. Push and Pull call Reconnect, then redo the whole (idempotent) step.
type Reconnecter interface {
	Reconnect(ctx context.Context) error
}

// HashMethod says where a SHA-256 was computed.
type HashMethod string

const (
	// HashLocal: read by this process from a local file.
	HashLocal HashMethod = "local"
	// HashRemoteCommand: computed on the server by a shell command
	// (sha256sum or openssl) over an SSH exec session.
	HashRemoteCommand HashMethod = "remote-command"
	// HashReadBack: read back over SFTP and hashed here (no shell allowed).
	HashReadBack HashMethod = "read-back"
	// HashStream: computed over the bytes as they were transferred.
	HashStream HashMethod = "stream"
)

// Sentinels for conditions callers branch on.
var (
	// ErrManifestMismatch: the local file does not match its manifest (size
	// or SHA-256). Nothing is renamed into place.
	ErrManifestMismatch = errors.New("file does not match its manifest")
	// ErrVerify: what arrived differs from what was sent.
	ErrVerify = errors.New("transferred file failed verification")
	// ErrHostKeyUnknown: the server's host key is not in known_hosts.
	ErrHostKeyUnknown = errors.New("unknown SSH host key")
	// ErrHostKeyChanged: the server's host key differs from known_hosts.
	ErrHostKeyChanged = errors.New("SSH host key has CHANGED")
	// ErrAuth: no offered credential was accepted.
	ErrAuth = errors.New("SSH authentication failed")
	// ErrNoFolder: the folder a file goes to does not exist, and
	// Options.Mkdir does not ask to create it.
	ErrNoFolder = errors.New("folder does not exist")
	// ErrConnect: the server could not be reached at all (refused, no
	// route, unknown host name, timeout while connecting).
	ErrConnect = errors.New("cannot connect")
)

// FolderError is the fact behind ErrNoFolder: which folder is missing.
type FolderError struct {
	Folder string // as the backend names it (sftp://USER@HOST:PORT/DIR/ or a local path)
	Remote bool   // on the server (a push's destination), not this machine
}

func (e *FolderError) Error() string {
	return fmt.Sprintf("transfer: the folder %s does not exist", e.Folder)
}

// Is makes errors.Is(err, ErrNoFolder) work.
func (e *FolderError) Is(target error) bool { return target == ErrNoFolder }

// ConnectError is the fact behind ErrConnect: the TCP connection to the SSH
// server (or the start of its handshake) failed, before anything was
// transferred. DialSFTP returns it as a permanent error; while Push or Pull
// reconnect after a broken link it is transient (the server may come back).
type ConnectError struct {
	Address string // host:port
	Err     error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("transfer: cannot connect to %s: %v", e.Address, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrConnect) work.
func (e *ConnectError) Is(target error) bool { return target == ErrConnect }

// MismatchError is the fact behind ErrVerify and ErrManifestMismatch: which
// file, and what was expected against what was found.
type MismatchError struct {
	Name      string
	What      string // "size" or "sha256"
	Want, Got string
	Method    HashMethod // how Got was computed (for sha256)
	Manifest  bool       // the expectation came from the manifest
}

func (e *MismatchError) Error() string {
	how := ""
	if e.Method != "" {
		how = " (" + string(e.Method) + ")"
	}
	if e.Manifest {
		return fmt.Sprintf("transfer: %s does not match its manifest: its %s is %s%s, the manifest says %s", e.Name, e.What, e.Got, how, e.Want)
	}
	return fmt.Sprintf("transfer: %s failed verification: its %s is %s%s, the source's is %s", e.Name, e.What, e.Got, how, e.Want)
}

// Is makes errors.Is(err, ErrManifestMismatch / ErrVerify) work.
func (e *MismatchError) Is(target error) bool {
	if e.Manifest {
		return target == ErrManifestMismatch
	}
	return target == ErrVerify
}

// transientError marks an error worth a reconnect and a retry.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// IsTransient reports whether err may go away after reconnecting.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

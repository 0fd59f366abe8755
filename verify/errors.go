package verify

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// Conditions an archive check ends with. They arrive wrapped in a
// *StreamError that says where; test them with errors.Is.
var (
	// ErrIncomplete: the archive stops before the end of the dump (a
	// truncated file, a stream without its completion marker).
	ErrIncomplete = errors.New("verify: archive is incomplete")
	// ErrCorrupt: the archive's bytes are damaged (a checksum or
	// decompression error, content that does not match the completion
	// marker).
	ErrCorrupt = errors.New("verify: archive is corrupt")
	// ErrMismatch: something differs from the manifest. Every
	// *MismatchError matches it.
	ErrMismatch = errors.New("verify: differs from the manifest")
)

// StreamError locates a failure inside an archive.
type StreamError struct {
	// Err is ErrIncomplete or ErrCorrupt.
	Err error
	// Offset is the position in the uncompressed SQL stream where the
	// problem was found; -1 when unknown.
	Offset int64
	// FileOffset is how many bytes of the archive file had been read when
	// the problem was found (decompressors read ahead: the damage is at or
	// before it); -1 when unknown.
	FileOffset int64
	// Table is the table whose data the stream was in ("" before the first).
	Table string
	// Detail says what was wrong.
	Detail string
	// Cause is the underlying decoder error, if any.
	Cause error
}

func (e *StreamError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	b.WriteString(e.Detail)
	var where []string
	if e.Offset >= 0 {
		where = append(where, fmt.Sprintf("at uncompressed byte %d", e.Offset))
	}
	if e.Table != "" {
		where = append(where, "in the data of table "+ident.Quote(e.Table))
	}
	if e.FileOffset >= 0 {
		where = append(where, fmt.Sprintf("after reading %d bytes of the file", e.FileOffset))
	}
	if len(where) > 0 {
		b.WriteString(" (" + strings.Join(where, ", ") + ")")
	}
	return b.String()
}

// Unwrap gives errors.Is access to the condition and the cause.
func (e *StreamError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// What a MismatchError is about.
const (
	FileSize     = "file size"
	FileSHA256   = "file sha256"
	SQLBytes     = "sql bytes"
	SQLXXH3      = "sql xxh3"
	TableMissing = "missing"      // in the manifest, not where Got says ("archive" or "database")
	TableExtra   = "extra"        // where Got says, not in the manifest
	RowCount     = "row count"    // the number of rows differs
	RowDigest    = "changed rows" // same number of rows, different content
	ViewMissing  = "missing view" // a manifest view absent from the database
	// TriggerMissing: a manifest trigger absent from the database.
	TriggerMissing = "missing trigger"
	// A routine or event (Kind says which): in the manifest, not in the
	// database; in the database, not in the manifest; in both with another
	// definition (DEFINER aside).
	ObjectMissing = "missing routine"
	ObjectExtra   = "extra routine"
	ObjectChanged = "changed routine"
	// The row digests file the manifest names (FILE.rows.zst): absent;
	// of another size or SHA-256; not readable as one (cut short,
	// damaged); of another contract; listing another row count for Table.
	RowDigestsSize     = "row digests size"
	RowDigestsSHA256   = "row digests sha256"
	RowDigestsDamaged  = "row digests damaged"
	RowDigestsContract = "row digests contract"
	RowDigestsRows     = "row digests rows"
	// A delta archive (the manifest's Delta set), against the manifest's
	// delta table list: the stream changes a table the list does not name
	// (DeltaUnlisted); it holds no changes of a table the list carries
	// (DeltaNotCarried); it does not drop a table the list drops
	// (DeltaNotDropped), or drops or creates a table the list changes row
	// by row (DeltaRecreated); it does not create a table carried whole
	// (DeltaNotCreated); it writes (DeltaWritten) or deletes
	// (DeltaDeleted) another number of rows than the list says; the
	// list contradicts the manifest's own table list (DeltaManifest).
	DeltaUnlisted   = "unlisted change"
	DeltaNotCarried = "change not carried"
	DeltaNotDropped = "not dropped"
	DeltaRecreated  = "recreated"
	DeltaNotCreated = "not created"
	DeltaWritten    = "rows written"
	DeltaDeleted    = "keys deleted"
	DeltaManifest   = "delta manifest"
	// The delta's changes file (FILE.changes.zst): absent; of another
	// size or SHA-256; not readable as one; of another contract; listing
	// another number of changed rows for Table than the delta's list.
	ChangesMissing  = "changes missing"
	ChangesSize     = "changes size"
	ChangesSHA256   = "changes sha256"
	ChangesDamaged  = "changes damaged"
	ChangesContract = "changes contract"
	ChangesCount    = "changes count"
)

// MismatchError is one fact that differs from the manifest.
type MismatchError struct {
	Table string `json:"table,omitempty"` // "" for the archive as a whole
	// Kind is PROCEDURE, FUNCTION or EVENT when Table names one.
	Kind string `json:"kind,omitempty"`
	What string `json:"what"`           // one of the constants above
	Want string `json:"want,omitempty"` // what the manifest says
	Got  string `json:"got,omitempty"`  // what was found
}

func (e *MismatchError) Error() string {
	t := ident.Quote(e.Table)
	switch e.What {
	case TableMissing:
		return fmt.Sprintf("verify: table %s is in the manifest but not in the %s", t, place(e.Got))
	case TableExtra:
		return fmt.Sprintf("verify: table %s is in the %s but not in the manifest", t, place(e.Got))
	case ViewMissing:
		return fmt.Sprintf("verify: view %s is in the manifest but not in the database", t)
	case TriggerMissing:
		return fmt.Sprintf("verify: trigger %s is in the manifest but not in the database", t)
	case ObjectMissing:
		return fmt.Sprintf("verify: %s %s is in the manifest but not in the %s", strings.ToLower(e.Kind), t, place(e.Got))
	case ObjectExtra:
		return fmt.Sprintf("verify: %s %s is in the database but not in the manifest", strings.ToLower(e.Kind), t)
	case ObjectChanged:
		return fmt.Sprintf("verify: %s %s has another definition than the manifest records (digest %.12s, the manifest says %.12s; DEFINER is not compared)",
			strings.ToLower(e.Kind), t, e.Got, e.Want)
	case RowCount:
		return fmt.Sprintf("verify: table %s has %s rows; the manifest says %s", t, e.Got, e.Want)
	case RowDigestsSize, RowDigestsSHA256:
		return fmt.Sprintf("verify: the row digests file's %s is %s; the manifest says %s (the file was altered or belongs to another dump)", strings.TrimPrefix(e.What, "row digests "), e.Got, e.Want)
	case RowDigestsDamaged:
		return fmt.Sprintf("verify: the row digests file %s cannot be read: %s", e.Want, strings.TrimPrefix(e.Got, "chunk: "))
	case RowDigestsContract:
		return fmt.Sprintf("verify: the row digests file was made under contract %s; the manifest says %s", e.Got, e.Want)
	case RowDigestsRows:
		return fmt.Sprintf("verify: table %s has %s rows in the row digests file; the manifest says %s", t, e.Got, e.Want)
	case DeltaUnlisted:
		return fmt.Sprintf("verify: the archive %s table %s, but the manifest's delta does not list it (the archive or its manifest belongs to another dump)", e.Got, t)
	case DeltaNotCarried:
		return fmt.Sprintf("verify: the manifest's delta carries table %s (%s), but the archive holds no change of it (the archive or its manifest belongs to another dump)", t, e.Want)
	case DeltaNotDropped:
		return fmt.Sprintf("verify: the manifest's delta drops table %s, but the archive does not drop it", t)
	case DeltaRecreated:
		return fmt.Sprintf("verify: the manifest's delta changes table %s row by row, but the archive %s it: loading it would lose the table's unchanged rows", t, e.Got)
	case DeltaNotCreated:
		return fmt.Sprintf("verify: the manifest's delta carries table %s whole, but the archive does not create it", t)
	case DeltaWritten:
		return fmt.Sprintf("verify: table %s: the archive writes %s; the manifest's delta says %s", t, counted(e.Got, "row"), e.Want)
	case DeltaDeleted:
		return fmt.Sprintf("verify: table %s: the archive deletes %s; the manifest's delta says %s", t, counted(e.Got, "key"), e.Want)
	case DeltaManifest:
		if e.Got == "" {
			return fmt.Sprintf("verify: the manifest's delta gives table %s the unknown action %s: verify it with the lamigrate version that wrote it", t, e.Want)
		}
		return fmt.Sprintf("verify: the manifest contradicts itself about table %s: its delta %s, its table list %s", t, e.Want, e.Got)
	case ChangesMissing:
		return fmt.Sprintf("verify: the delta's changes file %s is missing: an import checks the target against it before changing anything; copy it beside the archive from where the delta was dumped", e.Want)
	case ChangesSize, ChangesSHA256:
		return fmt.Sprintf("verify: the changes file's %s is %s; the manifest says %s (the file was altered or belongs to another dump)", strings.TrimPrefix(e.What, "changes "), e.Got, e.Want)
	case ChangesDamaged:
		return fmt.Sprintf("verify: the changes file %s cannot be read: %s", e.Want, strings.TrimPrefix(e.Got, "chunk: "))
	case ChangesContract:
		return fmt.Sprintf("verify: the changes file was made under contract %s; the manifest says %s", e.Got, e.Want)
	case ChangesCount:
		return fmt.Sprintf("verify: table %s: the changes file lists %s; the manifest's delta says %s", t, e.Got, e.Want)
	case RowDigest:
		return fmt.Sprintf("verify: table %s has changed rows (same row count, content digest %s; the manifest says %s)",
			t, e.Got, e.Want)
	}
	if e.Table != "" {
		return fmt.Sprintf("verify: table %s: %s is %s; the manifest says %s", t, e.What, e.Got, e.Want)
	}
	return fmt.Sprintf("verify: archive %s is %s; the manifest says %s", e.What, e.Got, e.Want)
}

// counted says "1 row", "2 rows" for a count n in decimal.
func counted(n, what string) string {
	if n == "1" {
		return n + " " + what
	}
	return n + " " + what + "s"
}

func place(s string) string {
	if s == "" {
		return "database"
	}
	return s
}

// Is makes every MismatchError match ErrMismatch.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// DiffError lists every difference a database check found.
type DiffError struct {
	Database    string
	Differences []*MismatchError
}

func (e *DiffError) Error() string {
	var b strings.Builder
	n := len(e.Differences)
	fmt.Fprintf(&b, "verify: database %s differs from the manifest in %d place", ident.Quote(e.Database), n)
	if n != 1 {
		b.WriteString("s")
	}
	// One difference is spelled out; more are named by table, so the
	// message stays one readable line (the report lists them all).
	if n > 0 {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Differences[0].Error(), "verify: "))
	}
	if n > 1 {
		names := make([]string, 0, n-1)
		for _, d := range e.Differences[1:] {
			names = append(names, ident.Quote(d.Table))
		}
		fmt.Fprintf(&b, "; and %d more in %s", n-1, strings.Join(names, ", "))
	}
	return b.String()
}

// Unwrap gives errors.As access to each *MismatchError.
func (e *DiffError) Unwrap() []error {
	out := make([]error, len(e.Differences))
	for i, d := range e.Differences {
		out[i] = d
	}
	return out
}

// lostConnection says whether err is the connection to the server breaking
// (the driver reports a connection cut in the middle of a result as
// "invalid connection", the network as an unexpected EOF).
func lostConnection(err error) bool {
	var d *DiffError
	if errors.As(err, &d) {
		return false
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone)
}

// connLostError is a database check cut short by a lost connection.
type connLostError struct{ err error }

func (e *connLostError) Error() string {
	return e.err.Error() + " (lost the connection to the server, so the check did not finish and there is no verdict: check that the server is running, then run the check again)"
}

func (e *connLostError) Unwrap() error { return e.err }

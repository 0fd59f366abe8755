package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// ProgressTable is the table in the target database that records finished
// tables while an import runs. A successful import drops it; its presence
// marks an unfinished import that the same command resumes.
const ProgressTable = "_lamigrate_import"

// Config says how to import. The zero value is valid: it loads with one
// connection per CPU into an empty database.
type Config struct {
	// Threads is the number of connections loading tables in parallel
	// (0: the number of CPUs).
	Threads int `json:"threads,omitempty"`
	// Force loads into a database that already holds tables, replacing
	// the archive's own objects: each table the archive creates is dropped
	// (with its rows and triggers) just before its CREATE TABLE runs, and
	// each view, routine, event or trigger it creates is dropped before it
	// is made. Tables and objects the archive does not create are left
	// alone (an INSERT into one of them adds rows, as the stock client
	// would).
	Force bool `json:"force,omitempty"`
	// Fingerprint identifies the archive (for example the SQL stream hash
	// its manifest records). It is stored with the progress of an
	// unfinished import, so a resume with a different archive is refused.
	// The first MiB of the uncompressed stream is always part of the
	// fingerprint.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Followed says the archive is still being written (Follow): its
	// Fingerprint is not known yet and is ignored. The progress table
	// records the first MiB of the stream alone, so any later import of
	// an archive that starts with the same MiB continues this one (see
	// "Following" in the package documentation).
	Followed bool `json:"followed,omitempty"`
	// RequireMarker fails the import when the stream does not end with
	// lamigrate's completion marker (set it for lamigrate archives).
	RequireMarker bool `json:"require_marker,omitempty"`
	// SpoolDir holds statements read ahead of the connections ("": the
	// system's temp folder). Spool files are unlinked as soon as created.
	SpoolDir string `json:"spool_dir,omitempty"`
	// ReadAhead bounds the statements read but not yet loaded, in bytes
	// (0: 4 GiB). Reading ahead lets every connection work while one loads
	// a big table.
	ReadAhead int64 `json:"read_ahead,omitempty"`
	// MemoryReadAhead is the part of ReadAhead kept in memory; the rest
	// goes to spool files (0: 32 MiB), so memory stays the same however
	// large the archive.
	MemoryReadAhead int64 `json:"memory_read_ahead,omitempty"`
	// ArchiveSize is the archive's size in bytes, for the ETA (0: unknown).
	ArchiveSize int64 `json:"archive_size,omitempty"`
	// KeepIndexes creates every table with all its keys, as the stock
	// client does, instead of adding an InnoDB table's plain secondary
	// keys after its rows (see "Secondary keys" in the package
	// documentation).
	KeepIndexes bool `json:"keep_indexes,omitempty"`
	// StripDefiners creates the archive's views, triggers, routines and
	// events with the importing account as their definer: their DEFINER
	// clause is dropped, SQL SECURITY stays as written. Without it, an
	// archive holding definers the account may not set (that needs SUPER
	// or SET USER) is refused with a *DefinerError before any row is loaded.
	StripDefiners bool `json:"strip_definers,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Threads < 0:
		return fmt.Errorf("load: threads must be 0 (number of CPUs) or more, not %d", c.Threads)
	case c.ReadAhead < 0 || c.MemoryReadAhead < 0:
		return errors.New("load: read-ahead sizes may not be negative")
	case c.ArchiveSize < 0:
		return errors.New("load: archive size may not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Threads == 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.ReadAhead == 0 {
		c.ReadAhead = 4 << 30
	}
	if c.MemoryReadAhead == 0 {
		c.MemoryReadAhead = 32 << 20
	}
	if c.MemoryReadAhead > c.ReadAhead {
		c.MemoryReadAhead = c.ReadAhead
	}
	return c
}

// Progress receives the state of an import about twice a second and once
// at the end. It is called from one goroutine at a time.
type Progress interface {
	Update(Status)
}

// Status is a snapshot of an import.
type Status struct {
	ArchiveRead int64 // bytes of the archive read so far
	ArchiveSize int64 // 0 when unknown
	Read        int64 // uncompressed bytes split into statements
	Loaded      int64 // uncompressed bytes of statements loaded (or skipped as done)
	Tables      int   // tables met so far
	TablesDone  int   // tables finished (including those finished by an earlier run)
	Rows        int64 // rows inserted by this run
	Elapsed     time.Duration
	Rate        float64       // archive bytes per second, measured on loaded statements
	ETA         time.Duration // 0 when unknown
	Done        bool          // the last update
}

// Result summarises a finished import.
type Result struct {
	Database string `json:"database"`
	// Tables counts the tables loaded, Skipped those an earlier, interrupted
	// run had finished.
	Tables     int           `json:"tables"`
	Skipped    int           `json:"skipped"`
	Rows       int64         `json:"rows"`
	Statements int64         `json:"statements"`
	Bytes      int64         `json:"archive_bytes"`
	SQLBytes   int64         `json:"sql_bytes"`
	Duration   time.Duration `json:"duration_ns"`
	Resumed    bool          `json:"resumed"`
	// Marker says the stream ended with lamigrate's completion marker.
	Marker bool `json:"marker"`
	// SQLXXH3 is the stream's XXH3 before the marker, when the marker
	// ends the stream and matches it ("" otherwise).
	SQLXXH3 string `json:"sql_xxh3,omitempty"`
	// PerTable lists the tables this run loaded, in the order they finished.
	PerTable []TableResult `json:"per_table"`
	// Delta is what CheckBase found before a delta was applied (nil for
	// a full archive); AlreadyApplied says every row the delta touches
	// was as the delta leaves it and no import of it was interrupted:
	// nothing was changed.
	Delta          *BaseCheck `json:"delta,omitempty"`
	AlreadyApplied bool       `json:"already_applied,omitempty"`
}

// TableResult is one table loaded by this run.
type TableResult struct {
	Name     string        `json:"name"`
	Rows     int64         `json:"rows"`
	Bytes    int64         `json:"sql_bytes"`
	Start    time.Duration `json:"start_ns"` // since the import began
	Duration time.Duration `json:"duration_ns"`
}

// Errors.
var (
	// ErrTargetNotEmpty: the target database holds tables and neither
	// Config.Force nor an unfinished import of the same archive allows
	// loading into it.
	ErrTargetNotEmpty = errors.New("load: target database already holds tables")
	// ErrOtherArchive: the target holds an unfinished import of another
	// archive.
	ErrOtherArchive = errors.New("load: target database holds an unfinished import of a different archive")
	// ErrPacketTooLarge: a statement is larger than the server's
	// max_allowed_packet.
	ErrPacketTooLarge = errors.New("load: statement larger than the server's max_allowed_packet")
	// ErrIncomplete: the stream ended without the completion marker that
	// RequireMarker asks for, or the marker does not match the stream.
	ErrIncomplete = errors.New("load: archive is incomplete")
	// ErrUnsupported: the stream does something an import into one database
	// cannot do (USE, CREATE DATABASE).
	ErrUnsupported = errors.New("load: statement not supported in an import")
)

// StatementError is a statement the server (or the importer) refused.
type StatementError struct {
	Table  string // "" for a statement outside any table
	Offset int64  // the statement's position in the uncompressed stream
	Text   string // its first bytes
	Err    error
}

func (e *StatementError) Error() string {
	where := "statement"
	if e.Table != "" {
		where = "table " + ident.Quote(e.Table) + ": statement"
	}
	msg := fmt.Sprintf("load: %s at byte %d (%s): %v", where, e.Offset, e.Text, e.Err)
	var me *mysql.MySQLError
	if errors.As(e.Err, &me) && (me.Number == 1205 || me.Number == 1213) {
		msg += " (another session held a lock on these rows; run the same import again: it continues after the statements already committed, none twice)"
	}
	return msg
}

func (e *StatementError) Unwrap() error { return e.Err }

// Option sets a runtime dependency of Load.
type Option func(*options)

type options struct {
	progress   Progress
	passphrase func() (string, error)
	verify     bool // WithStreamCheck: verify the completion marker's hash
	check      func(context.Context, manifest.Stream) error
	delta      *Delta // WithDelta
	hooks      hooks  // tests only (withHooks)
}

// WithProgress reports progress to p.
func WithProgress(p Progress) Option { return func(o *options) { o.progress = p } }

// WithPassphrase supplies the passphrase of an encrypted archive.
func WithPassphrase(f func() (string, error)) Option { return func(o *options) { o.passphrase = f } }

// WithStreamCheck hashes the stream and, when it ends with a completion
// marker, checks the marker's XXH3 against the bytes before it (a mismatch
// is ErrIncomplete), then has f (if not nil) check the stream, for example
// against the archive's manifest, which a followed archive gets only after
// its last byte. Both run before the import finishes: a failure keeps the
// progress table, as a damaged stream does.
func WithStreamCheck(f func(ctx context.Context, s manifest.Stream) error) Option {
	return func(o *options) { o.verify, o.check = true, f }
}

// Load reads an archive (any codec lamigrate writes, encrypted or not, or a
// plain mysqldump file) from r and loads it into the database target names.
// It opens its own connections from target (Config.Threads of them, plus
// one), so that the driver's packet limit follows the server's.
func Load(ctx context.Context, target *mysql.Config, r io.Reader, c Config, opts ...Option) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	var o options
	for _, f := range opts {
		f(&o)
	}
	if target == nil || target.DBName == "" {
		return nil, errors.New("load: the target configuration names no database")
	}
	start := time.Now()
	if o.passphrase != nil {
		o.passphrase = once(o.passphrase) // the archive may be read twice
	}
	// An archive that is a file can be read twice: its definers are
	// scanned through ReadAt (an independent reader: the codec's read-ahead
	// on r goes on untouched), then it is loaded from r.
	ra, _ := r.(io.ReaderAt)
	var origin int64
	if seeker, ok := r.(io.Seeker); ok && ra != nil {
		pos, err := seeker.Seek(0, io.SeekCurrent)
		if err != nil {
			ra = nil // a pipe
		}
		origin = pos
	} else {
		ra = nil
	}
	cr := &countingReader{r: r}
	plain, _, err := codec.NewReader(cr, o.passphrase)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer func() { plain.Close() }()
	var src io.Reader = plain
	sr := &streamReader{r: plain, h: manifest.NewStreamHash()}
	if o.check != nil {
		sr.check = func(s manifest.Stream) error { return o.check(ctx, s) }
	}
	if o.verify {
		src = sr
	}
	br := bufio.NewReaderSize(src, 1<<20)
	head, err := br.Peek(1 << 20)
	if fe := (*FollowError)(nil); errors.As(err, &fe) {
		return nil, err // the writer gave up before the first MiB: nothing done
	}
	// A delta is applied only after its base is proven (WithDelta): it
	// must never load as if it were a full dump.
	switch isDelta := deltaHeader(firstLine(head)); {
	case isDelta && o.delta == nil:
		return nil, fmt.Errorf("%w: it applies only onto its base, which is checked first against its manifest and changes file (FILE.manifest.json, FILE.changes.zst)", ErrDelta)
	case !isDelta && o.delta != nil:
		return nil, fmt.Errorf("load: the manifest of %s describes a delta (dump --since), but the archive's stream is not one: put the archive's own manifest beside it", o.delta.Archive)
	}
	// A followed archive has no manifest yet: its import records the
	// first MiB alone, marked as followed, and an import of the whole
	// archive (knowing its Fingerprint) continues it.
	headFP := fingerprint("\x00followed", head)
	fp := headFP
	if !c.Followed {
		fp = fingerprint(c.Fingerprint, head)
	}

	cfg := target.Clone()
	cfg.MaxAllowedPacket = 0 // ask the server
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	// main, a connection per thread, and one more per thread for helping
	// with statements from earlier in the stream (rarely used).
	db.SetMaxIdleConns(2*c.Threads + 1)
	db.SetMaxOpenConns(2*c.Threads + 2)

	e := newEngine(c, db, cfg.DBName, o, cr, start)
	e.headFP, e.dumpID = headFP, runID(head)
	err = e.prepare(ctx, fp)
	if e.release != nil {
		defer e.release()
	}
	if err != nil {
		return nil, err
	}
	if o.delta != nil {
		chk, err := CheckBase(ctx, db, *o.delta, e.pt.resumed)
		if err != nil {
			return nil, err
		}
		if chk.Applied() && !e.pt.resumed {
			return &Result{Database: cfg.DBName, Delta: chk, AlreadyApplied: true, PerTable: []TableResult{},
				Duration: time.Since(start)}, nil
		}
		e.deltaCheck = chk
	}
	if e.checkDefiners && ra != nil {
		// Refuse before loading anything: triggers come after their
		// table's rows, views and routines after every table.
		objs, err := scanDefiners(ctx, io.NewSectionReader(ra, origin, math.MaxInt64-origin), o.passphrase, e.account)
		if err != nil {
			return nil, err
		}
		if len(objs) > 0 {
			return nil, &DefinerError{Account: e.account.String(), Objects: objs}
		}
	}
	if err := e.begin(ctx, fp); err != nil {
		return nil, err
	}
	res, err := e.run(ctx, br)
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	res.Delta = e.deltaCheck
	if sr.verified {
		res.SQLXXH3 = sr.xxh3
	}
	return res, nil
}

// fingerprint identifies an archive by extra (Config.Fingerprint) and the
// first MiB of its stream.
func fingerprint(extra string, head []byte) string {
	h := sha256.New()
	h.Write([]byte(extra))
	h.Write([]byte{0})
	h.Write(head)
	return hex.EncodeToString(h.Sum(nil))
}

// markerTail is more than the longest completion marker line.
const markerTail = 256

// streamReader hashes the uncompressed stream and, at its end, checks a
// completion marker ending it against the bytes before it, then runs
// check; a mismatch is returned instead of io.EOF, so the import fails
// before it finishes. The last markerTail bytes are hashed only at the
// end, when it is known where the marker starts. Read takes no context, so
// check is bound to Load's when the reader is made.
type streamReader struct {
	r     io.Reader
	h     hash.Hash
	check func(manifest.Stream) error

	tail     []byte
	n        int64 // bytes read
	err      error // sticky, once the end was reached
	verified bool
	xxh3     string
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if n >= markerTail {
		s.h.Write(s.tail)
		s.h.Write(p[:n-markerTail])
		s.tail = append(s.tail[:0], p[n-markerTail:n]...)
	} else if n > 0 {
		s.tail = append(s.tail, p[:n]...)
		if over := len(s.tail) - markerTail; over > 0 {
			s.h.Write(s.tail[:over])
			s.tail = append(s.tail[:0], s.tail[over:]...)
		}
	}
	if err == io.EOF {
		if cerr := s.end(); cerr != nil {
			s.err = cerr
			return n, cerr
		}
		s.err = io.EOF
	}
	return n, err
}

// end checks the marker that ends the stream, if one does.
func (s *streamReader) end() error {
	i := bytes.LastIndex(s.tail, []byte(manifest.MarkerPrefix))
	if i < 0 || (i > 0 && s.tail[i-1] != '\n') {
		return nil // no marker: RequireMarker decides
	}
	n, sum, err := manifest.ParseMarker(string(s.tail[i:]))
	if err != nil || n != s.n-int64(len(s.tail)-i) || bytes.IndexByte(s.tail[i:len(s.tail)-1], '\n') >= 0 {
		return nil // not the marker of this stream: the producer says so
	}
	s.h.Write(s.tail[:i])
	got := hex.EncodeToString(s.h.Sum(nil))
	if got != sum {
		return fmt.Errorf("%w: its completion marker says xxh3 %s for %d bytes, the stream has %s: the archive is damaged; dump it again", ErrIncomplete, sum, n, got)
	}
	s.verified, s.xxh3 = true, got
	if s.check != nil {
		return s.check(manifest.Stream{Bytes: n, XXH3: got})
	}
	return nil
}

// scanDefiners reads the whole archive r (its own reader of the file)
// and lists the objects whose DEFINER a may not set.
func scanDefiners(ctx context.Context, r io.Reader, pass func() (string, error), a account) ([]Object, error) {
	plain, _, err := codec.NewReader(r, pass)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer plain.Close()
	return definers(ctx, plain, a)
}

// once calls f the first time and returns its answer ever after.
func once(f func() (string, error)) func() (string, error) {
	var (
		mu   sync.Mutex
		done bool
		v    string
		err  error
	)
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			v, err = f()
			done = err == nil
		}
		return v, err
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// b2s views b as a string without copying; b must not change while the
// string is in use.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func snippet(b []byte) string {
	s := string(b[:min(len(b), 80)])
	s = strings.Join(strings.Fields(s), " ")
	if len(b) > 80 {
		s += "…"
	}
	return s
}

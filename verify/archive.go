package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// Manifest is the FILE.manifest.json a lamigrate dump writes beside its
// archive.
type Manifest = manifest.Manifest

// ReadManifest loads a manifest file.
func ReadManifest(path string) (*Manifest, error) { return manifest.Read(path) }

// ManifestPath names the manifest that belongs to an archive.
func ManifestPath(archive string) string { return manifest.PathFor(archive) }

// Progress receives how far a check is: done and total in bytes of the
// archive file (Archive, File) or rows (Database); total 0 when unknown.
// Calls come from one goroutine at a time.
type Progress interface {
	Update(done, total int64, note string)
}

// Options tune the checks. The zero value checks an unencrypted archive
// against the manifest beside it (File) or none (Archive).
type Options struct {
	// Passphrase opens an encrypted archive; called only when the archive
	// is encrypted. Nil: an encrypted archive fails with
	// codec.ErrNeedPassphrase.
	Passphrase func() (string, error)
	// Manifest to check against. Nil: File reads FILE.manifest.json when it
	// exists; Archive checks without one.
	Manifest *Manifest
	// NoManifest stops File from looking for FILE.manifest.json.
	NoManifest bool
	// Progress, when set, is told how far the check is.
	Progress Progress
	// Connections is how many connections Database reads tables over
	// (default DefaultConnections).
	Connections int
	// Schema is the database Database checks (default: the connection's
	// current database).
	Schema string

	// minSplit, set by tests only, is the smallest table Database reads in
	// ranges; 0 means defaultMinSplit.
	minSplit int64
}

// Format says what kind of dump an archive holds.
type Format string

// The formats an archive check recognises.
const (
	// FormatLamigrate: ends with lamigrate's completion marker, which
	// records the length and XXH3-128 of everything before it.
	FormatLamigrate Format = "lamigrate"
	// FormatMysqldump: a plain mysqldump file ending with its
	// "-- Dump completed" trailer: it shows the dump ran to the end but
	// records no length or checksum, so it is weaker evidence.
	FormatMysqldump Format = "mysqldump"
	// FormatUnknown: neither trailer was found.
	FormatUnknown Format = "unknown"
)

// Evidence grades how much a passed archive check proves.
const (
	EvidenceStrong = "strong" // length and XXH3-128 of the whole SQL verified
	EvidenceWeak   = "weak"   // only a trailer line shows the dump finished
	EvidenceNone   = "none"   // the check failed
)

// Sum is the archive file's length and SHA-256 (hex).
type Sum struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// StreamSum is a length of uncompressed SQL and its XXH3-128 (32 hex
// digits), as the completion marker and the manifest's "sql" record them.
type StreamSum = manifest.Stream

// TableStat is what the SQL stream holds for one table.
type TableStat struct {
	Name string `json:"name"`
	// Offset is the uncompressed position of the table's first section.
	Offset int64 `json:"offset"`
	// Bytes counts the uncompressed bytes of its sections (structure and
	// data).
	Bytes int64 `json:"bytes"`
	// Inserts counts its INSERT statements.
	Inserts int64 `json:"inserts"`
	// RowsApprox counts the tuples of its INSERTs by their "),(" separators:
	// a string value containing those three characters adds one. Use the
	// manifest's count where there is one. In a delta archive it is exact
	// (the rows of its INSERT and REPLACE statements, read as SQL).
	RowsApprox int64 `json:"rows_approx"`
	// ManifestRows is the manifest's row count (-1: no manifest or not in it).
	ManifestRows int64 `json:"manifest_rows"`
}

// Check is one thing an archive check looked at.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// ArchiveReport is the result of an archive check. It is filled as far as
// the check got, also when it failed.
type ArchiveReport struct {
	Path        string `json:"path,omitempty"`
	Format      Format `json:"format"`
	Codec       string `json:"codec"`
	Encrypted   bool   `json:"encrypted"`
	Checksummed bool   `json:"checksummed"` // the container carries a content checksum
	// File is the archive as read: its size and SHA-256.
	File Sum `json:"file"`
	// SQL is the uncompressed stream before the completion marker (the
	// whole stream when there is none).
	SQL StreamSum `json:"sql"`
	// Marker is what the completion marker records, if there is one.
	Marker *StreamSum `json:"marker,omitempty"`
	// Manifest is the manifest's path ("(given)" when passed in Options).
	Manifest string      `json:"manifest,omitempty"`
	Tables   []TableStat `json:"tables"`
	// Delta is set when the manifest describes a delta archive (dump
	// --since): its base and what it changes.
	Delta *DeltaReport `json:"delta,omitempty"`
	// DeltaStream: the stream says it is a delta, but no delta manifest
	// was read (Delta is nil).
	DeltaStream bool     `json:"delta_stream,omitempty"`
	Evidence    string   `json:"evidence"`
	Notes       []string `json:"notes,omitempty"`
	Checks      []Check  `json:"checks"`
	OK          bool     `json:"ok"`
	Failure     string   `json:"failure,omitempty"`
	Seconds     float64  `json:"seconds"`
}

// File checks the archive at path: see Archive. Unless opt.Manifest is set
// or opt.NoManifest, it also checks against path's FILE.manifest.json when
// that exists.
func File(ctx context.Context, path string, opt Options) (*ArchiveReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	var size int64 = -1
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	where := "(given)"
	if opt.Manifest == nil && !opt.NoManifest {
		mp := manifest.PathFor(path)
		if _, err := os.Stat(mp); err == nil {
			m, err := manifest.Read(mp)
			if err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
			opt.Manifest = m
			where = mp
		}
	}
	rep := &ArchiveReport{Path: path}
	if opt.Manifest != nil {
		rep.Manifest = where
	}
	rep, err = check(ctx, f, size, opt, rep)
	m := opt.Manifest
	if err != nil || m == nil {
		return rep, err
	}
	// The companion files beside the archive: the row digests file, and a
	// delta's changes file.
	var first error
	var more []checked
	if m.RowDigests != nil {
		more = append(more, rowDigestsCheck(path, m))
	}
	if m.Delta != nil {
		more = append(more, changesCheck(path, m, rep))
	}
	for _, c := range more {
		rep.Checks = append(rep.Checks, c.Check)
		if c.err != nil && first == nil {
			first = c.err
		}
	}
	if first != nil {
		rep.OK = false
		rep.Evidence = EvidenceNone
		rep.Failure = first.Error()
		return rep, first
	}
	return rep, nil
}

// Archive reads an archive to its end through its codec (gzip, also
// multi-member; zstd; lz4 frames; plain; any of them age-encrypted) and
// proves it whole: every container checksum holds, the last line is the
// completion marker and the length and XXH3-128 it records match the SQL
// before it. A plain mysqldump file ending with "-- Dump completed" passes
// as weaker evidence. With opt.Manifest it also checks the archive's size
// and SHA-256, the SQL stream's size and XXH3-128, and the table list
// against it.
//
// The error is a *StreamError (wrapping ErrIncomplete or ErrCorrupt) or a
// *MismatchError (ErrMismatch); the report is returned in both cases.
func Archive(ctx context.Context, r io.Reader, opt Options) (*ArchiveReport, error) {
	rep := &ArchiveReport{}
	if opt.Manifest != nil {
		rep.Manifest = "(given)"
		if opt.Manifest.Delta != nil {
			rep.Notes = append(rep.Notes, "the delta's changes file was not checked: a stream has no folder to find it in (File checks it)")
		}
	}
	return check(ctx, r, -1, opt, rep)
}

const chunkSize = 1 << 20

// rawTee passes the archive's bytes to the decoder and, through a channel,
// to a goroutine that hashes them.
type rawTee struct {
	r      io.Reader
	n      atomic.Int64
	mu     sync.Mutex
	closed bool
	ch     chan []byte
	free   sync.Pool
	h      hash.Hash
	done   chan struct{}
}

func newRawTee(r io.Reader) *rawTee {
	t := &rawTee{r: r, ch: make(chan []byte, 8), h: sha256.New(), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for b := range t.ch {
			t.h.Write(b)
			t.free.Put(&b)
		}
	}()
	return t
}

func (t *rawTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.mu.Lock()
		if !t.closed {
			var b []byte
			if bp, ok := t.free.Get().(*[]byte); ok && cap(*bp) >= n {
				b = (*bp)[:n]
			} else {
				b = make([]byte, n, max(n, chunkSize))
			}
			copy(b, p[:n])
			t.ch <- b
			t.n.Add(int64(n))
		}
		t.mu.Unlock()
	}
	return n, err
}

// finish stops hashing and returns the size and SHA-256 of what was read.
func (t *rawTee) finish() Sum {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
	t.mu.Unlock()
	<-t.done
	return Sum{Bytes: t.n.Load(), SHA256: hex.EncodeToString(t.h.Sum(nil))}
}

func check(ctx context.Context, r io.Reader, size int64, opt Options, rep *ArchiveReport) (*ArchiveReport, error) {
	start := time.Now()
	rep.Format, rep.Evidence = FormatUnknown, EvidenceNone
	rep.Tables = []TableStat{}
	if m := opt.Manifest; m != nil && m.Delta != nil {
		rep.Delta = &DeltaReport{Base: m.Delta.Base, Quiet: m.Delta.Quiet, Tables: []DeltaTableStat{}}
	}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()
	fail := func(err error) (*ArchiveReport, error) {
		rep.OK = false
		rep.Evidence = EvidenceNone
		rep.Failure = err.Error()
		return rep, err
	}

	tee := newRawTee(r)
	defer tee.finish()
	var passErr error
	pass := opt.Passphrase
	if pass != nil {
		pass = func() (string, error) {
			p, err := opt.Passphrase()
			passErr = err
			return p, err
		}
	}
	pr, info, err := codec.NewReader(tee, pass)
	rep.Codec, rep.Encrypted, rep.Checksummed = string(info.Kind), info.Encrypted, info.Checksummed
	if err != nil {
		rep.File = tee.finish()
		if passErr != nil || errors.Is(err, codec.ErrPassphrase) || errors.Is(err, codec.ErrNeedPassphrase) {
			return fail(fmt.Errorf("verify: %w", err))
		}
		return fail(&StreamError{Err: ErrCorrupt, Offset: 0, FileOffset: tee.n.Load(),
			Detail: "cannot open the archive: " + err.Error(), Cause: err})
	}
	defer pr.Close()

	sc := newScanner(opt.Manifest != nil && opt.Manifest.Delta != nil)
	work := make(chan []byte, 4)
	free := make(chan []byte, 6)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		for b := range work {
			sc.write(b)
			select {
			case free <- b[:cap(b)]:
			default:
			}
		}
	}()
	var readErr error
	for {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, chunkSize)
		}
		n, err := fill(pr, buf)
		if n > 0 {
			work <- buf[:n]
		}
		if opt.Progress != nil {
			opt.Progress.Update(tee.n.Load(), size, sc.current())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(work)
	<-scanned
	var trailing int64
	if readErr == nil {
		// Whatever the decoder did not need is trailing garbage; read it
		// so the file's size and SHA-256 cover the whole file.
		trailing, readErr = io.Copy(io.Discard, tee)
	}
	pr.Close()
	rep.File = tee.finish()
	rep.Tables = sc.stats(opt.Manifest)

	containerCheck := Check{Name: "container"}
	if rep.Encrypted {
		containerCheck.Detail = "age encryption authenticated; "
	}
	switch {
	case readErr != nil && errors.Is(readErr, context.Canceled):
		return fail(fmt.Errorf("verify: %w", readErr))
	case readErr != nil:
		se := &StreamError{Offset: sc.total, FileOffset: rep.File.Bytes, Table: sc.current(), Cause: readErr}
		if info.Encrypted && strings.Contains(readErr.Error(), "decrypt") {
			se.Err, se.Detail = ErrCorrupt, fmt.Sprintf("the encrypted data does not authenticate: the file is damaged or truncated (%v)", readErr)
		} else if errors.Is(readErr, io.ErrUnexpectedEOF) {
			se.Err, se.Detail = ErrIncomplete, fmt.Sprintf("the %s data stops in the middle: the file is truncated (%v)", kindName(info), readErr)
		} else {
			se.Err, se.Detail = ErrCorrupt, fmt.Sprintf("the %s data is damaged: %v", kindName(info), readErr)
			if strings.Contains(strings.ToLower(readErr.Error()), "checksum") || strings.Contains(readErr.Error(), "CRC") {
				se.Detail += " (the checksum covers a whole block or member: the damage is somewhere before this point)"
			}
		}
		containerCheck.Detail += se.Error()
		rep.Checks = append(rep.Checks, containerCheck)
		return fail(se)
	case trailing > 0:
		se := &StreamError{Err: ErrCorrupt, Offset: sc.total, FileOffset: rep.File.Bytes - trailing,
			Detail: fmt.Sprintf("%d bytes of unexpected data follow the end of the %s stream", trailing, kindName(info))}
		containerCheck.Detail += se.Error()
		rep.Checks = append(rep.Checks, containerCheck)
		return fail(se)
	}
	if info.Checksummed {
		containerCheck.OK = true
		containerCheck.Detail += fmt.Sprintf("%s read to the end, every checksum holds", kindName(info))
	} else {
		containerCheck.OK = true
		containerCheck.Detail += fmt.Sprintf("%s read to the end; it carries no checksum of its own", kindName(info))
		if info.Kind != codec.None {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the %s frame was written without a content checksum: only the completion marker's XXH3-128 can prove its content", info.Kind))
		}
	}
	rep.Checks = append(rep.Checks, containerCheck)

	// The trailer.
	res := sc.finish()
	if sc.deltaHead && rep.Delta == nil {
		rep.DeltaStream = true
		rep.Notes = append(rep.Notes, "the stream is a delta (lamigrate dump --since) but no delta manifest was read: only its completeness was checked, not the rows it writes and deletes; it applies only onto its base: put DELTA.manifest.json and DELTA.changes.zst beside it")
	}
	rep.SQL = res.sql
	endCheck := Check{Name: "completion"}
	var endErr error
	switch {
	case sc.total == 0:
		endErr = &StreamError{Err: ErrIncomplete, Offset: 0, FileOffset: -1, Detail: "the archive holds no SQL at all"}
	case res.marker != nil:
		rep.Format = FormatLamigrate
		rep.Marker = res.marker
		switch {
		case res.marker.Bytes != res.sql.Bytes:
			endErr = &StreamError{Err: ErrCorrupt, Offset: res.sql.Bytes, FileOffset: -1, Table: res.lastTable,
				Detail: fmt.Sprintf("the completion marker says %d bytes precede it, but %d do", res.marker.Bytes, res.sql.Bytes)}
		case res.marker.XXH3 != res.sql.XXH3:
			endErr = &StreamError{Err: ErrCorrupt, Offset: -1, FileOffset: -1,
				Detail: fmt.Sprintf("the XXH3-128 of the %d bytes before the completion marker is %s, the marker says %s: the content was altered somewhere in those bytes",
					res.sql.Bytes, res.sql.XXH3, res.marker.XXH3)}
		default:
			endCheck.OK = true
			endCheck.Detail = fmt.Sprintf("completion marker found; the %d bytes before it have the XXH3-128 it records", res.sql.Bytes)
			rep.Evidence = EvidenceStrong
		}
	case res.badMarker != "":
		endErr = &StreamError{Err: ErrCorrupt, Offset: res.lastLine, FileOffset: -1,
			Detail: fmt.Sprintf("the completion marker is damaged: %q", res.badMarker)}
	case res.mysqldump != "":
		rep.Format = FormatMysqldump
		endCheck.OK = true
		endCheck.Detail = fmt.Sprintf("mysqldump trailer found (%q); a plain mysqldump file records no length or checksum, so this is weaker evidence", res.mysqldump)
		rep.Evidence = EvidenceWeak
		note := "plain mysqldump file: its trailer shows the dump ran to the end, but nothing records its length or checksum"
		if !info.Checksummed {
			note += ", and the container has no checksum either: damaged content would go unnoticed"
		}
		rep.Notes = append(rep.Notes, note)
	default:
		endErr = &StreamError{Err: ErrIncomplete, Offset: sc.total, FileOffset: -1, Table: res.lastTable,
			Detail: fmt.Sprintf("the stream ends without the completion marker (last line: %s)", res.lastLineText)}
	}
	if endErr != nil {
		endCheck.Detail = endErr.Error()
	}
	rep.Checks = append(rep.Checks, endCheck)

	var first error = endErr
	if m := opt.Manifest; m != nil {
		for _, c := range manifestChecks(m, rep, sc) {
			rep.Checks = append(rep.Checks, c.Check)
			if c.err != nil && first == nil {
				first = c.err
			}
		}
	}
	if first != nil {
		return fail(first)
	}
	rep.OK = true
	return rep, nil
}

func kindName(info codec.Info) string {
	if info.Kind == codec.None {
		return "plain SQL"
	}
	return string(info.Kind)
}

type checked struct {
	Check
	err error
}

func manifestChecks(m *Manifest, rep *ArchiveReport, sc *scanner) []checked {
	sections, programs := sc.sawSections(), sc.programs
	var out []checked
	add := func(name string, mm *MismatchError, okDetail string) {
		c := checked{Check: Check{Name: name, OK: mm == nil, Detail: okDetail}}
		if mm != nil {
			c.Detail, c.err = mm.Error(), mm
		}
		out = append(out, c)
	}
	if m.File.Size > 0 {
		var mm *MismatchError
		if m.File.Size != rep.File.Bytes {
			mm = &MismatchError{What: FileSize, Want: strconv.FormatInt(m.File.Size, 10), Got: strconv.FormatInt(rep.File.Bytes, 10)}
		}
		add("manifest file size", mm, fmt.Sprintf("%d bytes, as the manifest says", rep.File.Bytes))
	}
	if m.File.SHA256 != "" {
		var mm *MismatchError
		if m.File.SHA256 != rep.File.SHA256 {
			mm = &MismatchError{What: FileSHA256, Want: m.File.SHA256, Got: rep.File.SHA256}
		}
		add("manifest file sha256", mm, "SHA-256 "+rep.File.SHA256+", as the manifest says")
	}
	if m.SQL.XXH3 != "" || m.SQL.Bytes > 0 {
		var mm *MismatchError
		switch {
		case m.SQL.Bytes != rep.SQL.Bytes:
			mm = &MismatchError{What: SQLBytes, Want: strconv.FormatInt(m.SQL.Bytes, 10), Got: strconv.FormatInt(rep.SQL.Bytes, 10)}
		case m.SQL.XXH3 != rep.SQL.XXH3:
			mm = &MismatchError{What: SQLXXH3, Want: m.SQL.XXH3, Got: rep.SQL.XXH3}
		}
		add("manifest sql stream", mm, fmt.Sprintf("%d uncompressed bytes with the XXH3-128 the manifest records", rep.SQL.Bytes))
	}
	if m.Delta != nil {
		// A delta holds only the changes: its tables are checked against
		// the delta's list, not the full state's.
		out = append(out, deltaChecks(m, rep, sc)...)
	} else if sections {
		inStream := map[string]bool{}
		for _, t := range rep.Tables {
			inStream[t.Name] = true
		}
		inManifest := map[string]bool{}
		n := 0
		for _, t := range m.Tables {
			inManifest[t.Name] = true
			if !inStream[t.Name] {
				add("manifest tables", &MismatchError{Table: t.Name, What: TableMissing, Got: "archive"}, "")
				n++
			}
		}
		for _, t := range rep.Tables {
			if !inManifest[t.Name] {
				add("manifest tables", &MismatchError{Table: t.Name, What: TableExtra, Got: "archive"}, "")
				n++
			}
		}
		if n == 0 {
			add("manifest tables", nil, fmt.Sprintf("the archive holds the %d tables the manifest lists", len(m.Tables)))
		}
	}
	// A manifest from before routines were dumped lists none (nil).
	if m.Routines != nil || m.Events != nil {
		n := 0
		for _, o := range append(append([]manifest.Object{}, m.Routines...), m.Events...) {
			if !programs[objectKey(o.Type, o.Name)] {
				add("manifest routines", &MismatchError{Table: o.Name, Kind: o.Type, What: ObjectMissing, Got: "archive"}, "")
				n++
			}
		}
		if n == 0 {
			add("manifest routines", nil, fmt.Sprintf("the archive creates the %s and %s the manifest lists", plural(len(m.Routines), "routine"), plural(len(m.Events), "event")))
		}
	}
	return out
}

// fill reads until buf is full or the reader fails; io.EOF only with the
// last bytes or none.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// plural says "1 event", "2 events".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

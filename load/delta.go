package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Delta archives (lamigrate dump --since). A delta holds only what changed
// since its base: it deletes and replaces rows of the tables it marks
// "rows", so it is right only on a database that holds the base. CheckBase
// proves that by content, before anything changes: per row the delta
// touches, the changes file beside the archive (FILE.changes.zst) records
// the digest the row has in the base (if it is there) and after the delta
// (if it is still there); CheckBase reads those rows of the target and
// digests them as the dump did (the row digest contract of internal/chunk):
//
//   - a table the delta marks "rows" is missing from the target, or one of
//     its rows is neither as the base nor as the delta has it: the target
//     does not hold the base (a *BaseError, ErrNotBase); nothing is changed;
//   - every row is as the delta leaves it: the delta is applied already
//     (BaseCheck.Applied); Load then changes nothing, unless an interrupted
//     import of the delta left its progress table;
//   - every row as the base has it, or some of each (an interrupted import,
//     or one through the stock client): the delta is applied, or applied
//     further. Its statements are idempotent, so running one again is
//     harmless.
//
// A row the delta replaces may be missing half way through an import: a
// REPLACE whose new row takes a unique value another changed row held in
// the base deletes that row until its own REPLACE writes it again. Such a
// row counts as pending when an import of this delta is being resumed (its
// progress table is there, so its first run proved the base), and as
// foreign otherwise.

// ErrNotBase is the error of a target that does not hold a delta's base
// (wrapped by *BaseError).
var ErrNotBase = errors.New("load: the target does not hold the base of the delta")

// ErrDelta is the error of a delta stream given to Load without WithDelta
// (its manifest and changes file are needed to check the target), or of
// WithDelta with a stream that is not a delta.
var ErrDelta = errors.New("load: the archive is a delta (lamigrate dump --since)")

// checkBatch is the number of keys read per query.
const checkBatch = 500

// Delta names a delta archive and its manifest, for WithDelta and
// CheckBase.
type Delta struct {
	// Archive is the delta's path; its changes file is
	// chunk.ChangesPathFor(Archive).
	Archive string
	// Manifest is the delta's manifest (its Delta set).
	Manifest *manifest.Manifest
}

// WithDelta says the archive is the delta d: Load checks with CheckBase
// that the target holds its base before it changes anything, and applies
// it into a database that holds tables.
func WithDelta(d Delta) Option { return func(o *options) { o.delta = &d } }

// BaseCheck is what CheckBase found in the target.
type BaseCheck struct {
	Tables  int     `json:"tables"`  // tables whose rows the delta changes
	Rows    int64   `json:"rows"`    // rows the delta deletes or replaces
	AtBase  int64   `json:"at_base"` // of them, as the base has them
	AtNew   int64   `json:"at_new"`  // as the delta leaves them
	Pending int64   `json:"pending"` // missing half way through a resumed import
	Skipped int     `json:"skipped"` // tables of the changes file the delta carries whole or drops
	Seconds float64 `json:"seconds"` // time spent
}

// Applied reports whether every row the delta touches is as the delta
// leaves it (false when it touches none: there is then nothing to tell
// the base from the result by).
func (b *BaseCheck) Applied() bool { return b.Rows > 0 && b.AtNew == b.Rows }

// BaseError says the target does not hold a delta's base. It wraps
// ErrNotBase.
type BaseError struct {
	Delta    string // the delta's file name
	Base     string // its base archive's file name
	Database string // the target
	Table    string
	// Missing: the table is not in the target (Unchanged: one the delta
	// leaves as the base has it); NoKey: its key columns are not among its
	// stored columns.
	Missing, Unchanged, NoKey bool
	// Differ of Of rows differ; FirstKey is the first one's key as SQL
	// literals.
	Differ, Of int64
	FirstKey   string
}

func (e *BaseError) Error() string {
	var what string
	switch {
	case e.Missing && e.Unchanged:
		what = fmt.Sprintf("table %s, which the base holds and the delta leaves as it is, is not in %s (was an earlier delta skipped?)", ident.Quote(e.Table), ident.Quote(e.Database))
	case e.Missing:
		what = fmt.Sprintf("table %s, whose rows the delta changes, is not in %s", ident.Quote(e.Table), ident.Quote(e.Database))
	case e.NoKey:
		what = fmt.Sprintf("table %s of %s has no stored columns for the base's key", ident.Quote(e.Table), ident.Quote(e.Database))
	default:
		what = fmt.Sprintf("table %s: %d of %d rows the delta replaces or deletes differ from the base (first key %s)", ident.Quote(e.Table), e.Differ, e.Of, e.FirstKey)
	}
	base := "the base"
	if e.Base != "" {
		base = e.Base
	}
	return fmt.Sprintf("load: the target does not hold the base of %s: %s; import the base first (%s), or take a new delta --since the manifest of what this database holds", e.Delta, what, base)
}

func (e *BaseError) Unwrap() error { return ErrNotBase }

// CheckBase proves, before anything changes, that the database db is
// connected to holds the base of the delta d, or that it holds d's result
// already (see the package documentation and the comment above). resuming
// says an import of d is being resumed (its progress table is there). It
// reads the changes file once, checks its SHA-256 against the manifest,
// and reads the touched rows in batches of a few hundred keys on one
// connection pinned to the digest contract's session (chunk.Charset,
// chunk.TimeZone, an empty sql_mode as the dump reads with), in one
// consistent snapshot; that connection is closed afterwards, not returned
// to db's pool.
func CheckBase(ctx context.Context, db *sql.DB, d Delta, resuming bool) (*BaseCheck, error) {
	if d.Manifest == nil || d.Manifest.Delta == nil {
		return nil, fmt.Errorf("%w: its manifest has no delta section", ErrDelta)
	}
	path := chunk.ChangesPathFor(d.Archive)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load: the delta's changes file %s is missing: copy it beside the archive (it tells which rows the delta changes, to check the target against)", path)
		}
		return nil, fmt.Errorf("load: reading the delta's changes file: %w", err)
	}
	defer f.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: connecting: %w", err)
	}
	defer func() {
		// The session is pinned and a snapshot may be open: do not hand
		// the connection to the import.
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
	}()
	bc := &baseChecker{c: c, d: d, resuming: resuming, actions: map[string]string{}}
	for _, t := range d.Manifest.Delta.Tables {
		bc.actions[t.Name] = t.Action
	}
	h := sha256.New()
	cr := &countingHash{r: f, h: h}
	res, err := bc.run(ctx, cr)
	if err != nil {
		return nil, err
	}
	if want := d.Manifest.Delta.Changes; want.SHA256 != "" {
		io.Copy(io.Discard, cr) // a zstd reader may stop before the file's end
		if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 || (want.Size > 0 && cr.n != want.Size) {
			return nil, fmt.Errorf("load: the delta's changes file %s does not match its manifest (sha256 %s, %d bytes; the manifest records %s, %d bytes): copy it again with the archive", path, got, cr.n, want.SHA256, want.Size)
		}
	}
	return res, nil
}

// countingHash hashes and counts what is read through it.
type countingHash struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// baseChecker is one CheckBase.
type baseChecker struct {
	c        *sql.Conn
	d        Delta
	resuming bool
	actions  map[string]string // per table, the manifest's action
	dbName   string
	tables   map[string]bool // the target's base tables
	res      BaseCheck
}

// tableChanges is one table's changes, kept compactly: the keys end to end.
type tableChanges struct {
	keys    []byte
	ends    []int
	changes []chunk.Change // Key nil: keys[ends[i-1]:ends[i]]
}

func (tc *tableChanges) key(i int) []byte {
	st := 0
	if i > 0 {
		st = tc.ends[i-1]
	}
	return tc.keys[st:tc.ends[i]]
}

func (b *baseChecker) run(ctx context.Context, r io.Reader) (*BaseCheck, error) {
	start := time.Now()
	cr, err := chunk.NewChangesReader(r)
	if err != nil {
		return nil, fmt.Errorf("load: the delta's changes file %s: %w", chunk.ChangesPathFor(b.d.Archive), err)
	}
	defer cr.Close()
	if h := cr.Header(); h.Version != chunk.Version || h.TimeZone != chunk.TimeZone || h.Charset != chunk.Charset {
		return nil, fmt.Errorf("load: the delta's changes file was made under row digest contract %s (%s, %s), this lamigrate reads %s (%s, %s): import it with the lamigrate version that dumped it, or take the delta again", h.Version, h.TimeZone, h.Charset, chunk.Version, chunk.TimeZone, chunk.Charset)
	}
	for _, s := range []string{
		"SET NAMES " + chunk.Charset,
		"SET SESSION time_zone = " + ident.String(chunk.TimeZone),
		"SET SESSION sql_mode = ''",
		"/*!100100 SET SESSION max_statement_time = 0 */",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT",
	} {
		if _, err := b.c.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("load: checking the target against the delta's base: %s: %w", s, err)
		}
	}
	defer b.c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if err := b.c.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&b.dbName); err != nil {
		return nil, fmt.Errorf("load: checking the target against the delta's base: %w", err)
	}
	if b.tables, err = baseTables(ctx, b.c); err != nil {
		return nil, err
	}
	// Every table whose rows the delta changes must be there, also one
	// whose only change is its AUTO_INCREMENT counter.
	for _, t := range b.d.Manifest.Delta.Tables {
		if t.Action == manifest.DeltaRows && !b.tables[t.Name] {
			return nil, b.notBase(&BaseError{Table: t.Name, Missing: true})
		}
	}
	// So must every table the delta leaves as it is: the base held it. A
	// target one delta behind (a copy skipped) usually lacks a table that
	// delta made.
	for _, t := range b.d.Manifest.Tables {
		if _, listed := b.actions[t.Name]; !listed && !b.tables[t.Name] {
			return nil, b.notBase(&BaseError{Table: t.Name, Missing: true, Unchanged: true})
		}
	}
	var tc tableChanges
	for {
		tc.keys, tc.ends, tc.changes = tc.keys[:0], tc.ends[:0], tc.changes[:0]
		t, err := cr.Next(func(c chunk.Change) error {
			tc.keys = append(tc.keys, c.Key...)
			tc.ends = append(tc.ends, len(tc.keys))
			c.Key = nil
			tc.changes = append(tc.changes, c)
			return nil
		})
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load: the delta's changes file %s: %w", chunk.ChangesPathFor(b.d.Archive), err)
		}
		if a, ok := b.actions[t.Name]; ok && a != manifest.DeltaRows {
			b.res.Skipped++ // dropped, or made anew with all its rows
			continue
		}
		if err := b.table(ctx, t, &tc); err != nil {
			return nil, err
		}
	}
	b.res.Seconds = time.Since(start).Seconds()
	return &b.res, nil
}

// baseTables lists the base tables of the connection's database.
func baseTables(ctx context.Context, c *sql.Conn) (map[string]bool, error) {
	rows, err := c.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		return nil, fmt.Errorf("load: listing the target's tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("load: listing the target's tables: %w", err)
		}
		out[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: listing the target's tables: %w", err)
	}
	return out, nil
}

func (b *baseChecker) notBase(e *BaseError) error {
	e.Delta = filepath.Base(b.d.Archive)
	e.Base = b.d.Manifest.Delta.Base.Archive
	e.Database = b.dbName
	return e
}

// table checks one table's changed rows against the target.
func (b *baseChecker) table(ctx context.Context, t *chunk.Table, tc *tableChanges) error {
	if !b.tables[t.Name] {
		return b.notBase(&BaseError{Table: t.Name, Missing: true})
	}
	cols, err := rowhash.Columns(ctx, b.c, b.dbName, t.Name)
	if err != nil {
		return fmt.Errorf("load: checking the target against the delta's base: %w", err)
	}
	stored := rowhash.Stored(cols)
	pos, err := t.Key.Positions(stored)
	if err != nil {
		return b.notBase(&BaseError{Table: t.Name, NoKey: true})
	}
	types, err := t.Key.Types(cols)
	if err != nil {
		return b.notBase(&BaseError{Table: t.Name, NoKey: true})
	}
	b.res.Tables++
	n := len(tc.changes)
	present := make([]bool, n)
	digest := make([]uint64, n)
	head := "SELECT " + rowhash.SelectList(cols) + " FROM " + ident.Quote(t.Name) + " WHERE "
	vals := make([]sql.RawBytes, len(stored))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	row := make([][]byte, len(vals))
	var d rowhash.Digest
	var key []byte
	batch := make([][]byte, 0, checkBatch)
	at := map[string]int{}
	for lo := 0; lo < n; lo += checkBatch {
		hi := min(lo+checkBatch, n)
		batch = batch[:0]
		clear(at)
		for i := lo; i < hi; i++ {
			k := tc.key(i)
			batch = append(batch, k)
			at[string(k)] = i
		}
		q, err := t.Key.AppendKeyIn([]byte(head), types, batch)
		if err != nil {
			return fmt.Errorf("load: the delta's changes file %s: table %s: %w", chunk.ChangesPathFor(b.d.Archive), ident.Quote(t.Name), err)
		}
		rows, err := b.c.QueryContext(ctx, b2s(q))
		if err != nil {
			return fmt.Errorf("load: checking table %s against the delta's base: %w", ident.Quote(t.Name), err)
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return fmt.Errorf("load: checking table %s against the delta's base: %w", ident.Quote(t.Name), err)
			}
			for i, v := range vals {
				row[i] = v
			}
			key = chunk.AppendKey(key[:0], row, pos)
			// A key equal in the column's collation but not in bytes
			// ('abc' for 'ABC') is another row: it is checked under its
			// own key, if the delta touches it.
			if i, ok := at[string(key)]; ok {
				present[i] = true
				digest[i] = d.AddRawRow(vals)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("load: checking table %s against the delta's base: %w", ident.Quote(t.Name), err)
		}
	}
	var foreign int64
	first := -1
	for i := range tc.changes {
		c := &tc.changes[i]
		switch c.State(present[i], digest[i]) {
		case chunk.AtBase:
			b.res.AtBase++
		case chunk.AtNew:
			b.res.AtNew++
		default:
			if b.resuming && !present[i] && c.InNew {
				b.res.Pending++
				continue
			}
			foreign++
			if first < 0 {
				first = i
			}
		}
	}
	b.res.Rows += int64(n)
	if foreign > 0 {
		return b.notBase(&BaseError{Table: t.Name, Differ: foreign, Of: int64(n), FirstKey: keyText(tc.key(first), types)})
	}
	return nil
}

// keyText renders an encoded key as SQL literals: 'abc', or (1, 'x') for
// a key of several columns, shortened past 80 bytes.
func keyText(key []byte, types []string) string {
	vals, err := chunk.DecodeKey(key)
	if err != nil || len(vals) != len(types) {
		return "?"
	}
	var b []byte
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = chunk.AppendLiteral(b, types[i], v)
	}
	if len(vals) > 1 {
		b = append(append([]byte{'('}, b...), ')')
	}
	if len(b) > 80 {
		b = append(b[:77:77], "..."...)
	}
	return strings.ToValidUTF8(string(bytes.ReplaceAll(b, []byte("\n"), []byte(`\n`))), "?")
}

// deltaHeader reports whether line is the first line of a delta dump
// ("-- lamigrate VERSION delta dump (mysqldump-compatible; …").
func deltaHeader(line []byte) bool {
	l := string(line)
	return strings.HasPrefix(l, "-- lamigrate") && strings.Contains(l, " delta dump (mysqldump-compatible")
}

// firstLine returns the first line of b, without its newline.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

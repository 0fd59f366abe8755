// Package manifest defines the files a lamigrate dump consists of: the
// completion marker that ends every finished SQL stream, and the
// FILE.manifest.json written beside the archive. dump writes them; verify,
// transfer and load read them.
package manifest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
)

// FormatVersion is the manifest's own format number.
const FormatVersion = 1

// Suffix is appended to an archive's name to name its manifest.
const Suffix = ".manifest.json"

// PathFor returns the manifest path for an archive path.
func PathFor(archive string) string { return archive + Suffix }

// Manifest describes one dump.
type Manifest struct {
	Format      int       `json:"format"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version"`
	Created     time.Time `json:"created"`
	Server      Server    `json:"server"`
	Database    string    `json:"database"`
	Options     Options   `json:"options"`
	// DumpID identifies the run of the dump: 32 random hex digits drawn
	// once per dump (full or delta), also written in its stream's header
	// ("-- lamigrate dump id …"). Empty in a manifest from before dumps
	// wrote one.
	DumpID string `json:"dump_id,omitempty"`
	// EncryptionKeyPresent records whether LiveAgent's ENCRYPTION_KEY was
	// found in settings.php (nil: not looked at). Never its value.
	EncryptionKeyPresent *bool    `json:"encryption_key_present,omitempty"`
	Tables               []Table  `json:"tables"`
	Views                []string `json:"views,omitempty"`
	Triggers             []string `json:"triggers,omitempty"`
	// Routines lists the stored procedures and functions, Events the
	// events, each with a digest of its definition that ignores the
	// DEFINER (see DefinitionDigest). Always written (empty: none); nil in
	// a manifest from before they were dumped, which says nothing about
	// them.
	Routines []Object `json:"routines"`
	Events   []Object `json:"events"`
	// Ignored lists the tables left out on purpose (present in the source).
	Ignored []string `json:"ignored"`
	// SQL describes the uncompressed stream (equal to the completion marker).
	SQL Stream `json:"sql"`
	// File describes the archive as written to disk.
	File File `json:"file"`
	// RowDigests names the row digests file beside the archive
	// (internal/chunk): every keyed row's key and 64-bit digest, the base a
	// later dump --since compares against. Nil in a manifest from before
	// dumps wrote one, or of a dump written without one.
	RowDigests *RowDigests `json:"row_digests,omitempty"`
	// Delta is set in the manifest of a delta archive (dump --since): the
	// archive then holds only the changes from its base, while Tables,
	// Views, Triggers, Routines, Events and RowDigests describe the full
	// state the base plus the archive make, so the next delta can be taken
	// --since this manifest and verify --dsn checks a target against it.
	Delta *Delta `json:"delta,omitempty"`
}

// Delta describes what a delta archive holds and the base it applies to.
type Delta struct {
	// Base identifies the dump the delta applies to.
	Base Base `json:"base"`
	// Changes names the changes file beside the archive (internal/chunk,
	// FILE.changes.zst): per row replaced or deleted, its key and its
	// digests before and after, which an importer checks the target
	// against before it changes anything.
	Changes File `json:"changes"`
	// Tables says, per table of the base or the source, what the archive
	// does with it; a table not listed is unchanged.
	Tables []DeltaTable `json:"tables"`
	// Quiet is true when the dump proved that nothing wrote to the dumped
	// tables between its snapshot and its end (the cutover's proof that
	// no row is lost); false when it did not look (--live).
	Quiet bool `json:"quiet"`
}

// Base identifies a delta's base dump.
type Base struct {
	Archive  string    `json:"archive"`  // the base archive's file name
	Manifest string    `json:"manifest"` // SHA-256 of the base manifest's bytes
	Created  time.Time `json:"created"`  // the base dump's start
	SQLXXH3  string    `json:"sql_xxh3"` // the base stream's XXH3
	Database string    `json:"database"` // the base's database
}

// Delta table actions.
const (
	// DeltaRows: the archive deletes vanished rows and replaces changed
	// and new rows (Deleted, Replaced count them).
	DeltaRows = "rows"
	// DeltaWhole: the table is dropped and created again with all its rows
	// (new, definition changed, or no usable key).
	DeltaWhole = "whole"
	// DeltaDrop: the table is gone from the source and is dropped.
	DeltaDrop = "drop"
)

// DeltaTable is what a delta archive does with one table.
type DeltaTable struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	// Why says why a table is carried whole: "new", "definition",
	// "no key".
	Why      string `json:"why,omitempty"`
	Deleted  int64  `json:"deleted,omitempty"`
	Replaced int64  `json:"replaced,omitempty"` // rows written (all rows for DeltaWhole)
	// Blocks and ChangedBlocks count the base's blocks of chunk.BlockRows
	// rows and those that held a change (DeltaRows only).
	Blocks        int64 `json:"blocks,omitempty"`
	ChangedBlocks int64 `json:"changed_blocks,omitempty"`
}

// RowDigests describes the row digests file of a dump.
type RowDigests struct {
	Name   string `json:"name"` // file name, in the archive's folder
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Contract is the digest contract's version (chunk.Version); TimeZone
	// and Charset the session's, which the digests depend on.
	Contract string `json:"contract"`
	TimeZone string `json:"time_zone"`
	Charset  string `json:"charset"`
	// Tables counts the tables the file lists, Keyed those with a usable
	// key (whose rows it lists), Rows the rows listed.
	Tables int   `json:"tables"`
	Keyed  int   `json:"keyed"`
	Rows   int64 `json:"rows"`
}

// Server identifies the source server.
type Server struct {
	Version  string `json:"version"`
	Flavor   string `json:"flavor"` // "mariadb" or "mysql"
	Host     string `json:"host,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
}

// Options records how the dump was made.
type Options struct {
	Compression string   `json:"compression"`
	Level       int      `json:"level,omitempty"`
	Encrypted   bool     `json:"encrypted"`
	IgnoreList  []string `json:"ignore_list"`
	// StripDefiners: views, triggers, routines and events were written
	// without their DEFINER clause (dump --strip-definers).
	StripDefiners bool `json:"strip_definers,omitempty"`
}

// Table is one dumped base table.
type Table struct {
	Name   string `json:"name"`
	Engine string `json:"engine,omitempty"`
	Rows   int64  `json:"rows"`
	// Digest is rowhash's order-insensitive digest of the table's rows.
	Digest string `json:"digest"`
	// Consistent is false for a table outside the transactional snapshot
	// (MyISAM, Aria, MEMORY...).
	Consistent bool `json:"consistent"`
	// Definition is TableDefinitionDigest of its SHOW CREATE TABLE: a
	// delta carries a table whose definition changed whole. Empty in a
	// manifest from before dumps recorded it.
	Definition string `json:"definition,omitempty"`
	// AutoIncrement is its AUTO_INCREMENT counter as SHOW CREATE TABLE
	// printed it (0: none).
	AutoIncrement int64 `json:"auto_increment,omitempty"`
}

// Stream describes the uncompressed SQL: its length and its XXH3-128 (see
// NewStreamHash).
type Stream struct {
	Bytes int64  `json:"bytes"`
	XXH3  string `json:"xxh3"`
}

// File describes the archive file.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Table returns the entry for name, or nil.
func (m *Manifest) Table(name string) *Table {
	for i := range m.Tables {
		if m.Tables[i].Name == name {
			return &m.Tables[i]
		}
	}
	return nil
}

// Read loads a manifest file.
func Read(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return Parse(b, path)
}

// ErrNotThere is Wait's error when the manifest did not appear in time.
var ErrNotThere = errors.New("manifest: did not appear in time")

// Wait reads the manifest at path, polling until it can be read or
// timeout has passed: a dump writes its manifest last, after renaming its
// archive. After timeout the error wraps ErrNotThere; a cancelled ctx
// returns ctx.Err().
func Wait(ctx context.Context, path string, timeout time.Duration) (*Manifest, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := Read(path)
		if err == nil {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s after %s (%v)", ErrNotThere, path, timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Write stores m at path atomically (atomicfile.Write), mode 0600:
// a manifest names every table of the customer's help desk, so it is as
// private as the dump it describes.
func Write(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// The completion marker is the last line of every finished dump:
//
//	-- lamigrate dump completed bytes=<N> xxh3=<32 hex digits>
//
// N and the XXH3-128 cover every byte of the SQL stream before the marker
// line, so a stream cut anywhere and recompressed still fails verification.
const markerPrefix = "-- lamigrate dump completed "

var markerRE = regexp.MustCompile(`^-- lamigrate dump completed bytes=([0-9]+) xxh3=([0-9a-f]{32})\n?$`)

// Marker formats the completion line for a stream of n bytes with the given
// XXH3-128 (32 hex digits, as StreamOf renders it).
func Marker(n int64, xxh3hex string) string {
	return fmt.Sprintf("%sbytes=%d xxh3=%s\n", markerPrefix, n, xxh3hex)
}

// NewStreamHash returns the hash that Stream and the completion marker
// carry for the SQL stream: XXH3-128, whose Sum is the 16-byte big-endian
// value. It is a fast checksum against accidental loss or damage, not a
// cryptographic hash; the archive file's own hash (File.SHA256) is SHA-256.
func NewStreamHash() hash.Hash { return xxh3.New128() }

// StreamOf describes a stream of n bytes hashed by h (from NewStreamHash).
func StreamOf(n int64, h hash.Hash) Stream {
	return Stream{Bytes: n, XXH3: hex.EncodeToString(h.Sum(nil))}
}

// Marker is the completion line for the stream s describes.
func (s Stream) Marker() string { return Marker(s.Bytes, s.XXH3) }

// ErrNoMarker reports a line that is not a completion marker.
var ErrNoMarker = errors.New("manifest: not a completion marker")

// ParseMarker reads a completion line (with or without its newline).
func ParseMarker(line string) (n int64, xxh3hex string, err error) {
	m := markerRE.FindStringSubmatch(line)
	if m == nil {
		return 0, "", ErrNoMarker
	}
	n, err = strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, "", ErrNoMarker
	}
	return n, m[2], nil
}

// MarkerPrefix is the start of the completion line, for scanners.
const MarkerPrefix = markerPrefix

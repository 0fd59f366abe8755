package dump

import (
	"errors"
	"fmt"
	"strings"

	"github.com/qualityunit/lamigrate/internal/codec"
)

// DefaultNetBufferLength is the size an extended INSERT grows to before a
// new statement starts: the documented command's --net_buffer_length=16M.
const DefaultNetBufferLength = 16 << 20

// DefaultGzipLevel is the gzip level used when Config.Level is 0. Chosen by
// bench/dump.sh on 2 cores: level 3 costs about 15% less CPU than 6 (the
// CPU is shared with the server reading two connections) for an archive
// 2% larger, still smaller than `gzip -9`'s; level 1 is no faster there.
const DefaultGzipLevel = 3

// Config says what to dump and how. It is plain data: the run journal stores
// it. The passphrase is not here (see Options).
type Config struct {
	// Database is the schema to dump (required).
	Database string `json:"database"`
	// IgnoreTables are tables (or views) left out, as "name" or
	// "database.name"; they add to DefaultIgnores unless NoDefaultIgnores.
	IgnoreTables []string `json:"ignore_tables,omitempty"`
	// NoDefaultIgnores drops DefaultIgnores from the ignore list.
	NoDefaultIgnores bool `json:"no_default_ignores,omitempty"`
	// KeepTables are default-ignored tables to dump after all (e.g.
	// "qu_g_logs" to carry the logs along); names not on the list are
	// harmless.
	KeepTables []string `json:"keep_tables,omitempty"`
	// Compression is gzip, zstd, lz4 or none; empty: from the file's
	// extension (File) or none (Stream, which never compresses).
	Compression string `json:"compression,omitempty"`
	// Level is the compression level; 0: DefaultGzipLevel for gzip, the
	// codec's default otherwise.
	Level int `json:"level,omitempty"`
	// Encrypt encrypts the archive with the passphrase given in Options
	// (also implied by a file name ending in .age).
	Encrypt bool `json:"encrypt,omitempty"`
	// NetBufferLength caps an extended INSERT statement like mysqldump's
	// --net_buffer_length; a single larger row is a statement of its own.
	// 0: DefaultNetBufferLength.
	NetBufferLength int `json:"net_buffer_length,omitempty"`
	// HexBlob writes binary values (BLOB, BINARY, BIT, spatial) as 0x...
	// hex literals like mysqldump --hex-blob; false writes them as escaped
	// _binary '...' strings, which are half the size before compression.
	HexBlob bool `json:"hex_blob,omitempty"`
	// AddLocks wraps each table's rows in LOCK TABLES ... WRITE / UNLOCK
	// TABLES like mysqldump's --add-locks.
	AddLocks bool `json:"add_locks,omitempty"`
	// Connections is how many connections read rows in parallel, all on
	// one snapshot, when the user may LOCK TABLES on the dumped tables
	// (held for a few round trips while the snapshots start); otherwise,
	// and with 1, one connection reads everything. 0: DefaultConnections.
	Connections int `json:"connections,omitempty"`
	// StripDefiners writes views, triggers, routines and events without
	// their DEFINER clause, so they are created with the loading user as
	// definer (SQL SECURITY unchanged) and the dump loads without the
	// SUPER or SET USER privilege a foreign definer needs.
	StripDefiners bool `json:"strip_definers,omitempty"`
	// Since, when set, is the path of a base dump's manifest: the dump is
	// then a delta holding only what changed since that base (see doc.go,
	// "Deltas"). File only.
	Since string `json:"since,omitempty"`
	// Live skips a delta's proof that nothing wrote to the dumped tables
	// between its snapshot and its end: for a delta taken while the help
	// desk still runs (a repeated pre-copy), never for the cutover.
	Live bool `json:"live,omitempty"`
	// Threads is the number of goroutines formatting rows and compressing;
	// 0: GOMAXPROCS.
	Threads int `json:"threads,omitempty"`
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("dump: invalid configuration")

// Validate checks the configuration without touching a database.
func (c *Config) Validate() error {
	if c.Database == "" {
		return fmt.Errorf("%w: no database named", ErrConfig)
	}
	if c.Compression != "" {
		if _, err := codec.ParseKind(c.Compression); err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	if c.Level < 0 {
		return fmt.Errorf("%w: compression level %d is negative", ErrConfig, c.Level)
	}
	if c.NetBufferLength < 0 || (c.NetBufferLength > 0 && c.NetBufferLength < 4096) {
		return fmt.Errorf("%w: net buffer length %d is below 4096", ErrConfig, c.NetBufferLength)
	}
	if c.Connections < 0 {
		return fmt.Errorf("%w: connections %d is negative", ErrConfig, c.Connections)
	}
	if c.Threads < 0 {
		return fmt.Errorf("%w: threads %d is negative", ErrConfig, c.Threads)
	}
	for _, n := range c.IgnoreTables {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("%w: empty --ignore-table name", ErrConfig)
		}
	}
	return nil
}

// IgnoreList is the effective list of ignored names: DefaultIgnores (unless
// NoDefaultIgnores) without KeepTables, followed by IgnoreTables, without
// duplicates.
func (c *Config) IgnoreList() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range c.KeepTables {
		seen[n] = true
	}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if !c.NoDefaultIgnores {
		for _, n := range defaultIgnores {
			add(n)
		}
	}
	for _, n := range c.IgnoreTables {
		add(n)
	}
	return out
}

// ignoreName reduces an ignore-list entry to a table name in db, or "" when
// it names another database.
func ignoreName(db, n string) string {
	if i := strings.IndexByte(n, '.'); i >= 0 && n[:i] == db {
		return n[i+1:]
	}
	if strings.Contains(n, ".") && !strings.HasPrefix(n, db+".") {
		// "otherdb.t": not ours. A table name may itself contain a dot,
		// so an exact match is tried by the caller first.
		return ""
	}
	return n
}

func (c *Config) connections() int {
	if c.Connections == 0 {
		return DefaultConnections
	}
	return c.Connections
}

func (c *Config) netBuffer() int {
	if c.NetBufferLength == 0 {
		return DefaultNetBufferLength
	}
	return c.NetBufferLength
}

// Package chunk holds a table's key ranges and row digests: the ranges dump
// and verify cut big tables into (Split), and the row digests file a dump
// writes beside its manifest, FILE.rows.zst, the base a later
// `dump --since` compares against.
//
// # Key ranges
//
// Split cuts a table on the first column of its primary key (an integer or
// a (VAR)CHAR) at boundaries that are keys of the table itself, chosen by
// interpolating between MIN and MAX and ordered by the server in the
// column's collation, so the ranges cover every row exactly once whatever
// the collation. They depend on the data and the number of parts only:
// dump over one connection or several, and verify, cut the same way.
//
// # The row digest contract (Version rd1), in the order things happen
//
//  1. The session is pinned: SET NAMES utf8mb4, time_zone '+00:00' and
//     an empty sql_mode (Charset, TimeZone, SQLMode), so TIMESTAMP and text values
//     read the same on any server and client (PAD_CHAR_TO_FULL_LENGTH
//     would change CHAR values). The manifest and the file's header record
//     both, and the contract's version.
//  2. Keys: Keys picks each table's usable key: the primary key, else the
//     first unique key by index name whose columns are NOT NULL, stored and
//     whole. A table without one is listed with its row count and digest
//     sum but no rows: a delta must carry it whole.
//  3. Rows are read with rowhash.SelectList (every stored column in
//     ordinal order; FLOAT as DOUBLE so no precision is lost; invisible
//     columns named) ORDER BY the key. Generated columns are left out:
//     their value follows from the stored ones and the definition (which a
//     delta compares through SHOW CREATE TABLE), and the dump does not
//     carry them.
//  4. Each row is encoded as rowhash does: per value 0xff for NULL, else
//     0x00, the length as a uvarint and the bytes the server sent over the
//     text protocol. The length prefix keeps values from shifting between
//     columns, the marker keeps NULL apart from the empty string. Binary values, zero
//     dates, JSON, BIT and DECIMAL are digested exactly as the server
//     prints them.
//  5. The row's digest is the low 64 bits of the XXH3-128 of that encoding:
//     the hash the manifest's table digest (rowhash) sums anyway, so it
//     costs nothing more. Its key is AppendKey's encoding of the key
//     columns' values (length-prefixed, in key order).
//  6. Rows are counted as well as digests summed (mod 2^64): per table,
//     and per block of BlockRows rows in key order, the fast first pass for
//     tables where most blocks stay untouched.
//
// A change to any step changes the digests: it needs a new Version, and a
// base of another version is refused rather than compared.
//
// # The changes file of a delta
//
// A delta (dump --since) writes FILE.changes.zst (ChangesWriter): per
// table with changed rows, per changed key its digest in the base (when
// the base has it) and after the delta (when the source still has it). An
// importer reads it (ChangesReader) to prove, by content, that the target
// holds the base before it changes anything: every key must be at its base
// digest, or at its new one (an earlier, interrupted run), which
// Change.State tells. Keys are listed in the order the delta found them,
// not necessarily key order.
//
// # The file
//
// A zstd stream (see Writer for the exact records): a header with the
// contract, then per table in dump order its name and key, its rows in key
// order (key, digest), a block record after every BlockRows rows, and an
// end record with its row count and digest sum; a final record counts the
// tables, so a cut file is detected. Reader and ReadAll check that every
// block and table adds up. XXH3 is not a cryptographic hash: the manifest
// records the file's SHA-256, which verify checks.
package chunk

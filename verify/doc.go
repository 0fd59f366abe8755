// Package verify proves that an archive is intact and complete, and that a
// database matches the manifest of the dump it was loaded from, row for row.
//
// # Archive check
//
// File and Archive read the whole archive to its end through its codec
// (gzip, also multi-member; zstd; lz4 frames; plain SQL; any of them
// age-encrypted), hashing the raw file and the uncompressed SQL in goroutines
// beside the decompressor. The last line must be the completion marker that
// lamigrate's dumper writes; the length and XXH3-128 it records must match
// the SQL before it. With the manifest (FILE.manifest.json) the file's size
// and SHA-256, the SQL stream's size and XXH3-128 and the table list are
// checked too, and that the stream creates every stored procedure, function
// and event the manifest lists (a CREATE statement naming each). XXH3 is a fast checksum against accidental damage, not a
// cryptographic hash. A plain mysqldump file ending with "-- Dump completed"
// passes with EvidenceWeak: nothing records its length or checksum.
//
// When the manifest names a row digests file (FILE.rows.zst, see
// internal/chunk), File checks it too: it must be beside the archive, have
// the size and SHA-256 the manifest records, read whole (every block and
// table count adds up, the end record is there), be of the contract the
// manifest names, and list the manifest's tables with the manifest's row
// counts. A missing one is only noted: a later dump --since reads it on
// the machine that wrote the dump, and a pushed or pulled copy of the
// archive is whole without it; a manifest from before dumps wrote one
// names none. Archive, which
// reads a stream and knows no folder, does not look for it.
//
// # Database check
//
// Database recomputes, for every table of the manifest, the row count and
// the rowhash content digest the dumper recorded, and lists every
// difference: missing and extra tables, row counts, changed rows, missing
// views and triggers. Tables are read over several connections, biggest
// first; a table bigger than its share is read in primary-key ranges whose
// digests are merged: chunk.Split, the same splitter the dump uses.
//
// When the manifest lists routines and events (dumps since they are
// carried; an older manifest has no such list and they are not looked at),
// each stored procedure, function and event of the database is read with
// SHOW CREATE and its definition digest (manifest.DefinitionDigest: the
// statement without DEFINER, and its sql_mode) compared with the
// manifest's: a missing, extra or changed one is a difference naming it. A
// DEFINER other than the source's (a --strip-definers copy, or one loaded by
// another user) is not a difference but a note in DatabaseReport.Notes.
// Reading another definer's routine needs SELECT on mysql.proc, events the
// EVENT privilege.
//
// # Errors
//
// Conditions are sentinels (ErrIncomplete, ErrCorrupt, ErrMismatch); facts
// are typed: *StreamError says where in the stream (uncompressed offset,
// table, bytes of the file read), *MismatchError names what differs from the
// manifest, *DiffError lists all of a database check's differences. Every
// archive check also returns its report, filled as far as it got. A
// database check that could not finish (the connection lost, a privilege
// missing) returns an error and no report: no verdict, never a difference
// for what it could not read.
package verify

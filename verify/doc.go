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
// # Delta archive check
//
// A manifest with Delta set describes a delta archive (dump --since): the
// stream holds only what changed since its base, while the manifest's
// tables, views, triggers, routines, events and row digests file describe
// the full state base and delta make. Such an archive is read and proved
// whole like any other (container, completion marker, the manifest's file
// size and SHA-256, stream size and XXH3-128, the routines and events it
// creates), but its tables are checked against the delta's table list
// instead of the full state's: the stream is read as SQL there (string
// literals and quoted names skipped whole), counting exactly the rows of
// each INSERT and REPLACE and the keys of each DELETE, and noting each
// DROP TABLE and CREATE TABLE outside DELIMITER blocks (a trigger's or
// routine's body is not data). Each table the delta changes row by row
// must have as many rows written and keys deleted as the list says, and
// must not be dropped or created (that would lose its unchanged rows); a
// table carried whole must be created and written with the rows the
// manifest's table list gives it; a dropped table must be dropped; a
// table the stream touches that the list does not name is an error. File
// then checks the changes file (FILE.changes.zst, internal/chunk) beside
// the archive: it must be there (unlike the row digests file: an import
// proves by it that the target holds the base before changing anything),
// have the size and SHA-256 the manifest records, read whole
// (chunk.NewChangesReader), be of the row digests' contract, and list per
// table changed row by row as many deleted and written rows as the list.
// ArchiveReport.Delta names the base (its archive and creation time) and
// these counts per table. The row digests file of a delta lists the full
// state and is checked as for a full dump.
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
// Against a delta's manifest the check is the same and proves the same:
// the target equals the full state base and delta make. It skips nothing:
// every row of every table is read and digested, unchanged rows and
// tables included, and compared with the row count and content digest the
// manifest records for the full state (the dump's contract: those of its
// snapshot's tables, whatever it carried). So a row the delta did not
// carry that the target lacks, holds otherwise or holds twice (a wrong or
// partly loaded base, a write to the target after the load) is a
// difference as surely as a changed row the delta failed to apply; the
// report notes that the manifest is a delta's. Skipping unchanged rows
// (comparing only the changes file's keys, or the digests of untouched
// key ranges taken from the base) would prove less: it would trust that
// the target held the base, which is what is to be shown.
//
// # Errors
//
// Conditions are sentinels (ErrIncomplete, ErrCorrupt, ErrMismatch); facts
// are typed: *StreamError says where in the stream (uncompressed offset,
// table, bytes of the file read), *MismatchError names what differs from the
// manifest, *DiffError lists all of a database check's differences. Every
// check also returns its report, filled as far as it got. A database check
// that could not finish (the connection lost, a privilege missing) returns
// that error, not a *DiffError, and a report without a verdict: not OK,
// its Failure the error, the tables it read whole judged, the others
// StatusUnchecked, never a difference for what it could not read.
package verify

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
// checked too. XXH3 is a fast checksum against accidental damage, not a
// cryptographic hash. A plain mysqldump file ending with "-- Dump completed"
// passes with EvidenceWeak: nothing records its length or checksum.
//
// # Database check
//
// Database recomputes, for every table of the manifest, the row count and
// the rowhash content digest the dumper recorded, and lists every
// difference: missing and extra tables, row counts, changed rows. Tables are
// read over several connections, biggest first; a table bigger than its
// share is read in primary-key ranges whose digests are merged.
//
// # Errors
//
// Conditions are sentinels (ErrIncomplete, ErrCorrupt, ErrMismatch); facts
// are typed: *StreamError says where in the stream (uncompressed offset,
// table, bytes of the file read), *MismatchError names what differs from the
// manifest, *DiffError lists all of a database check's differences. Every
// check also returns its report, filled as far as it got.
package verify

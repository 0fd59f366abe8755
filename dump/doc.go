// Package dump writes one consistent, streaming SQL dump of a database that
// the stock mariadb/mysql client loads into exactly the source data, and the
// manifest that proves the dump is complete.
//
// Stream writes the SQL to an io.Writer over one reserved *sql.Conn; File
// writes FILE.partial through a compressor (gzip, zstd, lz4 or none, and
// optionally age encryption) and FILE.rows.zst.partial beside it, renames
// both when they are whole and writes FILE.manifest.json, which names
// FILE.rows.zst. WriteArchive writes the same archive bytes into any
// io.Writer (a transfer.Upload to an SSH server, for `lamigrate dump -o
// sftp://…`) and returns the Result; its ManifestJSON is
// FILE.manifest.json's bytes, for the caller to put beside the archive once
// it is committed. Stream and WriteArchive write the row digests only into
// Options.RowDigests when it is set; otherwise the manifest names none.
//
// File and WriteArchive first check the configuration and the archive's
// name; for an encrypted archive (Config.Encrypt, or a name ending in .age
// in any case) they then ask the function Options.Passphrase, once, before
// they open a connection or a file: no function or an empty answer is
// ErrNeedPassphrase, the function's own error is returned as it is. A
// caller that must create the destination first (an upload) asks ahead
// with Config.AskPassphrase.
//
// # Row digests
//
// FILE.rows.zst (internal/chunk) lists, per table with a usable key (the
// primary key, or a unique key of NOT NULL, stored, whole columns), every
// row's key and 64-bit digest in key order, with row counts and digest
// sums per table and per block of chunk.BlockRows rows; a table without
// one is listed with its counts only. The digests are produced in the same
// pass as the SQL: a row's digest is the low half of the XXH3-128 the
// table digest sums anyway, and its key is copied from the values already
// read. Rows are read ORDER BY the key (for InnoDB the clustered index's
// order: no sort). The file is the same bytes over one connection or
// several. The manifest's row_digests names it with its size, SHA-256 and
// the contract (chunk.Version, time zone, character set).
//
// # Deltas
//
// With Config.Since (the path of a base dump's manifest, its row digests
// file beside it) File writes a delta: only what changed since the base.
// In the order events happen:
//
//   - The base is checked before the database is read: its manifest
//     records row digests of this contract (chunk.Version, time zone,
//     character set) and table definitions, and describes the same
//     database; otherwise ErrBase says to take a new full dump as base.
//   - The base's row digests file must have the SHA-256 its manifest
//     records. Unless Config.Live, the server's write counters
//     (Handler_write, _update, _delete) and every table's UPDATE_TIME are
//     read; the base's server must be this one (@@hostname); the tables
//     are listed, then the snapshot starts, over Config.Connections
//     connections on one state as a full dump's (LOCK TABLES … READ held
//     while they start), or over one.
//   - Every connection takes the next table in name order and reads it
//     beside its own reader of the base's row digests file, which lists
//     the tables in the same order, into a bundle (memory up to 4 MiB per
//     part, then an unlinked file beside the output); the bundles are
//     copied into the three files in name order, so they are the same
//     bytes over one connection or several. A
//     table the base lacks, whose SHOW CREATE TABLE (without its
//     AUTO_INCREMENT counter) differs, or whose usable key changed, is
//     carried whole: DROP TABLE IF EXISTS, CREATE TABLE, every row. A table
//     without a usable key is digested first and carried whole only when
//     its row count or digest differs from the base's. A table gone from
//     the source is dropped.
//   - A keyed table is read in key order and every row digested; a row
//     whose key the base lists with the same digest is skipped, any other
//     is written whole in an extended REPLACE, and a base key the source
//     lacks goes into a DELETE … WHERE key IN (…) that, for a key a
//     collation compares, also asks for the key's exact bytes (a key whose
//     letter case changed is deleted in its old spelling and written in
//     its new one, and the DELETE must not take the new row). A one-column integer
//     key is compared numerically, so the two lists merge as sorted lists.
//     Other keys are in the server's collation order, which the dump does
//     not reimplement: both lists advance in step and a key seen on one
//     side waits in a map until the other side shows it, so the maps hold
//     about the inserted and deleted rows; past 64 MiB of waiting rows the
//     oldest is written at once (a REPLACE of an unchanged row changes
//     nothing). An AUTO_INCREMENT counter that moved is set with ALTER TABLE.
//   - Every changed key goes into FILE.changes.zst (chunk.ChangesWriter)
//     with its digest in the base (if there) and in the source (if still
//     there): an importer proves from it, by content, that a target holds
//     the base. Every row's digest goes into FILE.rows.zst as a full dump
//     writes it, the same bytes, so the next delta can be taken since this
//     one; the manifest's Tables describe the full new state and its
//     Delta names the base (archive, manifest SHA-256, stream XXH3) and
//     says per table what the archive does.
//   - At the end every table's definition is read again (an instant ALTER
//     during the dump does not fail the snapshot's reads): one that
//     changed fails the delta with a *TableError. Unless Config.Live, the
//     counters are read again: if the server counted no row write since
//     before the snapshot, nothing wrote; if it did, a dumped table whose
//     UPDATE_TIME moved, or was in the snapshot's own second, fails the
//     delta with ErrNotQuiet naming it (a write elsewhere on the server
//     does not). Only then are the files renamed and the manifest written.
//
// The SQL: the session header of a full dump with UNIQUE_CHECKS=1 (a
// REPLACE must find the row a unique value collides with) and foreign key
// checks off (no cascades); DROP TRIGGER, VIEW, PROCEDURE, FUNCTION and
// EVENT IF EXISTS for every one of the base or the source (triggers must
// not fire while rows change); the dropped tables; per table, in name
// order, its whole form or its changed rows ("-- Changed rows of table"
// blocks); then every table's triggers, the events and routines and the
// views, as a full dump writes them; the completion marker. Loaded after
// its base with the stock client it gives exactly the source; loaded
// twice, the same. Its cost is the read of every row, which a full dump
// pays too, without formatting or compressing the rows that did not
// change.
//
// # Consistency
//
// Every table is read inside a REPEATABLE READ transaction started WITH
// CONSISTENT SNAPSHOT; SHOW CREATE TABLE is read inside it too. No FLUSH
// TABLES WITH READ LOCK: the dump needs only the privileges of `mysqldump
// --single-transaction`. Tables of a non-transactional engine (MyISAM,
// Aria...) are dumped but marked Consistent=false and reported through
// Progress.Warn. A table altered or dropped during the dump fails it with a
// *TableError naming the table.
//
// File reads over Config.Connections connections (default 4) when the user
// happens to have the LOCK TABLES privilege: a helper connection locks every
// dumped base table READ (waiting at most a few seconds for in-flight
// writers to commit), each reading connection starts its snapshot, and the
// helper unlocks, so all snapshots see one state. Otherwise, and always in
// Stream, one connection reads everything.
//
// The work is cut into units: a table, or for a big table (at least 96 MiB
// by information_schema's estimate) a range of its primary key's first
// column, with boundaries taken from its own keys; each range starts a new
// INSERT. The ranges depend on the data only, so the stream, its hash, the
// digests and the marker are the same bytes over one connection or several.
// Every connection takes the next unit in output order; the main one reads
// into the stream, the others format their units into unlinked spill files
// beside the output, which are copied into the stream in order. Spills are
// plain SQL: an extra connection starts a unit only while less than 512 MiB
// waits to be copied, so the disk needed beyond the archive stays bounded
// (that, plus the units being read). WriteArchive puts its spill files in
// os.TempDir(); with Config.Connections 1 (what the CLI uses for an sftp://
// output, where the link is the bottleneck) there are none, and nothing but
// buffers touches this machine's disk.
//
// # Speed
//
// The reading connections only copy rows; worker goroutines format them
// (escaping, hex) and feed rowhash digests, and the compressor works in
// parallel blocks. One connection is paced by the server's thread reading
// it, which for LONGBLOB attachments waits on one page read at a time;
// several connections on key ranges of the same table overlap those reads.
//
// # Memory
//
// From their start to their end File and WriteArchive run the process
// under the Go runtime's soft memory limit MemoryLimit (64 MiB), unless
// it already has a limit: GOMEMLIMIT in the environment ("off" included)
// or a debug.SetMemoryLimit call, which stay as they are. The dump's live
// memory is a few batches of rows and the compressor's blocks; without a
// limit the garbage of rows of tens of MB piles up before the collector
// runs. So the CLI's dump and the dump step of a run behave alike. The
// previous limit is put back when the dump ends (the last one, when
// several run at once), unless something set another meanwhile. Stream
// leaves the limit alone.
//
// # Format
//
// The stream looks like mysqldump's. Its first line says it is a lamigrate
// dump (or delta dump); its second names the run: "-- lamigrate dump id "
// and 32 hex digits, 128 random bits drawn once per dump, full or delta
// (only the main connection writes the header: a dump over several
// connections has one id). The manifest records it as dump_id, and the
// stream's hash and completion marker cover it like every other byte. Two
// runs are two snapshots, which an importer tells apart by it (see load's
// "Following"): two dumps of the same data are the same bytes but for that
// line and the "-- Dump completed on" time (and so their XXH3 and marker).
// Then come mysqldump's session header and footer (utf8mb4,
// TIME_ZONE='+00:00', SQL_MODE='NO_AUTO_VALUE_ON_ZERO', unique and
// foreign-key checks off), per table "-- Table structure for table `t`" and
// "-- Dumping data for table `t`" comment blocks, CREATE TABLE as the server
// shows it, extended INSERTs with column lists (generated columns left out,
// invisible ones named) cut at Config.NetBufferLength (16 MiB by default, as
// the documented mysqldump command's; the importing server's
// max_allowed_packet must hold it), triggers after their
// table with DELIMITER ;;, then the events and the stored functions and
// procedures ("-- Dumping events/routines for database" blocks, as
// mysqldump --events --routines writes them: each CREATE from SHOW CREATE
// between DELIMITER ;; and DELIMITER ;, in the sql_mode, character_set_client
// and collation_connection, and for an event the time_zone, it was created
// with, so the server stores the same body), then the views in dependency
// order (after the functions they may call). No DROP TABLE (nor DROP
// PROCEDURE...), no CREATE DATABASE, no USE.
//
// # Routines, events and definers
//
// Routines and events are read on the snapshot's connection and listed in
// Result and the manifest with manifest.DefinitionDigest of their
// definition (DEFINER left out). A routine whose body SHOW CREATE hides
// (the dumping user is not its definer and lacks SELECT on mysql.proc)
// fails the dump naming it and the privilege; without the EVENT privilege
// events cannot be seen, which Progress.Warn says. With
// Config.StripDefiners views, triggers, routines and events are written
// without their DEFINER clause (SQL SECURITY kept), so a user without
// SUPER / SET USER loads them and becomes their definer; otherwise the
// source's definers stay and loading them needs that privilege. FLOAT is read as DOUBLE so no
// precision is lost. The last line is the completion marker of
// internal/manifest, which only a finished dump writes.
//
// # Failure
//
// Any failure (connection lost, table changed, disk full, context
// cancelled) returns one error, naming the table when one was being read,
// and, from File, leaves neither FILE nor FILE.partial behind, nor its row
// digests or changes file: the manifest is written last, and a manifest
// that cannot be written removes the archive it would describe (nothing
// could check it). What Stream and WriteArchive wrote has no completion
// marker. A lost connection and error 1412 (the table altered during the
// dump) say to run the dump again.
package dump

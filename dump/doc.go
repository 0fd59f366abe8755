// Package dump writes one consistent, streaming SQL dump of a database that
// the stock mariadb/mysql client loads into exactly the source data, and the
// manifest that proves the dump is complete.
//
// Stream writes the SQL to an io.Writer over one reserved *sql.Conn; File
// writes FILE.partial through a compressor (gzip, zstd, lz4 or none, and
// optionally age encryption), renames it to FILE when it is whole and
// writes FILE.manifest.json beside it.
//
// # Consistency
//
// Every table is read inside one REPEATABLE READ transaction started WITH
// CONSISTENT SNAPSHOT on a single connection; SHOW CREATE TABLE is read
// inside it too. No FLUSH TABLES WITH READ LOCK and no LOCK TABLES: the dump
// needs only the privileges of `mysqldump --single-transaction`. Tables of a
// non-transactional engine (MyISAM, Aria...) are dumped but marked
// Consistent=false and reported through Progress.Warn. A table altered or
// dropped during the dump fails it with a *TableError naming the table.
//
// # Speed
//
// The one reading connection only copies rows; worker goroutines format
// them (escaping, hex) and feed rowhash digests, and the compressor works in
// parallel blocks, so the server's single reading thread sets the pace.
//
// # Format
//
// The stream looks like mysqldump's: the same session header and footer
// (utf8mb4, TIME_ZONE='+00:00', SQL_MODE='NO_AUTO_VALUE_ON_ZERO', unique and
// foreign-key checks off), per table "-- Table structure for table `t`" and
// "-- Dumping data for table `t`" comment blocks, CREATE TABLE as the server
// shows it, extended INSERTs with column lists (generated columns left out,
// invisible ones named) cut at Config.NetBufferLength, triggers after their
// table with DELIMITER ;;, views after all tables in dependency order. No
// DROP TABLE, no CREATE DATABASE, no USE. FLOAT is read as DOUBLE so no
// precision is lost. The last line is the completion marker of
// internal/manifest, which only a finished dump writes.
//
// # Failure
//
// Any failure (connection lost, table changed, disk full, context
// cancelled) returns one error and, from File, leaves neither FILE nor
// FILE.partial behind.
package dump

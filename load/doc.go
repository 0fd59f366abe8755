// Package load imports a lamigrate dump or a plain mysqldump file into a
// database, in parallel by table and resumably, with the same result as
// piping the file into the stock client (`gunzip < FILE | mariadb DB`):
// the same rows, table definitions, views, triggers, routines and events
// (with Config.StripDefiners, owned by the importing account).
//
// Load reads any archive internal/codec reads (gzip, zstd, lz4 or plain,
// age-encrypted or not). A Splitter cuts the stream into statements exactly
// where the mysql/mariadb client does (quotes, backslash escapes, comments,
// /*! */ and /*M! */ executable comments, DELIMITER), and StripComments
// removes comments as the client does before sending, so stored trigger and
// routine bodies come out identical.
//
// # Parallelism
//
// Statements are grouped into units, one per table: its CREATE TABLE, its
// INSERTs, the ALTER TABLE … KEYS around them and the triggers on it, in
// stream order. Config.Threads connections take units in stream order; one
// connection owns a unit and runs its statements in order, each INSERT in
// its own transaction. In a mysqldump or lamigrate dump (recognised by its
// first comment line) a table's plain INSERTs carry explicit values and come
// before its triggers, so their order does not change the rows: a
// connection with nothing of its own to do runs the next of them for the
// owner (helping comes before taking a new unit), and the owner waits for
// those before any other statement of the table (ALTER TABLE … ENABLE KEYS,
// a trigger) and before finishing it. A big table is thus loaded over every
// connection, and the connections finish together.
//
// The stream is read ahead of the connections, up to Config.ReadAhead
// bytes, so every connection keeps working while one loads a table it
// cannot help with: up to Config.MemoryReadAhead bytes (32 MiB) in memory, and
// beyond that, only while a connection waits for statements, in unlinked
// spool files (Config.SpoolDir). Memory therefore stays the same however
// large the archive: the in-memory read-ahead plus a few of its largest
// statements.
//
// Session statements (SET …) are replayed on every connection in stream
// order, so each connection's session (character set, sql_mode, time zone,
// unique and foreign key checks…) is the client's at that point of the
// stream. LOCK/UNLOCK TABLES, BEGIN, COMMIT and SET autocommit are dropped:
// the importer manages transactions itself. Anything else outside a table
// (views, routines, events, unknown statements) runs alone, after every
// earlier unit finished and before any later one starts; mysqldump writes
// them after the tables, so this costs nothing there.
//
// A delta (below) adds DELETE FROM one table and REPLACE to a table's
// unit as data statements, each in its own transaction with its progress
// record like an INSERT. Its REPLACEs are run by helpers too: each writes
// rows of the delta's result, which satisfies every unique key, so none
// undoes another whatever their order. Its DELETEs are run by the owner
// alone, after the helpers' statements before them and before any after
// them, so a table's DELETEs and REPLACEs keep the stream's order: under a
// case-insensitive collation, DELETE … 'abc' and the REPLACE of a new
// 'ABC' give different rows in either order.
//
// # Secondary keys
//
// In a mysqldump or lamigrate dump, an InnoDB table that has rows is
// created without its plain secondary keys (KEY lines), and one ALTER TABLE
// adds them all after its last row, before anything else of the table
// (ALTER TABLE … ENABLE KEYS, its triggers): InnoDB then builds each key by
// sorting, instead of inserting every row into it. That is myloader's
// --innodb-optimize-keys, and the same definitions come out: PRIMARY,
// UNIQUE, FULLTEXT and SPATIAL keys stay in the CREATE TABLE, and so do the
// plain keys before a SPATIAL key and the key an AUTO_INCREMENT column
// needs, so the keys keep their order; the ALTER runs in the session of
// the CREATE TABLE (character set, sql_mode). Tables with foreign keys
// (the server may make keys for them), partitioned or system-versioned
// tables, and CREATE TABLE statements not written one definition per line,
// as SHOW CREATE TABLE writes them, are created as written. If a table's
// statements are not contiguous, its keys are added where its first run of
// statements ends. Config.KeepIndexes turns this off.
//
// # Safety
//
// Load refuses a target database that holds tables (ErrTargetNotEmpty)
// unless Config.Force is set, or the archive is a delta (below), whose
// target holds its base. Force replaces what the archive creates: each
// of its tables is dropped just before its CREATE TABLE runs, each of its
// views, routines, events and triggers before it is made; every other
// table of the target stays as it was. Load also refuses a statement
// longer than the server's max_allowed_packet before sending it
// (ErrPacketTooLarge, naming the SET GLOBAL to run). Errors from the server come as *StatementError naming
// the table, the statement's byte offset in the uncompressed stream and the
// server's message. A GET_LOCK keeps two imports out of one database.
//
// Each data statement runs in its own transaction with its progress
// record. A failure before COMMIT rolls that transaction back before the
// connection is used again (a connection that cannot roll back is
// discarded); a deadlock (1213) or lock wait timeout (1205) there is then
// tried again, up to five times with a growing pause — two connections
// loading one table can deadlock on its secondary keys, and the rolled-back
// attempt left nothing behind. A failed COMMIT is never retried.
//
// # Deltas
//
// A delta (lamigrate dump --since) holds only what changed since its base:
// it drops the base's and the source's triggers, views, routines and events
// first (DROP … IF EXISTS), drops the tables gone from the source, carries
// new and redefined tables whole, deletes and replaces the changed rows of
// the others (DELETE FROM `t` WHERE key IN (…), REPLACE INTO `t`), sets
// AUTO_INCREMENT counters, and makes the triggers, routines, events and
// views again at the end. Its session header sets FOREIGN_KEY_CHECKS=0 (a
// DELETE or REPLACE of a parent row then runs no ON DELETE CASCADE; on
// MariaDB 10.11 a REPLACE, which deletes and inserts a referenced row,
// does not cascade either) and, unlike a full dump's, leaves UNIQUE_CHECKS
// on: a REPLACE finds the rows it replaces through the unique keys. The
// importer sets neither: each connection replays the stream's session
// statements. Every statement is idempotent. In the order events happen:
//
//   - Load recognises a delta by its stream's first line ("-- lamigrate …
//     delta dump (mysqldump-compatible; …"). Without WithDelta (its
//     manifest and changes file) it refuses it (ErrDelta) before
//     connecting: a delta is never loaded as a full dump. WithDelta with a
//     stream that is not a delta is refused too.
//   - prepare takes the import lock and reads an earlier run's progress
//     table (another archive's is ErrOtherArchive); a target holding
//     tables is not refused.
//   - CheckBase proves by content, before anything changes, that the
//     target holds the base (see CheckBase and delta.go): it reads the
//     changes file (FILE.changes.zst, checked against the SHA-256 the
//     manifest records), and for every row the delta deletes or replaces
//     reads the target's row, in batches of 500 keys (SELECT the row
//     digest contract's columns WHERE key IN (…)), on a connection pinned
//     to the contract's session (utf8mb4, time zone +00:00, an empty sql_mode),
//     in one consistent snapshot, and digests it as the dump did (the low
//     64 bits of rowhash's XXH3 of the row). A table the delta marks
//     "rows" missing from the target, or any row that is neither as the
//     base nor as the delta has it, refuses the import with a *BaseError
//     (ErrNotBase) naming the table and how many of its rows differ;
//     nothing was changed, not even a progress table made. Every row as the
//     delta leaves it, and no progress table of an interrupted import of
//     it: the delta is applied already; Load returns a Result with
//     AlreadyApplied and changes nothing. Rows at the base, or some of
//     each (an import interrupted half way): the import goes on.
//   - The progress table is made and the stream runs as any archive's: the
//     DROP statements at the top and the objects made at the end run alone
//     (global), so none of them overlaps a table's statements; each table's
//     statements are a unit. After a crash or a cancelled context the same
//     call continues: CheckBase runs again (a row missing half way through,
//     because the REPLACE of another row took its unique value, counts as
//     pending then, not foreign), statements recorded as committed are
//     skipped, and a table without a progress row is not dropped (its
//     rows are the base's; a table carried whole starts with its own DROP
//     TABLE IF EXISTS). A successful import drops the progress table.
//
// A delta that changes no row (only definitions, tables carried whole or
// dropped) gives CheckBase nothing to compare: it is applied; running it
// again gives the same result.
//
// # Definers
//
// A view, trigger, routine or event carries a DEFINER, usually the source
// server's root@localhost; creating one with a DEFINER other than oneself
// needs SUPER or SET USER, which a managed cloud database's account lacks.
// Config.StripDefiners drops the DEFINER clause of every CREATE VIEW,
// TRIGGER, PROCEDURE, FUNCTION, EVENT and PACKAGE (also inside the
// /*!50013 …*/, /*!50017 …*/ and /*!50117 …*/ executable comments mysqldump
// writes), so each is created with the importing account as its definer;
// SQL SECURITY and everything else stay as written, and the objects are
// otherwise those the stock client makes.
//
// Without it, Load reads CURRENT_USER() and SHOW GRANTS first. An account
// with SUPER, SET USER (or MySQL's SET_USER_ID, SET_ANY_DEFINER, or ALL on
// *.*) may set any definer and loads as before. For any other account every
// DEFINER must be the account itself or CURRENT_USER, and this is known
// before any row is loaded: mysqldump and lamigrate dumps write each
// table's triggers after its rows and routines, events and views after all
// tables, so checking objects as the stream reaches them would come too
// late. When the archive can be read twice (r is an io.ReaderAt and an
// io.Seeker, as a file is), Load therefore first reads it through once, on
// its own reader (ReadAt: the import's reader and its read-ahead are not
// disturbed), splitting it as the
// import does, so that DEFINER text inside row data or a routine body does
// not count, and returns a *DefinerError naming the objects before it
// creates anything, not even its progress table. That pass costs the
// archive's decompression and splitting, not the server's work: about 6 s
// for 175 MB of gzip (980 MB of SQL) on two cores, against minutes for
// loading it, and only accounts without SUPER or SET USER pay it. A stream
// that cannot be read twice (a pipe) is checked as it is read: the first
// such object stops the import with a *DefinerError (Late) before the
// server sees it; the tables loaded so far stay, and the same import with
// StripDefiners continues after them.
//
// # Resuming
//
// While it runs, Load keeps a progress table (ProgressTable) in the target:
// each INSERT writes a row naming its table and position in the same
// transaction that commits it; a unit's own row records how many of its
// first statements are done (written before its first INSERT and after each
// later statement such as ALTER or a trigger) and finally that it is done;
// each global statement is recorded in the transaction that runs it. After a
// crash or a cancelled context the same call continues: finished tables are
// skipped, so are the INSERTs recorded as committed (whichever connection
// ran them, in whatever order), tables without a progress row are dropped
// and loaded again, a trigger that may have been half made is dropped and
// made again. A table whose keys were deferred gets, after its rows, those
// of them it lacks (the ALTER TABLE may have run, or be running still, when
// the import was interrupted), whether or not this run defers keys. Rows
// are never loaded twice. A successful import drops the progress table, so the
// result matches the stock client's. The progress table also records a
// fingerprint of the archive (the first MiB of the stream and
// Config.Fingerprint) and, for a lamigrate dump, the run id its header
// names: resuming with another archive fails with ErrOtherArchive. Every
// run of lamigrate dump draws its own id, so another run of the dump,
// even of the same data, is another archive (its rows are another
// snapshot's): the error names both runs and says to drop the tables and
// import again.
//
// # Following
//
// Follow reads an archive that lamigrate dump still writes (as
// FILE.partial, renamed to FILE when complete, FILE.manifest.json last),
// whether the dump writes it on this machine or uploads it here over SFTP
// (following an archive on another machine is not supported), and Load
// reads it like any archive with Config.Followed set; a compressed or encrypted archive is decoded above
// it, so all waiting happens below the decoder. In the order events happen:
//
//   - Follow opens FILE.partial at the first Read; if only FILE exists, it
//     is complete and is read as it is; if neither does, it looks again
//     every FollowOptions.Poll (100 ms) for up to FollowOptions.Stall (2
//     minutes).
//   - Load peeks at the stream's first MiB (waiting for it) for the
//     fingerprint. A followed archive has no manifest yet, so it records
//     the first MiB alone, marked as followed, and the run id of the dump:
//     the header's second line ("-- lamigrate dump id " and 32 hex
//     digits, random, drawn once per run of lamigrate dump and recorded in
//     its manifest as dump_id), which is within that MiB. A later import,
//     followed or not, of an archive starting with the same MiB (the same
//     run) continues it. A dump run again is a new snapshot with a new id,
//     even over the same data: its import is refused with ErrOtherArchive
//     naming both runs, before anything changes; drop the target's tables
//     and import it again. The progress of an interrupted import is thus
//     never continued with another snapshot's rows, whether the importer
//     was killed and the dump ran again meanwhile, or the whole new
//     archive is imported. A stream without a run id (mysqldump, or a
//     lamigrate dump from before run ids) is fingerprinted by its first
//     MiB alone. (While an import follows, a partial file the
//     dump replaced stops it with ErrReplaced, below; the command-line
//     tool then drops its progress, so the next import refuses the tables
//     and names --force.)
//   - Statements are loaded as they arrive, in parallel as the stream
//     allows (a table's INSERTs over every connection, as above); at the
//     end of what is there the Follower looks: FILE is the same file
//     (os.SameFile) → the writer renamed it, the rest is read to its end;
//     FILE.partial gone otherwise → ErrVanished; another file or shorter
//     than what was read → ErrReplaced; else it waits, and no growth for
//     Stall → ErrStalled. Each is a *FollowError; it stops the import as a
//     damaged stream does: committed statements stay in the progress
//     table. A wait also ends when Follow's context ends (Read returns
//     its error, as an interrupted import does) or the Follower is closed.
//   - At the end of the stream, with WithStreamCheck, the completion
//     marker's XXH3 is checked against the bytes before it (ErrIncomplete
//     if they differ) and the check function runs: the command-line tool
//     waits up to the stall time for FILE.manifest.json, which the dump
//     writes after the rename, and compares the stream's size and XXH3
//     (and the archive's size) with it. Only then is the progress table
//     dropped.
//
// # Structure
//
// An import is four parts, each owning its state, wired by the engine
// (engine.go), which takes a GET_LOCK on its own connection, reads an
// earlier run's progress table or checks that the target is empty (for a
// delta: has CheckBase, delta.go, check that it holds the base), and
// creates the progress table. In the order events happen:
//
//   - The producer (producer.go) runs on the calling goroutine: it splits
//     the stream, makes a unit per table as the table's first statement
//     comes, holds a CREATE TABLE back until the first row decides its
//     keys, and queues the statements; a statement outside any table waits
//     until every queued unit finished and runs on the engine's
//     connection. Its state is its own.
//   - The read-ahead queue (queue.go) holds the units in stream order, the
//     statements read and not yet run (in memory or spooled) and the
//     session statements, under its own lock; it hands a worker a helper
//     INSERT first, else the oldest unit not taken, and makes the producer
//     wait while Config.ReadAhead bytes are read ahead. The first failure
//     it records wakes every waiter.
//   - The executor (executor.go) is Config.Threads workers, each with its
//     own connection, that load units (and help with other units' plain
//     INSERTs): each INSERT writes its progress row in the transaction that
//     commits it, and the unit's own row records how many of its
//     statements are done before its first INSERT and after every later
//     statement.
//   - The progress table (progress.go): what the engine read of an earlier
//     run is not changed afterwards, so every part reads it without a
//     lock; the rows this run writes, and their key format, are documented
//     there. A successful import drops it.
//
// A unit's fields are grouped by the part that owns them (unit.go); the
// counts behind Status and Result have their own lock (the tally).
//
// # Limits
//
// NO_BACKSLASH_ESCAPES is followed through the stream's SET sql_mode
// statements (literal values, saving into and restoring from user
// variables). Client commands other than DELIMITER (\g, source, USE…) are not
// supported; USE and CREATE/DROP DATABASE are refused (ErrUnsupported). A
// table whose statements are not contiguous in the stream (mysqldump never
// does this) has its later statements run as global statements. Rows of
// non-transactional tables (MyISAM) loaded before an interruption are
// dropped with their table and loaded again.
package load

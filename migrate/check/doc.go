// Package check analyses a LiveAgent installation before a migration and
// says what must be fixed first, what needs a decision, and how large the
// dump and how long the outage will be.
//
// Run takes the database behind a *sql.DB and, with Config.InstallDir, the
// installation folder, and returns a *Report: Findings (each with a
// Severity, a stable Code listed in Codes, a Subject and the Action to take)
// and the Facts it measured. The `lamigrate check` command prints it, and
// `lamigrate run` writes it to check-report.json in its output folder.
//
// # Order
//
// Run applies Config's defaults, validates it, then looks at, in order:
//
//  1. the server: flavour, version, time zone, charset, max_allowed_packet;
//  2. the LiveAgent version recorded in qu_g_versions;
//  3. the tables: engines (a table not in InnoDB is outside the
//     consistent snapshot), collations, sizes, tables outside LiveAgent's
//     schema, and which ones the dump's ignore list (Config.Ignore) leaves
//     out;
//  4. the views that read an ignored table;
//  5. the stored procedures and functions (information_schema.ROUTINES)
//     and events (SHOW EVENTS), counted in Facts: a routine whose body
//     SHOW CREATE hides from this user (neither its definer nor allowed
//     to read mysql.proc) is a blocker, since the dump fails on it; a
//     user the server hides other users' routines from (no EXECUTE,
//     CREATE ROUTINE or ALTER ROUTINE on the database, no SELECT on
//     mysql.proc), or events from (no EVENT privilege), is a warning with
//     the GRANT to run; each enabled event is a warning (it runs on the
//     cloud database once loaded); and the distinct DEFINERs of the views,
//     triggers, routines and events are a warning (loading them needs
//     SUPER or SET USER, or --strip-definers), information when
//     Config.StripDefiners says they will be stripped;
//  6. the size of the dump: the Config.SampleTables largest tables (by
//     DATA_LENGTH or, when larger, what their tablespace file holds) are
//     sampled. Up to Config.SampleBytes of rows from places spread over
//     the primary key, each text or binary value cut to its first 16384
//     characters or bytes (a cut row is compressed alone and counted at
//     its whole length), written as the dump writes them and compressed,
//     give the compression ratio and what escaping adds; the server
//     measures the mean length of many more rows without sending them
//     (every row of a table up to Config.LengthBytes, else that much from
//     the same places), and the row count scales it. The others are
//     estimated from their data size with TextArchiveRatio or
//     BlobArchiveRatio;
//  7. max_allowed_packet against the largest row;
//  8. the free space in Config.OutDir (or its nearest existing parent)
//     against what the chosen mode needs there: the estimated archive and
//     the dump's spill files, or StreamDiskBytes when Config.Stream says
//     the dump streams to the transfer server;
//  9. the downtime: dump, transfer and import at DefaultDumpMBps,
//     Config.LinkMbps and DefaultImportMBps unless Config replaces them;
//     and, when Config.CopiesDir (default OutDir) holds pre-copies of a
//     migration in phases (FindCopies, ReadCopies), the cutover's
//     (EstimateCutover, in Facts.Downtime.Cutover): the last copy's delta
//     measured the change rate, and the cutover carries that rate times
//     the time until Config.Now, plus a digest pass over every row and a
//     verify of the whole database. With a single copy the rate is
//     unknown and the whole-migration estimate stands;
//  10. the external sources of the isolate profile (Config.ProfilePath), and
//     tables that look like sources but are not in it (LookAlikeTables);
//  11. the background jobs not finished yet;
//  12. the jobs.php/queue.php cron lines, where isolate will look for them
//     (Config.Cron), weighed by Config.CronIsolation;
//  13. the installation folder: settings.php's ENCRYPTION_KEY, the mail
//     pipe, custom plugins and themes, the version on disk;
//  14. the privileges the dump and isolate need (SHOW GRANTS, ParseGrant,
//     Allows);
//  15. whether now is inside the migration window (InWindow: Monday to
//     Friday, 08:00–20:00 in MigrationZone).
//
// The findings are then sorted worst first (stable otherwise) and counted;
// Report.Worst is the highest severity found.
//
// # Safety
//
// Run only reads: SELECTs and SHOW statements on the database, SHOW CREATE
// of each routine included (it does not
// run ANALYZE TABLE, which on a live server writes to the binary log and
// replans every query on the table), files under the installation folder,
// the pre-copies' manifests and journals in Config.CopiesDir, and the
// crontabs (Config.CrontabCommand, Config.Cron). It writes nothing.
// What it reads of settings.php's secrets never reaches the report.
//
// # Errors
//
// A problem of the installation is a finding, never an error. Run returns
// an error only when it cannot analyse at all: an invalid Config, a lost
// connection, a cancelled ctx (returned as is, between two of the checks
// above).
package check

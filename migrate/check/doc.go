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
//  5. the size of the dump: the largest tables are sampled (read up to
//     Config.SampleBytes each, written as the dump writes them, and
//     compressed) and the others estimated with TextArchiveRatio or
//     BlobArchiveRatio;
//  6. max_allowed_packet against the largest row;
//  7. the free space in Config.OutDir (or its nearest existing parent)
//     against the estimated archive;
//  8. the downtime: dump, transfer and import at DefaultDumpMBps,
//     Config.LinkMbps and DefaultImportMBps unless Config replaces them;
//  9. the external sources of the isolate profile (Config.ProfilePath), and
//     tables that look like sources but are not in it (LookAlikeTables);
//  10. the background jobs not finished yet;
//  11. the jobs.php/queue.php cron lines, where isolate will look for them
//     (Config.Cron), weighed by Config.CronIsolation;
//  12. the installation folder: settings.php's ENCRYPTION_KEY, the mail
//     pipe, custom plugins and themes, the version on disk;
//  13. the privileges the dump and isolate need (SHOW GRANTS, ParseGrant,
//     Allows);
//  14. whether now is inside the migration window (InWindow: Monday to
//     Friday, 08:00–20:00 in MigrationZone).
//
// The findings are then sorted worst first (stable otherwise) and counted;
// Report.Worst is the highest severity found.
//
// # Safety
//
// Run only reads: SELECTs and SHOW statements on the database (it does not
// run ANALYZE TABLE, which on a live server writes to the binary log and
// replans every query on the table), files under the installation folder,
// and the crontabs (Config.CrontabCommand, Config.Cron). It writes nothing.
// What it reads of settings.php's secrets never reaches the report.
//
// # Errors
//
// A problem of the installation is a finding, never an error. Run returns
// an error only when it cannot analyse at all: an invalid Config, a lost
// connection, a cancelled ctx (returned as is, between two of the checks
// above).
package check

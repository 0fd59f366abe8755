// Package isolate stops everything that brings new data into a LiveAgent
// installation (mail accounts, the mail pipe, social accounts, contact
// widgets, chat invitations, the IP allow-list, cron, the web server),
// records each original value before changing it, and restores exactly
// those values afterwards. It also waits for background jobs to drain.
//
// # Profile
//
// A [Profile] lists the external sources: per source a table, its key
// column, the switch column, an SQL condition selecting the active rows and
// the value deactivation writes. [DefaultProfile] is the LiveAgent profile
// of LIVEAGENT.md; every entry carries how sure it is (confirmed, inferred,
// guess), and [LoadProfile] reads a user's override. Identifiers are quoted;
// conditions are trusted configuration but checked: [Profile.Validate]
// rejects unbalanced quotes or parentheses, statement separators and
// comments, and [Profile.Inspect] asks the server (inside a rolled-back
// read-only transaction) whether tables, columns and conditions exist and
// how many rows are active now.
//
// # Safety
//
// [Isolate] handles one source per transaction: it locks the active rows
// (SELECT ... FOR UPDATE), appends their keys and original values to the
// state file (JSON, mode 0600, written by internal/atomicfile: temp file,
// fsync, rename, fsync of the folder) and only then updates them, each row
// only while it still holds the value just read.
// Files, crontabs and services are recorded the same way before they are
// touched. A lock file (FILE.lock, flock) keeps two runs from interleaving;
// it is removed when the run ends, while still held, and a run that locked a
// lock file removed meanwhile locks the new one instead.
//
// [Restore] writes back each original value only where the current value is
// still the one isolation wrote; anything else is a [Conflict], reported and
// left alone. It needs only the state file, so it also works on the
// imported copy of the database in the cloud. Running it twice is harmless.
// A damaged state file, or one of another [StateFormat], is refused by
// [ReadState] with one error saying which, before anything is touched.
//
// The state file records the machine isolate ran on ([Host]: host name and
// /etc/machine-id) and the database server it changed ([Server]). Files,
// cron lines and services belong to that installation: Restore puts them
// back only on that machine against that database, and never with
// [Options].RowsOnly (the cloud side); elsewhere, a copy on the same machine
// included, it restores the rows only and says so in
// [RestoreResult].LeftAlone. A
// state file of an older version, without a machine, is restored whole
// unless RowsOnly.
//
// When Isolate fails or its context is cancelled (Ctrl-C), it switches back
// on what that call changed — the rows it updated, the files it moved, the
// cron lines it commented out, the services it stopped — on a context that
// ignores the cancellation, with its own timeout, unless [Options].Keep is
// set. What earlier calls with the same state file isolated stays isolated
// and stays in the state file, so a later Restore still puts back
// everything. The error is a [*RollbackError] saying what was switched back
// on and what is still isolated.
//
// Isolating an installation that already looks isolated into a new (or
// fully restored) state file would record the isolated values as the
// originals. Isolate refuses with an [*AlreadyIsolatedError] when a state
// file of the same database beside the given one is not fully restored, or
// when a crontab it would edit already holds [CronMarker] lines; set
// [Options].AlreadyIsolatedOK to go ahead.
//
// # Resuming
//
// Running Isolate again with the same state file continues an interrupted
// run: sources marked done are skipped, rows already recorded keep their
// first original value, new active rows are added. A state file that was
// fully restored is archived (FILE.restored-TIME) and a new round starts; one
// restored with conflicts is refused, because it still holds their
// originals.
//
// # Cron and the web server
//
// With [Options].Cron, active crontab lines running jobs.php or queue.php
// (the profile's CronPatterns) in the user's crontab and in system crontabs
// get the [CronMarker] prefix; restore removes exactly that prefix, so the
// files come back byte for byte (CRLF and odd whitespace included). When no
// such line is found, Isolate warns, naming the crontabs it read.
//
// Background jobs stop with the cron, so the order is the article's:
// isolate without cron (sources, mail pipe, web server), [Drain], then
// isolate with cron using the same state file. Isolate with cron refuses
// with a [*JobsPendingError] ([ErrJobsPending]) while the profile's drain
// query counts pending jobs, before changing anything, unless
// [Options].IgnorePendingJobs. With [Options].WebServer the running web
// servers (apache2, httpd, nginx, lighttpd, php-fpm) are stopped through
// systemctl, or service(8) without systemd, or explicit commands; all
// commands go through a [Runner].
//
// # Drain
//
// [Drain] polls DefaultDrainQuery (or another query) until it returns 0 and
// returns an error wrapping [ErrTimeout] that says how many jobs remain when
// the time is up.
package isolate

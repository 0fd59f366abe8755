// Package migrate runs a whole side of a LiveAgent migration as one plan of
// ordered, journaled steps that can be resumed after a crash and rolled back
// on failure. The steps call the step packages: migrate/check analyses the
// installation (the check step), isolate, dump, verify and transfer do the
// source side's work, load imports on the cloud side, and migrate/adjust
// applies the reviewed cloud changes (the adjust step).
//
// # Order
//
// NewPlan validates a Config and returns the standard steps of its side
// (StandardSteps): on the source side check, isolate, drain, cron, dump,
// verify, push; on the cloud side pull, verify, import, verify-db, adjust,
// restore. With Config.Stream the plan is StreamingSteps instead (see
// Streaming); with Config.Phase a pre-copy or a cutover (see Pre-copy and
// cutover). A program adds its own steps with Plan.Insert.
//
// Run validates the configuration and the steps, creates the output
// folder, takes the journal's lock (see Locking), creates the journal or,
// with RunOptions.Resume, reads it (see Resuming), saves it and emits
// EventRunStart naming it. Then it takes the steps in order. A step the
// journal records as done or
// skipped is not run again (its EventStepEnd says so); a step named in
// Config.Skip is recorded as skipped. Otherwise Run marks the step started
// and saves the journal, emits EventStepStart, calls its Do, then records
// the outcome (done with its Output, skipped when Do returned Skip, or
// failed with the error), saves the journal again and emits EventStepEnd.
// The first failure stops the run (see Failure and rollback). ctx is
// checked before each step. Events go to RunOptions.Progress; the library
// never prints.
//
// # Streaming
//
// With Config.Stream ("stream": true) the two sides overlap and the
// source keeps no archive. The source side runs check, isolate, drain,
// cron, dump-to-transfer: that step sends the isolation state file into
// Config.Transfer.URL's folder (SFTP or a local path) first, removes an
// older complete archive of the same name there, then dumps over one
// connection straight into the folder (transfer.NewUpload fed by
// dump.WriteArchive) as ARCHIVE.partial, checked on commit (size and
// SHA-256 as the destination holds them), renamed to ARCHIVE, manifest
// last. There is no verify and no push step: the commit's check is the
// verification of what arrived, and nothing is left to push. check weighs
// the disk this needs (a few MB) instead of the archive.
//
// The cloud side runs follow-import, verify-db, adjust, restore (no
// archive verify: the commit checked the file's SHA-256 and the import
// checks the SQL stream against the marker and the manifest).
// Its Transfer.URL must be a local folder, the SFTP server's dropbox the
// source writes into (an sftp:// URL is refused by Validate); the archive
// is read there (Config.ArchivePath). follow-import follows
// ARCHIVE.partial with load.Follow: it may start before the source's dump
// (it waits up to import.stall for the partial file), loads statements as
// they arrive and checks the stream against the manifest written last.
// An archive already complete is imported as it is. restore copies the
// state file from the folder into the output folder.
//
// Resuming: a dump-to-transfer that failed or was interrupted starts over
// (one snapshot; the redo replaces the partial file). A follow-import
// interrupted while the same dump goes on, or after it completed,
// continues after the tables it committed (load's fingerprint of a
// followed archive is its first MiB, which holds the dump's run id: a
// dump run again is refused). When the dump gave up (its partial file
// stopped growing for import.stall, vanished, or was replaced) the
// tables loaded belong to a snapshot that will never complete: the step
// fails, drops the import's progress table (as lamigrate import --follow
// does), removes a stalled partial file that has not grown since, and
// says to set import.force, with which the next run replaces every table
// from the new dump. A resumed run refuses a journal of the other mode.
//
// # Pre-copy and cutover
//
// A one-shot run keeps the help desk switched off for a full dump, push,
// import and verify: a downtime that grows with the database. Config.Phase
// splits it in two, in the order events happen:
//
//   - "pre-copy", while the help desk stays live and nothing is isolated
//     (PreCopySteps): on the source side check, dump, verify, push; on the
//     cloud side pull, verify, import, verify-db. NewPlan numbers it
//     (Config.Copy): the number after the last finished pre-copy of that
//     side, whose journal lamigrate-SIDE-copy-N.journal.json records it, or
//     that of an unfinished one, which the run resumes or refuses as any
//     journal. Copy 1 is a full dump (ARCHIVE becomes dump.copy-1.sql.gz);
//     every later copy is a delta since the one before (dump --since its
//     manifest, Live: the help desk writes meanwhile, so the delta proves
//     nothing about writes), imported on the cloud side after load checks,
//     by content, that the database holds the previous copy. A pre-copy
//     carries no isolation state file. Repeat it as often as useful: each
//     shrinks the next delta.
//   - "cutover", with the help desk off (StandardSteps, journal
//     lamigrate-SIDE-cutover.journal.json): on the source side check,
//     isolate, drain, cron, then the dump is a delta since the last
//     finished copy (dump.cutover.sql.gz) that proves nothing wrote to the
//     dumped tables during it, verify, push (with its changes file and the
//     state file); on the cloud side pull, verify, import (the delta,
//     after the check against the last copy's state), verify-db against the
//     cutover's manifest (the full state: every row is read), adjust,
//     restore. A cutover before any finished pre-copy fails with ErrNoCopy.
//
// A resumed run refuses a journal of another phase or copy number.
//
// # The journal
//
// A run records every step in its journal, a JSON file in the output
// folder named after the side: lamigrate-source.journal.json on the source
// side, lamigrate-cloud.journal.json on the cloud side (JournalPath); in a
// phase, after the pre-copy's number or the cutover. It is
// written atomically after every change, and the run's first event
// (EventRunStart) names it. Besides the steps it keeps the configuration
// and every invocation (RunRecord) with its result. Its "format" number
// (JournalFormat) is checked before anything else is read: a journal of
// another format, or a damaged one, is refused with one error saying which
// (internal/jsonfile).
//
// # Resuming
//
// A journal left by an earlier run makes Run refuse (ErrJournalExists,
// with a summary of that run) unless RunOptions.Resume is set; Resume
// without a journal fails with ErrNoJournal. A resumed run refuses a
// configuration that describes another migration (another side, archive,
// connection or state file; options such as timeouts may change) and a
// journal holding a started or done step this plan lacks. It skips the
// steps done and runs the others again. A step the crash left started is
// run again only when it declares Redo (it is idempotent or resumes by
// itself) or the person names it in RunOptions.Redo; otherwise Run stops
// with an *InterruptedError saying what to check (Step.Check).
//
// # Locking
//
// While a run uses the journal it holds an exclusive flock on the file
// beside it, JOURNAL.lock, so two runs on one output folder cannot
// interleave; a second run fails with ErrLocked. The lock file exists only
// while a run holds it: the run removes it at its end, while still holding
// the lock. To make that removal safe, a run that has taken the flock
// checks that the lock path still names the file it opened (same inode)
// and opens it again when not; only the holder removes the path. So a run
// can never hold a lock on a removed file while another locks a new one.
// A crash leaves the file behind unlocked, and the next run takes it.
//
// # Failure and rollback
//
// When a step fails (Ctrl-C included), Run rolls back, newest first, the
// failed step and the earlier ones that have an Undo (isolate's restore)
// and were started, on a context Ctrl-C does not cancel, bounded by
// Config.RollbackTimeout, unless Config.Isolate.StayIsolatedOnFailure.
// Each undo emits EventUndoStart and EventUndoEnd and is recorded in the
// step's journal record (UndoRecord); a step undone becomes Undone. Run
// then returns the Report, whose FailedStep names the step, and a
// *StepError joined with any failure of the rollback.
// With StayIsolatedOnFailure nothing is rolled back and
// Report.RestoreCommand is the lamigrate restore command that undoes the
// isolation by hand. The steps after a rolled-back one return to pending,
// so a resumed run does them again.
//
// # Dry run
//
// Plan.DryRun changes nothing: it lists each step with its status in the
// journal and an estimated duration, and in DryRun.Blockers what would make
// the run fail early: the configured database cannot be reached (on the
// cloud side the target database must exist), the output folder cannot be
// created or written, or the archive's name ends in an extension that
// names no format lamigrate writes.
//
// The estimates rest on the archive's manifest when it exists, else on
// check's size estimate (source side). A cutover's rest on the pre-copies
// in the output folder (check.EstimateCutover, DryRun.Cutover): when the
// last copy is a delta, it measured how much changed since the copy
// before (rows, SQL and archive bytes over the time between the two
// dumps' starts), and the cutover's delta is that much again for the time
// since the last copy, at the run's clock (RunOptions.Now). The dump is
// its digest pass over every row, as long as the last copy's dump took
// (its source-side journal) or the whole database at check's dump rate;
// verify, push, pull and import carry the projected delta; verify-db
// reads the whole database (the first copy's size, grown with the row
// count). With a single copy the rate is unknown: the estimates rest on
// the first copy's full size. Configs without a phase are estimated as a
// whole migration.
package migrate

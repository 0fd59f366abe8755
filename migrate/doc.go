// Package migrate runs a whole side of a LiveAgent migration as one plan of
// ordered, journaled steps that can be resumed after a crash and rolled back
// on failure. It also holds check's analysis of an installation and adjust's
// rules for the cloud copy.
//
// # The journal
//
// A run records every step in its journal, a JSON file in the output
// folder named after the side: lamigrate-source.journal.json on the source
// side, lamigrate-cloud.journal.json on the cloud side (JournalPath). It is
// written atomically after every change, and the run's first event
// (EventRunStart) names it. A journal left by an earlier run makes Run
// refuse unless RunOptions.Resume is set; a resumed run skips the steps
// done and redoes the others.
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
// earlier steps that have an Undo (isolate's restore) on a context Ctrl-C
// does not cancel, unless Config.Isolate.StayIsolatedOnFailure; it then
// returns the Report, whose FailedStep names the step, and a *StepError.
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
package migrate

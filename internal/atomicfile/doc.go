// Package atomicfile replaces a file so that a reader, and the disk after a
// crash, hold either the old content or the new one, never a part of it. It
// is how lamigrate writes its own files: manifests, the run journal, the
// isolation state file, adjust records and reports.
//
// [Write], in the order things happen:
//
//  1. creates a temporary file named .NAME.tmp… in the file's own folder (a
//     rename replaces a file atomically only within one file system);
//  2. gives it the requested mode, writes the data and fsyncs it;
//  3. renames it over the file;
//  4. fsyncs the folder, so that the rename itself survives a crash.
//
// An error in steps 1 to 3 removes the temporary file and leaves the file
// as it was. A folder that refuses the fsync of step 4 (some file systems
// do) is not an error: the data is on disk and nothing the caller could do
// would change that.
//
// [Rename] is steps 3 and 4 for a file already written and synced (an
// upload's FILE.partial, a file moved aside); [SyncDir] is step 4 alone.
package atomicfile

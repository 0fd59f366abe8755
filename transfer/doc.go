// Package transfer moves a dump and its manifest to where it belongs, over
// SFTP or to a local folder: resumable, renamed into place only when whole,
// and checked against the manifest's SHA-256.
//
// Push sends a local file into a Backend, Pull fetches one from a Backend.
// Two backends exist: Local (a folder of this machine) and SFTP (a folder on
// an SSH server, via golang.org/x/crypto/ssh and github.com/pkg/sftp). One
// conformance test suite runs against both, and against OpenSSH's sshd.
//
// Push and Pull are one copy between two backends, as rclone's
// operations.Copy is for any pair: Push copies from a Local folder holding
// the file into the Backend, Pull from the Backend into a Local folder. The
// side on this machine is read or written by this process itself: what it
// reads there is what the file holds and what it writes there arrives, so
// that side is never hashed a second time. The other side is checked.
//
// Upload writes a file into a Backend while it is produced, with no copy on
// this machine (`lamigrate dump -o sftp://…`); see Streaming.
//
// # Order of events
//
// A copy of FILE, with FILE.manifest.json when the source has one, and of
// the isolation state file when Options.State names one:
//
//  1. Look, before anything is written. The source FILE's size; its
//     manifest (read by internal/manifest), whose file entry must record
//     that size (else a *MismatchError, ErrManifestMismatch) and gives the
//     SHA-256 to check; the state file's size (Pull: its absence is no
//     error, nothing is fetched). Then the destination folders must exist:
//     a missing one is a *FolderError (ErrNoFolder) unless Options.Mkdir
//     asks to create it, so a mistyped path never makes folders where
//     nobody looks.
//  2. Already there? A destination FILE of the same size whose SHA-256
//     equals the manifest's (without one: the source's) is kept, any
//     partial file removed, and only the manifest written again (step 7).
//  3. Where to continue: a partial file .FILE.lamigrate-partial at the
//     destination is continued when its prefix hashes the same on both
//     sides (see Resuming); otherwise the copy starts over.
//  4. The rest of the bytes go to the partial file, hashed as they pass.
//     Push reads and hashes the local file on goroutines of their own,
//     beside the upload; Pull reads with many SFTP requests in flight.
//  5. Verify, before any rename. The bytes' SHA-256 against the manifest's
//     (ErrManifestMismatch), or, without a manifest, against the source's
//     own when the source is remote (Pull: sha256sum or openssl on the
//     server, or a read-back; ErrVerify). Then, when the destination is
//     remote (Push), the partial file's size and SHA-256 there (ErrVerify).
//     Where the server runs commands and has python3, a command started
//     with the upload hashes the partial file from its start as it grows,
//     so its hash is ready moments after the last byte; a second SFTP
//     session flushes what arrived to disk meanwhile, leaving little for
//     the final fsync. Otherwise the finished partial file is hashed by
//     sha256sum (or openssl) on the server, or read back over SFTP when
//     the server runs no commands. A hash computed during the upload that
//     disagrees is confirmed by hashing the finished file before the copy
//     fails.
//  6. Into place: a stale FILE.manifest.json at the destination is removed,
//     then the partial file is renamed to FILE (posix-rename@openssh.com:
//     atomic, replacing; on this machine rename(2) and an fsync of the
//     folder).
//  7. The manifest, last of the two: written under its partial name,
//     checked when the destination is remote, renamed into place. A
//     manifest present beside FILE therefore means a complete FILE.
//  8. The isolation state file, after the manifest, through steps 2 to 6:
//     Push sends it under StateName (isolate-state.json), Pull fetches
//     StateName from beside the remote file into Options.State. A
//     different file already at Options.State is never replaced (an
//     error): it may hold the only record of an installation's original
//     values.
//
// A delta archive (its manifest has a delta entry) travels with its changes
// file, FILE.changes.zst, which the importer reads to prove the target holds
// the delta's base: in step 1 its size must be the manifest's, and it is
// copied first, through steps 2 to 6, against the SHA-256 the manifest
// records for it, so a manifest beside FILE still means everything is
// there. Result.Changes reports its copy.
//
// Any mismatch stops before the rename: FILE never appears at the
// destination unless it is complete and verified. Every file written is
// owner-only (0600) where the server allows chmod.
//
// Progress counts the file, its manifest and the state file as one total,
// in that order; Step("sending") comes once per file that is sent.
//
// # Resuming
//
// A transfer that was cut off leaves its partial file. The next Push or
// Pull of the same file hashes the partial file's prefix on both sides
// (read on this machine; on the server with `head -c N | sha256sum` or a
// read-back) and, if they agree, sends only the rest; otherwise it starts over. Because a server
// that writes concurrently can leave a gap where requests were in flight,
// a prefix shortened by Options.ResumeWindow is tried before giving up.
// Cancelling the context is graceful: requests in flight are allowed to
// finish, so the partial file has no holes.
//
// # Retries
//
// A server that cannot be reached when DialSFTP first connects (refused,
// no route, unknown host name, connect timeout) is a permanent
// *ConnectError (ErrConnect): a wrong address, not a broken link. Once
// connected, a transient error (IsTransient: a dropped connection, a
// timeout, a failed reconnect) makes
// Push and Pull reconnect after an exponentially growing wait and redo the
// attempt, at most Options.Retries times. An attempt starts by looking at
// what the destination holds, so redoing it is safe even after a step
// whose outcome is unknown (a rename whose answer was lost is found done).
// Nothing else is retried.
//
// # Safety
//
// Host keys are checked against a known_hosts file. An unknown host is
// refused (ErrHostKeyUnknown, with the fingerprint and how to add it) unless
// SFTPConfig.AcceptNewHostKey is set, which appends the key; a host whose
// key CHANGED is always refused (ErrHostKeyChanged). Secrets (key
// passphrases, passwords) come through Secrets callbacks, asked for only
// when the server needs them, and are never part of SFTPConfig.
//
// # Streaming
//
// NewUpload starts writing NAME in a Backend's folder as NAME.partial
// (UploadPartialSuffix, the name a local dump uses while it writes),
// replacing a partial file an earlier attempt left; the folder must exist
// unless Options.Mkdir. The producer writes into the Upload (an io.Writer):
// the bytes go through 8 MiB of buffers into the same stream a Push uses
// (on an SSH server that runs commands, a python3 follower hashes the file
// as it grows, a second session flushes it), so nothing but those buffers
// and the requests in flight is kept here. Commit(ctx, manifestBytes) then checks the partial
// file's size and SHA-256, as the server computed them (the follower's
// hash, else sha256sum/openssl there, else a read-back), against the
// manifest, removes a stale NAME.manifest.json, renames NAME.partial to
// NAME and writes the manifest last (under its partial name, checked,
// renamed; mode 0600 like NAME). Abort(cause), after the producer failed,
// or any failure (a broken link, Ctrl-C, a mismatch) leaves NAME.partial
// and never NAME or its manifest; Abort returns the upload's own error
// when it failed first (the reason the producer's writes failed), and
// Commit returns it when the failure came after the producer's last write:
// both are ErrNotSent.
//
// A broken link starts over; it never continues. The bytes come from one
// database snapshot (a dump's REPEATABLE READ transaction): continuing a
// half-written remote archive from a new dump would join two snapshots,
// and the first one's transaction is gone with the process that held it.
// So the same command runs the whole dump again and its NewUpload
// replaces the partial file. Only Commit's steps after the last byte (a
// hash, a rename, the manifest) reconnect and retry (Options.Retries):
// they look at what the server holds first, so a rename whose answer was
// lost is found done.
//
// # URLs
//
// ParseURL reads sftp://USER@HOST[:PORT]/PATH. PATH is absolute; /~/PATH is
// relative to the login folder. ParseTarget reads what push and pull take:
// an sftp:// URL or a local path; other URL schemes are refused, and so is
// an scp-style USER@HOST:PATH (scp's rule: a colon before the first slash),
// with an *SCPError that spells the sftp:// URL to use. A local path that
// contains a colon is written with a slash before it: ./host:dir or
// /abs/host:dir.
package transfer

// Package transfer moves a dump and its manifest to where it belongs, over
// SFTP or to a local folder: resumable, renamed into place only when whole,
// and checked against the manifest's SHA-256.
//
// Push sends a local file into a Backend, Pull fetches one from a Backend.
// Two backends exist: Local (a folder of this machine) and SFTP (a folder on
// an SSH server, via golang.org/x/crypto/ssh and github.com/pkg/sftp). One
// conformance test suite runs against both, and against OpenSSH's sshd.
//
// # Order of events
//
// Push of FILE into a folder:
//
//  1. If FILE.manifest.json lies beside FILE, FILE's size must equal the
//     manifest's file entry; its SHA-256 is checked as the bytes go out.
//     Without a manifest the SHA-256 is computed while sending.
//  2. The bytes go to .FILE.lamigrate-partial, hashed as they are read
//     (the file is read and hashed on goroutines of their own, beside the
//     upload).
//  3. The partial file's size and SHA-256 are checked on the destination.
//     Where the server runs commands and has python3, a command started
//     with the upload hashes the partial file from its start as it grows,
//     so its hash is ready moments after the last byte; a second SFTP
//     session flushes what arrived to disk meanwhile, leaving little for
//     the final fsync. Otherwise the finished partial file is hashed by
//     sha256sum (or openssl) on the server, or read back over SFTP when
//     the server runs no commands. A hash computed during the upload that
//     disagrees is confirmed by hashing the finished file before the push
//     fails.
//  4. A stale FILE.manifest.json at the destination is removed, the
//     partial file is renamed to FILE (posix-rename@openssh.com: atomic,
//     replacing), then the manifest is uploaded the same way. A manifest
//     present at the destination therefore means a complete FILE.
//  5. When Options.State names the isolation state file that belongs to the
//     dump, it travels last, under StateName (isolate-state.json), verified
//     and renamed into place like FILE.
//
// Before anything is sent the destination folder must exist: a missing one
// is a *FolderError (ErrNoFolder) unless Options.Mkdir asks to create it,
// so a mistyped path never makes folders where nobody looks. Pull applies
// the same rule to the local folder it writes into, fetches StateName from
// beside the remote file into Options.State when it is there (its absence
// is no error), and never replaces a different local state file.
//
// Progress counts the file, its manifest and the state file as one total.
//
// Any mismatch stops before the rename: FILE never appears at the
// destination unless it is complete and verified. Pull is the mirror image,
// with the partial file beside the local FILE.
//
// # Resuming
//
// A transfer that was cut off leaves its partial file. The next Push or
// Pull of the same file hashes the partial file's prefix on both sides
// (the remote side with `head -c N | sha256sum` or a read-back) and, if they
// agree, sends only the rest; otherwise it starts over. Because a server
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

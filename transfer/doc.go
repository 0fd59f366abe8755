// Package transfer moves a dump and its manifest to where it belongs, over
// SFTP or to a local folder: resumable, renamed into place only when whole,
// and checked against the manifest's SHA-256.
package transfer

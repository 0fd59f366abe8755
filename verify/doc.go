// Package verify proves that an archive is intact and complete, and that a
// database matches the manifest of the dump it was loaded from, row for row.
package verify

// Package migrate runs a whole side of a LiveAgent migration as one plan of
// ordered, journaled steps that can be resumed after a crash and rolled back
// on failure. It also holds check's analysis of an installation and adjust's
// rules for the cloud copy.
package migrate

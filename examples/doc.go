// Package examples holds small programs that use only lamigrate's public
// packages; each lives in its own folder.
package examples

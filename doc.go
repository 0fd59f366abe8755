// Package lamigrate is the root of a library and CLI that move a self-hosted
// LiveAgent help desk (PHP + MySQL/MariaDB) into LiveAgent's cloud.
//
// The work flows one way through its packages:
//
//	database → dump → file → verify → transfer → file → load → database → verify
//
// isolate quiesces the source installation (and undoes that exactly), and
// migrate composes every step into one resumable plan. The CLI in
// cmd/lamigrate is a thin layer over these packages; examples/ shows how to
// script a custom migration with them.
package lamigrate

//go:build !unix

package migrate

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("lock held")

// flock is not available here: runs are not protected against each other.
func flock(f *os.File) error { return nil }

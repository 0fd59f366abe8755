package main

import (
	"strings"

	"github.com/qualityunit/lamigrate/internal/shquote"
)

// hintConn repeats the connection flags the user gave, shell-quoted, so
// that a printed hint works when pasted: " --dsn … --defaults-file …". A
// password in the DSN is left out (give it with MYSQL_PWD).
func (c *connFlags) hintConn() string {
	var words []string
	if c.DSN != "" {
		dsn, _ := withoutPassword(c.DSN)
		words = append(words, "--dsn", shquote.Quote(dsn))
	}
	words = append(words, c.optionFileArgs()...)
	if c.InstallDir != "" {
		words = append(words, "--install-dir", shquote.Quote(c.InstallDir))
	}
	if len(words) == 0 {
		return ""
	}
	return " " + strings.Join(words, " ")
}

// isoTrimmed is a library error whose origin prefix the verb's name
// already says ("lamigrate drain: " instead of "lamigrate drain: isolate:
// drain: "). It unwraps to the library error.
type isoTrimmed struct {
	msg string
	err error
}

func (e *isoTrimmed) Error() string { return e.msg }
func (e *isoTrimmed) Unwrap() error { return e.err }

// trimIsolateOrigin drops the first of prefixes err's message starts with.
func trimIsolateOrigin(err error, prefixes ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			return &isoTrimmed{msg: rest, err: err}
		}
	}
	return err
}

package main

import (
	"regexp"
	"strings"
)

// hintConn repeats the connection flags the user gave, shell-quoted, so
// that a printed hint works when pasted. A password in the DSN is left out
// (give it with MYSQL_PWD).
func (c *connFlags) hintConn() string {
	var b strings.Builder
	if c.DSN != "" {
		b.WriteString(" --dsn " + hintQuote(hintPasswordRE.ReplaceAllString(c.DSN, "$1@")))
	}
	if c.DefaultsFile != "" {
		b.WriteString(" --defaults-file " + hintQuote(c.DefaultsFile))
	}
	if c.InstallDir != "" {
		b.WriteString(" --install-dir " + hintQuote(c.InstallDir))
	}
	return b.String()
}

var (
	hintPasswordRE = regexp.MustCompile(`^([^:@/]*):[^@/]*@`)
	hintSafeRE     = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)
)

// hintQuote quotes s for a POSIX shell when it needs quoting.
func hintQuote(s string) string {
	if hintSafeRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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

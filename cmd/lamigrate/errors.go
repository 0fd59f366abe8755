package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit statuses. Every error leaves through exitStatus: this is the one place
// that maps them.
const (
	exitFailure     = 1   // the verb did not do what it says
	exitUsage       = 2   // bad command line or configuration
	exitNotBuilt    = 3   // the verb exists in the contract but not yet here
	exitInterrupted = 130 // Ctrl-C / SIGTERM
)

// errAlreadyReported marks an error whose message the verb printed itself.
var errAlreadyReported = errors.New("already reported")

// statusError carries a specific exit status.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus returns err carrying exit status code.
func withStatus(code int, err error) error { return &statusError{code: code, err: err} }

// usageErr is a bad flag combination or value found after parsing.
func usageErr(format string, args ...any) error {
	return withStatus(exitUsage, fmt.Errorf(format, args...))
}

// notBuilt is what verbs that are not implemented yet return.
func notBuilt(verb string) error {
	return withStatus(exitNotBuilt, fmt.Errorf("%s is not built yet in this version of lamigrate", verb))
}

func exitStatus(err error) int {
	var se *statusError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &se):
		return se.code
	}
	return exitFailure
}

// oneLine folds an error message onto a single line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

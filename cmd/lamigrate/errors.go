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

// interruptedError is a verb's error after Ctrl-C: the line says
// "interrupted" before the message.
type interruptedError struct {
	err  error
	verb string // the command, "dump" or "run --config FILE"...
}

// interruptedNext says, per verb, what an interruption left and what to do.
var interruptedNext = map[string]string{
	"dump":    "nothing was left looking complete; run the same command again (a dump starts over: it is one snapshot)",
	"import":  "the tables finished so far are kept; run the same command again to continue after them",
	"push":    "run the same command again: it continues where the copy stopped",
	"pull":    "run the same command again: it continues where the copy stopped",
	"verify":  "nothing was changed; run it again",
	"check":   "nothing was changed; run it again",
	"adjust":  "run the same command again: what was recorded can be undone with --undo",
	"isolate": "what this command changed was switched back on; run it again",
}

func (e *interruptedError) Error() string { return e.message(e.err.Error()) }

// message is the line for the inner error's text msg (its own prefixes
// trimmed or not).
func (e *interruptedError) message(msg string) string {
	// "context canceled" is the library's word for Ctrl-C.
	msg = strings.ReplaceAll(msg, "interrupted: context canceled", "interrupted")
	msg = strings.ReplaceAll(msg, ": context canceled", "")
	msg = strings.TrimPrefix(strings.TrimSuffix(msg, ": interrupted"), "interrupted: ")
	if msg == "interrupted" || msg == "context canceled" || msg == "" {
		msg = "stopped"
	}
	verb, _, _ := strings.Cut(e.verb, " ")
	if next := interruptedNext[verb]; next != "" && !strings.Contains(msg, "run the same command") {
		msg += "; " + next
	}
	return "interrupted: " + msg
}
func (e *interruptedError) Unwrap() error { return e.err }

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

// ownPrefixes are, per verb, the origins its errors come from: the library
// package the verb calls and the verb's own name. An error starting with
// them says nothing the line's "lamigrate VERB: " does not already say.
var ownPrefixes = map[string][]string{
	"check":   {"migrate", "check"},
	"isolate": {"isolate"},
	"restore": {"isolate", "restore"},
	"drain":   {"isolate", "drain"},
	"dump":    {"dump"},
	"verify":  {"verify"},
	"push":    {"transfer", "push"},
	"pull":    {"transfer", "pull"},
	"import":  {"load", "import"},
	"adjust":  {"migrate", "adjust"},
	"run":     {"migrate", "run"},
	// Steps of run, for its final line.
	"verify-db": {"verify"},
}

// internalOrigins are prefixes of internal packages: they name nothing a
// user knows, whatever the verb ("dbconn: cannot read --defaults-file").
var internalOrigins = []string{"dbconn"}

// errorLine is the one line a failed verb prints: "lamigrate VERB: " and
// the message, once. Library errors carry their origin as a prefix
// ("isolate: drain: timed out"); the leading prefixes that name the verb
// or the library it calls are dropped, since "lamigrate VERB: " says the
// same, and any other origin stays ("lamigrate verify: codec: wrong
// passphrase"). Without a verb (a parse error) the line starts
// "lamigrate: ".
func errorLine(verb, msg string) string {
	msg = trimOwnPrefixes(verb, oneLine(msg))
	if verb == "" {
		return "lamigrate: " + msg
	}
	return "lamigrate " + verb + ": " + msg
}

// trimOwnPrefixes drops the leading "origin: " prefixes of msg that belong
// to verb (see ownPrefixes).
func trimOwnPrefixes(verb, msg string) string {
	for {
		trimmed := false
		for _, p := range append(append(ownPrefixes[verb], verb), internalOrigins...) {
			if p != "" && strings.HasPrefix(msg, p+": ") && len(msg) > len(p)+2 {
				msg, trimmed = msg[len(p)+2:], true
			}
		}
		if !trimmed {
			return msg
		}
	}
}

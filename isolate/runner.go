package isolate

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs an external command (crontab, systemctl, service). Tests
// substitute a fake.
type Runner interface {
	// Run runs name with args, feeding stdin (nil = none), and returns its
	// standard output. A command that exits non-zero returns a
	// *CommandError.
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

func (ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &CommandError{Command: append([]string{name}, args...), Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return out, nil
}

// CommandError is a command that failed.
type CommandError struct {
	Command []string
	Stderr  string
	Err     error
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Command, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// Progress receives what isolate, restore and drain are doing. A nil
// Progress is fine.
type Progress interface {
	Report(Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

func (f ProgressFunc) Report(e Event) { f(e) }

// Event is one report.
type Event struct {
	// Step is "source", "file", "cron", "service", "drain" or "warning".
	Step string `json:"step"`
	// Name is the source, file, crontab or service.
	Name string `json:"name,omitempty"`
	// State is "start", "done", "skipped", "restored", "conflict"...
	State string `json:"state,omitempty"`
	// Count is rows (source), lines (cron) or pending jobs (drain).
	Count   int64  `json:"count"`
	Message string `json:"message,omitempty"`
}

func report(p Progress, e Event) {
	if p != nil {
		p.Report(e)
	}
}

func warn(p Progress, format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	report(p, Event{Step: "warning", Message: msg})
	return msg
}

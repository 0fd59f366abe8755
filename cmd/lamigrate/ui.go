package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ui renders what the library reports: a live bar on a terminal, plain lines
// when stderr is piped, JSON lines with --json. Results go to stdout.
type ui struct {
	stdout, stderr io.Writer
	json, quiet    bool
	tty            bool
	mu             sync.Mutex
}

func newUI(stdout, stderr io.Writer, asJSON, quiet bool) *ui {
	u := &ui{stdout: stdout, stderr: stderr, json: asJSON, quiet: quiet}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty = true
	}
	return u
}

// result prints v as JSON with --json, else calls human.
func (u *ui) result(v any, human func(w io.Writer)) error {
	if u.json {
		enc := json.NewEncoder(u.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(u.stdout)
	return nil
}

// event writes one JSON line on stderr (with --json) or a plain line.
func (u *ui) event(kind string, fields map[string]any, plain string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.json {
		m := map[string]any{"event": kind, "time": time.Now().UTC().Format(time.RFC3339Nano)}
		for k, v := range fields {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(u.stderr, "%s\n", b)
		return
	}
	fmt.Fprintln(u.stderr, plain)
}

// warn reports something the user should read; never suppressed by --quiet.
func (u *ui) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	u.event("warning", map[string]any{"message": msg}, "lamigrate: warning: "+msg)
}

// info reports a step; suppressed by --quiet.
func (u *ui) info(format string, args ...any) {
	if u.quiet {
		return
	}
	msg := fmt.Sprintf(format, args...)
	u.event("info", map[string]any{"message": msg}, "lamigrate: "+msg)
}

// fail prints err as the one line on stderr and returns the exit status.
// The line is "lamigrate VERB: " and the message once (see errorLine).
func (u *ui) fail(command string, err error) int {
	code := exitStatus(err)
	if errors.Is(err, errAlreadyReported) {
		return code
	}
	verb := ""
	if f := strings.Fields(command); len(f) > 0 {
		verb = f[0]
	}
	msg := trimOwnPrefixes(verb, oneLine(err.Error()))
	var ie *interruptedError
	if errors.As(err, &ie) {
		msg = ie.message(trimOwnPrefixes(verb, oneLine(ie.err.Error())))
	}
	if u.json {
		u.event("error", map[string]any{"command": verb, "message": msg, "exit_status": code}, "")
	} else {
		fmt.Fprintln(u.stderr, errorLine(verb, msg))
	}
	return code
}

// errorf reports a failure that is not the verb's final error (a step of
// run that failed); never suppressed by --quiet.
func (u *ui) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	u.event("error", map[string]any{"message": msg}, "lamigrate: error: "+msg)
}

// task shows progress of one long piece of work.
type task struct {
	u       *ui
	name    string
	bytes   bool // done/total count bytes
	total   int64
	done    int64
	note    string
	start   time.Time
	last    time.Time
	bar     *progressbar.ProgressBar
	every   time.Duration
	stopped bool
	// complete: the work finished (see Complete).
	complete bool
	// updated: Update was called at least once.
	updated bool
}

// task starts a progress display. unitBytes says whether the counts are
// bytes (rendered as MiB) or items. total may be 0 when unknown.
func (u *ui) task(name string, total int64, unitBytes bool) *task {
	now := time.Now()
	t := &task{u: u, name: name, bytes: unitBytes, total: total, start: now, last: now, every: 2 * time.Second}
	if u.json {
		t.every = time.Second
	}
	if u.tty && !u.json && !u.quiet {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(u.stderr),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(),
		}
		if unitBytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		}
		max := total
		if max <= 0 {
			max = -1
		}
		t.bar = progressbar.NewOptions64(max, opts...)
	}
	return t
}

// Update sets the amount done (and optionally the total and a note).
func (t *task) Update(done, total int64, note string) {
	if t == nil || t.stopped {
		return
	}
	t.done, t.note, t.updated = done, note, true
	if total > 0 && total != t.total {
		t.total = total
		if t.bar != nil {
			t.bar.ChangeMax64(total)
		}
	}
	if t.bar != nil {
		if t.total > 0 && done > t.total {
			t.total = done
			t.bar.ChangeMax64(done)
		}
		t.bar.Describe(t.name + " " + note)
		t.bar.Set64(done)
		return
	}
	if t.u.quiet || time.Since(t.last) < t.every {
		return
	}
	t.last = time.Now()
	t.emit("progress")
}

// Complete ends the display of work that finished. The last line shows
// what was done as the whole ("30.0 MiB / 30.0 MiB (100%)"), whatever a
// server estimate said the total would be; on a terminal the bar ends
// full. JSON lines keep the true figures (done, and the total as last
// reported) and say "complete": true.
func (t *task) Complete(note string) { t.end(note, true) }

// Stop ends the display of work that did not finish (it failed or was
// skipped): the last line shows the true figures.
func (t *task) Stop(note string) { t.end(note, false) }

// Finish ends the display: Stop when note is "failed", else Complete.
// New code calls Complete or Stop.
func (t *task) Finish(note string) {
	if note == "failed" {
		t.Stop(note)
		return
	}
	t.Complete(note)
}

// abandon ends the display without a line (the work goes on under another
// display).
func (t *task) abandon() {
	if t == nil || t.stopped {
		return
	}
	t.stopped = true
	if t.bar != nil {
		t.bar.Exit()
	}
}

func (t *task) end(note string, complete bool) {
	if t == nil || t.stopped {
		return
	}
	t.stopped = true
	t.complete = complete
	if !complete && !t.updated {
		// Failed before any work: the error line says it all.
		if t.bar != nil {
			t.bar.Exit()
		}
		return
	}
	if t.bar != nil {
		if complete && t.done > 0 {
			t.bar.ChangeMax64(t.done)
			t.bar.Set64(t.done)
		}
		t.bar.Finish()
	}
	t.note = note
	if !t.u.quiet {
		t.emit("done")
	}
}

func (t *task) emit(kind string) {
	el := time.Since(t.start)
	rate := float64(t.done) / el.Seconds()
	var eta time.Duration
	if t.total > 0 && rate > 0 && t.done < t.total && kind != "done" {
		eta = time.Duration(float64(t.total-t.done)/rate) * time.Second
	}
	fields := map[string]any{"task": t.name, "done": t.done, "total": t.total, "elapsed_s": el.Seconds(), "rate_per_s": rate, "note": t.note}
	if kind == "done" {
		fields["complete"] = t.complete
	}
	if !t.bytes {
		fields["unit"] = "items"
	} else {
		fields["unit"] = "bytes"
	}
	if eta > 0 {
		fields["eta_s"] = eta.Seconds()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", t.name, t.amount(t.done))
	switch {
	case kind == "done" && t.complete:
		// Finished work is the whole of itself: an estimated total said
		// how much there might be, not how much there was.
		if t.done > 0 {
			fmt.Fprintf(&b, " / %s (100%%)", t.amount(t.done))
		}
	case t.total > 0 && t.done <= t.total:
		// A total from server estimates can be below the truth: then it
		// says nothing and is not shown.
		fmt.Fprintf(&b, " / %s (%.0f%%)", t.amount(t.total), 100*float64(t.done)/float64(t.total))
	}
	if t.bytes {
		fmt.Fprintf(&b, " %s/s", bytesize.Format(int64(rate)))
	} else {
		fmt.Fprintf(&b, " %.0f/s", rate)
	}
	if kind == "done" {
		fmt.Fprintf(&b, " in %s", el.Round(100*time.Millisecond))
	} else if eta > 0 {
		fmt.Fprintf(&b, " ETA %s", eta.Round(time.Second))
	}
	if t.note != "" {
		b.WriteString(" " + t.note)
	}
	t.u.event(kind, fields, b.String())
}

func (t *task) amount(n int64) string {
	if t.bytes {
		return bytesize.Format(n)
	}
	return fmt.Sprint(n)
}

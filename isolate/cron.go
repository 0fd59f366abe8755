package isolate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
)

// CronMarker prefixes every cron line isolate comments out. Restore removes
// exactly this prefix, so the line comes back byte for byte.
const CronMarker = "#lamigrate-disabled# "

// CronOptions say which crontabs to edit.
//
// In JSON, {} means what lamigrate isolate --cron means: the user's crontab
// (a missing "user" is true) and the default system crontabs (a missing
// "files" is DefaultCronFiles). "user": false and "files": [] leave them
// out. A Go CronOptions{} leaves the user's crontab out (User is false).
type CronOptions struct {
	// User edits the crontab of the user running lamigrate through
	// Command ("crontab -l" to read, "crontab -" to write).
	User bool `json:"user"`
	// Command is the crontab program and any leading arguments, e.g.
	// ["crontab", "-u", "www-data"]. Default ["crontab"].
	Command []string `json:"command,omitempty"`
	// Files are system crontab paths or globs (with a user field). nil
	// means DefaultCronFiles; an empty list means none.
	Files []string `json:"files"`
}

// UnmarshalJSON reads the options strictly (unknown fields are errors),
// with "user" true when it is missing.
func (c *CronOptions) UnmarshalJSON(b []byte) error {
	type plain CronOptions
	v := plain{User: true}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*c = CronOptions(v)
	return nil
}

// places names the crontabs the options look at, for messages.
func (c CronOptions) places() string {
	var p []string
	if c.User {
		p = append(p, "the user crontab ("+strings.Join(c.command(), " ")+" -l)")
	}
	p = append(p, c.files()...)
	if len(p) == 0 {
		return "no crontab"
	}
	return strings.Join(p, ", ")
}

// DefaultCronFiles are the system crontabs searched by default.
var DefaultCronFiles = []string{"/etc/crontab", "/etc/cron.d/*"}

func (c CronOptions) command() []string {
	if len(c.Command) == 0 {
		return []string{"crontab"}
	}
	return c.Command
}

func (c CronOptions) files() []string {
	if c.Files == nil {
		return DefaultCronFiles
	}
	return c.Files
}

// cronTarget is one crontab: a file or the user's crontab.
type cronTarget struct {
	kind, path string
	cmd        []string
}

func (c CronOptions) targets() ([]cronTarget, []string) {
	var out []cronTarget
	var warns []string
	if c.User {
		cmd := c.command()
		out = append(out, cronTarget{kind: "user", path: strings.Join(cmd, " "), cmd: cmd})
	}
	seen := map[string]bool{}
	for _, pat := range c.files() {
		matches, err := filepath.Glob(pat)
		if err != nil {
			warns = append(warns, fmt.Sprintf("cron files %q: %v", pat, err))
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if seen[m] || strings.HasPrefix(filepath.Base(m), ".") {
				continue
			}
			if fi, err := os.Stat(m); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			seen[m] = true
			out = append(out, cronTarget{kind: "file", path: m})
		}
	}
	return out, warns
}

// errNoCrontab means the user has no crontab.
var errNoCrontab = errors.New("no crontab")

func (t cronTarget) read(ctx context.Context, r Runner) ([]byte, error) {
	if t.kind == "file" {
		b, err := os.ReadFile(t.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoCrontab
		}
		return b, err
	}
	out, err := r.Run(ctx, nil, t.cmd[0], append(t.cmd[1:len(t.cmd):len(t.cmd)], "-l")...)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Stderr), "no crontab") {
			return nil, errNoCrontab
		}
		return nil, err
	}
	return out, nil
}

func (t cronTarget) write(ctx context.Context, r Runner, data []byte) error {
	if t.kind == "file" {
		fi, err := os.Stat(t.path)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(t.path, data, fi.Mode().Perm()); err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			os.Chown(t.path, int(st.Uid), int(st.Gid)) // best effort: keep the owner cron expects
		}
		return nil
	}
	_, err := r.Run(ctx, data, t.cmd[0], append(t.cmd[1:len(t.cmd):len(t.cmd)], "-")...)
	return err
}

// planCron reports which lines would be disabled.
func planCron(ctx context.Context, r Runner, o CronOptions, patterns []string) ([]CronState, []string) {
	targets, warns := o.targets()
	var out []CronState
	for _, t := range targets {
		cur, err := t.read(ctx, r)
		if err != nil {
			if !errors.Is(err, errNoCrontab) {
				warns = append(warns, fmt.Sprintf("cron %s: %v", t.path, err))
			}
			continue
		}
		if _, lines := DisableCronLines(cur, patterns); len(lines) > 0 {
			out = append(out, CronState{Kind: t.kind, Path: t.path, Lines: lines, Status: "would disable"})
		}
	}
	if len(out) == 0 {
		warns = append(warns, noCronLine(o, patterns))
	}
	return out, warns
}

// disableCron comments out matching lines in every crontab, recording each
// crontab's content before writing it.
func disableCron(ctx context.Context, r Runner, o CronOptions, patterns []string, sf *stateFile, p Progress, ch *changes) ([]CronState, []string, error) {
	targets, warns := o.targets()
	for _, w := range warns {
		warn(p, "%s", w)
	}
	var out []CronState
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return out, warns, fmt.Errorf("isolate: %w", err)
		}
		idx := -1
		for i, c := range sf.s.Cron {
			if c.Kind == t.kind && c.Path == t.path {
				idx = i
			}
		}
		if idx >= 0 && sf.s.Cron[idx].Status == Done {
			out = append(out, sf.s.Cron[idx])
			continue
		}
		cur, err := t.read(ctx, r)
		if errors.Is(err, errNoCrontab) && idx < 0 {
			continue
		}
		if err != nil {
			if t.kind == "file" && errors.Is(err, fs.ErrPermission) {
				warns = append(warns, warn(p, "cron: cannot read %s: %v", t.path, err))
				continue
			}
			return out, warns, fmt.Errorf("isolate: cron: reading %s: %w", t.path, err)
		}
		var written []byte
		if idx >= 0 {
			cs := sf.s.Cron[idx]
			switch {
			case bytes.Equal(cur, cs.Written.Bytes):
				written = nil // already written before an interruption
			case bytes.Equal(cur, cs.Original.Bytes):
				written = cs.Written.Bytes
			default:
				return out, warns, fmt.Errorf("isolate: cron: %s changed since it was recorded; run restore, check it, and isolate again", t.path)
			}
		} else {
			w, lines := DisableCronLines(cur, patterns)
			if len(lines) == 0 {
				continue
			}
			sf.s.Cron = append(sf.s.Cron, CronState{Kind: t.kind, Path: t.path, Command: t.cmd,
				Original: Value{Valid: true, Bytes: cur}, Written: Value{Valid: true, Bytes: w}, Lines: lines, Status: Started})
			idx = len(sf.s.Cron) - 1
			if err := sf.save(); err != nil {
				return out, warns, err
			}
			written = w
		}
		if written != nil {
			ch.cron = append(ch.cron, sf.s.Cron[idx]) // a failed write may have written
			if err := t.write(ctx, r, written); err != nil {
				return out, warns, fmt.Errorf("isolate: cron: writing %s: %w", t.path, err)
			}
		}
		sf.s.Cron[idx].Status = Done
		if err := sf.save(); err != nil {
			return out, warns, err
		}
		report(p, Event{Step: "cron", Name: t.path, State: "disabled", Count: int64(len(sf.s.Cron[idx].Lines))})
		out = append(out, sf.s.Cron[idx])
	}
	if len(out) == 0 && len(sf.s.Cron) == 0 {
		warns = append(warns, warn(p, "%s", noCronLine(o, patterns)))
	}
	return out, warns, nil
}

// noCronLine is the warning for cron isolation that found nothing.
func noCronLine(o CronOptions, patterns []string) string {
	return fmt.Sprintf("cron: no active %s line found in %s, so no background job was switched off; "+
		"name the crontab that runs them with --crontab-command 'crontab -u www-data' or --cron-file FILE (cron.command or cron.files in a run config)",
		strings.Join(patterns, "/"), o.places())
}

// markedCron returns the crontabs among o's that already hold lines with
// CronMarker (an earlier isolation that was not restored).
func markedCron(ctx context.Context, r Runner, o CronOptions) []string {
	targets, _ := o.targets()
	var out []string
	for _, t := range targets {
		cur, err := t.read(ctx, r)
		if err != nil {
			continue
		}
		for _, l := range bytes.SplitAfter(cur, []byte("\n")) {
			if bytes.HasPrefix(l, []byte(CronMarker)) {
				out = append(out, t.path)
				break
			}
		}
	}
	return out
}

// restoreCron puts a crontab back: the exact original when nothing else
// changed it since, else only the lines isolate commented out.
func restoreCron(ctx context.Context, r Runner, cs CronState) (CronRestore, error) {
	t := cronTarget{kind: cs.Kind, path: cs.Path, cmd: cs.Command}
	if t.kind == "user" && len(t.cmd) == 0 {
		t.cmd = []string{"crontab"}
	}
	cr := CronRestore{Kind: cs.Kind, Path: cs.Path, Lines: len(cs.Lines)}
	cur, err := t.read(ctx, r)
	if errors.Is(err, errNoCrontab) {
		cr.Status, cr.Lines, cr.Reason = "missing", 0, "the crontab no longer exists; its disabled lines were not put back"
		return cr, nil
	}
	if err != nil {
		return cr, fmt.Errorf("isolate: restore cron: reading %s: %w", cs.Path, err)
	}
	var out []byte
	switch {
	case bytes.Equal(cur, cs.Original.Bytes):
		cr.Status = "already"
		return cr, nil
	case bytes.Equal(cur, cs.Written.Bytes):
		out, cr.Status = cs.Original.Bytes, "restored"
	default:
		var n int
		out, n = EnableCronLines(cur, cs.Lines)
		cr.Lines = n
		switch {
		case n == 0:
			cr.Status, cr.Reason = "conflict", "changed since isolate and none of the disabled lines is there any more; left alone"
			return cr, nil
		case n < len(cs.Lines):
			cr.Status, cr.Reason = "partial", fmt.Sprintf("changed since isolate; re-enabled %d of %d disabled lines", n, len(cs.Lines))
		default:
			cr.Status, cr.Reason = "restored", "changed since isolate; re-enabled the disabled lines and kept the other changes"
		}
	}
	if err := t.write(ctx, r, out); err != nil {
		return cr, fmt.Errorf("isolate: restore cron: writing %s: %w", cs.Path, err)
	}
	return cr, nil
}

// DisableCronLines prefixes CronMarker to every active cron line that runs
// one of patterns (a script name, matched as a whole file name), keeping
// everything else — line ends (LF or CRLF), whitespace, comments — as it
// is. It returns the new content and the disabled lines (without line end).
func DisableCronLines(content []byte, patterns []string) ([]byte, []string) {
	var out bytes.Buffer
	var lines []string
	for _, l := range bytes.SplitAfter(content, []byte("\n")) {
		body := string(trimEOL(l))
		if cronLineRuns(body, patterns) {
			out.WriteString(CronMarker)
			lines = append(lines, body)
		}
		out.Write(l)
	}
	return out.Bytes(), lines
}

// EnableCronLines removes CronMarker from the lines that carry it and are
// one of lines, and returns the content and how many lines it re-enabled
// (each recorded line once).
func EnableCronLines(content []byte, lines []string) ([]byte, int) {
	want := map[string]int{}
	for _, l := range lines {
		want[l]++
	}
	var out bytes.Buffer
	n := 0
	for _, l := range bytes.SplitAfter(content, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(l, []byte(CronMarker)); ok && want[string(trimEOL(rest))] > 0 {
			want[string(trimEOL(rest))]--
			n++
			out.Write(rest)
			continue
		}
		out.Write(l)
	}
	return out.Bytes(), n
}

func trimEOL(l []byte) []byte {
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r"))
}

// cronLineRuns reports whether a crontab line is an active job running one
// of patterns.
func cronLineRuns(line string, patterns []string) bool {
	t := strings.TrimLeft(line, " \t")
	if t == "" || t[0] == '#' || isEnvAssignment(t) {
		return false
	}
	for _, p := range patterns {
		for i := 0; ; {
			j := strings.Index(t[i:], p)
			if j < 0 {
				break
			}
			at := i + j
			end := at + len(p)
			if (at == 0 || !isNameByte(t[at-1])) && (end == len(t) || !isWordByte(t[end])) {
				return true
			}
			i = at + 1
		}
	}
	return false
}

// isEnvAssignment spots crontab lines like MAILTO=x or PATH = /bin.
func isEnvAssignment(t string) bool {
	i := 0
	for i < len(t) && (isWordByte(t[i])) {
		i++
	}
	if i == 0 || (t[0] >= '0' && t[0] <= '9') {
		return false
	}
	rest := strings.TrimLeft(t[i:], " \t")
	return strings.HasPrefix(rest, "=")
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isNameByte(c byte) bool { return isWordByte(c) || c == '-' || c == '.' }

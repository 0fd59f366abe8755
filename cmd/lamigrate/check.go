package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/migrate/check"
)

// check's exit statuses: the worst finding decides. 0 = only information,
// exitCheckWarnings = warnings a person should read, exitCheckBlockers =
// something must be fixed before migrating. (1, 2 and 130 keep their usual
// meaning: check itself failed, bad command line, interrupted.)
const (
	exitCheckWarnings = 4
	exitCheckBlockers = 5
)

type checkCmd struct {
	connFlags
	OutDir   string  `name:"out-dir" default:"." help:"Folder the dump will be written to; it need not exist yet (free space is checked against the estimate)." placeholder:"DIR"`
	Profile  string  `name:"profile" help:"Profile of external sources (JSON; default: the built-in LiveAgent profile)." placeholder:"FILE"`
	LinkMbps float64 `name:"link-mbps" default:"100" help:"Upload speed to the cloud in Mbit/s, for the downtime estimate."`
	HexBlob  bool    `name:"hex-blob" help:"Estimate the dump as dump --hex-blob writes it (binary values as 0x... hex)."`
	At       string  `name:"at" help:"When the migration will start, for the migration-window check: 2025-03-12T10:00 (CET/CEST) or RFC 3339 (default: now)." placeholder:"TIME"`

	CrontabCommand string   `name:"crontab-command" default:"crontab" help:"Program (and leading arguments) that lists (-l) the user crontab isolate --cron will edit, e.g. 'crontab -u www-data' (same as isolate's flag)." placeholder:"CMD"`
	CronFiles      []string `name:"cron-file" help:"System crontab files or globs isolate --cron will edit (default /etc/crontab and /etc/cron.d/*; same as isolate's flag)." placeholder:"GLOB"`
}

func (c *checkCmd) Run(ctx context.Context, e *env) error {
	if c.LinkMbps <= 0 {
		return usageErr("--link-mbps must be a positive speed in Mbit/s, not %g", c.LinkMbps)
	}
	if strings.TrimSpace(c.CrontabCommand) == "" {
		return usageErr("--crontab-command is empty")
	}
	var now func() time.Time
	if c.At != "" {
		at, err := parseAt(c.At)
		if err != nil {
			return err
		}
		now = func() time.Time { return at }
	}
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	e.ui.info("analysing the database and installation")
	rep, err := check.Run(ctx, db, check.Config{
		InstallDir:  c.InstallDir,
		OutDir:      c.OutDir,
		LinkMbps:    c.LinkMbps,
		ProfilePath: c.Profile,
		HexBlob:     c.HexBlob,
		// Where isolate --cron with the same flags looks.
		Cron: &isolate.CronOptions{User: true, Command: strings.Fields(c.CrontabCommand), Files: c.CronFiles},
		Now:  now,
	})
	if err != nil {
		return err
	}
	if err := e.ui.result(rep, func(w io.Writer) { printCheck(w, rep) }); err != nil {
		return err
	}
	switch rep.Worst {
	case check.Blocker:
		return withStatus(exitCheckBlockers, fmt.Errorf("%d blocker(s) and %d warning(s): fix the blockers before migrating", rep.Blockers, rep.Warnings))
	case check.Warning:
		return withStatus(exitCheckWarnings, fmt.Errorf("%d warning(s): read them before migrating", rep.Warnings))
	}
	return nil
}

// parseAt reads --at: a local time in the migration window's zone, or RFC 3339.
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	loc, err := time.LoadLocation(check.MigrationZone)
	if err != nil {
		return time.Time{}, err
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("--at %q is not a time: write 2025-03-12T10:00 (%s) or 2025-03-12T10:00:00+01:00", s, check.MigrationZone)
}

// printCheck writes the report for a person: a summary header, then one
// line per finding, worst first.
func printCheck(w io.Writer, r *check.Report) {
	f := r.Facts
	la := f.LiveAgentVersion
	if la == "" {
		la = "unknown"
	}
	fmt.Fprintf(w, "lamigrate check of database %s: LiveAgent %s on %s %s\n", f.Database, la, f.ServerFlavour, f.ServerVersion)
	s := f.Size
	fmt.Fprintf(w, "  size:     %s data + %s indexes; dump ≈ %s SQL, %s gzip",
		bytesize.Format(s.DataBytes), bytesize.Format(s.IndexBytes), bytesize.Format(s.SQLBytes), bytesize.Format(s.ArchiveBytes))
	if f.FreeBytes >= 0 {
		fmt.Fprintf(w, "; %s free for it", bytesize.Format(f.FreeBytes))
	}
	fmt.Fprintln(w)
	d := f.Downtime
	fmt.Fprintf(w, "  downtime: ≈ %s (dump %s + transfer %s + import %s)\n", secs(d.TotalSeconds), secs(d.DumpSeconds), secs(d.TransferSeconds), secs(d.ImportSeconds))
	if c := d.Cutover; c != nil {
		if c.RateKnown {
			fmt.Fprintf(w, "  cutover:  ≈ %s after pre-copy %d (delta dump %s + transfer %s + import %s + verify %s; %d rows changed since it at the rate measured between copies %d and %d)\n",
				secs(c.TotalSeconds), c.Copy, secs(c.DumpSeconds), secs(c.TransferSeconds), secs(c.ImportSeconds), secs(c.VerifySeconds), c.Rows, c.Copy-1, c.Copy)
		} else {
			fmt.Fprintf(w, "  cutover:  ≈ %s after pre-copy %d (the change rate is unknown until a second pre-copy measures it)\n", secs(c.TotalSeconds), c.Copy)
		}
	}
	var active int64
	found := 0
	for _, src := range f.Sources {
		if src.Found {
			found++
		}
		if src.Active > 0 {
			active += src.Active
		}
	}
	fmt.Fprintf(w, "  sources:  %d of %d profile sources found, %d active row(s); %d background job(s) pending\n", found, len(f.Sources), active, f.PendingJobs)
	fmt.Fprintf(w, "  verdict:  %s (%d blocker(s), %d warning(s), %d info)\n", verdict(r.Worst), r.Blockers, r.Warnings, r.Infos)
	groups := []struct {
		sev   check.Severity
		title string
		mark  string
	}{{check.Blocker, "BLOCKERS", "✗"}, {check.Warning, "WARNINGS", "!"}, {check.Info, "INFO", "·"}}
	for _, g := range groups {
		var lines []string
		for _, fd := range r.Findings {
			if fd.Severity != g.sev {
				continue
			}
			line := fmt.Sprintf("  %s %s", g.mark, fd.Message)
			if fd.Action != "" && g.sev != check.Info {
				line += " → " + fd.Action
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n%s\n", g.title, strings.Join(lines, "\n"))
	}
	fmt.Fprintf(w, "\nEstimates assume: %s.\n", strings.Join(d.Assumptions, "; "))
}

func verdict(s check.Severity) string {
	switch s {
	case check.Blocker:
		return "NOT READY"
	case check.Warning:
		return "ready after review"
	}
	return "ready"
}

func secs(s float64) string {
	return (time.Duration(s+0.5) * time.Second).String()
}

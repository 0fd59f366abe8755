package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the migration window's zone even where the system lacks it

	"github.com/qualityunit/lamigrate/internal/dbconn"
	"github.com/qualityunit/lamigrate/isolate"
)

// CronLine is a crontab line that runs a LiveAgent job script.
type CronLine struct {
	Source string `json:"source"` // file path, or "crontab -l"
	Line   string `json:"line"`
	Script string `json:"script"` // jobs.php or queue.php
}

// cronPlaces says where isolate looks for cron lines with o (nil: the
// user crontab and isolate.DefaultCronFiles). It is the one place that
// reads isolate.CronOptions' fields.
func cronPlaces(o *isolate.CronOptions) (user bool, command, files []string) {
	if o == nil {
		return true, []string{"crontab"}, isolate.DefaultCronFiles
	}
	command = o.Command
	if len(command) == 0 {
		command = []string{"crontab"}
	}
	files = o.Files
	if files == nil {
		files = isolate.DefaultCronFiles
	}
	return o.User, command, files
}

// cron finds the active cron lines running the profile's job scripts
// (jobs.php, queue.php) where isolate will look for them, matched the way
// isolate matches them.
func (c *checker) cron(ctx context.Context) error {
	f := &c.rep.Facts
	f.CronLines = []CronLine{}
	p := c.profile
	if p == nil {
		p = isolate.DefaultProfile()
	}
	patterns := p.Patterns()
	user, command, files := cronPlaces(c.cfg.Cron)
	list := append(command[:len(command):len(command)], "-l")
	if c.cfg.CrontabCommand != nil {
		user, list = len(c.cfg.CrontabCommand) > 0, c.cfg.CrontabCommand
	}
	var places, problems []string
	found := func(source string, b []byte) {
		_, lines := isolate.DisableCronLines(b, patterns)
		for _, l := range lines {
			script := ""
			for _, pat := range patterns {
				if strings.Contains(l, pat) {
					script = pat
					break
				}
			}
			f.CronLines = append(f.CronLines, CronLine{Source: source, Line: strings.TrimSpace(l), Script: script})
		}
	}
	if user {
		src := strings.Join(list, " ")
		places = append(places, src)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var stderr bytes.Buffer
		cmd := exec.CommandContext(cctx, list[0], list[1:]...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		switch {
		case err == nil:
			found(src, out)
		case strings.Contains(strings.ToLower(stderr.String()), "no crontab"):
			// The user has no crontab: nothing to find there.
		default:
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			problems = append(problems, fmt.Sprintf("%s failed: %s", src, firstLine(msg)))
		}
	}
	for _, pat := range files {
		places = append(places, pat)
		matches, err := filepath.Glob(pat)
		if err != nil {
			problems = append(problems, fmt.Sprintf("cron files %q: %v", pat, err))
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if strings.HasPrefix(filepath.Base(m), ".") {
				continue
			}
			if st, err := os.Stat(m); err != nil || !st.Mode().IsRegular() {
				continue
			}
			b, err := os.ReadFile(m)
			if err != nil {
				problems = append(problems, fmt.Sprintf("cannot read %s: %v", m, err))
				continue
			}
			found(m, b)
		}
	}
	where := strings.Join(places, ", ")
	if len(places) == 0 {
		where = "no crontab (none configured)"
	}
	scripts := strings.Join(patterns, "/")
	byHand := "after drain, lamigrate isolate --cron comments it out (with the --crontab-command and --cron-file given here)"
	for _, pr := range problems {
		switch {
		case c.cfg.CronIsolation == CronIsolated:
			c.add(Warning, "cron", "", "fix it, or change isolate.cron so isolate does not read it",
				"isolate.cron reads a crontab check could not: %s", pr)
		case len(f.CronLines) == 0:
			c.add(Warning, "cron", "", "", "crontab not checked: %s", pr)
		default:
			c.add(Info, "cron", "", "", "crontab not checked: %s", pr)
		}
	}
	if len(f.CronLines) == 0 {
		switch c.cfg.CronIsolation {
		case CronIsolated:
			c.add(Warning, "cron", "", `point isolate.cron at the crontab that runs them: "command": ["crontab", "-u", "www-data"] for another user's crontab, or "files": ["/etc/cron.d/liveagent"]`,
				"isolate.cron finds no active %s cron line in %s, so it cannot stop LiveAgent's background jobs", scripts, where)
		case CronKept:
			c.add(Warning, "cron", "", "",
				"no active %s cron line found in %s, though LiveAgent's background jobs run from one; set isolate.cron in the run config (\"command\": [\"crontab\", \"-u\", \"www-data\"] for another user's crontab, \"files\" for a system crontab) so the run switches it off after the drain", scripts, where)
		default:
			// LiveAgent's background jobs need that line; not finding it
			// means check (and isolate --cron) look in the wrong crontab.
			c.add(Warning, "cron", "", "",
				"no active %s cron line found in %s, though LiveAgent's background jobs run from one; if they run from another user's crontab, check and isolate --cron take --crontab-command 'crontab -u www-data' (or --cron-file GLOB for a system crontab)", scripts, where)
		}
		return nil
	}
	for _, l := range f.CronLines {
		switch c.cfg.CronIsolation {
		case CronKept:
			c.add(Warning, "cron", l.Source, "set isolate.cron in the configuration, so run comments it out after the drain",
				"%s runs %s: %s; isolate.cron is not set, so it keeps running during the migration", l.Source, l.Script, l.Line)
		case CronIsolated:
			c.add(Info, "cron", l.Source, "isolate comments it out after the drain",
				"%s runs %s: %s (isolate.cron comments it out after the drain)", l.Source, l.Script, l.Line)
		default:
			c.add(Info, "cron", l.Source, byHand, "%s runs %s: %s; %s", l.Source, l.Script, l.Line, byHand)
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// install checks the installation folder: settings.php's ENCRYPTION_KEY,
// the mail pipe, custom plugins and themes, the version on disk.
func (c *checker) install(ctx context.Context) error {
	dir := c.cfg.InstallDir
	f := &c.rep.Facts
	if dir == "" {
		c.add(Info, "install_dir", "", "run check with --install-dir DIR for the file checks",
			"installation folder not given: ENCRYPTION_KEY, mail pipe, plugins, themes and the version on disk were not checked")
		return nil
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		c.add(Blocker, "install_dir", dir, "give the LiveAgent folder (the one holding accounts/settings.php)",
			"installation folder %s does not exist", dir)
		return nil
	}
	st, err := dbconn.ReadSettings(dbconn.SettingsPath(dir))
	if err != nil {
		c.add(Warning, "encryption_key", dbconn.SettingsPath(dir), "check --install-dir",
			"cannot read settings.php, so whether ENCRYPTION_KEY is set is unknown: %v", err)
	} else {
		set := st.HasEncryptionKey
		f.EncKeySet = &set
		if set {
			c.add(Info, "encryption_key", "ENCRYPTION_KEY", "hand ENCRYPTION_KEY to QU over a secure channel: the cloud needs it to read mail passwords, tokens and API keys",
				"ENCRYPTION_KEY is set in settings.php (value not shown)")
		} else {
			c.add(Warning, "encryption_key", "ENCRYPTION_KEY", "hand DB_PASSWORD to QU over a secure channel, as the encryption key the cloud must use",
				"ENCRYPTION_KEY is not set: encrypted values in the database use DB_PASSWORD as their key")
		}
	}

	pipe := filepath.Join(dir, "accounts", "mail_pipe.php")
	_, err = os.Stat(pipe)
	exists := err == nil
	f.MailPipe = &exists
	if exists {
		c.add(Info, "mail_pipe", pipe, "isolate moves it aside during the migration; the MTA's pipe must point to the cloud afterwards",
			"the mail pipe script exists: mail may be piped in by the mail server")
	} else {
		c.add(Info, "mail_pipe", pipe, "", "no mail pipe script")
	}

	f.Plugins = c.custom("plugin", filepath.Join(dir, "plugins"), c.cfg.StandardPlugins)
	f.Themes = c.custom("theme", filepath.Join(dir, "themes"), c.cfg.StandardThemes)

	f.DiskVersion = diskVersion(dir, c.cfg.VersionFiles)
	switch {
	case f.DiskVersion == "":
		c.add(Info, "version_disk", dir, "", "LiveAgent version on disk: unknown (none of the known version files found)")
	case f.LiveAgentVersion != "" && compareVersion(versionNumbers(f.DiskVersion), versionNumbers(f.LiveAgentVersion)) != 0:
		c.add(Warning, "version_disk", dir, "finish the upgrade (open LiveAgent's admin panel) before migrating",
			"LiveAgent on disk is %s but the database is at %s: an upgrade is incomplete", f.DiskVersion, f.LiveAgentVersion)
	default:
		c.add(Info, "version_disk", dir, "", "LiveAgent version on disk: %s", f.DiskVersion)
	}
	return nil
}

// custom lists the entries of dir that are not in the standard list.
func (c *checker) custom(kind, dir string, standard []string) []string {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		c.add(Info, kind+"_custom", dir, "", "no %ss folder", kind)
		return nil
	}
	if err != nil {
		c.add(Warning, kind+"_custom", dir, "check the folder's permissions", "cannot list %s: %v", dir, err)
		return nil
	}
	var out []string
	for _, e := range ents {
		if !slices.Contains(standard, e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	for _, n := range out {
		c.add(Warning, kind+"_custom", filepath.Join(dir, n),
			fmt.Sprintf("custom %ss cannot be migrated: tell QU what it does (if it is standard, add it to the standard list)", kind),
			"%s %s is not part of the standard installation", kind, n)
	}
	if len(out) == 0 {
		c.add(Info, kind+"_custom", dir, "", "no custom %ss", kind)
	}
	return out
}

var diskVersionRE = regexp.MustCompile(`(?i)version[^0-9\n]{0,40}?(\d+\.\d+\.\d+(?:\.\d+)?)`)
var bareVersionRE = regexp.MustCompile(`^\s*v?(\d+\.\d+\.\d+(?:\.\d+)?)\s*$`)

// diskVersion looks for the installed version in files: a bare version, or
// a version following the word "version". "" when none is found.
func diskVersion(dir string, files []string) string {
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		if len(b) > 1<<20 {
			b = b[:1<<20]
		}
		if m := bareVersionRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		if m := diskVersionRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// window reports whether now is inside the migration window:
// Monday–Friday 08:00–20:00 in cfg.Zone.
func (c *checker) window(ctx context.Context) error {
	loc, err := time.LoadLocation(c.cfg.Zone)
	if err != nil {
		return err
	}
	now := c.cfg.now().In(loc)
	in := InWindow(now)
	c.rep.Facts.Window = WindowFact{Zone: c.cfg.Zone, Now: now, Inside: in}
	if in {
		c.add(Info, "window", c.cfg.Zone, "", "now (%s) is inside the migration window, Monday–Friday 08:00–20:00 %s", now.Format("Mon 15:04 MST"), c.cfg.Zone)
	} else {
		c.add(Warning, "window", c.cfg.Zone, "run the migration Monday–Friday 08:00–20:00 CET, when QU's staff can help",
			"now (%s) is outside the migration window, Monday–Friday 08:00–20:00 %s", now.Format("Mon 15:04 MST"), c.cfg.Zone)
	}
	return nil
}

// InWindow reports whether t, read in its own location, falls on Monday to
// Friday between 08:00 (inclusive) and 20:00 (exclusive).
func InWindow(t time.Time) bool {
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return t.Hour() >= 8 && t.Hour() < 20
}

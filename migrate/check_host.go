package migrate

import (
	"bufio"
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
)

// CronLine is a crontab line that runs a LiveAgent job script.
type CronLine struct {
	Source string `json:"source"` // file path, or "crontab -l"
	Line   string `json:"line"`
	Script string `json:"script"` // jobs.php or queue.php
}

var cronScriptRE = regexp.MustCompile(`\b(jobs|queue)\.php\b`)

// cron finds the jobs.php/queue.php lines in the user's and the system's
// crontabs.
func (c *checker) cron(ctx context.Context) error {
	f := &c.rep.Facts
	if len(c.cfg.CrontabCommand) > 0 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(cctx, c.cfg.CrontabCommand[0], c.cfg.CrontabCommand[1:]...).Output()
		cancel()
		if err == nil {
			f.CronLines = append(f.CronLines, cronLines(strings.Join(c.cfg.CrontabCommand, " "), out)...)
		}
		// No crontab for the user (exit 1) or no crontab program: nothing
		// to report for this source.
	}
	for _, p := range c.cfg.CronPaths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		files := []string{p}
		if st.IsDir() {
			ents, err := os.ReadDir(p)
			if err != nil {
				continue
			}
			files = files[:0]
			for _, e := range ents {
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, fn := range files {
			b, err := os.ReadFile(fn)
			if err != nil {
				continue
			}
			f.CronLines = append(f.CronLines, cronLines(fn, b)...)
		}
	}
	if len(f.CronLines) == 0 {
		c.add(Warning, "cron", "", "if the jobs run from another user's crontab (crontab -l -u www-data), stop them yourself during the migration",
			"no jobs.php/queue.php cron line found in %s", strings.Join(append([]string{strings.Join(c.cfg.CrontabCommand, " ")}, c.cfg.CronPaths...), ", "))
		return nil
	}
	for _, l := range f.CronLines {
		c.add(Info, "cron", l.Source, "isolate comments it out for the migration",
			"%s runs %s: %s", l.Source, l.Script, l.Line)
	}
	return nil
}

func cronLines(source string, b []byte) []CronLine {
	var out []CronLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if m := cronScriptRE.FindString(line); m != "" {
			out = append(out, CronLine{Source: source, Line: line, Script: m})
		}
	}
	return out
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
	c.rep.Facts.Window = MigrationWindowFac{Zone: c.cfg.Zone, Now: now, Inside: in}
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

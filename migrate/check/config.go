package check

import (
	"errors"
	"fmt"
	"time"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/isolate"
)

// Throughput assumptions of the downtime estimate, measured on the
// development machine (2 cores, Debian 12, MariaDB 10.11, local socket) with
// the ~1 GB LiveAgent-like benchmark database by bench/check.sh: the
// documented mysqldump piped to pigz -6 wrote 898 MB of SQL in 15.5 s
// (57.8 MB/s); the stock mariadb client loaded it in 19.3 s (46.5 MB/s).
// They are stated in every report's downtime assumptions, and a Config
// can replace them with figures measured on the real server.
const (
	// DefaultDumpMBps is how fast the dump produces the uncompressed SQL
	// stream (MB/s, gzip level 6 included).
	DefaultDumpMBps = 57.0
	// DefaultImportMBps is how fast an import consumes the uncompressed SQL
	// stream (MB/s, InnoDB).
	DefaultImportMBps = 46.0
	// DefaultLinkMbps is the assumed upload speed to the cloud (Mbit/s).
	DefaultLinkMbps = 100.0
	// DefaultVerifyMBps is how fast the cutover's verify reads the whole
	// cloud database (MB/s of the SQL stream): a conservative round
	// figure, not a measurement, the one migrate's dry run assumes for its
	// verify-db step.
	DefaultVerifyMBps = 80.0
)

// Compression factors used for tables check does not sample: archive bytes
// per byte of table data. Text and index-free rows compress to about a third
// with gzip; BLOB-heavy tables (attachments, mostly already compressed
// files) are written as hex, which gzip brings back to about their size.
const (
	TextArchiveRatio = 0.35
	BlobArchiveRatio = 1.0
)

// StandardPlugins and StandardThemes are the folder names under plugins/
// and themes/ that a standard LiveAgent installation ships. LiveAgent's
// sources are not public, so these lists are a best guess: anything else is
// reported as custom, and a Config can replace them.
var (
	StandardPlugins = []string{"Bootstrap", "Core", "Gpf", "La", "Default", "index.php", ".htaccess"}
	StandardThemes  = []string{"Default", "default", "LiveAgent", "liveagent", "_common_templates", "index.php", ".htaccess"}
)

// DefaultVersionFiles are the places, relative to the installation folder,
// where check looks for the installed LiveAgent version. The real location
// is unknown; the first file that holds something like 5.55.1.2 next to the
// word "version" wins.
var DefaultVersionFiles = []string{
	"VERSION", "version.txt", "version.php",
	"include/La/Version.php", "include/Gpf/Version.php", "include/version.php",
	"scripts/version.php", "install/version.txt", "accounts/version.php",
}

// MigrationZone is the time zone of the migration window (CET/CEST).
const MigrationZone = "Europe/Bratislava"

// Config configures Run. It is plain data; zero values mean the
// defaults.
type Config struct {
	// InstallDir is the LiveAgent installation folder (optional): enables
	// the settings.php, mail pipe, plugins, themes and disk version checks.
	InstallDir string `json:"install_dir,omitempty"`
	// OutDir is where the dump will be written: its free space is compared
	// with the estimated archive size. Empty skips that check.
	OutDir string `json:"out_dir,omitempty"`
	// Stream says the dump goes straight to the transfer server (a
	// streaming run, lamigrate dump -o sftp://...): OutDir then needs only
	// StreamDiskBytes (the journal, reports and state file), not room for
	// the archive.
	Stream bool `json:"stream,omitempty"`
	// LinkMbps is the upload speed for the transfer estimate (Mbit/s).
	LinkMbps float64 `json:"link_mbps,omitempty"`
	// DumpMBps, ImportMBps and VerifyMBps replace the throughput
	// assumptions.
	DumpMBps   float64 `json:"dump_mbps,omitempty"`
	ImportMBps float64 `json:"import_mbps,omitempty"`
	VerifyMBps float64 `json:"verify_mbps,omitempty"`
	// CopiesDir is the output folder of a migration in phases, where the
	// pre-copies' manifests are (ARCHIVE.copy-N…manifest.json, see
	// FindCopies): with two copies or more, the downtime section also
	// estimates the cutover from the change rate they measured (see
	// EstimateCutover), as of Now. Empty: OutDir, which in a run is that
	// folder.
	CopiesDir string `json:"copies_dir,omitempty"`
	// ProfilePath is an isolate profile file; empty = the default profile.
	ProfilePath string `json:"profile,omitempty"`
	// Ignore is the dump's ignore list; nil = dump.DefaultIgnores.
	Ignore []string `json:"ignore,omitempty"`
	// SampleBytes is how much of each large table is read and compressed
	// to measure its compression ratio (0 = 4 MiB; -1 = never sample, use
	// TextArchiveRatio/BlobArchiveRatio). SampleTables bounds how many of
	// the largest tables are sampled (0 = 16).
	SampleBytes  int64 `json:"sample_bytes,omitempty"`
	SampleTables int   `json:"sample_tables,omitempty"`
	// LengthBytes bounds what the server reads of each sampled table to
	// measure its rows' mean length without sending them (0 = 64 MiB; -1
	// = never, the sample's rows alone): a table up to this size is
	// measured whole, a larger one this much of it, from the places the
	// sample reads.
	LengthBytes int64 `json:"length_bytes,omitempty"`
	// ScanBytes: tables with BLOB/TEXT columns up to this data size get an
	// exact MAX(row length) query for the max_allowed_packet check
	// (0 = 256 MiB; -1 = never).
	ScanBytes int64 `json:"scan_bytes,omitempty"`
	// HexBlob: the dump writes binary values as 0x... (dump.Config.HexBlob),
	// which doubles them before compression.
	HexBlob bool `json:"hex_blob,omitempty"`
	// StripDefiners: the import (or the dump) will strip the DEFINERs of
	// views, triggers, routines and events (import.strip_definers in a
	// run), so they are information instead of a warning.
	StripDefiners bool `json:"strip_definers,omitempty"`
	// Cron is where isolate will look for the jobs.php/queue.php cron
	// lines: the user crontab (listed with Cron.Command plus -l) and the
	// system crontab files or globs of Cron.Files, read the way isolate
	// reads them. nil = the user crontab ("crontab -l") and
	// isolate.DefaultCronFiles.
	Cron *isolate.CronOptions `json:"cron,omitempty"`
	// CronIsolation says whether the migration comments those lines out,
	// which decides how much a line found, or none, matters; see the
	// CronIsolation constants.
	CronIsolation CronIsolation `json:"cron_isolation,omitempty"`
	// CrontabCommand, when non-nil, replaces how the user crontab is
	// listed (the whole command, e.g. ["crontab", "-l"]); an empty non-nil
	// list does not read the user crontab at all.
	CrontabCommand []string `json:"crontab_command,omitempty"`
	// StandardPlugins, StandardThemes, VersionFiles replace the defaults.
	StandardPlugins []string `json:"standard_plugins,omitempty"`
	StandardThemes  []string `json:"standard_themes,omitempty"`
	VersionFiles    []string `json:"version_files,omitempty"`
	// Zone is the migration window's time zone (default MigrationZone).
	Zone string `json:"zone,omitempty"`
	// Now is the clock (nil = time.Now); for tests.
	Now func() time.Time `json:"-"`
}

func (c Config) withDefaults() Config {
	if c.LinkMbps == 0 {
		c.LinkMbps = DefaultLinkMbps
	}
	if c.DumpMBps == 0 {
		c.DumpMBps = DefaultDumpMBps
	}
	if c.ImportMBps == 0 {
		c.ImportMBps = DefaultImportMBps
	}
	if c.VerifyMBps == 0 {
		c.VerifyMBps = DefaultVerifyMBps
	}
	if c.CopiesDir == "" {
		c.CopiesDir = c.OutDir
	}
	if c.Ignore == nil {
		c.Ignore = dump.DefaultIgnores()
	}
	if c.SampleBytes == 0 {
		c.SampleBytes = 4 << 20
	}
	if c.LengthBytes == 0 {
		c.LengthBytes = 64 << 20
	}
	if c.SampleTables == 0 {
		c.SampleTables = 16
	}
	if c.ScanBytes == 0 {
		c.ScanBytes = 256 << 20
	}
	if c.StandardPlugins == nil {
		c.StandardPlugins = StandardPlugins
	}
	if c.StandardThemes == nil {
		c.StandardThemes = StandardThemes
	}
	if c.VersionFiles == nil {
		c.VersionFiles = DefaultVersionFiles
	}
	if c.Zone == "" {
		c.Zone = MigrationZone
	}
	return c
}

// CronIsolation is whether the migration comments the cron lines out.
type CronIsolation string

const (
	// CronByHand (the zero value): nobody said; the lines found, or that
	// none were, are information with the isolate --cron hint (the
	// lamigrate check command).
	CronByHand CronIsolation = ""
	// CronIsolated: the migration comments the lines out (run with
	// isolate.cron); finding none, or failing to read a crontab isolate
	// will edit, is a warning.
	CronIsolated CronIsolation = "isolated"
	// CronKept: the migration leaves cron alone (run without
	// isolate.cron); a line found is a warning, since its jobs keep
	// running.
	CronKept CronIsolation = "kept"
)

// Validate reports a configuration check cannot work with.
func (c Config) Validate() error {
	var errs []error
	if c.LinkMbps < 0 {
		errs = append(errs, fmt.Errorf("link speed %g Mbit/s is negative", c.LinkMbps))
	}
	if c.DumpMBps < 0 || c.ImportMBps < 0 || c.VerifyMBps < 0 {
		errs = append(errs, fmt.Errorf("throughput must not be negative"))
	}
	switch c.CronIsolation {
	case CronByHand, CronIsolated, CronKept:
	default:
		errs = append(errs, fmt.Errorf("cron isolation %q is not one of %q, %q or empty", c.CronIsolation, CronIsolated, CronKept))
	}
	if c.Zone != "" {
		if _, err := time.LoadLocation(c.Zone); err != nil {
			errs = append(errs, fmt.Errorf("time zone %q: %v", c.Zone, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("migrate: check configuration: %w", err)
	}
	return nil
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

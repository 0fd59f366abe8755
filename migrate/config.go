package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/strictjson"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/transfer"
)

// Side says which half of the migration a plan runs.
type Side string

const (
	// SourceSide runs on the customer's server: check → isolate → drain →
	// cron → dump → verify → push (the article's order: sources and web
	// server off, background jobs drained, then the jobs.php cron off).
	SourceSide Side = "source"
	// CloudSide runs in the cloud: pull → verify → import → verify-db →
	// adjust → restore.
	CloudSide Side = "cloud"
)

// Defaults of a Config.
const (
	DefaultArchive         = "dump.sql.gz"
	DefaultStateFile       = "isolate-state.json"
	DefaultDrainTimeout    = 30 * time.Minute
	DefaultDrainInterval   = 5 * time.Second
	DefaultRollbackTimeout = 10 * time.Minute
	DefaultPasswordEnv     = "MYSQL_PWD"
	DefaultStall           = 2 * time.Minute
)

// Config is a whole side of a migration as plain data: what `lamigrate run
// --config FILE` reads, and what the journal records. Zero values mean the
// defaults (see WithDefaults). It holds no secret: passwords and passphrases
// are named by the environment variable that holds them.
type Config struct {
	// Side is "source" or "cloud".
	Side Side `json:"side"`
	// Connection is the database: the LiveAgent database on the source
	// side, the new account's (empty) database on the cloud side.
	Connection Connection `json:"connection"`
	// OutputDir holds the archive, its manifest, the isolation state file,
	// check's report and the run's journal. Created when missing.
	OutputDir string `json:"output_dir"`
	// Archive is the dump's file name inside OutputDir (default
	// dump.sql.gz); its extension chooses the compression unless
	// Dump.Compress says otherwise.
	Archive string `json:"archive,omitempty"`
	// Profile is an isolate profile file (empty: the built-in LiveAgent
	// profile).
	Profile string `json:"profile,omitempty"`
	// Transfer is where push sends the archive (source side) or where pull
	// fetches it from (cloud side).
	Transfer TransferOptions `json:"transfer"`
	// Stream runs the side in streaming mode (StreamingSteps): the source
	// dumps straight into Transfer.URL's folder (no archive in OutputDir),
	// and the cloud side imports the archive from that folder while it is
	// still written. On the cloud side Transfer.URL must then be a local
	// folder: the SFTP server's dropbox, where the source writes it.
	Stream bool `json:"stream,omitempty"`
	// Phase splits the migration in two (see doc.go, "Pre-copy and
	// cutover"). PhasePreCopy copies the database while the help desk
	// stays live, as often as wanted, each copy after the first a delta
	// since the one before; PhaseCutover then carries only what changed
	// since the last copy, with the help desk switched off. Empty: one
	// whole migration (StandardSteps).
	Phase string `json:"phase,omitempty"`
	// Copy is the pre-copy's number (1: the full base, then deltas); 0:
	// the run takes the next one (or, for the cutover, the last finished
	// one). Its journal and archive carry the number.
	Copy int `json:"copy,omitempty"`

	Check   CheckOptions   `json:"check"`
	Isolate IsolateOptions `json:"isolate"`
	Drain   DrainOptions   `json:"drain"`
	Dump    DumpOptions    `json:"dump"`
	Import  ImportOptions  `json:"import"`
	Adjust  AdjustOptions  `json:"adjust"`
	Restore RestoreOptions `json:"restore"`

	// Skip names steps not to run (for example ["check"]). A skipped step
	// is recorded as skipped in the journal.
	Skip []string `json:"skip,omitempty"`
	// RollbackTimeout bounds the restore that runs after a failure
	// (default 10m). It runs even after Ctrl-C.
	RollbackTimeout Duration `json:"rollback_timeout,omitempty"`
}

// Connection names the database and where its credentials come from, the
// way every lamigrate verb finds them (see internal/dbconn): a
// go-sql-driver DSN without a password, a my.cnf, LiveAgent's
// accounts/settings.php, and the password's environment variable.
type Connection struct {
	// DSN is a go-sql-driver DSN such as
	// "migrator@unix(/run/mysqld/mysqld.sock)/liveagent". It must not hold
	// a password.
	DSN string `json:"dsn,omitempty"`
	// DSNEnv names an environment variable holding the DSN instead (it may
	// hold a password, since it is not in the file).
	DSNEnv string `json:"dsn_env,omitempty"`
	// DefaultsFile is the only option file read (its [client],
	// [client-server] and [client-mariadb] groups), as the mysql client's
	// --defaults-file. Without it the client's default files are read
	// (/etc/my.cnf, /etc/mysql/my.cnf, ~/.my.cnf), plus DefaultsExtraFile,
	// unless NoDefaults.
	DefaultsFile      string `json:"defaults_file,omitempty"`
	DefaultsExtraFile string `json:"defaults_extra_file,omitempty"`
	NoDefaults        bool   `json:"no_defaults,omitempty"`
	// InstallDir is the LiveAgent installation (accounts/settings.php);
	// on the source side it also enables the mail pipe, cron and install
	// checks.
	InstallDir string `json:"install_dir,omitempty"`
	// PasswordEnv names the environment variable holding the password when
	// no other source sets one (default MYSQL_PWD).
	PasswordEnv string `json:"password_env,omitempty"`
}

// TransferOptions say where the archive travels.
type TransferOptions struct {
	// URL is a folder: sftp://USER@HOST[:PORT]/DIR/ or a local path. The
	// source side pushes into it, the cloud side pulls Archive (its
	// manifest and the isolation state file) from it. Empty: push and pull
	// are skipped (the archive is carried some other way).
	URL string `json:"url,omitempty"`
	// Identity is an SSH private key file; its passphrase comes from the
	// environment variable PassphraseEnv.
	Identity      string `json:"identity,omitempty"`
	PassphraseEnv string `json:"passphrase_env,omitempty"`
	// PasswordEnv names the environment variable holding an SSH password.
	PasswordEnv string `json:"password_env,omitempty"`
	// KnownHosts is the known_hosts file (default ~/.ssh/known_hosts).
	KnownHosts string `json:"known_hosts,omitempty"`
	// AcceptNewHostKey trusts a server KnownHosts does not list yet and
	// records its key there (trust on first use). A changed key is always
	// refused.
	AcceptNewHostKey bool `json:"accept_new_host_key,omitempty"`
	// Mkdir creates the destination folder when it does not exist (source
	// side's push); without it a missing folder fails the push, naming it.
	Mkdir bool `json:"mkdir,omitempty"`
}

// CheckOptions configure the source side's check step.
type CheckOptions struct {
	// AllowBlockers lets the run continue when check reports blockers
	// (they are still listed in the report).
	AllowBlockers bool `json:"allow_blockers,omitempty"`
	// LinkMbps is the upload speed for the downtime estimate.
	LinkMbps float64 `json:"link_mbps,omitempty"`
}

// IsolateOptions configure isolate (source side).
type IsolateOptions struct {
	// StateFile records every original value (default isolate-state.json
	// in OutputDir). It travels with the archive.
	StateFile string `json:"state_file,omitempty"`
	// StayIsolatedOnFailure keeps the sources deactivated when a later
	// step fails; by default they are restored.
	StayIsolatedOnFailure bool `json:"stay_isolated_on_failure,omitempty"`
	// Cron, when set, comments out the jobs.php/queue.php cron lines of
	// the user's crontab and the system crontabs it names, in the cron
	// step after drain (the background jobs run from them). {} means what
	// lamigrate isolate --cron means: the crontab of the user running
	// lamigrate ("user" defaults to true; "command": ["crontab", "-u",
	// "www-data"] names another user's) and /etc/crontab and /etc/cron.d/*
	// ("files"; [] for none).
	Cron *isolate.CronOptions `json:"cron,omitempty"`
	// WebServer, when set, stops the web server during the migration
	// (explicit commands, or the detected apache2/nginx/php-fpm).
	WebServer *isolate.WebServerOptions `json:"web_server,omitempty"`
	// AlreadyIsolatedOK isolates into a new state file even when the
	// installation already looks isolated (another state file of the same
	// database in OutputDir not restored yet, or cron lines lamigrate
	// commented out). By default the isolate step refuses: the new file
	// would record the isolated values as the originals.
	AlreadyIsolatedOK bool `json:"already_isolated_ok,omitempty"`
}

// DrainOptions configure the wait for background jobs (the drain step, and
// the cron step when jobs were queued after it).
type DrainOptions struct {
	Timeout  Duration `json:"timeout,omitempty"`
	Interval Duration `json:"interval,omitempty"`
}

// DumpOptions configure the dump.
type DumpOptions struct {
	// Compress is gzip, zstd, lz4 or none (empty: from Archive's extension).
	Compress string `json:"compress,omitempty"`
	Level    int    `json:"level,omitempty"`
	// Ignore adds tables to skip; NoDefaultIgnores drops the 20 default
	// ones; Keep dumps some of them after all.
	Ignore           []string `json:"ignore,omitempty"`
	NoDefaultIgnores bool     `json:"no_default_ignores,omitempty"`
	Keep             []string `json:"keep,omitempty"`
	// StripDefiners writes views, triggers, routines and events without
	// their DEFINER, so the cloud side needs no SUPER / SET USER to load
	// them.
	StripDefiners bool `json:"strip_definers,omitempty"`
	// PassphraseEnv names the environment variable holding the archive's
	// passphrase (needed when Archive ends in .age).
	PassphraseEnv string `json:"passphrase_env,omitempty"`
}

// ImportOptions configure the cloud side's import.
type ImportOptions struct {
	// Threads is the number of parallel connections (0: CPUs).
	Threads int `json:"threads,omitempty"`
	// StripDefiners creates views, triggers, routines and events with the
	// importing user as their definer (no SUPER / SET USER needed).
	StripDefiners bool `json:"strip_definers,omitempty"`
	// Force loads into a database that already holds tables, replacing
	// each table (and view, routine, trigger) the archive creates, as
	// lamigrate import --force. Set it to reload after a streaming dump
	// started over (the follow-import step says when).
	Force bool `json:"force,omitempty"`
	// Stall (stream mode) is how long the follow-import waits for the
	// archive to grow, or to appear when the source's dump has not started
	// yet, before it decides the dump gave up (default 2m).
	Stall Duration `json:"stall,omitempty"`
}

// AdjustOptions configure the cloud side's adjust step.
type AdjustOptions struct {
	// Rules is the reviewed rules file; empty skips the step.
	Rules string `json:"rules,omitempty"`
	// Params are the values of the rules' ${name} parameters.
	Params map[string]string `json:"params,omitempty"`
}

// RestoreOptions configure the cloud side's final restore of the sources.
// It restores the database rows only: the cron lines, files and services
// the state file also records belong to the source server.
type RestoreOptions struct {
	// StateFile is the source side's isolation state file. Empty: the one
	// pulled with the archive (OutputDir/isolate-state.json).
	StateFile string `json:"state_file,omitempty"`
}

// Duration is a time.Duration written in JSON as "30m", "5s"; a bare number
// is read as seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "30m", "1h30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a number and a unit such as 90s, 30m, 1h", s)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string such as \"30m\" or a number of seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// LoadConfig reads a config file (JSON). Unknown fields are errors so a
// misspelled option is not silently ignored. Relative paths in the file are
// taken relative to the file's folder. The result is validated.
func LoadConfig(path string) (Config, error) {
	c, err := strictjson.ReadFile(path, "migrate: config", ParseConfig)
	if err != nil {
		return Config{}, err
	}
	c = c.resolvePaths(filepath.Dir(path))
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// ParseConfig decodes a config without validating it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := strictjson.Unmarshal(b, &c, "config"); err != nil {
		return Config{}, fmt.Errorf("migrate: config is not valid JSON: %w", err)
	}
	return c, nil
}

// resolvePaths makes the file paths of c absolute, relative to dir.
func (c Config) resolvePaths(dir string) Config {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && !strings.Contains(*p, "://") {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.OutputDir)
	abs(&c.Profile)
	abs(&c.Connection.DefaultsFile)
	abs(&c.Connection.DefaultsExtraFile)
	abs(&c.Connection.InstallDir)
	abs(&c.Transfer.Identity)
	abs(&c.Transfer.KnownHosts)
	abs(&c.Adjust.Rules)
	abs(&c.Restore.StateFile)
	if loc, err := transfer.ParseTarget(c.Transfer.URL); c.Transfer.URL != "" && err == nil && loc == nil {
		abs(&c.Transfer.URL) // a local folder; Validate reports scp-style and other schemes
	}
	if c.Isolate.StateFile != "" && strings.ContainsRune(c.Isolate.StateFile, filepath.Separator) {
		abs(&c.Isolate.StateFile)
	}
	return c
}

// WithDefaults returns c with every zero value replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Archive == "" {
		c.Archive = DefaultArchive
	}
	if c.Connection.PasswordEnv == "" {
		c.Connection.PasswordEnv = DefaultPasswordEnv
	}
	if c.Isolate.StateFile == "" {
		c.Isolate.StateFile = DefaultStateFile
	}
	if c.Drain.Timeout == 0 {
		c.Drain.Timeout = Duration(DefaultDrainTimeout)
	}
	if c.Drain.Interval == 0 {
		c.Drain.Interval = Duration(DefaultDrainInterval)
	}
	if c.RollbackTimeout == 0 {
		c.RollbackTimeout = Duration(DefaultRollbackTimeout)
	}
	if c.Import.Stall == 0 {
		c.Import.Stall = Duration(DefaultStall)
	}
	return c
}

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Side {
	case SourceSide, CloudSide:
	case "":
		bad(`side is missing: say "source" or "cloud"`)
	default:
		bad(`side %q: want "source" or "cloud"`, c.Side)
	}
	if c.OutputDir == "" {
		bad("output_dir is missing")
	}
	if c.Archive != "" && (strings.ContainsAny(c.Archive, `/\`) || c.Archive == "." || c.Archive == "..") {
		bad("archive %q must be a file name, not a path (it lives in output_dir)", c.Archive)
	}
	conn := c.Connection
	if conn.DSN == "" && conn.DSNEnv == "" && conn.DefaultsFile == "" && conn.DefaultsExtraFile == "" && conn.InstallDir == "" {
		bad("connection: give dsn, dsn_env, defaults_file, defaults_extra_file or install_dir")
	}
	if conn.DSN != "" {
		d, err := mysql.ParseDSN(conn.DSN)
		switch {
		case err != nil:
			bad("connection.dsn is not a go-sql-driver DSN (want user@unix(/run/mysqld/mysqld.sock)/db): %v", err)
		case d.Passwd != "":
			bad("connection.dsn holds a password: remove it and name the environment variable that holds it in connection.password_env (default MYSQL_PWD)")
		}
	}
	for _, e := range []struct{ field, v string }{
		{"connection.dsn_env", conn.DSNEnv}, {"connection.password_env", conn.PasswordEnv},
		{"transfer.passphrase_env", c.Transfer.PassphraseEnv}, {"transfer.password_env", c.Transfer.PasswordEnv},
		{"dump.passphrase_env", c.Dump.PassphraseEnv},
	} {
		if e.v != "" && !validEnvName(e.v) {
			bad("%s %q is not an environment variable name (it must name the variable, never hold the secret)", e.field, e.v)
		}
	}
	if u := c.Transfer.URL; u != "" {
		if pu, err := url.Parse(u); err == nil && pu.Scheme == "sftp" && pu.User != nil {
			if _, has := pu.User.Password(); has {
				bad("transfer.url holds a password: remove it and name its environment variable in transfer.password_env")
			}
		}
		if loc, err := transfer.ParseTarget(u); err != nil {
			bad("transfer.url: %s", strings.TrimPrefix(err.Error(), "transfer: "))
		} else if loc != nil && !loc.IsDir() {
			bad("transfer.url %q must name a folder (end it with /): the archive keeps its name (archive) inside it", u)
		}
	}
	switch c.Dump.Compress {
	case "", "gzip", "zstd", "lz4", "none":
	default:
		bad("dump.compress %q: want gzip, zstd, lz4 or none", c.Dump.Compress)
	}
	if c.Dump.Level < 0 {
		bad("dump.level %d is negative", c.Dump.Level)
	}
	switch c.Phase {
	case "", PhasePreCopy, PhaseCutover:
	default:
		bad(`phase %q: want "pre-copy", "cutover" or none`, c.Phase)
	}
	if c.Phase != "" && c.Stream {
		bad("phase %q and stream: a pre-copy and its cutover move an archive each; stream mode is the one-step alternative to them, so choose one", c.Phase)
	}
	if c.Copy < 0 {
		bad("copy %d is negative", c.Copy)
	}
	if c.Stream {
		loc, err := transfer.ParseTarget(c.Transfer.URL)
		switch {
		case c.Transfer.URL == "":
			bad("stream: transfer.url is missing: in stream mode the source side dumps into that folder and the cloud side imports from it")
		case err == nil && loc != nil && c.Side == CloudSide:
			bad("stream: transfer.url %q is an sftp:// URL: in stream mode the cloud side follows the archive in a local folder, the SFTP server's dropbox where the source side writes it; run the cloud side on that machine and give the folder's local path, or leave stream off to pull the finished archive", c.Transfer.URL)
		}
	}
	if c.Drain.Timeout < 0 || c.Drain.Interval < 0 || c.RollbackTimeout < 0 || c.Import.Stall < 0 {
		bad("durations must not be negative")
	}
	if c.Import.Threads < 0 {
		bad("import.threads %d is negative", c.Import.Threads)
	}
	if c.Check.LinkMbps < 0 {
		bad("check.link_mbps %g is negative", c.Check.LinkMbps)
	}
	if c.Isolate.StateFile != "" && c.Isolate.StateFile != filepath.Base(c.Isolate.StateFile) && !filepath.IsAbs(c.Isolate.StateFile) {
		bad("isolate.state_file %q: give a file name (kept in output_dir) or an absolute path", c.Isolate.StateFile)
	}
	if c.Side != "" {
		names := c.stepNames()
		known := map[string]bool{}
		for _, n := range names {
			known[n] = true
		}
		mode := ""
		if c.Stream {
			mode = " in stream mode"
		}
		for _, s := range c.Skip {
			if !known[s] {
				bad("skip: %q is not a step of the %s side%s (%s)", s, c.Side, mode, strings.Join(names, ", "))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("migrate: config: %w", err)
	}
	return nil
}

func validEnvName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// StepNames lists the standard steps of a side in order (the names of
// StandardSteps).
func StepNames(side Side) []string {
	var names []string
	for _, st := range StandardSteps(side) {
		names = append(names, st.Name)
	}
	return names
}

// stepNames lists the steps of c's side in c's mode.
func (c Config) stepNames() []string {
	var names []string
	for _, st := range c.steps() {
		names = append(names, st.Name)
	}
	return names
}

// steps are the standard steps of c's side in c's mode.
func (c Config) steps() []Step {
	switch {
	case c.Stream:
		return StreamingSteps(c.Side)
	case c.Phase == PhasePreCopy:
		return PreCopySteps(c.Side)
	}
	return StandardSteps(c.Side)
}

// Phases (Config.Phase).
const (
	PhasePreCopy = "pre-copy"
	PhaseCutover = "cutover"
)

// splitArchive cuts an archive name before its ".sql" (or last)
// extension: dump.sql.zst → dump, .sql.zst.
func splitArchive(name string) (stem, ext string) {
	if i := strings.Index(name, ".sql"); i > 0 {
		return name[:i], name[i:]
	}
	ext = filepath.Ext(name)
	return strings.TrimSuffix(name, ext), ext
}

// CopyArchive is the archive name of pre-copy n: ARCHIVE with ".copy-N"
// before its extension (dump.copy-1.sql.zst).
func (c Config) CopyArchive(n int) string {
	stem, ext := splitArchive(c.WithDefaults().Archive)
	return stem + ".copy-" + strconv.Itoa(n) + ext
}

// archiveName is the archive this run writes or reads: Archive, or in a
// phase the copy's (CopyArchive) or the cutover's (dump.cutover.sql.zst).
func (c Config) archiveName() string {
	switch c.Phase {
	case PhasePreCopy:
		return c.CopyArchive(c.Copy)
	case PhaseCutover:
		stem, ext := splitArchive(c.WithDefaults().Archive)
		return stem + ".cutover" + ext
	}
	return c.WithDefaults().Archive
}

// Names of the standard steps.
const (
	StepCheck    = "check"
	StepIsolate  = "isolate"
	StepDrain    = "drain"
	StepDump     = "dump"
	StepVerify   = "verify"
	StepPush     = "push"
	StepPull     = "pull"
	StepImport   = "import"
	StepVerifyDB = "verify-db"
	StepAdjust   = "adjust"
	StepRestore  = "restore"
	// Streaming mode's steps (StreamingSteps).
	StepDumpToTransfer = "dump-to-transfer"
	StepFollowImport   = "follow-import"
)

// ArchivePath is the archive's path in the output folder; on the cloud
// side in stream mode, its path in Transfer.URL's local folder, where the
// source side writes it.
func (c Config) ArchivePath() string {
	if c.Stream && c.Side == CloudSide && c.Transfer.URL != "" {
		return filepath.Join(c.Transfer.URL, c.WithDefaults().Archive)
	}
	return filepath.Join(c.OutputDir, c.archiveName())
}

// StatePath is the isolation state file: the source side's own, or on the
// cloud side the one Restore.StateFile names or the pulled one.
func (c Config) StatePath() string {
	d := c.WithDefaults()
	if c.Side == CloudSide && c.Restore.StateFile != "" {
		return c.Restore.StateFile
	}
	if filepath.IsAbs(d.Isolate.StateFile) {
		return d.Isolate.StateFile
	}
	return filepath.Join(c.OutputDir, d.Isolate.StateFile)
}

package check

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/qualityunit/lamigrate/isolate"
)

// Severity ranks a finding. Its JSON form is the lower-case word.
type Severity string

const (
	// Info is a fact worth knowing; nothing to do.
	Info Severity = "info"
	// Warning needs a person's decision before migrating, but does not stop it.
	Warning Severity = "warning"
	// Blocker must be fixed before the migration can succeed.
	Blocker Severity = "blocker"
)

func (s Severity) rank() int {
	switch s {
	case Blocker:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// Finding is one observation of check.
type Finding struct {
	Severity Severity `json:"severity"`
	// Code names the kind of finding, stable across versions; see Codes.
	Code string `json:"code"`
	// Subject is the table, file, source or setting the finding is about,
	// when there is one.
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
	// Action says what to do; empty for plain information.
	Action string `json:"action,omitempty"`
}

// Codes lists every finding code Run emits and what it is about. A code
// may appear with different severities (engine_not_innodb is a blocker for a
// LiveAgent table, a warning for a foreign one, info for an ignored one).
var Codes = map[string]string{
	"server":              "server flavour and version",
	"server_old":          "server older than MariaDB 10.3 / MySQL 5.7",
	"time_zone":           "server and system time zone",
	"version":             "LiveAgent version from qu_g_versions",
	"version_unknown":     "qu_g_versions has no finished row",
	"not_liveagent":       "no usable qu_g_versions: wrong database",
	"charset":             "database and table charsets/collations",
	"engine_not_innodb":   "table outside the consistent snapshot",
	"table_not_liveagent": "table without the qu_ prefix",
	"table_backup":        "qu_ table named like a leftover copy",
	"view_reads_ignored":  "view over a table the dump leaves out",
	"routines":            "stored procedures, functions and events the dump carries",
	"routines_hidden":     "the user cannot see other users' routines (the dump would leave them out)",
	"routine_unreadable":  "routine whose body SHOW CREATE hides from the user (the dump fails)",
	"events_hidden":       "no EVENT privilege: events invisible (the dump would leave them out)",
	"event_enabled":       "enabled event: runs on the cloud database once loaded",
	"definers":            "DEFINERs of views, triggers, routines and events (SUPER / SET USER or --strip-definers)",
	"size":                "database size and estimated dump size",
	"disk_space":          "free space in the output folder vs the estimate",
	"downtime":            "estimated downtime (dump + transfer + import)",
	"downtime_cutover":    "estimated downtime of the cutover after the pre-copies in the output folder, from the change rate they measured",
	"max_allowed_packet":  "packet limit vs the largest row",
	"source":              "profile source found, with its active rows",
	"source_missing":      "profile source whose table or column is missing",
	"source_condition":    "profile source whose condition the server rejects",
	"source_lookalike":    "table that looks like a source but is not in the profile",
	"jobs_pending":        "background jobs not finished",
	"jobs_unknown":        "no qu_g_queued_jobs table",
	"cron":                "jobs.php/queue.php cron lines where isolate looks (or none found, or a crontab not readable)",
	"install_dir":         "installation folder missing or not given",
	"encryption_key":      "whether settings.php sets ENCRYPTION_KEY (never its value)",
	"mail_pipe":           "whether accounts/mail_pipe.php exists",
	"plugin_custom":       "plugin not in the standard list",
	"theme_custom":        "theme not in the standard list",
	"version_disk":        "LiveAgent version on disk vs the database",
	"privileges":          "the user has every privilege needed",
	"privilege_missing":   "a privilege the dump or isolate needs is missing",
	"window":              "now inside or outside the migration window",
}

// Report is check's result: what it found and the facts it measured.
type Report struct {
	Time     time.Time `json:"time"`
	Worst    Severity  `json:"worst"`
	Blockers int       `json:"blockers"`
	Warnings int       `json:"warnings"`
	Infos    int       `json:"infos"`
	Findings []Finding `json:"findings"`
	Facts    Facts     `json:"facts"`
}

// Facts are the measured values behind the findings.
type Facts struct {
	Database         string `json:"database"`
	LiveAgentVersion string `json:"liveagent_version,omitempty"`
	DiskVersion      string `json:"disk_version,omitempty"`
	ServerFlavour    string `json:"server_flavour"`
	ServerVersion    string `json:"server_version"`
	VersionComment   string `json:"version_comment,omitempty"`
	TimeZone         string `json:"time_zone"`
	SystemTimeZone   string `json:"system_time_zone"`
	Charset          string `json:"charset"`
	Collation        string `json:"collation"`
	// TableCollations counts base tables per collation.
	TableCollations  map[string]int `json:"table_collations"`
	MaxAllowedPacket int64          `json:"max_allowed_packet"`
	// LargestRow is the largest row in bytes that check measured or
	// estimated (0 = unknown).
	LargestRow      int64       `json:"largest_row"`
	LargestRowTable string      `json:"largest_row_table,omitempty"`
	Tables          []TableFact `json:"tables"`
	Views           []string    `json:"views"`
	Triggers        int         `json:"triggers"`
	// Procedures, Functions and Events count the stored routines and
	// events this user can see; RoutinesHidden and EventsHidden say when
	// the server hides some (or all) of them.
	Procedures     int  `json:"procedures"`
	Functions      int  `json:"functions"`
	Events         int  `json:"events"`
	RoutinesHidden bool `json:"routines_hidden,omitempty"`
	EventsHidden   bool `json:"events_hidden,omitempty"`
	// EnabledEvents names the events with STATUS ENABLED.
	EnabledEvents []string `json:"enabled_events,omitempty"`
	// UnreadableRoutines lists the routines whose body SHOW CREATE hides
	// ("function `f`").
	UnreadableRoutines []string `json:"unreadable_routines,omitempty"`
	// Definers lists the distinct DEFINERs of the views, triggers,
	// routines and events, by name.
	Definers []DefinerFact `json:"definers,omitempty"`
	Size     SizeEstimate  `json:"size"`
	// FreeBytes is the free space in OutDir, or in its nearest existing
	// parent when OutDir is still to be created (-1 when not checked).
	FreeBytes   int64            `json:"free_bytes"`
	Downtime    DowntimeEstimate `json:"downtime"`
	Sources     []SourceFact     `json:"sources"`
	PendingJobs int64            `json:"pending_jobs"`
	CronLines   []CronLine       `json:"cron_lines"`
	MailPipe    *bool            `json:"mail_pipe,omitempty"`
	EncKeySet   *bool            `json:"encryption_key_set,omitempty"`
	Plugins     []string         `json:"custom_plugins,omitempty"`
	Themes      []string         `json:"custom_themes,omitempty"`
	Privileges  map[string]bool  `json:"privileges"`
	Window      WindowFact       `json:"window"`
}

// TableFact describes one table as information_schema reports it.
type TableFact struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // BASE TABLE, VIEW, SEQUENCE
	Engine    string `json:"engine,omitempty"`
	Collation string `json:"collation,omitempty"`
	// Rows is the server's estimate (exact for MyISAM/Aria).
	Rows       int64 `json:"rows"`
	DataBytes  int64 `json:"data_bytes"`
	IndexBytes int64 `json:"index_bytes"`
	AvgRow     int64 `json:"avg_row_length"`
	Ignored    bool  `json:"ignored"`
	HasLOB     bool  `json:"has_lob"`
	// SizeBytes is the data size the estimate used: DATA_LENGTH, or more
	// when the table's tablespace file holds more (DATA_LENGTH lags after
	// bulk changes until InnoDB recomputes its statistics).
	SizeBytes int64 `json:"size_bytes"`
	// SQLBytes and ArchiveBytes are this table's share of the estimated
	// dump (0 for ignored tables).
	SQLBytes     int64   `json:"sql_bytes"`
	ArchiveBytes int64   `json:"archive_bytes"`
	Sampled      bool    `json:"sampled"`
	Ratio        float64 `json:"ratio"` // archive bytes / data bytes used for the estimate
}

// WindowFact is the migration window check's outcome.
type WindowFact struct {
	Zone   string    `json:"zone"`
	Now    time.Time `json:"now"`
	Inside bool      `json:"inside"`
}

// Run analyses a LiveAgent installation before a migration: the database
// behind db and, with cfg.InstallDir, the files. Problems it finds are
// findings in the report; the error is only for a failure to analyse at all
// (an invalid configuration, a lost connection, a cancelled ctx).
func Run(ctx context.Context, db *sql.DB, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &checker{db: db, cfg: cfg, rep: &Report{}}
	c.rep.Time = cfg.now()
	c.rep.Facts.FreeBytes = -1
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"server", c.server},
		{"version", c.version},
		{"tables", c.tables},
		{"views", c.views},
		{"routines", c.routines},
		{"size", c.size},
		{"packet", c.packet},
		{"disk", c.disk},
		{"downtime", c.downtime},
		{"sources", c.sources},
		{"jobs", c.jobs},
		{"cron", c.cron},
		{"install", c.install},
		{"privileges", c.privileges},
		{"window", c.window},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.fn(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil, err
			}
			return nil, fmt.Errorf("migrate: check %s: %w", s.name, err)
		}
	}
	c.rep.finish()
	return c.rep, nil
}

type checker struct {
	db  *sql.DB
	cfg Config
	rep *Report
	// filled by tables()
	dbName  string
	ignored map[string]bool
	// filled by sources()
	profile *isolate.Profile
	// SHOW GRANTS, read once by readGrants
	grantsRead bool
	grants     []Grant
	roles      bool
	grantsErr  error
	// the size sample's compressor of single rows, reused
	deflate *flate.Writer
}

func (c *checker) add(sev Severity, code, subject, action, format string, args ...any) {
	c.rep.Findings = append(c.rep.Findings, Finding{Severity: sev, Code: code, Subject: subject,
		Message: fmt.Sprintf(format, args...), Action: action})
}

// finish sorts the findings (worst first, stable otherwise) and counts them.
func (r *Report) finish() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return r.Findings[i].Severity.rank() > r.Findings[j].Severity.rank()
	})
	r.Worst = Info
	r.Blockers, r.Warnings, r.Infos = 0, 0, 0
	for _, f := range r.Findings {
		switch f.Severity {
		case Blocker:
			r.Blockers++
		case Warning:
			r.Warnings++
		default:
			r.Infos++
		}
		if f.Severity.rank() > r.Worst.rank() {
			r.Worst = f.Severity
		}
	}
}

// Find returns the findings with code (and, when subject is not empty, that
// subject).
func (r *Report) Find(code, subject string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Code == code && (subject == "" || f.Subject == subject) {
			out = append(out, f)
		}
	}
	return out
}

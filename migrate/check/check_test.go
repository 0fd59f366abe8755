package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
	"github.com/qualityunit/lamigrate/isolate/isolatetest"
)

// laSchema is a small LiveAgent-like database with one of each thing check
// reports.
var laSchema = []string{
	`CREATE TABLE qu_g_versions (versionid INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL) ENGINE=InnoDB`,
	`INSERT INTO qu_g_versions (name, application, done) VALUES
		('5.9.10.1','la','2019-01-01 10:00:00'), ('5.55.1.2','la','2024-05-01 10:00:00'),
		('5.56.0.1','la',NULL), ('9.1.0.0','gpf','2024-05-01 10:00:00')`,
	`CREATE TABLE qu_g_logs (logid CHAR(8) PRIMARY KEY, message TEXT) ENGINE=InnoDB`,
	`INSERT INTO qu_g_logs VALUES ('00000001','hello')`,
	`CREATE VIEW v_recent_logs AS SELECT logid, message FROM qu_g_logs`,
	`CREATE VIEW v_versions AS SELECT name FROM qu_g_versions`,
	`CREATE TABLE qu_la_conversations_search (conversationid CHAR(8) PRIMARY KEY, body TEXT) ENGINE=MyISAM`,
	`CREATE TABLE qu_la_old_notes (noteid CHAR(8) PRIMARY KEY, body TEXT) ENGINE=MyISAM`,
	`INSERT INTO qu_la_old_notes VALUES ('a','x')`,
	`CREATE TABLE custom_report (id INT PRIMARY KEY) ENGINE=InnoDB`,
	`CREATE TABLE qu_la_users_bak (userid CHAR(8) PRIMARY KEY) ENGINE=InnoDB`,
	`CREATE TABLE qu_la_mail_accounts (mailaccountid CHAR(8) PRIMARY KEY, status CHAR(1), fetch_type CHAR(1)) ENGINE=InnoDB`,
	`INSERT INTO qu_la_mail_accounts VALUES ('m1','A','I'), ('m2','S','3'), ('m3','I','I'), ('m4','A','P')`,
	`CREATE TABLE qu_la_contactwidgets (contactwidgetid CHAR(8) PRIMARY KEY, rstatus CHAR(1), status CHAR(1)) ENGINE=InnoDB`,
	`INSERT INTO qu_la_contactwidgets VALUES ('w1','A','N'), ('w2','I','N')`,
	`CREATE TABLE qu_g_rules (ruleid CHAR(8) PRIMARY KEY, rtype CHAR(1), rstatus CHAR(1)) ENGINE=InnoDB`,
	`INSERT INTO qu_g_rules VALUES ('r1','I','E'), ('r2','A','E')`,
	`CREATE TABLE qu_g_settings (settingid INT PRIMARY KEY, name VARCHAR(60), value TEXT) ENGINE=InnoDB`,
	`INSERT INTO qu_g_settings VALUES (1,'allowed_ips','10.0.0.1'), (2,'server_name','help.example.com')`,
	`CREATE TABLE qu_la_twitter_accounts (accountid CHAR(8) PRIMARY KEY, state CHAR(1)) ENGINE=InnoDB`,
	`CREATE TABLE qu_g_mail_accounts (mailaccountid CHAR(8) PRIMARY KEY, account_status CHAR(1), host VARCHAR(60)) ENGINE=InnoDB`,
	`CREATE TABLE qu_g_queued_jobs (jobid INT PRIMARY KEY, status CHAR(1)) ENGINE=InnoDB`,
	`INSERT INTO qu_g_queued_jobs VALUES (1,'F'), (2,'P'), (3,'R')`,
	`CREATE TABLE qu_g_filecontents (fileid CHAR(8) PRIMARY KEY, content LONGBLOB) ENGINE=InnoDB`,
	`INSERT INTO qu_g_filecontents VALUES ('f1', REPEAT('abc', 1000)), ('f2', RANDOM_BYTES(1024)), ('f3', NULL)`,
	`CREATE TRIGGER trg_notes BEFORE INSERT ON qu_la_old_notes FOR EACH ROW SET NEW.body = NEW.body`,
}

// laInstall writes a LiveAgent-like installation folder.
func laInstall(t *testing.T, encKey bool) string {
	t.Helper()
	dir := t.TempDir()
	settings := "<?php /*\r\nDB_HOSTNAME=localhost\r\nDB_USERNAME=la\r\nDB_PASSWORD=secret-pw\r\nDB_DATABASE=la\r\n"
	if encKey {
		settings += "ENCRYPTION_KEY=very-secret-key\r\n"
	}
	settings += "*/ ?>\r\n"
	files := map[string]string{
		"accounts/settings.php":    settings,
		"accounts/mail_pipe.php":   "<?php // pipe",
		"plugins/Core/plugin.php":  "<?php",
		"plugins/Acme/plugin.php":  "<?php",
		"themes/Default/style.css": "",
		"themes/Fancy/style.css":   "",
		"VERSION":                  "5.55.1.1\n",
	}
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755), "making the folder of %s", p)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644), "writing %s", p)
	}
	return dir
}

// wednesday 10:00 in Bratislava: inside the window.
var insideWindow = time.Date(2025, 3, 12, 9, 0, 0, 0, time.UTC)

func newCheckDB(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t, laSchema...)
	db.MustExec(t, "ANALYZE TABLE qu_g_filecontents, qu_la_mail_accounts")
	return db
}

func TestCheckFindings(t *testing.T) {
	db := newCheckDB(t)
	cron, prog := isolatetest.CronFixture(t)
	install := laInstall(t, true)
	rep, err := Run(context.Background(), db.DB, Config{
		InstallDir: install, OutDir: t.TempDir(), Cron: cron,
		Now: func() time.Time { return insideWindow },
	})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	tests := []struct {
		code, subject string
		sev           Severity
		contains      string
	}{
		{"server", "MariaDB", Info, "MariaDB"},
		{"version", "5.55.1.2", Info, "5.55.1.2"},
		{"time_zone", "", Info, "time_zone"},
		{"charset", "", Info, "utf8mb4"},
		{"engine_not_innodb", "qu_la_old_notes", Blocker, "MyISAM"},
		{"engine_not_innodb", "qu_la_conversations_search", Info, "ignore list"},
		{"table_not_liveagent", "custom_report", Warning, "custom_report"},
		{"table_backup", "qu_la_users_bak", Warning, "backup"},
		{"view_reads_ignored", "v_recent_logs", Warning, "qu_g_logs"},
		{"size", "", Info, "gzip archive"},
		{"disk_space", "", Info, "free"},
		{"downtime", "", Info, "Mbit/s"},
		{"source", "mail accounts", Info, "2 active"},
		{"source", "mail pipe", Info, "1 active"},
		{"source", "contact widgets", Info, "1 active"},
		{"source", "chat invitations", Info, "1 active"},
		{"source", "ip allow-list", Info, "1 active"},
		{"source_missing", "facebook pages", Warning, "not found"},
		{"source_missing", "twitter accounts", Warning, "state"},
		{"source_lookalike", "qu_g_mail_accounts", Warning, "account_status"},
		{"jobs_pending", "", Info, "2 background job"},
		{"cron", prog + " -l", Info, "runs jobs.php: * * * * * php -q /srv/la/scripts/jobs.php"},
		{"cron", filepath.Join(filepath.Dir(prog), "cron.d", "liveagent"), Info, "queue.php"},
		{"encryption_key", "", Info, "is set"},
		{"mail_pipe", "", Info, "exists"},
		{"plugin_custom", filepath.Join(install, "plugins", "Acme"), Warning, "Acme"},
		{"theme_custom", filepath.Join(install, "themes", "Fancy"), Warning, "Fancy"},
		{"version_disk", "", Warning, "5.55.1.1"},
		{"privileges", "", Info, "every privilege"},
		{"max_allowed_packet", "", Info, "largest row"},
		{"window", "", Info, "inside"},
	}
	for _, tt := range tests {
		fs := rep.Find(tt.code, tt.subject)
		if len(fs) == 0 {
			t.Errorf("Check: no finding %s %q; got %s", tt.code, tt.subject, codes(rep))
			continue
		}
		found := false
		for _, f := range fs {
			if f.Severity == tt.sev && strings.Contains(f.Message, tt.contains) {
				found = true
			}
		}
		if !found {
			t.Errorf("Check: finding %s %q = %+v; want severity %s and message containing %q", tt.code, tt.subject, fs, tt.sev, tt.contains)
		}
	}
	for _, code := range []string{"table_not_liveagent"} {
		for _, f := range rep.Find(code, "") {
			if strings.HasPrefix(f.Subject, "qu_") {
				t.Errorf("Check: %s about LiveAgent table %s", code, f.Subject)
			}
		}
	}
	if got := rep.Find("view_reads_ignored", "v_versions"); len(got) != 0 {
		t.Errorf("Check: view_reads_ignored for v_versions = %+v; want none", got)
	}
	if got := rep.Find("cron", cron.Files[0]); len(got) != 0 || len(rep.Facts.CronLines) != 2 {
		t.Errorf("Check: cron finding for a crontab without jobs.php = %+v, lines %+v; want none, and 2 lines (the hidden file and the comments skipped)", got, rep.Facts.CronLines)
	}
	if rep.Worst != Blocker || rep.Blockers != 1 {
		t.Errorf("Check: worst %s with %d blockers; want blocker with 1 (qu_la_old_notes): %s", rep.Worst, rep.Blockers, codes(rep))
	}
	f := rep.Facts
	if f.PendingJobs != 2 || f.LiveAgentVersion != "5.55.1.2" || f.DiskVersion != "5.55.1.1" || f.EncKeySet == nil || !*f.EncKeySet {
		t.Errorf("Check facts: jobs %d version %q disk %q enc %v", f.PendingJobs, f.LiveAgentVersion, f.DiskVersion, f.EncKeySet)
	}
	if f.LargestRow < 3000 || f.LargestRowTable != "qu_g_filecontents" {
		t.Errorf("Check largest row = %d in %s; want >= 3000 in qu_g_filecontents", f.LargestRow, f.LargestRowTable)
	}
	if f.Size.SampledTables == 0 || f.Size.ArchiveBytes <= 0 || f.Size.SQLBytes <= 0 || f.FreeBytes <= 0 {
		t.Errorf("Check size = %+v, free %d; want sampled tables and positive sizes", f.Size, f.FreeBytes)
	}
	if f.Downtime.TotalSeconds <= 0 && f.Size.SQLBytes > 100000 || len(f.Downtime.Assumptions) == 0 {
		t.Errorf("Check downtime = %+v", f.Downtime)
	}
	// The encryption key is a secret: never in the report.
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), "very-secret-key") || strings.Contains(string(b), "secret-pw") {
		t.Errorf("Check report contains a secret from settings.php")
	}
	for _, k := range []string{`"severity"`, `"code"`, `"message"`, `"worst"`, `"facts"`, `"liveagent_version"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("Check JSON lacks %s", k)
		}
	}
}

func TestCheckWithoutInstallDirAndMissingOutDir(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, `CREATE TABLE qu_g_versions (versionid INT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL)`)
	rep, err := Run(context.Background(), db.DB, Config{
		OutDir: filepath.Join(t.TempDir(), "nope"), CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}},
		Now: func() time.Time { return time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC) }, // Saturday
	})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := []struct {
		code string
		sev  Severity
	}{
		{"disk_space", Info},
		{"install_dir", Info},
		{"version_unknown", Warning},
		{"cron", Warning},
		{"window", Warning},
		{"jobs_unknown", Info},
	}
	for _, w := range want {
		fs := rep.Find(w.code, "")
		if len(fs) != 1 || fs[0].Severity != w.sev {
			t.Errorf("Check: %s = %+v; want one %s", w.code, fs, w.sev)
		}
	}
	if rep.Worst != Warning {
		t.Errorf("Check worst = %s; want warning (a missing output folder that can be created is no blocker): %s", rep.Worst, codes(rep))
	}
}

func TestCheckNotLiveAgent(t *testing.T) {
	db := mysqltest.New(t)
	rep, err := Run(context.Background(), db.DB, Config{CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if fs := rep.Find("not_liveagent", ""); len(fs) != 1 || fs[0].Severity != Blocker {
		t.Errorf("Check(empty database): not_liveagent = %+v; want one blocker", fs)
	}
}

func TestCheckEncryptionKeyMissing(t *testing.T) {
	db := newCheckDB(t)
	rep, err := Run(context.Background(), db.DB, Config{InstallDir: laInstall(t, false),
		CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if fs := rep.Find("encryption_key", ""); len(fs) != 1 || fs[0].Severity != Warning || !strings.Contains(fs[0].Action, "DB_PASSWORD") {
		t.Errorf("Check: encryption_key = %+v; want a warning naming DB_PASSWORD", fs)
	}
}

func TestCheckBadProfile(t *testing.T) {
	db := mysqltest.New(t)
	p := filepath.Join(t.TempDir(), "profile.json")
	os.WriteFile(p, []byte(`{"sources": []}`), 0o644)
	_, err := Run(context.Background(), db.DB, Config{ProfilePath: p, CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}})
	if err == nil || !strings.Contains(err.Error(), "profile") {
		t.Errorf("Check(bad profile) error = %v; want a profile error", err)
	}
}

func TestInWindow(t *testing.T) {
	loc, err := time.LoadLocation(MigrationZone)
	require.NoError(t, err, "loading the time zone %s", MigrationZone)
	tests := []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2025, 3, 10, 8, 0, 0, 0, loc), true},    // Monday 08:00
		{time.Date(2025, 3, 10, 7, 59, 59, 0, loc), false}, // Monday before 08:00
		{time.Date(2025, 3, 14, 19, 59, 0, 0, loc), true},  // Friday 19:59
		{time.Date(2025, 3, 14, 20, 0, 0, 0, loc), false},  // Friday 20:00
		{time.Date(2025, 3, 15, 12, 0, 0, 0, loc), false},  // Saturday
		{time.Date(2025, 3, 16, 12, 0, 0, 0, loc), false},  // Sunday
		{time.Date(2025, 7, 2, 8, 30, 0, 0, loc), true},    // summer time
	}
	for _, tt := range tests {
		if got := InWindow(tt.t); got != tt.want {
			t.Errorf("InWindow(%s) = %v; want %v", tt.t, got, tt.want)
		}
	}
	// 06:30 UTC in July is 08:30 CEST: inside once read in the zone.
	db := mysqltest.New(t)
	rep, err := Run(context.Background(), db.DB, Config{CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1,
		Now: func() time.Time { return time.Date(2025, 7, 2, 6, 30, 0, 0, time.UTC) }})
	require.NoError(t, err, "check at 06:30 UTC in July")
	if !rep.Facts.Window.Inside {
		t.Errorf("Check window at 06:30 UTC in July = outside; want inside (08:30 CEST)")
	}
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		line   string
		ok     bool
		privs  string
		db, tb string
	}{
		{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION", true, "ALL", "*", "*"},
		{"GRANT SELECT, SHOW VIEW, TRIGGER ON `la`.* TO `m`@`%`", true, "SELECT,SHOW VIEW,TRIGGER", "la", "*"},
		{"GRANT UPDATE ON `la`.`qu_g_rules` TO `m`@`%`", true, "UPDATE", "la", "qu_g_rules"},
		{"GRANT SELECT (a, b), UPDATE ON `la`.`t` TO `m`@`%`", true, "UPDATE", "la", "t"},
		{"GRANT SELECT ON `we``ird`.* TO `m`@`%`", true, "SELECT", "we`ird", "*"},
		{"GRANT USAGE ON *.* TO `m`@`%` IDENTIFIED BY PASSWORD '*ABC'", true, "USAGE", "*", "*"},
		{"GRANT `app_role` TO `m`@`%`", false, "", "", ""},
		{"GRANT PROXY ON ''@'%' TO 'root'@'localhost'", true, "PROXY", "", "''@'%'"},
		{"GRANT EXECUTE ON PROCEDURE `la`.`p` TO `m`@`%`", false, "", "", ""},
		{"nonsense", false, "", "", ""},
	}
	for _, tt := range tests {
		g, ok := ParseGrant(tt.line)
		if ok != tt.ok || ok && (strings.Join(g.Privileges, ",") != tt.privs || g.DB != tt.db || g.Table != tt.tb) {
			t.Errorf("ParseGrant(%q) = %+v, %v; want %s on %s.%s, %v", tt.line, g, ok, tt.privs, tt.db, tt.tb, tt.ok)
		}
	}
	grants := []Grant{{Privileges: []string{"SELECT"}, DB: `la\_prod%`, Table: "*"}, {Privileges: []string{"UPDATE"}, DB: "la_prod", Table: "qu_g_rules"}}
	allow := []struct {
		priv, db, table string
		want            bool
	}{
		{"SELECT", "la_prod", "x", true},
		{"SELECT", "la_prod2", "x", true},
		{"SELECT", "laXprod", "x", false},
		{"UPDATE", "la_prod", "qu_g_rules", true},
		{"UPDATE", "la_prod", "qu_g_settings", false},
		{"TRIGGER", "la_prod", "*", false},
	}
	for _, a := range allow {
		if got := Allows(grants, a.priv, a.db, a.table); got != a.want {
			t.Errorf("Allows(%s on %s.%s) = %v; want %v", a.priv, a.db, a.table, got, a.want)
		}
	}
}

func TestMentionsTable(t *testing.T) {
	tests := []struct {
		def  string
		want bool
	}{
		{"select `lt`.`qu_g_logs`.`logid` AS `logid` from `lt`.`qu_g_logs`", true},
		{"select a from qu_g_logs where 1", true},
		{"select a from qu_g_logs_archive", false},
		{"select a from xqu_g_logs", false},
		{"select a from QU_G_LOGS", true},
	}
	for _, tt := range tests {
		if got := mentionsTable(tt.def, "qu_g_logs"); got != tt.want {
			t.Errorf("mentionsTable(%q) = %v; want %v", tt.def, got, tt.want)
		}
	}
}

func codes(r *Report) string {
	var s []string
	for _, f := range r.Findings {
		s = append(s, string(f.Severity)+":"+f.Code+"("+f.Subject+")")
	}
	return strings.Join(s, " ")
}

func TestCheckPrivilegesOfLimitedUser(t *testing.T) {
	db := newCheckDB(t)
	admin, err := sql.Open("mysql", mysqltest.Server(t).FormatDSN())
	require.NoError(t, err, "connecting as the server's admin")
	defer admin.Close()
	user := "lc_" + db.Name[len(db.Name)-8:]
	for _, s := range []string{
		"CREATE USER '" + user + "'@'localhost' IDENTIFIED BY 'pw-" + user + "'",
		"GRANT SELECT ON `" + db.Name + "`.* TO '" + user + "'@'localhost'",
	} {
		if _, err := admin.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() { admin.Exec("DROP USER '" + user + "'@'localhost'") })
	cfg := db.Config()
	cfg.User, cfg.Passwd = user, "pw-"+user
	c, err := mysql.NewConnector(cfg)
	require.NoError(t, err, "a connector for user %s", user)
	limited := sql.OpenDB(c)
	defer limited.Close()
	rep, err := Run(context.Background(), limited, Config{CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
	if err != nil {
		t.Fatalf("Check(limited user): %v", err)
	}
	want := map[string]Severity{"SHOW VIEW": Blocker, "TRIGGER": Warning, "UPDATE": Warning}
	for subject, sev := range want {
		fs := rep.Find("privilege_missing", subject)
		if len(fs) != 1 || fs[0].Severity != sev {
			t.Errorf("Check(limited user): privilege_missing %s = %+v; want one %s", subject, fs, sev)
		}
	}
	if fs := rep.Find("privilege_missing", "SELECT"); len(fs) != 0 {
		t.Errorf("Check(limited user): SELECT reported missing: %+v", fs)
	}
	if rep.Facts.Privileges["SELECT"] != true || rep.Facts.Privileges["UPDATE sources"] != false {
		t.Errorf("Check(limited user) privileges = %v", rep.Facts.Privileges)
	}
}

func TestCheckCodesDocumented(t *testing.T) {
	db := newCheckDB(t)
	rep, err := Run(context.Background(), db.DB, Config{InstallDir: laInstall(t, false), OutDir: t.TempDir(),
		CrontabCommand: []string{}, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
	require.NoError(t, err, "check of the LiveAgent schema")
	for _, f := range rep.Findings {
		if _, ok := Codes[f.Code]; !ok {
			t.Errorf("finding code %q is not in Codes", f.Code)
		}
	}
}

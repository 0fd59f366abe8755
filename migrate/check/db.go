package check

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/ident"
)

// MySQL/MariaDB error numbers check branches on.
const (
	errNoSuchTable   = 1146
	errUnknownTable  = 1109
	errBadField      = 1054
	errNoGrants      = 1141
	errTableAccess   = 1142
	errDBAccess      = 1044
	errSpecificPriv  = 1227
	errColumnAccess  = 1143
	errUnknownSystem = 1193
)

func isMySQLErr(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// server reads the server's identity, time zone, charset and packet limit.
func (c *checker) server(ctx context.Context) error {
	f := &c.rep.Facts
	var dbName sql.NullString
	err := c.db.QueryRowContext(ctx, `SELECT VERSION(), @@version_comment, @@time_zone, @@system_time_zone,
		@@global.max_allowed_packet, DATABASE(), @@character_set_database, @@collation_database`).
		Scan(&f.ServerVersion, &f.VersionComment, &f.TimeZone, &f.SystemTimeZone, &f.MaxAllowedPacket,
			&dbName, &f.Charset, &f.Collation)
	if err != nil {
		return err
	}
	if !dbName.Valid || dbName.String == "" {
		return errors.New("no database selected: name the LiveAgent database in the DSN")
	}
	c.dbName = dbName.String
	f.Database = c.dbName
	f.ServerFlavour = flavour(f.ServerVersion, f.VersionComment)
	c.add(Info, "server", f.ServerFlavour, "", "%s %s (%s)", f.ServerFlavour, f.ServerVersion, f.VersionComment)
	if old, what := oldServer(f.ServerFlavour, f.ServerVersion); old {
		c.add(Warning, "server_old", f.ServerFlavour, "test the import of this dump early: the cloud runs a current MariaDB",
			"%s %s is older than %s", f.ServerFlavour, f.ServerVersion, what)
	}
	tz := fmt.Sprintf("server time_zone %s, system time zone %s", f.TimeZone, f.SystemTimeZone)
	c.add(Info, "time_zone", f.TimeZone, "", "%s; TIMESTAMP columns are dumped in UTC, DATETIME columns as stored", tz)
	return nil
}

func flavour(version, comment string) string {
	v, cm := strings.ToLower(version), strings.ToLower(comment)
	switch {
	case strings.Contains(v, "mariadb") || strings.Contains(cm, "mariadb"):
		return "MariaDB"
	case strings.Contains(cm, "percona"):
		return "Percona Server"
	}
	return "MySQL"
}

// oldServer reports servers old enough to deserve a test import.
func oldServer(flav, version string) (bool, string) {
	nums := versionNumbers(version)
	if len(nums) < 2 {
		return false, ""
	}
	switch flav {
	case "MariaDB":
		return compareVersion(nums, []int{10, 3}) < 0, "10.3"
	default:
		return compareVersion(nums, []int{5, 7}) < 0, "5.7"
	}
}

var versionRE = regexp.MustCompile(`\d+(?:\.\d+)+`)

// versionNumbers extracts the leading dotted number of a version string.
func versionNumbers(s string) []int {
	m := versionRE.FindString(s)
	if m == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(m, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

func compareVersion(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// version reads the installed LiveAgent version: the highest name among the
// qu_g_versions rows whose upgrade is done, not counting the framework's
// ('gpf') rows.
func (c *checker) version(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, "SELECT name, done FROM qu_g_versions WHERE done IS NOT NULL AND application <> 'gpf'")
	if isMySQLErr(err, errNoSuchTable, errBadField) {
		c.add(Blocker, "not_liveagent", "qu_g_versions", "check the database name in the DSN or settings.php",
			"database %s has no usable qu_g_versions table: it does not look like a LiveAgent database (%v)", c.dbName, err)
		return nil
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	best, bestNums := "", []int(nil)
	for rows.Next() {
		var name, done sql.NullString
		if err := rows.Scan(&name, &done); err != nil {
			return err
		}
		d := strings.TrimSpace(done.String)
		if !name.Valid || d == "" || d == "0" || d == "N" || strings.HasPrefix(d, "0000-00-00") {
			continue
		}
		nums := versionNumbers(name.String)
		if best == "" || compareVersion(nums, bestNums) > 0 {
			best, bestNums = name.String, nums
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if best == "" {
		c.add(Warning, "version_unknown", "qu_g_versions", "check that LiveAgent's installation or last upgrade finished",
			"qu_g_versions has no finished LiveAgent version row")
		return nil
	}
	c.rep.Facts.LiveAgentVersion = best
	c.add(Info, "version", best, "", "LiveAgent %s", best)
	return nil
}

var backupNameRE = regexp.MustCompile(`(?i)(_bak|_backup|_old|_copy|_tmp|_temp|_orig|_\d{6,})$`)

// tables reads every table's engine, collation and size and reports the
// ones outside the consistent snapshot or outside LiveAgent's schema.
func (c *checker) tables(ctx context.Context) error {
	f := &c.rep.Facts
	c.ignored = map[string]bool{}
	for _, t := range c.cfg.Ignore {
		c.ignored[strings.ToLower(t)] = true
	}
	rows, err := c.db.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE,''), COALESCE(TABLE_COLLATION,''),
		COALESCE(TABLE_ROWS,0), COALESCE(DATA_LENGTH,0), COALESCE(INDEX_LENGTH,0), COALESCE(AVG_ROW_LENGTH,0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, c.dbName)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t TableFact
		if err := rows.Scan(&t.Name, &t.Type, &t.Engine, &t.Collation, &t.Rows, &t.DataBytes, &t.IndexBytes, &t.AvgRow); err != nil {
			return err
		}
		t.Ignored = c.ignored[strings.ToLower(t.Name)]
		f.Tables = append(f.Tables, t)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()

	lob := map[string]bool{}
	crows, err := c.db.QueryContext(ctx, `SELECT DISTINCT TABLE_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND DATA_TYPE IN ('tinyblob','blob','mediumblob','longblob','tinytext','text','mediumtext','longtext','json')`, c.dbName)
	if err != nil {
		return err
	}
	defer crows.Close()
	for crows.Next() {
		var n string
		if err := crows.Scan(&n); err != nil {
			return err
		}
		lob[n] = true
	}
	if err := crows.Err(); err != nil {
		return err
	}

	f.TableCollations = map[string]int{}
	charsets := map[string]bool{}
	for i := range f.Tables {
		t := &f.Tables[i]
		t.HasLOB = lob[t.Name]
		if t.Type == "VIEW" {
			f.Views = append(f.Views, t.Name)
			continue
		}
		if t.Collation != "" {
			f.TableCollations[t.Collation]++
			cs, _, _ := strings.Cut(t.Collation, "_")
			charsets[cs] = true
		}
		liveagent := strings.HasPrefix(strings.ToLower(t.Name), "qu_")
		switch {
		case !liveagent:
			c.add(Warning, "table_not_liveagent", t.Name,
				"drop it if it is a leftover, or tell QU it must be migrated (it is dumped as is)",
				"table %s (%s, %s) is not part of LiveAgent's schema", t.Name, t.Engine, bytesize.Format(t.DataBytes+t.IndexBytes))
		case backupNameRE.MatchString(t.Name) && !t.Ignored:
			c.add(Warning, "table_backup", t.Name, "drop it before the migration if it is a leftover copy",
				"table %s looks like a leftover backup copy (%s)", t.Name, bytesize.Format(t.DataBytes+t.IndexBytes))
		}
		if t.Engine != "" && !strings.EqualFold(t.Engine, "InnoDB") {
			switch {
			case t.Ignored:
				c.add(Info, "engine_not_innodb", t.Name, "",
					"table %s is %s; it is on the ignore list, so the snapshot does not need it", t.Name, t.Engine)
			case liveagent:
				c.add(Blocker, "engine_not_innodb", t.Name,
					fmt.Sprintf("convert it: ALTER TABLE %s ENGINE=InnoDB", ident.Quote(t.Name)),
					"table %s is %s: it is outside the dump's consistent snapshot", t.Name, t.Engine)
			default:
				c.add(Warning, "engine_not_innodb", t.Name,
					fmt.Sprintf("convert it (ALTER TABLE %s ENGINE=InnoDB) or drop it", ident.Quote(t.Name)),
					"table %s is %s: it is outside the dump's consistent snapshot", t.Name, t.Engine)
			}
		}
	}
	var colls []string
	for k, n := range f.TableCollations {
		colls = append(colls, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(colls)
	msg := fmt.Sprintf("database %s/%s; tables: %s", f.Charset, f.Collation, strings.Join(colls, ", "))
	mysql8 := false
	for k := range f.TableCollations {
		if strings.Contains(k, "_0900_") {
			mysql8 = true
		}
	}
	switch {
	case mysql8:
		c.add(Warning, "charset", f.Charset, "tell QU: MySQL 8 collations (…_0900_…) need a MySQL 8 or MariaDB 11.4+ server, or converting", "%s", msg)
	case len(charsets) > 1:
		c.add(Warning, "charset", f.Charset, "nothing to do for the dump; mixed charsets carry over as they are", "tables use more than one character set: %s", msg)
	default:
		c.add(Info, "charset", f.Charset, "", "%s", msg)
	}
	return nil
}

// views reports views whose definition reads an ignored table: they come
// back empty (or fail) in the cloud copy.
func (c *checker) views(ctx context.Context) error {
	f := &c.rep.Facts
	if err := c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", c.dbName).Scan(&f.Triggers); err != nil {
		return err
	}
	if len(f.Views) == 0 {
		return nil
	}
	uses := map[string]map[string]bool{}
	rows, err := c.db.QueryContext(ctx, `SELECT VIEW_NAME, TABLE_NAME FROM information_schema.VIEW_TABLE_USAGE
		WHERE VIEW_SCHEMA = ? AND TABLE_SCHEMA = ?`, c.dbName, c.dbName)
	switch {
	case isMySQLErr(err, errUnknownTable):
		// MariaDB before 11 has no VIEW_TABLE_USAGE: read the definitions.
		if err := c.viewsByDefinition(ctx, uses); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		defer rows.Close()
		for rows.Next() {
			var v, t string
			if err := rows.Scan(&v, &t); err != nil {
				return err
			}
			if uses[v] == nil {
				uses[v] = map[string]bool{}
			}
			uses[v][t] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, v := range f.Views {
		var hit []string
		for t := range uses[v] {
			if c.ignored[strings.ToLower(t)] {
				hit = append(hit, t)
			}
		}
		sort.Strings(hit)
		if len(hit) > 0 {
			c.add(Warning, "view_reads_ignored", v, "drop the view or remove those tables from the ignore list",
				"view %s reads %s, which the dump leaves out: it will be empty in the cloud", v, strings.Join(hit, ", "))
		}
	}
	return nil
}

func (c *checker) viewsByDefinition(ctx context.Context, uses map[string]map[string]bool) error {
	rows, err := c.db.QueryContext(ctx, "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?", c.dbName)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		var def sql.NullString
		if err := rows.Scan(&v, &def); err != nil {
			return err
		}
		uses[v] = map[string]bool{}
		for _, t := range c.cfg.Ignore {
			if mentionsTable(def.String, t) {
				uses[v][t] = true
			}
		}
	}
	return rows.Err()
}

// mentionsTable reports whether SQL text names table as an identifier:
// back-quoted, or bare between non-identifier characters.
func mentionsTable(def, table string) bool {
	d, t := strings.ToLower(def), strings.ToLower(table)
	if strings.Contains(d, "`"+strings.ReplaceAll(t, "`", "``")+"`") {
		return true
	}
	for i := 0; ; {
		j := strings.Index(d[i:], t)
		if j < 0 {
			return false
		}
		s, e := i+j, i+j+len(t)
		if (s == 0 || !identByte(d[s-1])) && (e == len(d) || !identByte(d[e])) {
			return true
		}
		i = s + 1
	}
}

func identByte(b byte) bool {
	return b == '_' || b == '$' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// jobs counts background jobs that have not finished.
func (c *checker) jobs(ctx context.Context) error {
	err := c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F'").Scan(&c.rep.Facts.PendingJobs)
	if isMySQLErr(err, errNoSuchTable, errBadField) {
		c.add(Info, "jobs_unknown", "qu_g_queued_jobs", "", "no qu_g_queued_jobs table with a status column: cannot count pending jobs")
		return nil
	}
	if err != nil {
		return err
	}
	if n := c.rep.Facts.PendingJobs; n > 0 {
		// Normal while cron runs them: the migration drains them after the
		// sources are off and before cron is, so nothing to decide here.
		c.add(Info, "jobs_pending", "qu_g_queued_jobs", "after isolate, lamigrate drain waits until none is left; then cron goes off",
			"%d background job(s) are pending (qu_g_queued_jobs status != 'F'): normal while cron runs them; the migration drains them after isolating the sources", n)
	} else {
		c.add(Info, "jobs_pending", "qu_g_queued_jobs", "", "no background job is pending")
	}
	return nil
}

// packet compares max_allowed_packet with the largest row.
func (c *checker) packet(ctx context.Context) error {
	f := &c.rep.Facts
	exact := true
	anyLOB := false
	for _, t := range f.Tables {
		if t.Type != "BASE TABLE" || t.Ignored {
			continue
		}
		// Rows without BLOB/TEXT columns stay under 64 KiB; only the
		// others can outgrow the packet.
		if !t.HasLOB {
			continue
		}
		anyLOB = true
		size := t.AvgRow // a lower bound when the table is too big to scan
		if c.cfg.ScanBytes > 0 && t.DataBytes <= c.cfg.ScanBytes {
			n, err := c.largestRow(ctx, t.Name)
			if err != nil {
				return err
			}
			size = n
		} else {
			exact = false
		}
		if size > f.LargestRow {
			f.LargestRow, f.LargestRowTable = size, t.Name
		}
	}
	// The importing server's max_allowed_packet must hold the dump's
	// largest statement: an extended INSERT grows to the dump's net buffer
	// length (16 MiB, as the documented mysqldump command's), and a row
	// bigger than that is a statement of its own, hex-encoded at worst.
	need := max(int64(dump.DefaultNetBufferLength), 2*f.LargestRow) + 1<<20
	switch {
	case f.LargestRow > f.MaxAllowedPacket:
		c.add(Blocker, "max_allowed_packet", f.LargestRowTable,
			fmt.Sprintf("raise it: SET GLOBAL max_allowed_packet=%d (and in my.cnf)", roundUpMiB(need)),
			"max_allowed_packet is %s but a row of %s is %s: reading it fails", bytesize.Format(f.MaxAllowedPacket), f.LargestRowTable, bytesize.Format(f.LargestRow))
	case !exact && anyLOB && f.MaxAllowedPacket < 64<<20:
		c.add(Warning, "max_allowed_packet", "", "raise it to at least 64 MiB (SET GLOBAL max_allowed_packet=67108864)",
			"max_allowed_packet is %s and large tables with BLOB/TEXT columns were not measured: a big attachment may not fit", bytesize.Format(f.MaxAllowedPacket))
	default:
		c.add(Info, "max_allowed_packet", "", "",
			"max_allowed_packet %s; largest row %s (%s); the import needs at least %s", bytesize.Format(f.MaxAllowedPacket),
			bytesize.Format(f.LargestRow), f.LargestRowTable, bytesize.Format(need))
	}
	return nil
}

func roundUpMiB(n int64) int64 { return (n + 1<<20 - 1) >> 20 << 20 }

// largestRow measures the largest row of a table: the sum of its columns'
// lengths.
func (c *checker) largestRow(ctx context.Context, table string) (int64, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", c.dbName, table)
	if err != nil {
		return 0, err
	}
	var parts []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		parts = append(parts, "COALESCE(LENGTH("+ident.Quote(n)+"),0)")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(parts) == 0 {
		return 0, nil
	}
	var n sql.NullInt64
	err = c.db.QueryRowContext(ctx, "SELECT MAX("+strings.Join(parts, "+")+") FROM "+ident.Quote(table)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("largest row of %s: %w", table, err)
	}
	return n.Int64, nil
}

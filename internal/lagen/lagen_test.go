package lagen

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

const testSize = 2 << 20

func generate(t *testing.T, cfg Config) (*mysqltest.DB, *Stats) {
	t.Helper()
	db := mysqltest.New(t)
	st, err := Generate(context.Background(), db.DB, cfg)
	if err != nil {
		t.Fatalf("Generate(%+v) = %v", cfg, err)
	}
	return db, st
}

// digests reads every generated table's rowhash digest.
func digests(t *testing.T, db *mysqltest.DB) map[string]string {
	t.Helper()
	var names []string
	for _, tb := range Tables() {
		names = append(names, tb.Name)
	}
	return db.Digests(t, names...)
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestGenerateCreatesEveryTable(t *testing.T) {
	db, st := generate(t, Config{Size: testSize})
	rows, err := db.Query(`SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE()`)
	require.NoError(t, err, "listing the generated tables")
	defer rows.Close()
	type info struct{ engine, collation string }
	got := map[string]info{}
	for rows.Next() {
		var name string
		var i info
		require.NoError(t, rows.Scan(&name, &i.engine, &i.collation), "reading the tables' engines and collations")
		got[name] = i
	}
	require.NoError(t, rows.Err(), "reading the tables' engines and collations")
	want := Tables()
	if len(got) != len(want) {
		t.Errorf("database has %d tables; want %d", len(got), len(want))
	}
	for _, tb := range want {
		g, ok := got[tb.Name]
		if !ok {
			t.Errorf("table %s missing", tb.Name)
			continue
		}
		if g.engine != tb.Engine {
			t.Errorf("%s: engine %s; want %s", tb.Name, g.engine, tb.Engine)
		}
		if g.collation != "utf8_general_ci" && g.collation != "utf8mb3_general_ci" {
			t.Errorf("%s: collation %s; want utf8_general_ci", tb.Name, g.collation)
		}
	}
	if len(st.Tables) != len(want) {
		t.Errorf("Stats has %d tables; want %d", len(st.Tables), len(want))
	}
	for _, ts := range st.Tables {
		if n := queryInt(t, db.DB, "SELECT COUNT(*) FROM `"+ts.Name+"`"); n != ts.Rows || n == 0 {
			t.Errorf("%s: %d rows; Stats says %d (want equal, not zero)", ts.Name, n, ts.Rows)
		}
	}
	if st.Bytes < testSize/3 || st.Bytes > testSize*2 {
		t.Errorf("Stats.Bytes = %d for Size %d; want the same order", st.Bytes, testSize)
	}
}

func TestIgnoredTablesMatchDefaultIgnoreList(t *testing.T) {
	// The default ignore list of the design card.
	want := strings.Fields(`qu_g_logs qu_g_mail_message_sources qu_g_eventqueues
		qu_g_eventsubscriptions qu_g_news qu_g_usernews qu_g_passwd_requests qu_g_queued_jobs
		qu_g_queued_plans qu_g_queue_delayed_jobs qu_g_queue_failures qu_g_queue_jobs
		qu_g_queue_planed_jobs qu_g_sessions qu_g_session_values qu_g_token_buckets
		qu_la_browser_visits qu_la_conversations_search qu_la_message_drafts qu_la_page_visits`)
	ignored := map[string]bool{}
	for _, tb := range Tables() {
		if tb.Ignored {
			ignored[tb.Name] = true
		}
	}
	for _, n := range want {
		if !ignored[n] {
			t.Errorf("Tables(): %s not generated or not marked Ignored", n)
		}
		delete(ignored, n)
	}
	for n := range ignored {
		t.Errorf("Tables(): %s marked Ignored but is not on the default ignore list", n)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	// Different methods, parallelism and batch sizes must not change the data.
	a, sa := generate(t, Config{Size: testSize, Seed: 7, Parallel: 1, BatchBytes: 64 << 10, Method: MethodInsert})
	b, sb := generate(t, Config{Size: testSize, Seed: 7, Parallel: 3, Method: MethodLoadData})
	c, _ := generate(t, Config{Size: testSize, Seed: 8})
	da, db, dc := digests(t, a), digests(t, b), digests(t, c)
	for _, tb := range Tables() {
		if da[tb.Name] != db[tb.Name] {
			t.Errorf("%s: digest %s with INSERT on 1 connection; %s with LOAD DATA on 3 (same seed): want equal", tb.Name, da[tb.Name], db[tb.Name])
		}
	}
	for _, name := range []string{"qu_la_messages", "qu_g_filecontents", "qu_la_contacts", "qu_g_logs"} {
		if da[name] == dc[name] {
			t.Errorf("%s: seeds 7 and 8 give the same digest %s; want different", name, da[name])
		}
	}
	if sa.Bytes != sb.Bytes || sa.Rows != sb.Rows {
		t.Errorf("Stats differ for the same seed: %d rows %d bytes vs %d rows %d bytes", sa.Rows, sa.Bytes, sb.Rows, sb.Bytes)
	}
}

func TestSizeScales(t *testing.T) {
	_, small := generate(t, Config{Size: 1 << 20})
	_, big := generate(t, Config{Size: 6 << 20})
	ratio := float64(big.Bytes) / float64(small.Bytes)
	if ratio < 3.5 || ratio > 9 {
		t.Errorf("data bytes for 6 MiB / 1 MiB = %.2f (%d / %d); want about 6", ratio, big.Bytes, small.Bytes)
	}
	rows := func(st *Stats, name string) int64 {
		for _, ts := range st.Tables {
			if ts.Name == name {
				return ts.Rows
			}
		}
		t.Fatalf("no stats for %s", name)
		return 0
	}
	for _, name := range []string{"qu_la_conversations", "qu_la_messages", "qu_la_contacts", "qu_g_logs", "qu_la_page_visits", "qu_la_browser_visits"} {
		if s, b := rows(small, name), rows(big, name); b < 3*s {
			t.Errorf("%s: %d rows at 6 MiB, %d at 1 MiB; want about 6 times as many", name, b, s)
		}
	}
	// Attachments grow in size up to 1 MiB before they grow in number.
	if s, b := rows(small, "qu_g_files"), rows(big, "qu_g_files"); b <= s {
		t.Errorf("qu_g_files: %d rows at 6 MiB, %d at 1 MiB; want more", b, s)
	}
	// Big ignored tables about 30%, attachments and messages the most.
	share := func(st *Stats, names ...string) float64 {
		var n int64
		for _, ts := range st.Tables {
			for _, x := range names {
				if ts.Name == x {
					n += ts.Bytes
				}
			}
		}
		return float64(n) / float64(st.Bytes)
	}
	if s := share(big, "qu_g_filecontents", "qu_la_messages"); s < 0.4 {
		t.Errorf("attachments and messages are %.0f%% of the data; want them to dominate", s*100)
	}
	if s := share(big, "qu_g_logs", "qu_la_page_visits", "qu_la_browser_visits"); s < 0.15 || s > 0.45 {
		t.Errorf("logs and visits are %.0f%% of the data; want about 30%%", s*100)
	}
}

func TestProfileTables(t *testing.T) {
	db, _ := generate(t, Config{Size: testSize})
	tests := []struct {
		name  string
		query string
		check func(n int64) bool
		want  string
	}{
		{"active mail accounts", "SELECT COUNT(*) FROM qu_la_mail_accounts WHERE status IN ('A','P','S') AND fetch_type <> 'P'", func(n int64) bool { return n >= 3 }, ">= 3"},
		{"inactive mail accounts", "SELECT COUNT(*) FROM qu_la_mail_accounts WHERE status = 'I'", func(n int64) bool { return n >= 2 }, ">= 2"},
		{"active mail pipe", "SELECT COUNT(*) FROM qu_la_mail_accounts WHERE status IN ('A','P','S') AND fetch_type = 'P'", func(n int64) bool { return n == 1 }, "1"},
		{"every fetch type", "SELECT COUNT(DISTINCT fetch_type) FROM qu_la_mail_accounts WHERE fetch_type IN ('I','3','P','B','F')", func(n int64) bool { return n == 5 }, "5"},
		{"every mail status", "SELECT COUNT(DISTINCT status) FROM qu_la_mail_accounts WHERE status IN ('A','I','P','S')", func(n int64) bool { return n == 4 }, "4"},
		{"active facebook pages", "SELECT COUNT(*) FROM qu_la_facebook_pages WHERE status = 'A'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"inactive facebook pages", "SELECT COUNT(*) FROM qu_la_facebook_pages WHERE status <> 'A'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"active twitter accounts", "SELECT COUNT(*) FROM qu_la_twitter_accounts WHERE status = 'A'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"inactive twitter accounts", "SELECT COUNT(*) FROM qu_la_twitter_accounts WHERE status <> 'A'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"active widgets", "SELECT COUNT(*) FROM qu_la_contactwidgets WHERE rstatus = 'A'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"inactive widgets", "SELECT COUNT(*) FROM qu_la_contactwidgets WHERE rstatus = 'I'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"widget presence not N", "SELECT COUNT(*) FROM qu_la_contactwidgets WHERE status <> 'N'", func(n int64) bool { return n == 0 }, "0"},
		{"enabled invitations", "SELECT COUNT(*) FROM qu_g_rules WHERE rtype = 'I' AND rstatus = 'E'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"disabled invitations", "SELECT COUNT(*) FROM qu_g_rules WHERE rtype = 'I' AND rstatus = 'D'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"other rules", "SELECT COUNT(*) FROM qu_g_rules WHERE rtype <> 'I'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"allowed_ips set", "SELECT COUNT(*) FROM qu_g_settings WHERE name = 'allowed_ips' AND value <> ''", func(n int64) bool { return n == 1 }, "1"},
		{"pending jobs", "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F'", func(n int64) bool { return n >= 1 && n <= 10 }, "1..10"},
		{"finished jobs", "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status = 'F'", func(n int64) bool { return n >= 10 }, ">= 10"},
		{"zero dates", "SELECT COUNT(*) FROM qu_la_conversations WHERE datefinished = '0000-00-00 00:00:00'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"NULL phones", "SELECT COUNT(*) FROM qu_la_contacts WHERE phone IS NULL", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"empty phones", "SELECT COUNT(*) FROM qu_la_contacts WHERE phone = ''", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"NULL attachments", "SELECT COUNT(*) FROM qu_g_filecontents WHERE content IS NULL", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"empty attachments", "SELECT COUNT(*) FROM qu_g_filecontents WHERE content = ''", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"big attachments", "SELECT COUNT(*) FROM qu_g_filecontents WHERE LENGTH(content) > 10000", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"filesize matches content", "SELECT COUNT(*) FROM qu_g_files f JOIN qu_g_filecontents c USING (fileid) WHERE f.filesize <> COALESCE(LENGTH(c.content), 0)", func(n int64) bool { return n == 0 }, "0"},
		{"emoji in messages", "SELECT COUNT(*) FROM qu_la_messages WHERE message REGEXP '[😀👍🎉🙏🚀😅]'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"czech subjects", "SELECT COUNT(*) FROM qu_la_conversations WHERE subject LIKE '%ř%' OR subject LIKE '%ů%'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"japanese messages", "SELECT COUNT(*) FROM qu_la_messages WHERE message LIKE '%ありがとう%' OR message LIKE '%ログイン%'", func(n int64) bool { return n >= 1 }, ">= 1"},
		{"messages without group", "SELECT COUNT(*) FROM qu_la_messages m LEFT JOIN qu_la_message_groups g USING (messagegroupid) WHERE g.messagegroupid IS NULL", func(n int64) bool { return n == 0 }, "0"},
		{"groups without conversation", "SELECT COUNT(*) FROM qu_la_message_groups g LEFT JOIN qu_la_conversations c USING (conversationid) WHERE c.conversationid IS NULL", func(n int64) bool { return n == 0 }, "0"},
		{"conversations without contact", "SELECT COUNT(*) FROM qu_la_conversations c LEFT JOIN qu_la_contacts k ON k.contactid = c.ownercontactid WHERE k.contactid IS NULL", func(n int64) bool { return n == 0 }, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := queryInt(t, db.DB, tt.query); !tt.check(n) {
				t.Errorf("%s = %d; want %s", tt.query, n, tt.want)
			}
		})
	}
	var version string
	require.NoError(t, db.QueryRow("SELECT name FROM qu_g_versions WHERE done IS NOT NULL AND application <> 'gpf' ORDER BY done DESC LIMIT 1").Scan(&version), "reading the latest applied version")
	if version != VersionName {
		t.Errorf("installed version = %q; want %q", version, VersionName)
	}
	var charset string
	require.NoError(t, db.QueryRow(`SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qu_la_messages' AND COLUMN_NAME = 'message'`).Scan(&charset),
		"reading the character set of qu_la_messages.message")
	if charset != "utf8mb4" {
		t.Errorf("qu_la_messages.message charset = %s; want utf8mb4", charset)
	}
}

func TestGenerateRefusesFilledDatabase(t *testing.T) {
	db, _ := generate(t, Config{Size: MinSize})
	_, err := Generate(context.Background(), db.DB, Config{Size: MinSize})
	if !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Generate into a filled database = %v; want ErrNotEmpty", err)
	}
}

// Every byte value must survive both loading formats.
func TestValuesRoundTrip(t *testing.T) {
	db := mysqltest.New(t)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err, "a connection")
	defer c.Close()
	for _, s := range Session {
		_, err := c.ExecContext(ctx, s)
		require.NoError(t, err, "setting the session: %s", s)
	}
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i)
	}
	str := "it's \\ \"quoted\"\x00\n\r\x1a\t \\N ž 日本"
	emoji := str + " 😀"
	for _, tsv := range []bool{false, true} {
		table := map[bool]string{false: "q_insert", true: "q_load"}[tsv]
		t.Run(table, func(t *testing.T) {
			_, err := c.ExecContext(ctx, "CREATE TABLE "+table+` (id INT PRIMARY KEY, b LONGBLOB,
				s TEXT, m TEXT CHARACTER SET utf8mb4, d DATETIME, x DECIMAL(10,2)) DEFAULT CHARSET=utf8`)
			require.NoError(t, err, "creating table %s", table)
			w := rows{tsv: tsv}
			w.begin()
			w.int(1)
			w.bytes(all)
			w.str(str)
			w.str(emoji)
			w.datetime(0)
			w.decimal(-1, 2)
			w.end()
			w.begin()
			w.int(2)
			w.bytes([]byte{})
			w.strN("", true)
			w.str("")
			w.datetimeN(0, true)
			w.decimal(0, 2)
			w.end()
			require.NoError(t, send(ctx, c, table, &w), "sending the rows to %s", table)
			var b []byte
			var s, m, d, x sql.NullString
			require.NoError(t, c.QueryRowContext(ctx, "SELECT b, s, m, d, x FROM "+table+" WHERE id = 1").Scan(&b, &s, &m, &d, &x), "reading row 1 of %s", table)
			if !bytes.Equal(b, all) {
				t.Errorf("blob round trip = %x; want %x", b, all)
			}
			if s.String != str || m.String != emoji || d.String != "0000-00-00 00:00:00" || x.String != "-0.01" {
				t.Errorf("row 1 = %q, %q, %q, %q; want %q, %q, zero date, -0.01", s.String, m.String, d.String, x.String, str, emoji)
			}
			require.NoError(t, c.QueryRowContext(ctx, "SELECT b, s, m, d FROM "+table+" WHERE id = 2").Scan(&b, &s, &m, &d), "reading row 2 of %s", table)
			if b == nil || len(b) != 0 || s.Valid || !m.Valid || m.String != "" || d.Valid {
				t.Errorf("row 2 = (%q, %v, %v, %v); want (empty, NULL, '', NULL)", b, s, m, d)
			}
		})
	}
}

func TestSendReportsSkippedRows(t *testing.T) {
	db := mysqltest.New(t)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err, "a connection")
	defer c.Close()
	_, err = c.ExecContext(ctx, "CREATE TABLE d (id INT PRIMARY KEY)")
	require.NoError(t, err, "creating table d")
	w := rows{tsv: true}
	for range 2 {
		w.begin()
		w.int(1)
		w.end()
	}
	if err := send(ctx, c, "d", &w); err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Errorf("send with a duplicate key = %v; want an error saying 1 of 2 rows were stored", err)
	}
}

package verify

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// seed fills a test database with a few LiveAgent-like tables.
func seed(t *testing.T, db *mysqltest.DB) {
	t.Helper()
	db.MustExec(t,
		"CREATE TABLE qu_la_conversations (conversationid CHAR(8) PRIMARY KEY, subject VARCHAR(255), note TEXT NULL, rating FLOAT, created DATETIME, changed TIMESTAMP NULL) ENGINE=InnoDB",
		`INSERT INTO qu_la_conversations VALUES
			('a0000001','Hello', NULL, 1.5, '2024-01-01 10:00:00', '2024-01-01 10:00:00'),
			('a0000002','Mail', '', 0.1, '2024-01-02 11:00:00', NULL),
			('a0000003','Chat', 'x', NULL, NULL, '2024-03-02 11:00:00')`,
		"CREATE TABLE qu_g_filecontents (fileid CHAR(8), chunk INT, content LONGBLOB, PRIMARY KEY (fileid, chunk))",
		"INSERT INTO qu_g_filecontents VALUES ('f1',1,0x00FF00), ('f1',2,''), ('f2',1,NULL)",
		"CREATE TABLE qu_g_settings (settingid INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64), value TEXT, total INT AS (settingid * 2) VIRTUAL)",
		"INSERT INTO qu_g_settings (name, value) VALUES ('allowed_ips',''), ('timezone','UTC')",
		"CREATE TABLE qu_g_logs (id INT PRIMARY KEY)",
		"CREATE VIEW qu_v_convs AS SELECT conversationid FROM qu_la_conversations",
	)
}

// manifestOf records db's tables (qu_g_logs ignored) the way dump does.
func manifestOf(t *testing.T, db *mysqltest.DB) *Manifest {
	t.Helper()
	m := &Manifest{Format: manifest.FormatVersion, Database: db.Name, Ignored: []string{"qu_g_logs"},
		Views: []string{"qu_v_convs"}}
	m.Tables = tablesOf(t, db, "qu_g_filecontents", "qu_g_settings", "qu_la_conversations")
	for i := range m.Tables {
		m.Tables[i].Consistent = true
	}
	return m
}

// tablesOf records the named tables of db as a manifest does: the row
// count and the row digest (mysqltest.DB.Digests) of each.
func tablesOf(t *testing.T, db *mysqltest.DB, names ...string) []manifest.Table {
	t.Helper()
	digests := db.Digests(t, names...)
	var out []manifest.Table
	for _, name := range names {
		var rows int64
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+ident.Quote(name)).Scan(&rows), "counting the rows of %s", name)
		out = append(out, manifest.Table{Name: name, Rows: rows, Digest: digests[name]})
	}
	return out
}

type diff struct{ table, what string }

func TestDatabase(t *testing.T) {
	cases := []struct {
		name   string
		change []string
		want   []diff
	}{
		{"unchanged", nil, nil},
		{"rows in another order", []string{
			"CREATE TABLE tmp AS SELECT * FROM qu_g_filecontents", "DELETE FROM qu_g_filecontents",
			"INSERT INTO qu_g_filecontents SELECT * FROM tmp ORDER BY fileid DESC, chunk DESC", "DROP TABLE tmp",
			"ALTER TABLE qu_g_filecontents ENGINE=InnoDB"}, nil},
		{"ignored table changed", []string{"INSERT INTO qu_g_logs VALUES (1)"}, nil},
		{"changed value", []string{"UPDATE qu_la_conversations SET subject='Hallo' WHERE conversationid='a0000001'"},
			[]diff{{"qu_la_conversations", RowDigest}}},
		{"NULL became empty", []string{"UPDATE qu_la_conversations SET note='' WHERE conversationid='a0000001'"},
			[]diff{{"qu_la_conversations", RowDigest}}},
		{"empty became NULL", []string{"UPDATE qu_g_filecontents SET content=NULL WHERE chunk=2"},
			[]diff{{"qu_g_filecontents", RowDigest}}},
		{"float changed in its last bits", []string{"UPDATE qu_la_conversations SET rating=rating+0.0000001 WHERE conversationid='a0000002'"},
			[]diff{{"qu_la_conversations", RowDigest}}},
		{"blob byte changed", []string{"UPDATE qu_g_filecontents SET content=0x00FE00 WHERE fileid='f1' AND chunk=1"},
			[]diff{{"qu_g_filecontents", RowDigest}}},
		{"deleted row", []string{"DELETE FROM qu_g_settings WHERE name='timezone'"},
			[]diff{{"qu_g_settings", RowCount}}},
		{"extra row", []string{"INSERT INTO qu_g_filecontents VALUES ('f3',1,'x')"},
			[]diff{{"qu_g_filecontents", RowCount}}},
		{"duplicate of a row replaces another", []string{
			"ALTER TABLE qu_g_filecontents DROP PRIMARY KEY",
			"DELETE FROM qu_g_filecontents WHERE fileid='f2'", "INSERT INTO qu_g_filecontents VALUES ('f1',2,'')"},
			[]diff{{"qu_g_filecontents", RowDigest}}},
		{"missing table", []string{"DROP TABLE qu_g_settings"},
			[]diff{{"qu_g_settings", TableMissing}}},
		{"table replaced by a view", []string{"DROP TABLE qu_g_settings", "CREATE VIEW qu_g_settings AS SELECT 1 AS x"},
			[]diff{{"qu_g_settings", TableMissing}}},
		{"extra table", []string{"CREATE TABLE qu_la_extra (id INT)"},
			[]diff{{"qu_la_extra", TableExtra}}},
		{"missing view", []string{"DROP VIEW qu_v_convs"},
			[]diff{{"qu_v_convs", ViewMissing}}},
		{"everything at once", []string{
			"UPDATE qu_la_conversations SET changed='2024-01-01 10:00:01' WHERE conversationid='a0000001'",
			"DELETE FROM qu_g_settings", "DROP TABLE qu_g_filecontents", "CREATE TABLE zz (id INT)"},
			[]diff{{"qu_g_filecontents", TableMissing}, {"qu_g_settings", RowCount}, {"qu_la_conversations", RowDigest}, {"zz", TableExtra}}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			db := mysqltest.New(t)
			seed(t, db)
			m := manifestOf(t, db)
			db.MustExec(t, tt.change...)
			var prog countProgress
			rep, err := Database(context.Background(), db.DB, m, Options{Progress: &prog})
			if len(tt.want) == 0 {
				if err != nil || rep == nil || !rep.OK {
					t.Fatalf("Database(%s) = %v; want nil", tt.name, err)
				}
				if rep.Rows != 8 || prog.done != 8 || prog.total != 8 {
					t.Errorf("Database(%s) rows %d, progress %+v; want 8 rows", tt.name, rep.Rows, prog)
				}
				return
			}
			var de *DiffError
			if !errors.As(err, &de) || !errors.Is(err, ErrMismatch) {
				t.Fatalf("Database(%s) = %v; want a *DiffError", tt.name, err)
			}
			if rep == nil || rep.OK || len(rep.Differences) != len(tt.want) {
				t.Fatalf("Database(%s) report = %+v; want %d differences", tt.name, rep, len(tt.want))
			}
			var got []diff
			for _, d := range rep.Differences {
				got = append(got, diff{d.Table, d.What})
				if !strings.Contains(err.Error(), "`"+d.Table+"`") {
					t.Errorf("Database(%s) error %q does not name table %s", tt.name, err, d.Table)
				}
			}
			slices.SortFunc(got, func(a, b diff) int { return strings.Compare(a.table, b.table) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("Database(%s) differences = %v; want %v", tt.name, got, tt.want)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}
}

// The digest Database computes is rowhash.Table's, so a manifest written by
// dump compares equal.
func TestDatabaseDigestMatchesRowhash(t *testing.T) {
	db := mysqltest.New(t)
	seed(t, db)
	m := manifestOf(t, db)
	rep, err := Database(context.Background(), db.DB, m, Options{Connections: 1})
	require.NoError(t, err, "Database of an unchanged database")
	for i, r := range rep.Tables {
		if r.Digest != m.Tables[i].Digest || r.Rows != m.Tables[i].Rows || r.Status != StatusOK {
			t.Errorf("Database table %s = %s %d %s; want %s %d ok", r.Name, r.Digest, r.Rows, r.Status, m.Tables[i].Digest, m.Tables[i].Rows)
		}
	}
}

func TestDatabaseSessionTimeZone(t *testing.T) {
	// TIMESTAMP values read in the server's zone would differ from the
	// manifest's UTC reading: Database must set '+00:00' itself.
	db := mysqltest.New(t)
	seed(t, db)
	m := manifestOf(t, db)
	cfg := db.Config()
	cfg.Params = map[string]string{"time_zone": "'+05:00'"}
	other := openConfig(t, cfg)
	if _, err := Database(context.Background(), other, m, Options{}); err != nil {
		t.Errorf("Database(session time zone +05:00) = %v; want nil", err)
	}
}

func TestDatabaseNoSchema(t *testing.T) {
	cfg := mysqltest.Server(t)
	cfg.DBName = ""
	db := openConfig(t, cfg)
	if _, err := Database(context.Background(), db, &Manifest{}, Options{}); err == nil || !strings.Contains(err.Error(), "no database selected") {
		t.Errorf("Database(no database) = %v; want an error saying no database is selected", err)
	}
}

func openConfig(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	c, err := mysql.NewConnector(cfg)
	require.NoError(t, err, "a connector for %s", cfg.FormatDSN())
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func splitDB(t *testing.T) *mysqltest.DB {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE hex (id CHAR(8) PRIMARY KEY, v TEXT) CHARSET utf8mb3 COLLATE utf8mb3_general_ci",
		"INSERT INTO hex SELECT LOWER(LPAD(HEX(seq * 2654435761 % 4294967291), 8, '0')), REPEAT('x', seq % 300) FROM seq_1_to_3000",
		"CREATE TABLE num (id BIGINT PRIMARY KEY, v INT)",
		"INSERT INTO num SELECT CAST(seq AS SIGNED) * 7 - 5000, seq FROM seq_1_to_2000",
		"CREATE TABLE comp (fileid CHAR(8), n INT, content BLOB, PRIMARY KEY (fileid, n))",
		"INSERT INTO comp SELECT LOWER(LPAD(HEX(seq % 97), 8, '0')), seq, REPEAT(CHAR(seq % 256), seq % 100) FROM seq_1_to_2000",
		"CREATE TABLE mixed (id VARCHAR(10) PRIMARY KEY) COLLATE utf8mb4_general_ci",
		"INSERT INTO mixed SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq) FROM seq_1_to_500",
		"CREATE TABLE nopk (v INT)",
		"INSERT INTO nopk SELECT seq FROM seq_1_to_100",
		"ANALYZE TABLE hex, num, comp, mixed, nopk",
	)
	return db
}

func TestDatabaseSplitsBigTables(t *testing.T) {
	t.Parallel() // its split size is its own (Options.minSplit)
	db := splitDB(t)
	ctx := context.Background()
	m := &Manifest{Format: manifest.FormatVersion}
	m.Tables = tablesOf(t, db, "hex", "num", "comp", "mixed", "nopk")
	opt := Options{Connections: 3, minSplit: 1} // every table bigger than its share
	if _, err := Database(ctx, db.DB, m, opt); err != nil {
		t.Fatalf("Database(tables read in ranges) = %v; want nil", err)
	}
	db.MustExec(t, "UPDATE hex SET v = CONCAT(v, '.') ORDER BY id DESC LIMIT 1")
	rep, err := Database(ctx, db.DB, m, opt)
	if !errors.Is(err, ErrMismatch) || len(rep.Differences) != 1 || rep.Differences[0].Table != "hex" {
		t.Errorf("Database(last row of hex changed) = %v; want one difference in hex", err)
	}
}

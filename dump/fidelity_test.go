package dump

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// fidelitySchema covers every kind of value and object the issue lists.
var fidelitySchema = []string{
	"SET SESSION sql_mode = ''",
	"SET SESSION time_zone = '+05:30'",
	`CREATE TABLE ints (id INT PRIMARY KEY AUTO_INCREMENT,
		ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
		mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
		bi BIGINT, biu BIGINT UNSIGNED, d DECIMAL(65,30), b1 BIT(1), b64 BIT(64), y YEAR)`,
	`INSERT INTO ints VALUES
		(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
		 '-99999999999999999999999999999999999.999999999999999999999999999999', 0, 0, 1901),
		(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
		 '99999999999999999999999999999999999.999999999999999999999999999999', 1, 18446744073709551615, 2155),
		(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '0.000000000000000000000000000001', b'0', b'1010', 0),
		(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	"ALTER TABLE ints AUTO_INCREMENT = 1000",
	`CREATE TABLE floats (id INT PRIMARY KEY, f FLOAT, d DOUBLE, fu FLOAT UNSIGNED, f52 FLOAT(7,3))`,
	`INSERT INTO floats VALUES
		(1, 3.4028234663852886e38, 1.7976931348623157e308, 0.1, 1234.567),
		(2, -3.4028234663852886e38, -1.7976931348623157e308, 1.17549435e-38, -999.999),
		(3, 1.17549435e-38, 2.2250738585072014e-308, 16777217, 0),
		(4, 1.401298464324817e-45, 4.9406564584124654e-324, 0, NULL),
		(5, 0.1, 0.1, 1, 1),
		(6, 1/3, 1/3, 2/3, 0.333),
		(7, 16777217, 9007199254740993, 123456.789, 0.001),
		(8, -0.0, -0.0, 0, 0),
		(9, NULL, NULL, NULL, NULL)`,
	`CREATE TABLE dates (id INT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL,
		ts6 TIMESTAMP(6) NULL DEFAULT NULL, t TIME, t6 TIME(6), y YEAR)`,
	`INSERT INTO dates VALUES
		(1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', '-00:00:00.000001', 0),
		(2, '1000-01-01', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999', '1970-01-01 05:30:01', '2038-01-19 08:44:07.999999', '-838:59:59', '838:59:59.000000', 1901),
		(3, '2024-02-29', '2024-03-31 02:30:00', '2024-03-31 02:30:00.5', '2024-03-10 02:30:00', '2024-10-27 02:30:00.123456', '-00:00:01', '-12:34:56.789012', 2024),
		(4, '2024-00-00', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`CREATE TABLE strs (id INT PRIMARY KEY, v VARCHAR(100), t TEXT, c CHAR(5), b VARBINARY(300), bl BLOB, fb BINARY(4),
		l1 VARCHAR(50) CHARACTER SET latin1, a VARCHAR(50) CHARACTER SET ascii, m3 VARCHAR(50) CHARACTER SET utf8mb3,
		e ENUM('a', 'b c', 'it''s', '') , s SET('x', 'y', 'z'), j JSON, nv VARCHAR(10) NOT NULL DEFAULT '')`,
	`INSERT INTO strs VALUES
		(1, '', '', '', '', '', NULL, '', '', '', '', '', '""', 'x'),
		(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''),
		(3, 'it''s a \\ back\\slash "q" \n\r\t end', 'nul:\0 ctrlz:\Z', 'a  ', X'00275C1A0A0D22', X'FF00FE', X'00000000',
		 'é ÿ € ß', 'plain ascii ~', 'ünï', 'it''s', 'x,z', '{"a": [1, "x\\"y", null], "ü": "😀", "k": "\\u0000"}', ''),
		(4, '😀 𝄞 中文 עברית', REPEAT('ab', 5000), 'ß', X'', X'', X'01020304', 'Ä', '', 'ä', 'b c', 'x,y,z', '[]', ' '),
		(5, 'trailing space ', 'line1\nline2\r\n', NULL, X'5C', X'27', X'5C275C27', '\\', '\\', '\\', 'a', '', 'null', 'x')`,
	`CREATE TABLE geo (id INT PRIMARY KEY, g GEOMETRY, p POINT, poly POLYGON, gs GEOMETRY)`,
	`INSERT INTO geo VALUES
		(1, ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0.5)'), POINT(1.5, -2.25), ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))'), ST_GeomFromText('POINT(1 2)', 4326)),
		(2, NULL, NULL, NULL, NULL)`,
	`CREATE TABLE gen (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, s VARCHAR(20) AS (CONCAT('s', a)) STORED,
		inv INT INVISIBLE DEFAULT 7, w INT)`,
	"INSERT INTO gen (id, a, inv, w) VALUES (1, 10, 1, 100), (2, NULL, NULL, NULL), (3, -5, 99, 3)",
	"CREATE TABLE nopk (a INT, b VARCHAR(10))",
	"INSERT INTO nopk VALUES (1, 'dup'), (1, 'dup'), (1, 'dup'), (NULL, NULL), (2, '')",
	"CREATE TABLE `select` (`from` INT PRIMARY KEY, `my col` VARCHAR(10), `back``tick` INT, `ünïcödé` INT)",
	"INSERT INTO `select` VALUES (1, 'x', 2, 3), (2, NULL, NULL, NULL)",
	"CREATE TABLE `my table` (`id` INT PRIMARY KEY)",
	"INSERT INTO `my table` VALUES (1), (2)",
	"CREATE TABLE `back``tick` (`id` INT PRIMARY KEY)",
	"INSERT INTO `back``tick` VALUES (5)",
	"CREATE TABLE `täblé` (`id` INT PRIMARY KEY, `ñ` VARCHAR(5))",
	"INSERT INTO `täblé` VALUES (1, 'ñ')",
	// A child sorted before its parent: loads only with checks off.
	"CREATE TABLE z_parent (id INT PRIMARY KEY) ENGINE=InnoDB",
	`CREATE TABLE a_child (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_child FOREIGN KEY (pid) REFERENCES z_parent (id) ON DELETE CASCADE) ENGINE=InnoDB`,
	"INSERT INTO z_parent VALUES (1), (2)",
	"INSERT INTO a_child VALUES (10, 1), (11, 2), (12, NULL)",
	"CREATE TABLE my_isam (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM",
	"INSERT INTO my_isam VALUES (1, 'm')",
	"CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, msg VARCHAR(100))",
	`CREATE TRIGGER z_parent_ai AFTER INSERT ON z_parent FOR EACH ROW
		BEGIN
			INSERT INTO audit (msg) VALUES (CONCAT('parent ', NEW.id, ';'));
			INSERT INTO audit (msg) VALUES ('second; statement');
		END`,
	"CREATE TRIGGER z_parent_bi BEFORE INSERT ON z_parent FOR EACH ROW SET NEW.id = NEW.id",
	// Views whose names sort against their dependency order.
	"CREATE VIEW c_base AS SELECT id, pid FROM a_child",
	"CREATE VIEW b_mid AS SELECT id FROM c_base WHERE pid IS NOT NULL",
	"CREATE VIEW a_top AS SELECT COUNT(*) AS n FROM b_mid",
	"CREATE TABLE empty_t (id INT PRIMARY KEY, x LONGBLOB)",
	"SET SESSION time_zone = '+00:00'",
}

func TestFidelityRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, file, decompress string
		hexBlob                bool
	}{
		{"gzip escaped binary", "d.sql.gz", "gzip -dc", false},
		{"zstd hex-blob", "d.sql.zst", "zstd -dc", true},
		{"lz4", "d.sql.lz4", "lz4 -dc", false},
		{"none", "d.sql", "cat", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mysqltest.New(t)
			setup(t, src, fidelitySchema...)
			var warns []string
			path, m, res := dumpFile(t, src, tc.file, Config{HexBlob: tc.hexBlob, NetBufferLength: 4096}, Options{Progress: progressFunc(func(msg string) { warns = append(warns, msg) })})
			dst := mysqltest.New(t)
			loadWithClient(t, tc.decompress, path, dst)
			compareTables(t, m, src, dst)

			if len(m.Tables) != 16 {
				t.Errorf("manifest has %d tables; want 16", len(m.Tables))
			}
			if got := fmt.Sprint(m.Views); got != "[c_base b_mid a_top]" {
				t.Errorf("views in order = %s; want [c_base b_mid a_top]", got)
			}
			if isam := m.Table("my_isam"); isam == nil || isam.Consistent || isam.Engine != "MyISAM" {
				t.Errorf("my_isam entry = %+v; want MyISAM, not consistent", isam)
			}
			if it := m.Table("ints"); it == nil || !it.Consistent || it.Rows != 4 {
				t.Errorf("ints entry = %+v; want 4 rows, consistent", it)
			}
			if len(warns) != 1 || !strings.Contains(warns[0], "my_isam") {
				t.Errorf("warnings = %q; want one about my_isam", warns)
			}
			if res.File.Size != m.File.Size || m.File.SHA256 != res.File.SHA256 {
				t.Errorf("manifest file = %+v; result %+v", m.File, res.File)
			}
			dc := utcConn(t, dst)
			sc := utcConn(t, src)
			// Spot checks on values the digests cover, read a second way.
			for _, q := range []string{
				"SELECT id, HEX(f), HEX(d), f, d FROM floats ORDER BY id",
				"SELECT id, CAST(f AS DOUBLE) FROM floats ORDER BY id",
				"SELECT id, HEX(b), HEX(bl), HEX(fb), HEX(v), HEX(l1), HEX(m3), e, s, j, LENGTH(t) FROM strs ORDER BY id",
				"SELECT id, d, dt, dt6, ts, ts6, UNIX_TIMESTAMP(ts6), t, t6, y FROM dates ORDER BY id",
				"SELECT id, ST_AsText(g), ST_AsText(p), ST_SRID(gs), HEX(gs) FROM geo ORDER BY id",
				"SELECT id, a, v, s, inv, w FROM gen ORDER BY id",
				"SELECT id, HEX(b1), HEX(b64), d, biu FROM ints ORDER BY id",
				"SELECT * FROM a_top",
				"SELECT COUNT(*) FROM audit",
				"SELECT TRIGGER_NAME, ACTION_TIMING, ACTION_ORDER, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1",
				"SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
				"SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
			} {
				want, got := queryStrings(t, sc, q), queryStrings(t, dc, q)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s on the loaded copy =\n%s\nwant\n%s", q, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			// Exact values a rounding dumper would lose.
			for q, want := range map[string]string{
				"SELECT CAST(f AS DOUBLE) FROM floats WHERE id = 1":               "3.4028234663852886e+38",
				"SELECT CAST(f AS DOUBLE) FROM floats WHERE id = 4":               "1.401298464324817e-45",
				"SELECT d FROM floats WHERE id = 4":                               "5e-324",
				"SELECT CAST(f AS DOUBLE) FROM floats WHERE id = 6":               "0.3333333432674408",
				"SELECT HEX(b) FROM strs WHERE id = 3":                            "00275C1A0A0D22",
				"SELECT CONCAT(ISNULL(b), ':', LENGTH(b)) FROM strs WHERE id = 4": "0:0",
				"SELECT ts6 FROM dates WHERE id = 3":                              "2024-10-26 21:00:00.123456",
				"SELECT t FROM dates WHERE id = 2":                                "-838:59:59",
				"SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ints'": "1000",
			} {
				if got := queryStrings(t, dc, q); len(got) != 1 || got[0] != want {
					t.Errorf("%s on the loaded copy = %q; want %s", q, got, want)
				}
			}
			checkFormat(t, tc.decompress, path, m)
		})
	}
}

type progressFunc func(msg string)

func (f progressFunc) Update(Status)   {}
func (f progressFunc) Warn(msg string) { f(msg) }

// checkFormat reads the uncompressed stream and checks its shape.
func checkFormat(t *testing.T, decompress, path string, m *manifest.Manifest) {
	t.Helper()
	out, err := exec.Command("sh", "-c", decompress+` < "$0"`, path).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", decompress, path, err)
	}
	i := bytes.LastIndex(out[:len(out)-1], []byte("\n")) + 1
	n, sum, err := manifest.ParseMarker(string(out[i:]))
	if err != nil || n != int64(i) || n != m.SQL.Bytes || sum != m.SQL.XXH3 {
		t.Errorf("last line %q: ParseMarker = %d, %s, %v; want bytes=%d xxh3=%s", out[i:], n, sum, err, i, m.SQL.XXH3)
	}
	s := string(out)
	for _, want := range []string{
		"/*!40101 SET NAMES utf8mb4 */;\n",
		"/*!40103 SET TIME_ZONE='+00:00' */;\n",
		"SQL_MODE='NO_AUTO_VALUE_ON_ZERO'",
		"FOREIGN_KEY_CHECKS=0",
		"UNIQUE_CHECKS=0",
		"\n--\n-- Table structure for table `ints`\n--\n\nCREATE TABLE `ints` (",
		"\n--\n-- Dumping data for table `ints`\n--\n\n",
		"\n--\n-- Table structure for table `back``tick`\n--\n",
		"INSERT INTO `gen` (`id`, `a`, `inv`, `w`) VALUES (",
		"DELIMITER ;;\n",
		"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	for _, bad := range []string{"DROP TABLE", "CREATE DATABASE", "\nUSE "} {
		if strings.Contains(s, bad) {
			t.Errorf("dump contains %q", bad)
		}
	}
	// Every statement fits the net buffer (4096 here) unless it holds one row.
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "INSERT INTO") && len(line) > 4096 && strings.Contains(line, "),(") {
			t.Errorf("INSERT of %d bytes with several rows exceeds the 4096-byte net buffer", len(line))
		}
	}
	if t.Failed() {
		os.WriteFile("/tmp/dump_failed.sql", out, 0o644)
	}
}

var _ = rand.IntN
var _ = context.Background
var _ sql.RawBytes

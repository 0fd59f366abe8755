package load

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want class
	}{
		{"/*!40101 SET NAMES utf8mb4 */", class{kind: kindSession}},
		{"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0", class{kind: kindSession}},
		{"set autocommit=0", class{kind: kindSkip}},
		{"SET GLOBAL max_allowed_packet=1", class{kind: kindGlobal}},
		{"LOCK TABLES `t` WRITE", class{kind: kindSkip}},
		{"UNLOCK TABLES", class{kind: kindSkip}},
		{"COMMIT", class{kind: kindSkip}},
		{"USE `x`", class{kind: kindForbidden}},
		{"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `x`", class{kind: kindForbidden}},
		{"CREATE TABLE `a``b` (id INT)", class{kind: kindCreate, table: "a`b", object: "TABLE"}},
		{"CREATE TABLE IF NOT EXISTS db.t (id INT)", class{kind: kindCreate, table: "t", object: "TABLE"}},
		{"INSERT INTO `t` VALUES (1)", class{kind: kindData, table: "t", plain: true}},
		{"insert `t` (a) VALUES (1)", class{kind: kindData, table: "t", plain: true}},
		{"INSERT DELAYED INTO t VALUES (1)", class{kind: kindData, table: "t"}},
		{"INSERT IGNORE t VALUES (1)", class{kind: kindData, table: "t"}},
		{"REPLACE INTO `x y` (a) VALUES (1)", class{kind: kindData, table: "x y", replace: true}},
		{"REPLACE LOW_PRIORITY INTO t VALUES (1)", class{kind: kindData, table: "t"}},
		// A delta's statements (dump --since).
		{"DELETE FROM `t` WHERE `id` IN (1,2)", class{kind: kindData, table: "t"}},
		{"delete quick from db.`t` where (`a`, `b`) IN ((1,'x'))", class{kind: kindData, table: "t"}},
		{"DELETE FROM t", class{kind: kindData, table: "t"}},
		{"DELETE FROM t USING t JOIN u", class{kind: kindGlobal}},
		{"DELETE t FROM t JOIN u ON t.a = u.a", class{kind: kindGlobal}},
		{"DELETE FROM t, u USING t JOIN u", class{kind: kindGlobal}},
		{"ALTER TABLE `t` AUTO_INCREMENT=42", class{kind: kindTable, table: "t"}},
		{"DROP TRIGGER IF EXISTS `tr`", class{kind: kindGlobal}},
		{"DROP PROCEDURE IF EXISTS `p`", class{kind: kindGlobal}},
		{"/*!40000 ALTER TABLE `t` DISABLE KEYS */", class{kind: kindTable, table: "t"}},
		{"DROP TABLE IF EXISTS `t`", class{kind: kindTable, table: "t"}},
		{"DROP TABLE IF EXISTS `t`, `u`", class{kind: kindGlobal}},
		{"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 trigger tr before insert on a for each row begin end */",
			class{kind: kindTable, table: "a", object: "TRIGGER", name: "tr"}},
		{"/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS select 1 */",
			class{kind: kindGlobal, object: "VIEW", name: "v"}},
		{"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() begin end", class{kind: kindGlobal, object: "PROCEDURE", name: "p"}},
		{"/*!50001 DROP VIEW IF EXISTS `v`*/", class{kind: kindGlobal}},
		{"SELECT SETVAL(`s`, 1)", class{kind: kindGlobal}},
	}
	for _, tt := range tests {
		if got := classify([]byte(tt.in)); got != tt.want {
			t.Errorf("classify(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSQLMode(t *testing.T) {
	var m sqlMode
	steps := []struct {
		set  string
		want bool
	}{
		{"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */", false},
		{"/*!50003 SET @saved_sql_mode = @@sql_mode */", false},
		{"/*!50003 SET sql_mode = 'NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES' */", true},
		{"SET NAMES utf8mb4", true},
		{"/*!50003 SET sql_mode = @saved_sql_mode */", false},
		{"SET @@session.sql_mode = \"ANSI,NO_BACKSLASH_ESCAPES\"", true},
		{"SET sql_mode = DEFAULT", false},
	}
	for _, s := range steps {
		m.set([]byte(s.set))
		if m.nbe != s.want {
			t.Errorf("after %q NO_BACKSLASH_ESCAPES = %v; want %v", s.set, m.nbe, s.want)
		}
	}
}

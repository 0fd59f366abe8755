package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStripDefiner(t *testing.T) {
	for _, c := range []struct{ in, out, definer string }{
		{"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() BEGIN END", "CREATE PROCEDURE `p`() BEGIN END", "`root`@`localhost`"},
		{"CREATE ALGORITHM=UNDEFINED DEFINER=`la other`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`",
			"CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`", "`la other`@`%`"},
		{"CREATE DEFINER=`a``b`@`h` TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1", "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1", "`a``b`@`h`"},
		{"CREATE DEFINER=`role1` EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1", "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1", "`role1`"},
		{"CREATE DEFINER='u'@'h' FUNCTION f() RETURNS int RETURN 1", "CREATE FUNCTION f() RETURNS int RETURN 1", "'u'@'h'"},
		{"CREATE FUNCTION f() RETURNS int RETURN 1", "CREATE FUNCTION f() RETURNS int RETURN 1", ""},
		// Only the clause of the statement's head: not a word in the body.
		{"CREATE PROCEDURE p() SELECT 'DEFINER=`x`@`y` '", "CREATE PROCEDURE p() SELECT 'DEFINER=`x`@`y` '", ""},
	} {
		out, d := StripDefiner(c.in)
		assert.Equal(t, c.out, out, c.in)
		assert.Equal(t, c.definer, d, c.in)
	}
	a := DefinitionDigest(TypeFunction, "CREATE DEFINER=`root`@`localhost` FUNCTION f() RETURNS int RETURN 1", "STRICT_ALL_TABLES")
	assert.Equal(t, a, DefinitionDigest(TypeFunction, "CREATE DEFINER=`other`@`%` FUNCTION f() RETURNS int RETURN 1", "STRICT_ALL_TABLES"))
	assert.NotEqual(t, a, DefinitionDigest(TypeFunction, "CREATE FUNCTION f() RETURNS int RETURN 2", "STRICT_ALL_TABLES"))
	assert.NotEqual(t, a, DefinitionDigest(TypeFunction, "CREATE FUNCTION f() RETURNS int RETURN 1", ""))
}

func TestTableDefinition(t *testing.T) {
	a := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
	b := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=99 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
	c := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
	d1, n1 := TableDefinition(a)
	d2, n2 := TableDefinition(b)
	d3, n3 := TableDefinition(c)
	assert.Equal(t, int64(17), n1)
	assert.Equal(t, int64(99), n2)
	assert.Equal(t, int64(0), n3)
	assert.Equal(t, d1, d2, "the counter is not part of the definition")
	assert.Equal(t, d1, d3)
	d4, _ := TableDefinition(strings.Replace(a, "int(11)", "bigint(20)", 1))
	assert.NotEqual(t, d1, d4)
	// A column comment that looks like the option is left alone.
	e := "CREATE TABLE `t` (\n  `x` int COMMENT ' AUTO_INCREMENT=5'\n) ENGINE=InnoDB DEFAULT CHARSET=latin1"
	d5, n5 := TableDefinition(e)
	assert.Equal(t, int64(0), n5)
	assert.NotEqual(t, d5, d3)
}

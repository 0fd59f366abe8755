package manifest

import (
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

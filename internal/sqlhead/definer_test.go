package sqlhead

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFindDefiner: the clause of SHOW CREATE's statements (in the quoting
// of the object's sql_mode) and of mysqldump's, with its offsets; never a
// DEFINER after the head.
func TestFindDefiner(t *testing.T) {
	tests := []struct {
		name, in   string
		user, host string // "" host: a role
		current    bool
		clause     string // in[Start:End]; "" for none
		account    string // in[Account:End]
		stripped   string
	}{
		{name: "SHOW CREATE PROCEDURE", in: "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\nSELECT 1",
			user: "root", host: "localhost", clause: "DEFINER=`root`@`localhost`", account: "`root`@`localhost`",
			stripped: "CREATE  PROCEDURE `p`()\nSELECT 1"},
		{name: "SHOW CREATE VIEW", in: "CREATE ALGORITHM=UNDEFINED DEFINER=`la other`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`",
			user: "la other", host: "%", clause: "DEFINER=`la other`@`%`", account: "`la other`@`%`",
			stripped: "CREATE ALGORITHM=UNDEFINED  SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`"},
		{name: "ANSI_QUOTES routine, a blank and a quote in the names", in: "CREATE DEFINER=\"la other\"@\"we'ird\" FUNCTION \"f\"() RETURNS int(11)\nRETURN 1",
			user: "la other", host: "we'ird", clause: "DEFINER=\"la other\"@\"we'ird\"", account: "\"la other\"@\"we'ird\"",
			stripped: "CREATE  FUNCTION \"f\"() RETURNS int(11)\nRETURN 1"},
		{name: "quoted quote", in: "CREATE DEFINER=`a``b`@`h` TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1",
			user: "a`b", host: "h", clause: "DEFINER=`a``b`@`h`", account: "`a``b`@`h`",
			stripped: "CREATE  TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1"},
		{name: "role", in: "CREATE DEFINER=`role1` EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1",
			user: "role1", clause: "DEFINER=`role1`", account: "`role1`", stripped: "CREATE  EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1"},
		{name: "mysqldump view", in: "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL SECURITY INVOKER */\n/*!50001 VIEW `v` AS select 1 AS `x` */",
			user: "root", host: "localhost", clause: "DEFINER=`root`@`localhost`", account: "`root`@`localhost`",
			stripped: "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013  SQL SECURITY INVOKER */\n/*!50001 VIEW `v` AS select 1 AS `x` */"},
		{name: "mysqldump trigger", in: "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 1 */",
			user: "root", host: "localhost", clause: "DEFINER=`root`@`localhost`", account: "`root`@`localhost`",
			stripped: "/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 1 */"},
		{name: "lower case, blanks, strings", in: "create or replace definer = 'a\\'b' @ 'h' package pk as end",
			user: "a'b", host: "h", clause: "definer = 'a\\'b' @ 'h'", account: "'a\\'b' @ 'h'", stripped: "create or replace  package pk as end"},
		{name: "current user", in: "CREATE DEFINER=CURRENT_USER ( ) VIEW v AS SELECT 1", current: true,
			clause: "DEFINER=CURRENT_USER ( )", account: "CURRENT_USER ( )", stripped: "CREATE  VIEW v AS SELECT 1"},
		{name: "none", in: "CREATE SQL SECURITY DEFINER VIEW v AS SELECT 'DEFINER=`root`@`localhost`'"},
		{name: "only in the body", in: "CREATE PROCEDURE p() SELECT 1 AS DEFINER"},
		{name: "not a create", in: "INSERT INTO t VALUES ('CREATE DEFINER=`root`@`localhost` VIEW')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := FindDefiner([]byte(tt.in))
			require.Equal(t, tt.clause != "", ok, "FindDefiner(%q) found a clause", tt.in)
			if !ok {
				return
			}
			assert.Equal(t, tt.user, d.User, "user")
			assert.Equal(t, tt.host, d.Host, "host")
			assert.Equal(t, tt.current, d.Current, "CURRENT_USER")
			assert.Equal(t, tt.clause, tt.in[d.Start:d.End], "the clause")
			assert.Equal(t, tt.account, tt.in[d.Account:d.End], "the account as written")
			assert.Equal(t, tt.stripped, string(d.Strip([]byte(tt.in))), "the statement without it")
		})
	}
}

func TestDefinerString(t *testing.T) {
	assert.Equal(t, "'root'@'localhost'", Definer{User: "root", Host: "localhost"}.String())
	assert.Equal(t, "'a\\'b'", Definer{User: "a'b"}.String(), "a role")
	assert.Equal(t, "CURRENT_USER", Definer{Current: true}.String())
}

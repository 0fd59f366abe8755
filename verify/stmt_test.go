package verify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStmtCounter: the rows of an INSERT or REPLACE and the keys of a
// DELETE are counted exactly, whatever the literals hold, however the
// statement is cut into pieces, and the count ends at the statement's ';'.
func TestStmtCounter(t *testing.T) {
	for _, tt := range []struct {
		name string
		del  bool
		sql  string
		want int64
	}{
		{"one row", false, "INSERT INTO `t` (`a`, `b`) VALUES (1,'x');", 1},
		{"without a column list", false, "INSERT INTO `t` VALUES (1,'x'),(2,'y');", 2},
		{"separators inside strings", false, `REPLACE INTO ` + "`t` (`a`, `b`)" + ` VALUES (1,'),('),(2,'a\'),(b'),(3,'\\'),(4,'it''s ),( (')` + ";", 4},
		{"double quotes, NULL, hex, _binary", false, `INSERT INTO ` + "`t`" + ` VALUES (NULL,"),(\"),(",0x2928,_binary '),('),(5,'',-1.5e3,b'101');`, 2},
		{"identifiers with parentheses and VALUES in them", false, "INSERT INTO `VALUES (` (`a),(`, ```(b`, `in`) VALUES (1,2,3),(4,5,6),(7,8,9);", 3},
		{"tuples on their own lines", false, "INSERT INTO `t` VALUES\n(1,'a\nb'),\n(2,'c')\n;", 2},
		{"a semicolon inside a string does not end it", false, "INSERT INTO `t` VALUES (1,';'),(2,'\\';');", 2},
		{"function calls inside a tuple count once", false, "INSERT INTO `t` VALUES (1,CONCAT('a',('b'))),(2,NOW());", 2},
		{"one-column key", true, "DELETE FROM `t` WHERE `k` IN ('a,b','c'')','',0x00,5);", 5},
		{"multi-column key", true, "DELETE FROM `t` WHERE (`a`, `b`) IN (('x',1),('y,(',2), ( 'z' , 3 ));", 3},
		{"IN inside identifiers and strings is not the list", true, "DELETE FROM `IN (` WHERE `in` IN ( 'IN (1,2)' );", 1},
		{"an empty list", true, "DELETE FROM `t` WHERE `k` IN ();", 0},
		{"exact bytes of a textual key: the second list names the same rows", true,
			"DELETE FROM `t` WHERE (`k`, `n`) IN (('a',1),('B',2)) AND (CAST(CONVERT(`k` USING utf8mb4) AS BINARY), `n`) IN ((_binary 'a',1),(_binary 'B',2));", 2},
		{"a key column named like a keyword", true, "DELETE FROM `t` WHERE (`IN`, `VALUES`) IN ((1,2),(3,4));", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.sql + "\nSELECT (1),(2);\n")
			end := len(tt.sql)
			// Whole, then cut at every position into two pieces.
			for cut := 0; cut <= len(input); cut++ {
				var c stmtCounter
				c.start(tt.del)
				used := c.feed(input[:cut])
				if c.open {
					used = cut + c.feed(input[cut:])
				}
				assert.False(t, c.open, "cut at %d: the statement did not end", cut)
				assert.Equal(t, end, used, "cut at %d: the statement should end at its ';'", cut)
				assert.Equal(t, tt.want, c.n, "cut at %d: count of %q", cut, tt.sql)
			}
		})
	}
}

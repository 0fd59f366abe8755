package sqlhead

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLexer(t *testing.T) {
	l := &Lexer{Text: []byte("/*!50003 CREATE*/ /*M!100101 OR REPLACE */ `my``db`.\"t\" ( x")}
	var toks []string
	var quoted []bool
	for {
		tok, q := l.Next()
		if tok == "" {
			break
		}
		toks = append(toks, tok)
		quoted = append(quoted, q)
	}
	assert.Equal(t, []string{"CREATE", "OR", "REPLACE", "my`db", ".", "t", "(", "x"}, toks, "tokens, executable comment markers read as blanks")
	assert.Equal(t, []bool{false, false, false, true, false, true, false, false}, quoted, "which tokens were quoted")

	l = &Lexer{Text: []byte("drop table if exists `d`.`t`, u")}
	require.True(t, l.Is("DROP", "TABLE"), "words in any letter case")
	require.False(t, l.Is("IF", "NOT", "EXISTS"), "a sequence that does not follow")
	require.True(t, l.Is("IF", "EXISTS"), "Is reads nothing when it fails")
	assert.Equal(t, "t", l.Name(), "the last part of a qualified name")
	tok, _ := l.Next()
	assert.Equal(t, ",", tok)
	assert.Equal(t, len("drop table if exists `d`.`t`"), l.Start, "Start is where the last token began")

	assert.True(t, IsObject("PROCEDURE"))
	assert.False(t, IsObject("AGGREGATE"), "AGGREGATE comes before the object")
}

package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"

	"github.com/qualityunit/lamigrate/internal/sqlhead"
)

// Object types of a manifest Object.
const (
	TypeProcedure = "PROCEDURE"
	TypeFunction  = "FUNCTION"
	TypeEvent     = "EVENT"
)

// Object is one stored routine or event of the dumped database.
type Object struct {
	Type string `json:"type"` // PROCEDURE, FUNCTION or EVENT
	Name string `json:"name"`
	// Definer is the source's definer ("user@host" as the server quotes
	// it), also when the dump was written without it.
	Definer string `json:"definer,omitempty"`
	// Digest is DefinitionDigest of its CREATE statement and sql_mode.
	Digest string `json:"digest"`
}

// StripDefiner removes the DEFINER clause from a CREATE VIEW, TRIGGER,
// PROCEDURE, FUNCTION or EVENT statement as SHOW CREATE prints it, so the
// object is created with the loading user as its definer (SQL SECURITY is
// kept). It returns the statement and the definer it removed, as written
// ("" and the statement unchanged when there is none). The clause is the
// one sqlhead.FindDefiner finds, taken with the blanks after it: only the
// statement's head counts, never a DEFINER in its body.
func StripDefiner(stmt string) (out, definer string) {
	d, ok := sqlhead.FindDefiner([]byte(stmt))
	if !ok {
		return stmt, ""
	}
	end := d.End
	for end < len(stmt) && strings.IndexByte(" \t\n\f\r", stmt[end]) >= 0 {
		end++
	}
	return stmt[:d.Start] + stmt[end:], stmt[d.Account:d.End]
}

// autoIncRE matches the AUTO_INCREMENT table option SHOW CREATE TABLE
// prints after the closing parenthesis.
var autoIncRE = regexp.MustCompile(`\) ENGINE=(\S+)(?: .*?)?( AUTO_INCREMENT=([0-9]+))`)

// TableDefinition splits SHOW CREATE TABLE's statement into its digest
// (SHA-256 of the statement without the AUTO_INCREMENT=N option, which
// moves with every insert) and that counter (0 when none is printed).
func TableDefinition(create string) (digest string, autoInc int64) {
	s := strings.TrimRight(create, " \t\r\n;")
	if m := autoIncRE.FindStringSubmatchIndex(s); m != nil {
		autoInc, _ = strconv.ParseInt(s[m[6]:m[7]], 10, 64)
		s = s[:m[4]] + s[m[5]:]
	}
	h := sha256.Sum256([]byte("TABLE\n" + s))
	return hex.EncodeToString(h[:]), autoInc
}

// Definer returns the definer named in a CREATE statement, or "".
func Definer(stmt string) string {
	_, d := StripDefiner(stmt)
	return d
}

// DefinitionDigest is the digest a manifest records for a routine or event:
// SHA-256 of its type, its CREATE statement without the DEFINER clause and
// the sql_mode it was created with. A copy made with --strip-definers, or
// loaded by another user, has the same digest.
func DefinitionDigest(typ, stmt, sqlMode string) string {
	s, _ := StripDefiner(stmt)
	h := sha256.New()
	h.Write([]byte(strings.ToUpper(typ) + "\n" + sqlMode + "\n"))
	h.Write([]byte(strings.TrimRight(s, " \t\r\n;")))
	return hex.EncodeToString(h.Sum(nil))
}

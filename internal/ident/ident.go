// Package ident quotes MySQL identifiers and string literals. Every piece of SQL
// that lamigrate builds from a name goes through here.
package ident

import "strings"

// Quote returns name as a back-quoted identifier, doubling embedded backticks.
func Quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Qualified returns `db`.`name`.
func Qualified(db, name string) string {
	return Quote(db) + "." + Quote(name)
}

// String returns s as a single-quoted SQL string literal that is safe under
// any sql_mode (backslashes and quotes escaped, NUL and Ctrl-Z spelled out).
func String(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

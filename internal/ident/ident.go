// Package ident quotes MySQL identifiers and string literals. Every piece of SQL
// that lamigrate builds from a name or a value goes through here.
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
// any sql_mode without NO_BACKSLASH_ESCAPES (backslashes and quotes escaped,
// NUL and Ctrl-Z spelled out).
func String(s string) string {
	return string(AppendString(make([]byte, 0, len(s)+2), s))
}

// escapes maps a byte to its escape letter, 0 for bytes written as is:
// NUL, \n, \r, \, ' and Ctrl-Z.
var escapes = [256]byte{0: '0', '\n': 'n', '\r': 'r', '\\': '\\', '\'': '\'', 0x1a: 'Z'}

// AppendString appends s as a quoted literal, like String, to dst.
func AppendString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '\'')
	dst = AppendEscaped(dst, s)
	return append(dst, '\'')
}

// AppendEscaped appends s with the escapes a single-quoted literal needs,
// without the quotes. Runs of plain bytes are copied at once: this is the
// dumper's hot path.
func AppendEscaped[T ~string | ~[]byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		e := escapes[s[i]]
		if e == 0 {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', e)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// EscapedLen is len(AppendEscaped(nil, s)).
func EscapedLen[T ~string | ~[]byte](s T) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if escapes[s[i]] != 0 {
			n++
		}
	}
	return n
}

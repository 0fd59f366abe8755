// Package shquote quotes words for a POSIX shell, so that a command
// lamigrate prints as a hint works when pasted as printed.
package shquote

import "strings"

// safe reports whether s needs no quoting.
func safe(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("@%+=:,./-_", r):
		default:
			return false
		}
	}
	return true
}

// Quote returns s as one shell word: unchanged when it holds only
// characters a shell leaves alone, else in single quotes (an embedded
// single quote is closed, escaped and reopened).
func Quote(s string) string {
	if safe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Package termtext makes user-provided text safe to print on a terminal.
//
// A spec key, a file name or a flag value can hold escape sequences that
// a terminal would obey (move the cursor, clear the line, set the title),
// so every message that repeats such text escapes its control characters.
package termtext

import (
	"fmt"
	"strings"
	"unicode"
)

// Escape returns s with every control character (C0, DEL, C1, and the
// bidirectional overrides that reorder what is displayed) and every invalid
// UTF-8 byte written as a Go escape (\x1b, \u202e), and backslashes doubled
// only when something was escaped, so that ordinary text is unchanged.
func Escape(s string) string {
	if !needs(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == unicode.ReplacementChar && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case bad(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needs(s string) bool {
	for i, r := range s {
		if bad(r) || (r == unicode.ReplacementChar && !strings.HasPrefix(s[i:], "\uFFFD")) {
			return true
		}
	}
	return false
}

// bad reports the runes a terminal may act on.
func bad(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

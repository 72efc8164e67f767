package rule

import (
	"unicode"
	"unicode/utf8"
)

// HiddenRune finds what text shown to a person must not hold, because it
// would not read as what it is: a byte that is not UTF-8 (reported as
// utf8.RuneError), a control character (C0 with newline, carriage return,
// tab and escape; DEL; C1), the line and paragraph separators, or an
// invisible format character (Unicode Cf: the bidirectional-text controls
// U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C, and the zero-width
// spaces). The zero-width (non-)joiners U+200C and U+200D are allowed:
// Persian and the Indic scripts, and emoji sequences, need them, and they
// move nothing. It returns the rune and its byte offset, or ok false.
func HiddenRune(s string) (r rune, at int, ok bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return r, i, true
		case r == '\u200c' || r == '\u200d':
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			return r, i, true
		}
		i += size
	}
	return 0, 0, false
}

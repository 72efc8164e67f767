package rule_test

import (
	"testing"
	"unicode/utf8"

	"github.com/customerkey/customerkey/internal/rule"
)

func TestHiddenRune(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bad  bool
		r    rune
		at   int
		name string
	}{
		{"Contoso EXO keys, ticket #42 (Zürich 日本 🔑)", false, 0, 0, "plain text and Unicode"},
		{"فارسی\u200cمی", false, 0, 0, "a zero-width non-joiner (Persian)"},
		{"👩\u200d💻", false, 0, 0, "a zero-width joiner (emoji)"},
		{"a\uFFFDb", false, 0, 0, "a replacement character written as such"},
		{"a\nb", true, '\n', 1, "a newline"},
		{"ok\x1b[2K", true, 0x1b, 2, "an escape sequence"},
		{"a\x7f", true, 0x7f, 1, "DEL"},
		{"a\u009b", true, 0x9b, 1, "a C1 control"},
		{"keys \u202eexe", true, 0x202e, 5, "a bidi override"},
		{"zero\u200bwidth", true, 0x200b, 4, "a zero-width space"},
		{"ls\u2028sep", true, 0x2028, 2, "a line separator"},
		{"bad\xffbyte", true, utf8.RuneError, 3, "a byte that is not UTF-8"},
	} {
		r, at, bad := rule.HiddenRune(tc.in)
		if bad != tc.bad || bad && (r != tc.r || at != tc.at) {
			t.Errorf("%s: HiddenRune(%q) = %U at %d, %v; want %U at %d, %v", tc.name, tc.in, r, at, bad, tc.r, tc.at, tc.bad)
		}
	}
}

package main

import (
	"strings"
	"testing"
	"unicode"
)

// TestPrintable: control characters, bidi controls and bytes that are not
// UTF-8 are escaped; ordinary text and Unicode are kept (SPEC T9).
func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@contoso.com (global-admin)", "alice@contoso.com (global-admin)"},
		{"Zürich 日本 🔑 O'Brien \\n", "Zürich 日本 🔑 O'Brien \\n"},
		{"eve@contoso.com\n42  2026-01-01  forged", `eve@contoso.com\n42  2026-01-01  forged`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\tb\rc\x00d\x7fe", `a\tb\rc\x00d\x7fe`},
		{"next\u0085line", `next\u0085line`},
		{"admin\u202egnp.exe", `admin\u202egnp.exe`},
		{"bad\xffbyte", `bad\xffbyte`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"a\nb", "\x1b[2J", "é", "\xff", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := printable(s)
		if strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || needsEscape(r) }) >= 0 {
			t.Fatalf("printable(%q) = %q still holds a control character", s, got)
		}
	})
}

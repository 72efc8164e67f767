package main

import (
	"bytes"
	"encoding/json"
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

// TestPrintJSON: -o json escapes what encoding/json leaves raw and a
// terminal acts on (DEL, C1 controls, bidi controls), and the JSON reads
// back as the same value.
func TestPrintJSON(t *testing.T) {
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out}
	desc := "ok\x1b[2K\rforged\u009b2K\u0085\x7f\u202eexe.txt Zürich 🔑"
	if err := a.printJSON(map[string]string{"description": desc}); err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexFunc(out.String(), func(r rune) bool { return r != '\n' && needsEscape(r) }); i >= 0 {
		t.Errorf("-o json printed %q raw: %q", out.String()[i:i+1], out.String())
	}
	var back map[string]string
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back["description"] != desc {
		t.Errorf("-o json reads back as %q (%v), want %q", back["description"], err, desc)
	}
}

func FuzzJSONPrintable(f *testing.F) {
	for _, s := range []string{"a\u0085b", "\x7f", "\u202e", "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := json.Marshal(map[string]string{"v": s})
		got := jsonPrintable(string(b))
		if strings.IndexFunc(got, needsEscape) >= 0 {
			t.Fatalf("jsonPrintable(%q) = %q still holds a control character", b, got)
		}
		var x, y map[string]string
		if json.Unmarshal(b, &x) != nil || json.Unmarshal([]byte(got), &y) != nil || x["v"] != y["v"] {
			t.Fatalf("jsonPrintable changed the JSON: %q -> %q", b, got)
		}
	})
}

package api

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/customerkey/customerkey/client"
)

// TestCheckPathParam: the one check of every path parameter (SPEC T9).
func TestCheckPathParam(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"alice@contoso.com", true},
		{"Contoso", true},
		{"7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", true},
		{"Zürich Büro", true}, // ordinary Unicode
		{"m1", true},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("é", 128), true}, // 256 bytes
		{"", false},
		{strings.Repeat("a", 257), false},
		{strings.Repeat("a", 1025) + "@contoso.com", false},
		{"a\nb", false},
		{"a\rb", false},
		{"a\x00b", false},
		{"\x1b[31mred", false},
		{"a\x7fb", false},
		{"a\u0085b", false}, // C1 next line
		{"a\xffb", false},   // not UTF-8
	} {
		err := checkPathParam("mailbox", tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("checkPathParam(%q) = %v, want ok %v", tc.value, err, tc.ok)
			continue
		}
		var p *Problem
		if err != nil && (!errors.As(err, &p) || p.Status != 400 || p.Rule != client.RuleRequestParameter || p.Fix == "" || len(p.Detail) > 200) {
			t.Errorf("checkPathParam(%q) = %+v, want a short 400 %s problem with a fix", tc.value, err, client.RuleRequestParameter)
		}
	}
}

// FuzzCheckPathParam: what the check accepts is 1-256 bytes of UTF-8
// without a control character; what it refuses it refuses with a 400 whose
// detail is short, whatever the input.
func FuzzCheckPathParam(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "", "a\nb", "\x1b[2J", strings.Repeat("x", 300), "\xc3", "Zürich"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkPathParam("item", s)
		valid := s != "" && len(s) <= maxPathParam && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
		if (err == nil) != valid {
			t.Fatalf("checkPathParam(%q) = %v, want ok %v", s, err, valid)
		}
		if p, ok := err.(*Problem); err != nil && (!ok || p.Status != 400 || len(p.Detail) > 400) {
			t.Fatalf("checkPathParam(%q) = %#v", s, err)
		}
	})
}

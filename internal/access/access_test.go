package access_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/rule"
)

func TestParsers(t *testing.T) {
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{"ticket 4711, asked by cso@contoso.com", true},
		{"  padded  ", true},
		{"", false},
		{"   ", false},
		{"two\nlines", false},
		{"esc \x1b[31m", false},
		{strings.Repeat("x", 512), true},
		{strings.Repeat("x", 513), false},
		{"bad utf-8 \xff", false},
	} {
		got, err := access.ParseReason(tc.reason)
		if (err == nil) != tc.ok || tc.ok && got != strings.TrimSpace(tc.reason) {
			t.Errorf("ParseReason(%q) = %q, %v; want ok %v", tc.reason, got, err, tc.ok)
		}
		if e, isRule := rule.As(err); err != nil && (!isRule || e.Rule != "T5.Reason" || strings.Contains(e.Detail, tc.reason) && tc.reason != "") {
			t.Errorf("ParseReason(%q): %v; want T5.Reason that does not echo it", tc.reason, err)
		}
	}
	for v, want := range map[string]time.Duration{"": access.DefaultValidFor, "4h": 4 * time.Hour, "15m": 15 * time.Minute, "168h": 168 * time.Hour, "14m": 0, "169h": 0, "-1h": 0, "4": 0, "forever": 0} {
		got, err := access.ParseValidFor(v)
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("ParseValidFor(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, tc := range []struct {
		keys []string
		ok   bool
	}{
		{[]string{"https://v1.localhost:8443/keys/k1/0123", "https://V2.localhost:8444/keys/k2/4567"}, true},
		{[]string{"https://v1.localhost:8443/keys/k1/0123"}, false},
		{[]string{"https://v1/keys/k1/1", "https://v1/keys/k1/1"}, false},
		{[]string{"http://v1/keys/k1/1", "https://v2/keys/k2/1"}, false},
		{[]string{"https://v1/keys/k1", "https://v2/keys/k2/1"}, false},
		{[]string{"https://u:p@v1/keys/k1/1", "https://v2/keys/k2/1"}, false},
		{[]string{"https://v1/keys/k1/1?x=1", "https://v2/keys/k2/1"}, false},
		{[]string{"https://v1/secrets/k1/1", "https://v2/keys/k2/1"}, false},
	} {
		got, err := access.ParseKeys(tc.keys)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKeys(%q) = %q, %v; want ok %v", tc.keys, got, err, tc.ok)
		}
	}
}

// FuzzParseReason: an accepted reason is one printable line of 1-512
// bytes: it cannot forge a line in a list or the audit log.
func FuzzParseReason(f *testing.F) {
	for _, s := range []string{"ticket 4711", "", "a\nb", "\u2028", "\x00", "é", strings.Repeat("é", 300), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := access.ParseReason(s)
		if err != nil {
			return
		}
		if got == "" || len(got) > 512 || !utf8.ValidString(got) || strings.IndexFunc(got, unicode.IsControl) >= 0 || strings.ContainsAny(got, "\n\r") {
			t.Fatalf("accepted %q as %q", s, got)
		}
	})
}

// FuzzParseValidFor: an accepted lifetime is within bounds.
func FuzzParseValidFor(f *testing.F) {
	for _, s := range []string{"", "4h", "15m", "168h", "1e9h", "9223372036854775807ns", "-0s", "1h1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := access.ParseValidFor(s)
		if err == nil && (d < access.MinValidFor || d > access.MaxValidFor) {
			t.Fatalf("accepted %q as %v", s, d)
		}
	})
}

// FuzzParseKeys: accepted key URIs are two different https URIs of the
// form https://HOST/keys/NAME/VERSION, with nothing else in them.
func FuzzParseKeys(f *testing.F) {
	f.Add("https://v1.localhost:8443/keys/k1/0123", "https://v2.localhost:8444/keys/k2/4567")
	f.Add("https://v1/keys/k1/1", "https://v1/keys/k1/1")
	f.Add("https://v1/keys/k1/1#x", "https://v1/keys/%2e%2e/1")
	f.Add("https://v1/keys/k1/1/", "https://[::1]/keys/k/v")
	f.Fuzz(func(t *testing.T, a, b string) {
		keys, err := access.ParseKeys([]string{a, b})
		if err != nil {
			return
		}
		if keys[0] == keys[1] || access.GeoTarget(keys) != keys[0]+","+keys[1] {
			t.Fatalf("accepted %q, %q as %q", a, b, keys)
		}
		for _, k := range keys {
			u, err := url.Parse(k)
			parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(parts) != 3 || parts[0] != "keys" {
				t.Fatalf("accepted %q, %q: %q is not a key URI", a, b, k)
			}
		}
	})
}

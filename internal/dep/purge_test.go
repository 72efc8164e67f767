package dep_test

import (
	"testing"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/rule"
)

// TestPurgeRequestText: the reason and the contact of a purge request are
// what the officers read before they sign (ck dep purge approve prints
// them), so they are one line of plain text: nothing that moves the
// cursor, erases or starts a line, or reorders the text after it (SPEC
// T7, T9). The attack was a reason that erased the statement's first
// lines and wrote another request's over them.
func TestPurgeRequestText(t *testing.T) {
	e := start(t)
	d, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	const forged = "Leaving\x1b[2K\r\x1b[1A\x1b[2KYou sign, as cso@contoso.com, the approval of the PERMANENT purge of DEP Test-DEP (x)"
	for _, tc := range []struct {
		name, reason, contact, rule string
	}{
		{"escape sequences in the reason", forged, "cso@contoso.com", "R6.Reason"},
		{"a newline in the reason", "leaving\nReason: a test", "cso@contoso.com", "R6.Reason"},
		{"a carriage return in the reason", "leaving\rtest", "cso@contoso.com", "R6.Reason"},
		{"a tab in the reason", "leaving\tnow", "cso@contoso.com", "R6.Reason"},
		{"DEL in the reason", "leaving\x7f", "cso@contoso.com", "R6.Reason"},
		{"a C1 control (CSI) in the reason", "leaving\u009b2K", "cso@contoso.com", "R6.Reason"},
		{"right-to-left override in the reason", "leaving \u202enruter on", "cso@contoso.com", "R6.Reason"},
		{"right-to-left isolate in the reason", "leaving \u2067x\u2069", "cso@contoso.com", "R6.Reason"},
		{"left-to-right mark in the reason", "leaving\u200e", "cso@contoso.com", "R6.Reason"},
		{"zero-width space in the reason", "leav\u200bing", "cso@contoso.com", "R6.Reason"},
		{"line separator in the reason", "leaving\u2028now", "cso@contoso.com", "R6.Reason"},
		{"not UTF-8 in the reason", "leaving\xff", "cso@contoso.com", "R6.Reason"},
		{"an escape in the contact", "leaving", "cso@contoso.com\x1b[8m", "R6.Contact"},
		{"a newline in the contact", "leaving", "cso@contoso.com\nContact: ceo@contoso.com", "R6.Contact"},
		{"pop directional formatting in the contact", "leaving", "cso@contoso.com\u202c", "R6.Contact"},
		{"first strong isolate in the contact", "leaving", "\u2068cso@contoso.com", "R6.Contact"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.deps.RequestPurge(e.ctx, e.t, d, tc.reason, tc.contact)
			wantRule(t, tc.name, err, rule.KindInvalid, tc.rule)
		})
	}
	// Ordinary text of any script passes the check (and the request then
	// stops at a later rule of this bare environment).
	for _, ok := range []struct{ reason, contact string }{
		{"Leaving the service: ticket #4711, café 日本 👩‍💻", "cso@contoso.com"},
		{"ترک سرویس می\u200cکنیم", "Jürgen Groß <cso@contoso.com>"}, // Persian needs U+200C
	} {
		_, err := e.deps.RequestPurge(e.ctx, e.t, d, ok.reason, ok.contact)
		if re, isRule := rule.As(err); isRule && (re.Rule == "R6.Reason" || re.Rule == "R6.Contact") {
			t.Errorf("RequestPurge(%q, %q): got %v, want the text accepted", ok.reason, ok.contact, err)
		}
	}
}

package audit_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/audit"
)

func TestHead(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	recs := chain(5)
	h := audit.SignHead(key, recs[0].Tenant, recs[3], time.Now()) // the head when record 4 was the last
	if err := audit.VerifyHead(h, pub); err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyHead(h, otherPub); !errors.Is(err, audit.ErrHeadSignature) {
		t.Fatalf("another key: %v", err)
	}
	for name, edit := range map[string]func(*audit.Head){
		"seq":    func(h *audit.Head) { h.Seq = 2 },
		"hash":   func(h *audit.Head) { h.Hash = recs[1].Hash },
		"tenant": func(h *audit.Head) { h.Tenant = "other" },
		"time":   func(h *audit.Head) { h.Time = h.Time.Add(time.Second) },
	} {
		forged := h
		edit(&forged)
		if err := audit.VerifyHead(forged, pub); !errors.Is(err, audit.ErrHeadSignature) {
			t.Fatalf("head with a changed %s verified: %v", name, err)
		}
	}
	// The whole chain, or more, reaches the head.
	for _, n := range []int{4, 5} {
		if err := audit.CheckHead(recs[:n], h); err != nil {
			t.Fatalf("%d records: %v", n, err)
		}
	}
	// Cut from the end: the copy still verifies on its own, not against the head.
	cut := recs[:3]
	if err := audit.Verify(cut); err != nil {
		t.Fatal(err)
	}
	var te *audit.TamperError
	if err := audit.CheckHead(cut, h); !errors.As(err, &te) || te.Seq != 4 || !strings.Contains(te.Reason, "removed from the end") {
		t.Fatalf("a cut chain: %v", err)
	}
	// Rewritten from record 4 on: a valid chain with another hash there.
	rewritten := append(append([]audit.Record{}, recs[:3]...), audit.Seal(recs[2], audit.Record{Tenant: recs[0].Tenant, Time: recs[3].Time, Actor: "mallory", Action: "nothing happened"}))
	if err := audit.Verify(rewritten); err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckHead(rewritten, h); !errors.As(err, &te) || te.Seq != 4 || !strings.Contains(te.Reason, "rewritten") {
		t.Fatalf("a rewritten chain: %v", err)
	}
	if err := audit.CheckHead(nil, audit.SignHead(key, "t", audit.Record{}, time.Now())); err != nil {
		t.Fatalf("an empty chain's head: %v", err)
	}
}

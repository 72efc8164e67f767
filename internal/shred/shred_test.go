package shred_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/shred"
)

func cert() shred.Certificate {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	return shred.Certificate{Serial: "job-1", Issuer: "customerkey", Tenant: "t1", TenantName: "Contoso", DEP: "dep-1", DEPName: "EXO <DEP> & 1",
		Containers: []string{"alice@contoso.com"}, Keys: []shred.Key{{ID: "avk-1", Kind: "availability-key", State: "destroyed", Time: &at}},
		Reason: "leaving", Contact: "cfo@contoso.com", RequestedBy: "admin@contoso.com", Requested: at, Approvals: []shred.Approval{{Officer: "cfo@contoso.com", At: at}}, Completed: at}
}

func TestSignVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	data, err := shred.Sign(cert(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := shred.Verify(data, pub)
	if err != nil {
		t.Fatal(err)
	}
	if c.DEPName != "EXO <DEP> & 1" || c.Type != shred.Type || len(c.Containers) != 1 || c.Keys[0].State != "destroyed" {
		t.Fatalf("verified certificate: %+v", c)
	}
	if _, err := shred.Verify(data, otherPub); !errors.Is(err, shred.ErrSignature) {
		t.Fatalf("another key: %v, want ErrSignature", err)
	}
	for _, edit := range [][2]string{{"alice@contoso.com", "mallory@contoso.com"}, {`"destroyed"`, `"kept"`}, {"cfo@", "ceo@"}} {
		forged := bytes.Replace(data, []byte(edit[0]), []byte(edit[1]), 1)
		if _, err := shred.Verify(forged, pub); !errors.Is(err, shred.ErrSignature) {
			t.Fatalf("edited %q: %v, want ErrSignature", edit[0], err)
		}
	}
	for _, bad := range []string{"", "{}", `{"certificate":{},"signature":"AAAA"}`, "not json"} {
		if _, err := shred.Verify([]byte(bad), pub); err == nil {
			t.Fatalf("%q verified", bad)
		}
	}
	// The public key reads back from PEM and base64.
	for _, s := range []string{shred.PublicKeyPEM(pub), c.PublicKey} {
		k, err := shred.ParsePublicKey(s)
		if err != nil || !k.Equal(pub) {
			t.Fatalf("parse %q: %v", s, err)
		}
	}
	if _, err := shred.ParsePublicKey("AAAA"); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Fatalf("a short key: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(nil)
	data, _ := shred.Sign(cert(), key)
	f.Add(data)
	f.Add([]byte(`{"certificate":{"type":"x"},"signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := shred.Verify(data, pub)
		if err == nil && c.Type != shred.Type {
			t.Fatalf("verified a certificate of type %q", c.Type)
		}
	})
}

package shred_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/shred"
)

// officerKey is the test officer's key (a fixed seed).
var officerKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func cert() shred.Certificate {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	c := shred.Certificate{Serial: "job-1", Issuer: "customerkey", Tenant: "t1", TenantName: "Contoso", DEP: "dep-1", DEPName: "EXO <DEP> & 1",
		Containers: []string{"alice@contoso.com"}, Keys: []shred.Key{{ID: "avk-1", Kind: "availability-key", State: "destroyed", Time: &at}},
		Reason: "leaving", Contact: "cfo@contoso.com", RequestedBy: "admin@contoso.com", Requested: at, Completed: at}
	c.Approvals = []shred.Approval{signed(c, "cfo@contoso.com", officerKey)}
	return c
}

// signed is officer's approval of what c states, signed with key.
func signed(c shred.Certificate, officer string, key ed25519.PrivateKey) shred.Approval {
	pub := key.Public().(ed25519.PublicKey)
	return shred.Approval{Officer: officer, At: c.Requested, Fingerprint: shred.Fingerprint(pub), PublicKey: shred.Encode(pub), Signature: client.SignPurge(key, c.Statement(officer))}
}

// TestOfficerSignatures: a version 2 certificate proves each approval
// with the officer's signature over the request it states (T7). A
// service that signs a certificate with an approval it made up, or
// moved from another purge, issues a certificate that does not verify.
func TestOfficerSignatures(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	_, mallory, _ := ed25519.GenerateKey(nil)
	other := cert()
	other.DEP = "dep-2"
	for _, tc := range []struct {
		name string
		edit func(*shred.Certificate)
	}{
		{"signature altered", func(c *shred.Certificate) {
			sig, _ := base64.StdEncoding.DecodeString(c.Approvals[0].Signature)
			sig[0] ^= 1
			c.Approvals[0].Signature = base64.StdEncoding.EncodeToString(sig)
		}},
		{"no signature", func(c *shred.Certificate) { c.Approvals[0].Signature = "" }},
		{"signed by another key", func(c *shred.Certificate) {
			c.Approvals[0] = signed(*c, "cfo@contoso.com", mallory)
			c.Approvals[0].PublicKey = shred.Encode(officerKey.Public().(ed25519.PublicKey))
			c.Approvals[0].Fingerprint = shred.Fingerprint(officerKey.Public().(ed25519.PublicKey))
		}},
		{"fingerprint of another key", func(c *shred.Certificate) {
			c.Approvals[0].Fingerprint = shred.Fingerprint(mallory.Public().(ed25519.PublicKey))
		}},
		{"replayed from another purge", func(c *shred.Certificate) { c.Approvals[0] = signed(other, "cfo@contoso.com", officerKey) }},
		{"another officer's name", func(c *shred.Certificate) { c.Approvals[0].Officer = "ceo@contoso.com" }},
		{"a container added after signing", func(c *shred.Certificate) { c.Containers = append(c.Containers, "bob@contoso.com") }},
		{"approved twice by one officer", func(c *shred.Certificate) { c.Approvals = append(c.Approvals, c.Approvals[0]) }},
		{"no approval", func(c *shred.Certificate) { c.Approvals = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cert()
			tc.edit(&c)
			data, err := shred.Sign(c, key) // the service signs it: its signature holds
			if err != nil {
				t.Fatal(err)
			}
			_, err = shred.Verify(data, pub)
			var ae *shred.ApprovalError
			if err == nil || errors.Is(err, shred.ErrSignature) || (len(c.Approvals) > 0 && !errors.As(err, &ae)) {
				t.Fatalf("got %v, want the approval refused", err)
			}
		})
	}
	// Unchanged, and with the containers in another order (they are
	// signed sorted), it verifies.
	c := cert()
	c.Containers = []string{"bob@contoso.com", "alice@contoso.com"}
	c.Approvals = []shred.Approval{signed(c, "cfo@contoso.com", officerKey), signed(c, "ceo@contoso.com", mallory)}
	slices.Reverse(c.Containers)
	data, _ := shred.Sign(c, key)
	if _, err := shred.Verify(data, pub); err != nil {
		t.Fatal(err)
	}
}

// TestVersion1Certificate: certificates issued before officers signed
// (testdata/cert-v1.json, made by the code of 0b53eca) still verify, with
// their approvals unsigned; changed, they do not.
func TestVersion1Certificate(t *testing.T) {
	data, err := os.ReadFile("testdata/cert-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := shred.ParsePublicKey("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
	c, err := shred.Verify(data, pub)
	if err != nil || c.Type != shred.TypeV1 || c.Approvals[0].Officer != "cfo@contoso.com" || c.Approvals[0].Signature != "" {
		t.Fatalf("v1 certificate: %+v %v", c, err)
	}
	if _, err := shred.Verify(bytes.Replace(data, []byte("alice@"), []byte("eve@"), 1), pub); !errors.Is(err, shred.ErrSignature) {
		t.Fatalf("changed v1 certificate: %v", err)
	}
}

// FuzzApprovals: whatever approval a service puts in a certificate and
// signs, Verify accepts it only if it is the named officer's signature,
// by the key it states, over the request the certificate states.
func FuzzApprovals(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(nil)
	good := cert().Approvals[0]
	f.Add(good.Officer, good.PublicKey, good.Fingerprint, good.Signature)
	f.Add("ceo@contoso.com", good.PublicKey, good.Fingerprint, good.Signature)
	f.Add(good.Officer, "AAAA", "SHA256:x", "")
	f.Fuzz(func(t *testing.T, officer, pubKey, fingerprint, sig string) {
		c := cert()
		c.Approvals = []shred.Approval{{Officer: officer, PublicKey: pubKey, Fingerprint: fingerprint, Signature: sig, At: c.Requested}}
		data, err := shred.Sign(c, key)
		if err != nil {
			return
		}
		_, err = shred.Verify(data, pub)
		k, kerr := base64.StdEncoding.DecodeString(pubKey)
		s, serr := client.DecodeSignature(sig)
		valid := kerr == nil && serr == nil && len(k) == ed25519.PublicKeySize && fingerprint == shred.Fingerprint(k) && ed25519.Verify(k, c.Statement(officer).Message(), s)
		if (err == nil) != valid {
			t.Fatalf("Verify: %v; the approval verifies on its own: %v", err, valid)
		}
	})
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
	if v1, err := os.ReadFile("testdata/cert-v1.json"); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := shred.Verify(data, pub)
		if err == nil && c.Type != shred.Type && c.Type != shred.TypeV1 {
			t.Fatalf("verified a certificate of type %q", c.Type)
		}
		if err == nil && c.Type == shred.Type {
			if err := c.VerifyApprovals(); err != nil {
				t.Fatalf("verified with approvals that do not: %v", err)
			}
		}
	})
}

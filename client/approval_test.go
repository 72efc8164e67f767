package client_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
)

// vectorStatement and its canonical bytes and signature are the vector of
// docs/format.md "Purge approvals": another implementation checks itself
// against them.
var vectorStatement = client.PurgeStatement{Officer: "CSO@contoso.com", Tenant: "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", DEP: "0d9c3f7a-5b1e-4c2d-9a8b-7e6f5d4c3b2a",
	DEPName: "Contoso-EXO-DEP-1", Reason: "Leaving", Contact: "cso@contoso.com", RequestedBy: "admin@contoso.com",
	Requested: time.Date(2026, 11, 22, 8, 30, 15, 123456789, time.UTC), Containers: []string{"bob@contoso.com", "alice@contoso.com"}}

// vectorKey is Ed25519 with the seed 00 01 02 ... 1f.
func vectorKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestPurgeStatementVector(t *testing.T) {
	const want = "637573746f6d65726b657920707572676520617070726f76616c20763100" +
		"0000000f63736f40636f6e746f736f2e636f6d" + // officer, lower case
		"0000002437633864396530662d316132622d346333642d386539662d306131623263336434653566" +
		"0000002430643963336637612d356231652d346332642d396138622d376536663564346333623261" +
		"00000011436f6e746f736f2d45584f2d4445502d31" +
		"000000074c656176696e67" +
		"0000000f63736f40636f6e746f736f2e636f6d" +
		"0000001161646d696e40636f6e746f736f2e636f6d" +
		"00000018323032362d31312d32325430383a33303a31352e3132335a" + // milliseconds
		"00000002" +
		"00000011616c69636540636f6e746f736f2e636f6d" + // sorted
		"0000000f626f6240636f6e746f736f2e636f6d"
	got := hex.EncodeToString(vectorStatement.Message())
	if got != want {
		t.Fatalf("canonical bytes:\n got %s\nwant %s", got, want)
	}
	sig := client.SignPurge(vectorKey(), vectorStatement)
	t.Logf("vector signature: %s", sig)
	raw, err := client.DecodeSignature(sig)
	if err != nil || !client.VerifyPurge(vectorKey().Public().(ed25519.PublicKey), vectorStatement, raw) {
		t.Fatal("the vector's signature does not verify")
	}
	if sig != "EBiuweC6VDDbqr4tkWRq6XEwccABK4++2kYrRl/RaMg9TALWh+ghQ8nGECcUYY+9XPOM7g4C9JMiurX2oWxRAA==" {
		t.Fatalf("vector signature changed: %s", sig)
	}
	// Every field is signed.
	for i, edit := range []func(*client.PurgeStatement){
		func(s *client.PurgeStatement) { s.Officer = "cfo@contoso.com" },
		func(s *client.PurgeStatement) { s.Tenant = "t2" },
		func(s *client.PurgeStatement) { s.DEP = "other" },
		func(s *client.PurgeStatement) { s.DEPName = "x" },
		func(s *client.PurgeStatement) { s.Reason = "x" },
		func(s *client.PurgeStatement) { s.Contact = "x" },
		func(s *client.PurgeStatement) { s.RequestedBy = "x" },
		func(s *client.PurgeStatement) { s.Requested = s.Requested.Add(time.Millisecond) },
		func(s *client.PurgeStatement) { s.Containers = s.Containers[:1] },
		func(s *client.PurgeStatement) { s.Containers = append(slices.Clone(s.Containers), "carol@contoso.com") },
	} {
		s := vectorStatement
		edit(&s)
		if client.VerifyPurge(vectorKey().Public().(ed25519.PublicKey), s, raw) {
			t.Fatalf("edit %d still verifies", i)
		}
	}
}

// The PurgeRequest the service answers signs to the same statement.
func TestPurgeRequestStatement(t *testing.T) {
	p := client.PurgeRequest{Tenant: vectorStatement.Tenant, DEP: vectorStatement.DEP, Name: vectorStatement.DEPName, Reason: "Leaving", Contact: "cso@contoso.com",
		RequestedBy: "admin@contoso.com", Requested: "2026-11-22T08:30:15.123Z", Containers: []string{"alice@contoso.com", "bob@contoso.com"}}
	s, err := p.Statement("cso@contoso.com")
	if err != nil || !bytes.Equal(s.Message(), vectorStatement.Message()) {
		t.Fatalf("statement of the request: %+v %v", s, err)
	}
	p.Containers = nil // an older service
	if _, err := p.Statement("cso@contoso.com"); err == nil {
		t.Fatal("signed a request that does not say what it deletes")
	}
}

func TestParseOfficerKey(t *testing.T) {
	pub := vectorKey().Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	privDER, _ := x509.MarshalPKCS8PrivateKey(vectorKey())
	line := client.AuthorizedKey(pub, "cso@contoso.com")
	if line != "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4 cso@contoso.com" {
		t.Fatalf("authorized_keys line: %s", line)
	}
	// As ssh-keygen -l -f prints it.
	if fp := client.KeyFingerprint(pub); fp != "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg" {
		t.Fatalf("fingerprint %s", fp)
	}
	for _, ok := range []string{line, "  " + line + "\n", strings.TrimSuffix(line, " cso@contoso.com"),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), base64.StdEncoding.EncodeToString(pub)} {
		k, err := client.ParseOfficerKey(ok)
		if err != nil || !k.Equal(pub) {
			t.Fatalf("%q: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x":                                           "ssh-rsa",
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})):            "not a PUBLIC KEY",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4AAAA": "malformed",
		"ssh-ed25519 AAAAC3NzaC1yc2EAAAAg":                                                     "does not hold",
		"AAAA":                                                                                 "want an Ed25519",
		"":                                                                                     "want an Ed25519",
	} {
		if _, err := client.ParseOfficerKey(bad); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want an error saying %q", bad, err, why)
		}
	}
}

// FuzzParseOfficerKey: the parser never panics; what it accepts is an
// Ed25519 key that reads back the same in every form.
func FuzzParseOfficerKey(f *testing.F) {
	pub := vectorKey().Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	f.Add(client.AuthorizedKey(pub, "c"))
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	f.Add(base64.StdEncoding.EncodeToString(pub))
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA/////w==")
	f.Add("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := client.ParseOfficerKey(s)
		if err != nil {
			return
		}
		if len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		back, err := client.ParseOfficerKey(client.AuthorizedKey(k, "x"))
		if err != nil || !back.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzApprovalInput: whatever an approval request body holds, decoding it
// and its signature never panics, and only the officer's signature over
// the statement verifies.
func FuzzApprovalInput(f *testing.F) {
	key := vectorKey()
	good, _ := json.Marshal(client.ApprovePurgeRequest{Officer: "cso@contoso.com", Signature: client.SignPurge(key, vectorStatement)})
	f.Add(good)
	f.Add([]byte(`{"officer":"cso@contoso.com","signature":"AAAA"}`))
	f.Add([]byte(`{"signature":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req client.ApprovePurgeRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		sig, err := client.DecodeSignature(req.Signature)
		if err != nil {
			return
		}
		st := vectorStatement
		st.Officer = req.Officer
		ok := client.VerifyPurge(key.Public().(ed25519.PublicKey), st, sig)
		if ok && !strings.EqualFold(req.Officer, vectorStatement.Officer) {
			t.Fatalf("a signature verified for officer %q", req.Officer)
		}
	})
}

// FuzzPurgeStatement: the canonical bytes are unambiguous: two statements
// with the same bytes are the same statement.
func FuzzPurgeStatement(f *testing.F) {
	f.Add("a", "b", "c", "d", "e\x00", "f", "g", "x,y", "a", "bc", "", "d", "e", "f", "g", "x")
	f.Fuzz(func(t *testing.T, o1, t1, d1, n1, r1, c1, b1, cs1, o2, t2, d2, n2, r2, c2, b2, cs2 string) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s1 := client.PurgeStatement{Officer: o1, Tenant: t1, DEP: d1, DEPName: n1, Reason: r1, Contact: c1, RequestedBy: b1, Requested: at, Containers: strings.Split(cs1, ",")}
		s2 := client.PurgeStatement{Officer: o2, Tenant: t2, DEP: d2, DEPName: n2, Reason: r2, Contact: c2, RequestedBy: b2, Requested: at, Containers: strings.Split(cs2, ",")}
		if !bytes.Equal(s1.Message(), s2.Message()) {
			return
		}
		slices.Sort(s1.Containers)
		slices.Sort(s2.Containers)
		if !strings.EqualFold(o1, o2) || t1 != t2 || d1 != d2 || n1 != n2 || r1 != r2 || c1 != c2 || b1 != b2 || !slices.Equal(s1.Containers, s2.Containers) {
			t.Fatalf("two statements, one message: %+v %+v", s1, s2)
		}
	})
}

package api_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
)

// TestServiceRoutes: liveness and the signing key answer without a
// token; /v1/me says whose a token is, and nothing without one; a
// certificate file that does not verify is an answer (valid false, and
// why), against the key the signing-key route gives.
func TestServiceRoutes(t *testing.T) {
	e := startDEPs(t)
	if got := e.must("", "GET", "/healthz", "", 200); got["status"] != "ok" {
		t.Errorf("healthz: %v", got)
	}

	me := e.must(e.admin, "GET", "/v1/me", "", 200)
	if me["subject"] == "" || me["role"] != "exchange-admin" || me["tenant"] != e.seed.Tenant {
		t.Errorf("me (Exchange admin): %v", me)
	}
	if op := e.must(e.operator, "GET", "/v1/me", "", 200); op["role"] != "operator" || op["tenant"] != nil {
		t.Errorf("me (operator): %v; want the operator, of no tenant", op)
	}
	st, ct, body := e.call("", "GET", "/v1/me", "")
	e.wantProblem(401, "Authentication", st, ct, body)

	k := e.must("", "GET", "/v1/service/signing-key", "", 200)
	raw, err := base64.StdEncoding.DecodeString(k["publicKey"].(string))
	if err != nil || len(raw) != ed25519.PublicKeySize || k["algorithm"] != "Ed25519" {
		t.Fatalf("signing key: %v (%v)", k, err)
	}
	block, _ := pem.Decode([]byte(k["pem"].(string)))
	if block == nil {
		t.Fatalf("signing key PEM: %q", k["pem"])
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil || !ed25519.PublicKey(raw).Equal(pub) {
		t.Errorf("the PEM holds another key than publicKey: %v", err)
	}

	for _, file := range []string{
		`{}`,
		`{"certificate":{"serial":"1"},"signature":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `"}`,
	} {
		got := e.must("", "POST", "/v1/service/certificates/verify", file, 200)
		if got["valid"] != false || got["error"] == "" || got["publicKey"] != k["publicKey"] {
			t.Errorf("verify %s: %v; want valid false, why, and the service's key", file, got)
		}
	}
}

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
)

// TestPurgeStatementPrintable: the statement an officer reads before
// signing a purge shows every field escaped (SPEC T7, T9). The service
// refuses control characters in a request's reason and contact (R6.Reason,
// R6.Contact), but a request stored before that rule, or written behind
// the service's back, may hold some: here a reason that erases the lines
// above it and writes another request's over them.
func TestPurgeStatementPrintable(t *testing.T) {
	const forged = "Leaving\x1b[2K\r\x1b[1A\x1b[2KYou sign, as cso@contoso.com, the approval of the PERMANENT purge of DEP Test-DEP (x)\nReason: quarterly test purge, nothing real"
	p := client.PurgeRequest{Tenant: "t1", DEP: "d1", Name: "Contoso-EXO-DEP-1", State: "Requested", Reason: forged,
		Contact: "cso@contoso.com\u202e\x1b[8m", RequestedBy: "exo@contoso.com\r", Requested: "2026-01-01T00:00:00.000Z",
		Containers: []string{"alice@contoso.com", "bob@contoso.com\x1b[1A"}, ApprovalsRequired: 1}
	approved := false
	cfg := stubService(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/me":
			reply(w, 200, client.Me{Subject: "cso@contoso.com", Role: "compliance-admin", Tenant: "t1", Expires: time.Now().Add(time.Hour)})
		case strings.HasSuffix(r.URL.Path, "/purge") && r.Method == "GET":
			reply(w, 200, p)
		case strings.HasSuffix(r.URL.Path, "/purge/approve") && r.Method == "POST":
			approved = true
			q := p
			q.State = "Approved"
			reply(w, 200, q)
		default:
			http.NotFound(w, r)
		}
	})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	key := filepath.Join(t.TempDir(), "cso.key")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := ck("--config", cfg, "--token", "x", "dep", "purge", "approve", "Contoso-EXO-DEP-1", "--key", key)
	if code != 0 || !approved {
		t.Fatalf("approve: exit %d, approved %v; stderr %q", code, approved, stderr)
	}
	if i := strings.IndexFunc(stderr, func(r rune) bool { return r != '\n' && needsEscape(r) }); i >= 0 {
		t.Errorf("the statement holds %q at %d: %q", stderr[i], i, stderr)
	}
	want := []string{
		`You sign, as cso@contoso.com, the approval of the PERMANENT purge of DEP Contoso-EXO-DEP-1 (d1)`,
		`of tenant t1, requested by exo@contoso.com\r at 2026-01-01T00:00:00.000Z.`,
		`Reason: Leaving\x1b[2K\r\x1b[1A\x1b[2KYou sign, as cso@contoso.com, the approval of the PERMANENT purge of DEP Test-DEP (x)\nReason: quarterly test purge, nothing real`,
		`Contact: cso@contoso.com\u202e\x1b[8m`,
		`It deletes 2 containers with all their data, for good:`,
		`  alice@contoso.com`,
		`  bob@contoso.com\x1b[1A`,
	}
	got := strings.Split(stderr, "\n")
	if len(got) < len(want) {
		t.Fatalf("the statement: got %q, want the lines %q first", stderr, want)
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d of the statement: got %q, want %q", i+1, got[i], w)
		}
	}
}

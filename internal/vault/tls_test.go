package vault_test

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/tlsconf/tlsconftest"
)

// TestRegionTLSPolicy: a vault region speaks TLS 1.2+ with AEAD suites
// only (SPEC T9), for the management host and a vault host alike.
func TestRegionTLSPolicy(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	port := strings.Split(strings.TrimPrefix(f.uri, "https://"), ":")[1]
	for _, name := range []string{"localhost", "contosoexoakv01.localhost"} {
		tlsconftest.Check(t, "127.0.0.1:"+port, name)
	}
}

// TestCertificatesOnlyForExistingVaults: a name under the base domain that
// is no vault gets the server certificate, and nothing is minted for it
// (SPEC T9: before, 1000 names minted 1000 certificates); an existing vault
// gets its own, and so does a vault created later.
func TestCertificatesOnlyForExistingVaults(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	addr := "127.0.0.1:" + strings.Split(strings.TrimPrefix(f.uri, "https://"), ":")[1]
	pool := caPool(t, f)
	leaf := func(serverName string) []string {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, RootCAs: pool})
		must(t, err)
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].DNSNames
	}
	before := f.env.Server.MintedCertificates()
	for i := range 1000 {
		if names := leaf(fmt.Sprintf("nosuchvault%04d.localhost", i)); slices.Contains(names, fmt.Sprintf("nosuchvault%04d.localhost", i)) {
			t.Fatalf("unknown vault %d got a certificate naming it: %v", i, names)
		}
	}
	if got := f.env.Server.MintedCertificates(); got != before {
		t.Fatalf("1000 unknown vault names minted %d certificates, want 0", got-before)
	}
	if names := leaf("contosoexoakv01.localhost"); !slices.Contains(names, "contosoexoakv01.localhost") {
		t.Fatalf("existing vault: certificate names %v, want contosoexoakv01.localhost", names)
	}
	if names := leaf("contosoexoakv02.localhost"); slices.Contains(names, "contosoexoakv02.localhost") {
		t.Fatalf("vault not yet created: certificate names %v", names)
	}
	f.mgmt(t, "POST", "/vaults", obj{"name": "ContosoEXOAKV02", "subscription": f.sub, "region": "eastus", "sku": "premium", "permissionModel": "accessPolicy"})
	if names := leaf("contosoexoakv02.localhost"); !slices.Contains(names, "contosoexoakv02.localhost") {
		t.Fatalf("vault created later: certificate names %v, want contosoexoakv02.localhost", names)
	}
	if got := f.env.Server.MintedCertificates() - before; got != 2 {
		t.Fatalf("minted %d certificates, want 2 (one per existing vault)", got)
	}
}

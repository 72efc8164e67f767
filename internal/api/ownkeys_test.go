package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
	"github.com/customerkey/customerkey/vaultclient"
)

// SPEC T4 through the API. Northwind is a second tenant with its own
// directory, in which the same workload application is registered (as in
// Microsoft 365); its global admin names Contoso's keys for each kind of
// DEP: 400 T4.OwnKeys. Its own keys work.
func TestDEPOwnKeysAcrossTenants(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	nw := e.northwind()
	for _, sc := range []string{"EXO", "MDEP", "SPO"} {
		if err := e.st.SetOnboarded(ctx, store.Onboarding{Tenant: nw.Tenant, Scenario: sc, RequestID: "test", Officers: []string{"cso@northwind.com"}, Enabled: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.northwindAdmin()
	version := func(s vaulttest.Seed, i int) string {
		k, err := s.Keys[i].GetKey(ctx, "key", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return k.Key.KID.Version()
	}
	keys := func(s vaulttest.Seed) string { return fmt.Sprintf(`[%q,%q]`, s.KeyURIs[0], s.KeyURIs[1]) }
	geo := func(s vaulttest.Seed) string {
		return fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
			s.Vaults[0].Name, version(s, 0), s.Vaults[1].Name, version(s, 1))
	}
	const T = "/v1/tenants/Northwind"
	for _, tc := range []struct {
		name, path, body string
		status           int
		rule             string
	}{
		{"mailbox DEP on Contoso's keys", T + "/dataEncryptionPolicies", `{"name":"stolen","azureKeyIDs":` + keys(e.seed) + `}`, 400, "T4.OwnKeys"},
		{"multi-workload DEP on Contoso's keys", T + "/m365DataAtRestEncryptionPolicies", `{"name":"stolen","azureKeyIDs":` + keys(e.seed) + `}`, 400, "T4.OwnKeys"},
		{"site DEP on Contoso's vaults", T + "/spoDataEncryptionPolicies", geo(e.seed), 400, "T4.OwnKeys"},
		{"mailbox DEP on a Contoso key and its own", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"half","azureKeyIDs":[%q,%q]}`, nw.KeyURIs[0], e.seed.KeyURIs[1]), 400, "T4.OwnKeys"},
		{"mailbox DEP on its own keys", T + "/dataEncryptionPolicies", `{"name":"own","azureKeyIDs":` + keys(nw) + `}`, 201, ""},
		{"multi-workload DEP on its own keys", T + "/m365DataAtRestEncryptionPolicies", `{"name":"own","azureKeyIDs":` + keys(nw) + `}`, 201, ""},
		{"site DEP on its own vaults", T + "/spoDataEncryptionPolicies", geo(nw), 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ct, body := e.call(admin, "POST", tc.path, tc.body)
			if tc.rule != "" {
				e.wantProblem(tc.status, tc.rule, st, ct, body)
				return
			}
			if st != tc.status {
				t.Fatalf("got %d %v, want %d", st, body, tc.status)
			}
		})
	}
	// Nothing of Northwind's is on Contoso's keys.
	for _, kind := range []string{"mailbox", "mdep", "site"} {
		ds, err := e.st.ListDEPs(ctx, nw.Tenant, kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			for _, k := range d.KeyURIs {
				if strings.Contains(k, "contoso") {
					t.Errorf("Northwind's %s DEP %s uses %s", kind, d.Name, k)
				}
			}
		}
	}
}

// SPEC T4 through the API: a key URI whose host is not under the vault
// domains is refused before a connection (a counting loopback listener
// accepts nothing); and on a port of the vault domains, a closed port, a
// plain-TCP listener and a TLS listener with a wrong certificate answer
// the same problem, so a tenant admin cannot map the provider's network.
func TestDEPKnownHostsAndLookAlikeFailures(t *testing.T) {
	port := vaulttest.ClosedPort(t)
	e := startDEPsOn(t, envOptions{domains: []string{fmt.Sprintf("localhost:%d", port)}})
	const T = "/v1/tenants/Contoso/dataEncryptionPolicies"
	create := func(uri string) (int, string, map[string]any) {
		return e.call(e.admin, "POST", T, fmt.Sprintf(`{"name":"probe","azureKeyIDs":[%q,%q]}`, uri, e.seed.KeyURIs[1]))
	}

	l := vaulttest.Listen(t, vaulttest.PlainTCP, 0)
	for _, host := range []string{
		fmt.Sprintf("127.0.0.1:%d", l.Port),
		fmt.Sprintf("localhost:%d", l.Port),
		fmt.Sprintf("contoso-eastus.localhost:%d", l.Port),
		"contoso-eastus.localhost",
	} {
		st, ct, body := create("https://" + host + "/keys/key")
		e.wantProblem(400, "T4.KnownHosts", st, ct, body)
	}
	if n := l.Accepts(); n != 0 {
		t.Fatalf("the listener accepted %d connections, want none", n)
	}

	uri := fmt.Sprintf("https://contoso-eastus.localhost:%d/keys/key", port)
	var first map[string]any
	for _, tc := range []struct {
		name string
		kind vaulttest.ListenerKind
	}{
		{"closed port", -1},
		{"plain TCP", vaulttest.PlainTCP},
		{"TLS with a certificate for another name", vaulttest.WrongTLS},
	} {
		var l *vaulttest.Listener
		if tc.kind >= 0 {
			l = vaulttest.Listen(t, tc.kind, port)
		}
		st, ct, body := create(uri)
		e.wantProblem(503, "Key.Reachable", st, ct, body)
		if l != nil {
			if l.Accepts() == 0 {
				t.Fatalf("%s: not reached", tc.name)
			}
			l.Close()
		}
		got := map[string]any{"status": st}
		for _, k := range []string{"type", "title", "status", "rule", "detail", "fix"} {
			if v, ok := body[k]; ok {
				got[k] = v
			}
		}
		if !strings.Contains(fmt.Sprint(got["detail"]), "could not be reached") {
			t.Fatalf("%s: %v", tc.name, got)
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("%s answers %v; a closed port %v", tc.name, got, first)
		}
	}
}

// SPEC T4 in onboarding: Northwind, a second tenant with its own
// directory in which the same workload application is registered, names
// Contoso's vaults (and then Contoso's subscriptions) in a Validate
// request. The request is kept, Failed; no key of Contoso's is got,
// wrapped or unwrapped (Contoso's vault log has nothing new), and neither
// the answer nor the stored request shows Contoso's directory,
// subscriptions or vault and key facts. Northwind's own Validate passes,
// and unwraps with its own keys.
func TestOnboardingOwnVaultsAcrossTenants(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	nw := e.northwind()
	if st, _, body := e.call(e.operator, "PUT", "/v1/tenants/Northwind/plans", `{"plans":["E5"]}`); st != 200 {
		t.Fatalf("plans: %d %v", st, body)
	}
	admin := e.northwindAdmin()
	// Northwind's subscriptions have the retention period registered, as
	// Prepare would do.
	for _, v := range nw.Vaults {
		if err := e.vault.Client.Do(ctx, "POST", "/subscriptions/"+v.SubscriptionID+"/providers/Microsoft.Resources/features/mandatoryRetentionPeriodEnabled/register", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.vault.Clock.Advance(time.Second) // past the feature delay (1 ms)

	// What Northwind must not see of Contoso.
	secrets := []string{e.seed.Tenant, e.seed.Vaults[0].SubscriptionID, e.seed.Vaults[1].SubscriptionID, "Recoverable"}
	// The requests made of Contoso's vaults themselves: all but the
	// service's reads of its vault directory (VaultGet with the workload
	// token, which touch no key).
	contosoOps := func() int {
		n := 0
		for _, v := range e.seed.Vaults {
			var out vaultclient.List[vaultclient.Op]
			if err := e.vault.Client.Do(ctx, "GET", "/log?limit=10000&vault="+v.Name, nil, &out); err != nil {
				t.Fatal(err)
			}
			for _, op := range out.Value {
				if op.Principal != "admin" && op.Principal != "workload" { // the test's own setup; the service's directory reads
					n++
				}
			}
		}
		return n
	}
	validate := func(subs [2]string, vaults [2]string) (id, status string, rules []any) {
		t.Helper()
		st, _, body := e.call(admin, "POST", "/v1/tenants/Northwind/onboardingRequests",
			fmt.Sprintf(`{"scenario":"EXO","mode":"Validate","subscriptions":[%q,%q],"vaults":[%q,%q],"keys":["key","key"]}`, subs[0], subs[1], vaults[0], vaults[1]))
		if st != 201 {
			t.Fatalf("onboarding request: %d %v", st, body)
		}
		vr := body["validationResult"].(map[string]any)
		return body["id"].(string), vr["status"].(string), vr["rules"].([]any)
	}
	for _, tc := range []struct {
		name string
		subs [2]string
	}{
		{"Northwind's subscriptions, Contoso's vaults", [2]string{nw.Vaults[0].SubscriptionID, nw.Vaults[1].SubscriptionID}},
		{"Contoso's subscriptions and vaults", [2]string{e.seed.Vaults[0].SubscriptionID, e.seed.Vaults[1].SubscriptionID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, unwraps := contosoOps(), e.unwraps()
			id, status, rules := validate(tc.subs, [2]string{e.seed.Vaults[0].Name, e.seed.Vaults[1].Name})
			if status != "Failed" {
				t.Fatalf("status %s: %v", status, rules)
			}
			if n := contosoOps() - ops; n != 0 {
				t.Errorf("%d new operations on Contoso's vaults", n)
			}
			if n := e.unwraps() - unwraps; n != 0 {
				t.Errorf("%d unwraps", n)
			}
			_, _, stored := e.call(admin, "GET", "/v1/tenants/Northwind/onboardingRequests/"+id, "")
			for where, rules := range map[string]any{"answer": rules, "stored request": stored["validationResult"].(map[string]any)["rules"]} {
				for _, r := range rules.([]any) {
					r := r.(map[string]any)
					switch r["ruleName"] {
					case "SoftDeleteRetention", "VaultInRequestOrganization", "KeyAccessPermissions", "RecoveryLevel", "KeyOperationsSupported", "KeyNeverExpires", "VaultsInDifferentRegions":
						t.Errorf("%s: rule %v reported on Contoso's vault: %v", where, r["ruleName"], r)
					}
					shown := fmt.Sprint(r["actualValue"], " ", r["details"])
					for _, s := range secrets {
						if strings.Contains(shown, s) {
							t.Errorf("%s: rule %v shows %s: %v", where, r["ruleName"], s, r)
						}
					}
				}
			}
		})
	}

	// Northwind's own vaults: every rule passes, and the probe unwraps.
	unwraps := e.unwraps()
	_, status, rules := validate([2]string{nw.Vaults[0].SubscriptionID, nw.Vaults[1].SubscriptionID}, [2]string{nw.Vaults[0].Name, nw.Vaults[1].Name})
	if status != "Passed" {
		t.Fatalf("Northwind on its own vaults: %s %v", status, rules)
	}
	if n := e.unwraps() - unwraps; n != 2 {
		t.Errorf("%d unwraps of Northwind's own keys, want 2", n)
	}
}

// unwraps counts the successful unwraps in the vault's log.
func (e *depEnv) unwraps() int {
	e.t.Helper()
	n, err := e.vault.Unwraps()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// northwind makes a second tenant, Northwind, with its own directory and
// vaults (the same workload application registered in it), in the
// service too.
func (e *depEnv) northwind() vaulttest.Seed {
	e.t.Helper()
	nw, err := e.vault.SeedTenantNamed("Northwind")
	if err != nil {
		e.t.Fatal(err)
	}
	if st, _, body := e.call(e.operator, "POST", "/v1/tenants", fmt.Sprintf(`{"name":"Northwind","id":%q}`, nw.Tenant)); st != 201 {
		e.t.Fatalf("tenant Northwind: %d %v", st, body)
	}
	return nw
}

// northwindAdmin is a token of Northwind's global admin.
func (e *depEnv) northwindAdmin() string {
	e.t.Helper()
	_, _, tok := e.call(e.operator, "POST", "/v1/tenants/Northwind/tokens", `{"subject":"admin@northwind.com","role":"global-admin"}`)
	return tok["token"].(string)
}

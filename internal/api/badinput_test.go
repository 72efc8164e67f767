package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/dep"
)

// TestBadInput: the refusals of the seed pages, each a 4xx problem naming
// its rule (and, checked by wantProblem, a detail and a fix).
func TestBadInput(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	mustCall := func(token, method, path, body string, want int) map[string]any {
		t.Helper()
		st, _, out := e.call(token, method, path, body)
		if st != want {
			t.Fatalf("set-up %s %s: %d %v", method, path, st, out)
		}
		return out
	}
	_, _, gtok := e.call(e.global, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	global := gtok["token"].(string)
	_, _, stok := e.call(e.global, "POST", T+"/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := stok["token"].(string)
	_, _, ftok := e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	fabrikam := ftok["token"].(string)

	// Set-up: a DEP, a disabled DEP, a mailbox, two MDEPs with one assigned, a geo registered.
	mustCall(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys), 201)
	mustCall(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-off","azureKeyIDs":%s}`, e.keys), 201)
	mustCall(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-off", `{"enabled":false}`, 200)
	mustCall(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	mustCall(e.admin, "POST", T+"/mailboxes", `{"id":"dave@contoso.com"}`, 201)
	mustCall(global, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-1","azureKeyIDs":%s}`, e.keys), 201)
	mustCall(global, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-off","azureKeyIDs":%s}`, e.keys), 201)
	mustCall(global, "PATCH", T+"/m365DataAtRestEncryptionPolicies/MDEP-off", `{"enabled":false}`, 200)
	mustCall(global, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-1"}`, 200)
	var versions [2]string
	for i, k := range e.seed.Keys {
		r, err := k.GetKey(ctx, "key", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		versions[i] = r.Key.KID.Version()
	}
	spoBody := func(geo, v1, vault2 string) string {
		return fmt.Sprintf(`{"geo":%q,"primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
			geo, e.seed.Vaults[0].Name, v1, vault2, versions[1])
	}
	mustCall(spo, "POST", T+"/spoDataEncryptionPolicies", spoBody("NAM", versions[0], e.seed.Vaults[1].Name), 202)
	mustCall(spo, "POST", T+"/sites", `{"name":"finance","geo":"NAM"}`, 201)
	// A key with an expiry, a disabled key, a key the workload cannot use.
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	keyOf := func(name string) string { return strings.Replace(e.seed.KeyURIs[1], "/keys/key", "/keys/"+name, 1) }
	for name, attrs := range map[string]azkeys.KeyAttributes{"expiring": {Expires: &exp}, "disabled": {Enabled: to.Ptr(false)}} {
		if _, err := e.seed.Keys[1].CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeyAttributes: &attrs}, nil); err != nil {
			t.Fatal(err)
		}
	}
	k1 := e.seed.KeyURIs[0]
	long := strings.Repeat("a", 1025)
	keys := func(a, b string) string { return fmt.Sprintf(`{"name":"X","azureKeyIDs":[%q,%q]}`, a, b) }

	cases := []struct {
		name, token, method, path, body string
		status                          int
		rule                            string
	}{
		// Tenants, tokens, plans, licences.
		{"tenant name with a slash", e.operator, "POST", "/v1/tenants", `{"name":"a/b"}`, 400, "Tenant.Name"},
		{"tenant id not a GUID", e.operator, "POST", "/v1/tenants", `{"name":"N","id":"123"}`, 400, "Tenant.ID"},
		{"duplicate tenant", e.operator, "POST", "/v1/tenants", `{"name":"contoso"}`, 409, "Tenant.Unique"},
		{"tenant admin creates a tenant", global, "POST", "/v1/tenants", `{"name":"Northwind"}`, 403, "Authorization.Operator"},
		{"token role not a tenant role", e.operator, "POST", T + "/tokens", `{"subject":"a@contoso.com","role":"operator"}`, 422, "Request"},
		{"token subject not a UPN", e.operator, "POST", T + "/tokens", `{"subject":"alice","role":"global-admin"}`, 400, "Token.Subject"},
		{"token lifetime too long", e.operator, "POST", T + "/tokens", `{"subject":"a@contoso.com","role":"global-admin","validFor":"9000h"}`, 400, "Token.ValidFor"},
		{"Exchange admin issues a token", e.admin, "POST", T + "/tokens", `{"subject":"a@contoso.com","role":"global-admin"}`, 403, "Authorization.TenantAdmin"},
		{"plan name invalid", e.operator, "PUT", T + "/plans", `{"plans":["E5!"]}`, 400, "Tenant.Plan"},
		{"licence for a non-UPN", global, "PUT", T + "/licences/alice", `{"plan":"E5"}`, 400, "Licence.User"},
		{"licence plan invalid", global, "PUT", T + "/licences/alice@contoso.com", `{"plan":"E5!"}`, 400, "Licence.Plan"},
		{"no token", "", "GET", T, "", 401, "Authentication"},
		{"malformed JSON", e.operator, "POST", "/v1/tenants", `{"name":`, 400, "Request"},
		// Onboarding.
		{"unknown scenario", global, "POST", T + "/onboardingRequests", `{"scenario":"XYZ","mode":"Validate","subscriptions":["a","b"],"vaults":["a","b"],"keys":["a","b"]}`, 422, "Request"},
		{"officer not a UPN", global, "POST", T + "/onboardingRequests", `{"scenario":"EXO","mode":"Enable","subscriptions":["a","b"],"vaults":["a","b"],"keys":["a","b"],"officers":["cso"]}`, 400, "O7.Officer"},
		{"Exchange admin onboards", e.admin, "POST", T + "/onboardingRequests", `{"scenario":"EXO","mode":"Validate","subscriptions":["a","b"],"vaults":["a","b"],"keys":["a","b"]}`, 403, "Authorization.Role"},
		// Mailbox DEPs (New-/Set-DataEncryptionPolicy).
		{"DEP name with spaces", e.admin, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso EXO","azureKeyIDs":%s}`, e.keys), 400, "D1.Name"},
		{"DEP with one key", e.admin, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"X","azureKeyIDs":[%q]}`, k1), 400, "D1.TwoKeys"},
		{"DEP with three keys", e.admin, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"X","azureKeyIDs":[%q,%q,%q]}`, k1, k1, k1), 400, "D1.TwoKeys"},
		{"DEP with the same vault twice", e.admin, "POST", T + "/dataEncryptionPolicies", keys(k1, k1), 400, "D1.TwoVaults"},
		{"DEP key not a URI", e.admin, "POST", T + "/dataEncryptionPolicies", keys("key1", k1), 400, "D1.KeyURI"},
		{"DEP key over http", e.admin, "POST", T + "/dataEncryptionPolicies", keys(strings.Replace(k1, "https", "http", 1), e.seed.KeyURIs[1]), 400, "D1.KeyURI"},
		{"DEP name taken", e.admin, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"dep-1","azureKeyIDs":%s}`, e.keys), 409, "D1.UniqueName"},
		{"DEP key with an expiry", e.admin, "POST", T + "/dataEncryptionPolicies", keys(k1, keyOf("expiring")), 400, "Key.NeverExpires"},
		{"DEP key disabled", e.admin, "POST", T + "/dataEncryptionPolicies", keys(k1, keyOf("disabled")), 400, "Key.Enabled"},
		{"DEP key that does not exist", e.admin, "POST", T + "/dataEncryptionPolicies", keys(k1, keyOf("nosuchkey")), 400, "Key.Exists"},
		{"DEP by a SharePoint admin", spo, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"X","azureKeyIDs":%s}`, e.keys), 403, "Authorization.Role"},
		{"DEP for a tenant not onboarded", fabrikam, "POST", "/v1/tenants/Fabrikam/dataEncryptionPolicies", fmt.Sprintf(`{"name":"X","azureKeyIDs":%s}`, e.keys), 400, "O3.Onboarded"},
		{"Set-DataEncryptionPolicy with nothing", e.admin, "PATCH", T + "/dataEncryptionPolicies/DEP-1", `{}`, 400, "D1.Set"},
		// A description is shown to the tenant's admins as it is: no escape
		// sequences, no bidi overrides.
		{"DEP description with an escape sequence", e.admin, "POST", T + "/dataEncryptionPolicies", fmt.Sprintf(`{"name":"X","description":"ok\u001b[2K\rforged","azureKeyIDs":%s}`, e.keys), 400, "D1.Description"},
		{"DEP description with a bidi override", e.admin, "PATCH", T + "/dataEncryptionPolicies/DEP-1", `{"description":"keys \u202eexe.txt"}`, 400, "D1.Description"},
		{"DEP description with a C1 control", e.admin, "PATCH", T + "/dataEncryptionPolicies/DEP-1", `{"description":"a\u009b31m"}`, 400, "D1.Description"},
		{"unknown DEP", e.admin, "GET", T + "/dataEncryptionPolicies/nope", "", 404, "D1.Exists"},
		// Mailboxes and items.
		{"mailbox not a UPN", e.admin, "POST", T + "/mailboxes", `{"id":"alice"}`, 400, "Mailbox.ID"},
		{"duplicate mailbox", e.admin, "POST", T + "/mailboxes", `{"id":"Alice@contoso.com"}`, 409, "Mailbox.Unique"},
		{"unlicensed user", e.admin, "PATCH", T + "/mailboxes/dave@contoso.com", `{"dataEncryptionPolicy":"DEP-1"}`, 400, "O1.Licence"},
		{"assigning a disabled DEP", e.admin, "PATCH", T + "/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":"DEP-off"}`, 400, "D2.Enabled"},
		{"unknown mailbox", e.admin, "GET", T + "/mailboxes/zed@contoso.com/statistics", "", 404, "Mailbox.Exists"},
		{"unknown item", e.admin, "GET", T + "/mailboxes/alice@contoso.com/items/nope", "", 404, "Item.Exists"},
		// SPEC T9: a 1025-byte mailbox or item ID gave a 500 on every write.
		{"mailbox ID over 256 bytes", e.admin, "POST", T + "/mailboxes", `{"id":"` + long + `@contoso.com"}`, 400, "Mailbox.ID"},
		{"write to a 1025-byte mailbox ID", e.admin, "PUT", T + "/mailboxes/" + long + "@contoso.com/items/m1", "x", 400, "Request.Parameter"},
		{"write of a 1025-byte item ID", e.admin, "PUT", T + "/mailboxes/alice@contoso.com/items/" + long, "x", 400, "Request.Parameter"},
		{"item ID with a newline", e.admin, "PUT", T + "/mailboxes/alice@contoso.com/items/a%0Ab", "x", 400, "Request.Parameter"},
		// Multi-workload DEPs.
		{"disabling the assigned MDEP", global, "PATCH", T + "/m365DataAtRestEncryptionPolicies/MDEP-1", `{"enabled":false}`, 400, "D6.DisableAfterUnassign"},
		{"assigning a disabled MDEP", global, "PUT", T + "/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-off"}`, 400, "D2.Enabled"},
		{"assigning an unknown MDEP", global, "PUT", T + "/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"nope"}`, 404, "D1.Exists"},
		{"record workload invalid", global, "GET", T + "/records/Teams!/x", "", 400, "Record.Workload"},
		{"unknown record", global, "GET", T + "/records/teams/nope", "", 404, "Record.Exists"},
		// Site DEPs, sites and files.
		{"second site DEP for a geo", spo, "POST", T + "/spoDataEncryptionPolicies", spoBody("NAM", versions[0], e.seed.Vaults[1].Name), 409, "D4.OnePerGeo"},
		{"geo not three letters", spo, "POST", T + "/spoDataEncryptionPolicies", spoBody("Europe", versions[0], e.seed.Vaults[1].Name), 400, "D4.Geo"},
		{"key version missing", spo, "POST", T + "/spoDataEncryptionPolicies", spoBody("EUR", "latest", e.seed.Vaults[1].Name), 400, "D4.KeyVersion"},
		{"unknown vault", spo, "POST", T + "/spoDataEncryptionPolicies", spoBody("EUR", versions[0], "nosuchvault"), 400, "D4.Vault"},
		{"site name invalid", spo, "POST", T + "/sites", `{"name":"Finance Team","geo":"NAM"}`, 400, "Site.Name"},
		{"duplicate site", spo, "POST", T + "/sites", `{"name":"finance","geo":"NAM"}`, 409, "Site.Unique"},
		{"unknown site", spo, "GET", T + "/sites/nope/files/x", "", 404, "Site.Exists"},
		{"unknown file", spo, "GET", T + "/sites/finance/files/nope", "", 404, "File.Exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ct, body := e.call(tc.token, tc.method, tc.path, tc.body)
			e.wantProblem(tc.status, tc.rule, st, ct, body)
		})
	}
	if len(cases) < 40 {
		t.Fatalf("%d cases, want at least 40", len(cases))
	}
	_ = dep.MaxMailboxDEPs // the 51st DEP: TestMailboxDEPLimitAndAvailabilityKeys
}

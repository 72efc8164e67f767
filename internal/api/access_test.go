package api_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// TestOperatorTokens (T5): the operator issues a tenant's first global
// admin token and nothing else; the tenant's global admin issues the rest.
func TestOperatorTokens(t *testing.T) {
	e := start(t)
	if st, _, body := e.call(e.operator, "POST", "/v1/tenants", `{"name":"Contoso"}`); st != 201 {
		t.Fatalf("tenant: %d %v", st, body)
	}
	const tokens = "/v1/tenants/Contoso/tokens"
	mint := func(token, role string) (int, map[string]any) {
		st, _, body := e.call(token, "POST", tokens, fmt.Sprintf(`{"subject":"x-%s@contoso.com","role":%q}`, role, role))
		return st, body
	}
	// Before the tenant has a global admin: the operator still issues no
	// other role.
	for _, role := range []string{tenant.RoleExchangeAdmin, tenant.RoleSharePointAdmin, tenant.RoleComplianceAdmin} {
		st, body := mint(e.operator, role)
		e.wantProblem(403, "T5.FirstGlobalAdmin", st, "application/problem+json", body)
	}
	st, first := mint(e.operator, tenant.RoleGlobalAdmin)
	if st != 201 || first["id"] == "" {
		t.Fatalf("first global admin: %d %v", st, first)
	}
	admin := first["token"].(string)
	// Once it has one: the operator issues nothing, the global admin everything.
	for _, role := range append([]string{tenant.RoleGlobalAdmin}, tenant.Roles...) {
		st, body := mint(e.operator, role)
		e.wantProblem(403, "T5.FirstGlobalAdmin", st, "application/problem+json", body)
		if st, body := mint(admin, role); st != 201 {
			t.Errorf("the global admin issues a %s token: %d %v", role, st, body)
		}
	}
	// Default lifetime: days, not a year.
	if exp, _ := time.Parse(time.RFC3339, first["expires"].(string)); exp.After(time.Now().Add(8*24*time.Hour)) || exp.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("a token expires %v; want in 7 days", exp)
	}
	// When every global-admin token is revoked (or expired), the operator
	// still may not issue one: it would then issue itself any role.
	_, _, list := e.call(admin, "GET", tokens, "")
	for _, v := range list["value"].([]any) {
		if tok := v.(map[string]any); tok["role"] == tenant.RoleGlobalAdmin && tok["id"] != first["id"] {
			if st, _, body := e.call(admin, "POST", tokens+"/"+tok["id"].(string)+"/revoke", ""); st != 200 {
				t.Fatalf("revoke: %d %v", st, body)
			}
		}
	}
	if st, _, body := e.call(admin, "POST", tokens+"/"+first["id"].(string)+"/revoke", ""); st != 200 || body["revoked"] == nil {
		t.Fatalf("revoke own token: %d %v", st, body)
	}
	if st, body := mint(e.operator, tenant.RoleGlobalAdmin); st != 403 || body["rule"] != "T5.FirstGlobalAdmin" {
		t.Fatalf("the operator issued a global admin token after the tenant's were all revoked: %d %v", st, body)
	}
}

// TestTokenListAndRevoke (T6): the tenant's global admin lists its tokens
// without secrets and revokes one, which is refused on the next request; a
// token whose row is gone is refused too, however it was cached.
func TestTokenListAndRevoke(t *testing.T) {
	e := start(t)
	e.call(e.operator, "POST", "/v1/tenants", `{"name":"Contoso"}`)
	e.call(e.operator, "POST", "/v1/tenants", `{"name":"Fabrikam"}`)
	const tokens = "/v1/tenants/Contoso/tokens"
	_, _, g := e.call(e.operator, "POST", tokens, `{"subject":"admin@contoso.com","role":"global-admin"}`)
	admin := g["token"].(string)
	_, _, f := e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	fabrikam := f["token"].(string)
	_, _, x := e.call(admin, "POST", tokens, `{"subject":"exo@contoso.com","role":"exchange-admin","validFor":"24h"}`)
	exo := x["token"].(string)
	if st, _, me := e.call(exo, "GET", "/v1/me", ""); st != 200 || me["role"] != "exchange-admin" {
		t.Fatalf("exo whoami: %d %v", st, me)
	}

	st, _, list := e.call(admin, "GET", tokens, "")
	if st != 200 || len(list["value"].([]any)) != 2 {
		t.Fatalf("list: %d %v", st, list)
	}
	for _, v := range list["value"].([]any) {
		tok := v.(map[string]any)
		for k, val := range tok {
			if s, ok := val.(string); ok && (strings.HasPrefix(s, "cksvc_") || s == admin || s == exo || len(s) == 64) || k == "token" || k == "hash" {
				t.Errorf("the token list shows a secret or a hash: %s=%v", k, val)
			}
		}
		if tok["id"] == "" || tok["subject"] == "" || tok["created"] == nil || tok["expires"] == nil {
			t.Errorf("listed token without its facts: %v", tok)
		}
		if tok["subject"] == "admin@contoso.com" && tok["lastUsed"] == nil {
			t.Errorf("the admin's token shows no last use: %v", tok)
		}
	}
	// Only the tenant's global admin lists and revokes.
	for _, tc := range []struct {
		token, method, path string
		status              int
		rule                string
	}{
		{exo, "GET", tokens, 403, "Authorization.Role"},
		{e.operator, "GET", tokens, 403, "Authorization.Role"},
		{e.operator, "POST", tokens + "/" + x["id"].(string) + "/revoke", 403, "Authorization.Role"},
		{fabrikam, "POST", tokens + "/" + x["id"].(string) + "/revoke", 404, "Tenant.Exists"},
		{fabrikam, "POST", "/v1/tenants/Fabrikam/tokens/" + x["id"].(string) + "/revoke", 404, "Token.Exists"},
		{admin, "POST", tokens + "/0123456789abcdef/revoke", 404, "Token.Exists"},
	} {
		st, ct, body := e.call(tc.token, tc.method, tc.path, "")
		e.wantProblem(tc.status, tc.rule, st, ct, body)
	}

	// Revoked: refused on the very next request.
	if st, _, body := e.call(admin, "POST", tokens+"/"+x["id"].(string)+"/revoke", ""); st != 200 || body["revoked"] == nil {
		t.Fatalf("revoke: %d %v", st, body)
	}
	st, ct, body := e.call(exo, "GET", "/v1/me", "")
	e.wantProblem(401, "Authentication", st, ct, body)
	if !strings.Contains(body["detail"].(string), "revoked") {
		t.Errorf("refusal of a revoked token: %v", body["detail"])
	}
	st, ct, body = e.call(admin, "POST", tokens+"/"+x["id"].(string)+"/revoke", "")
	e.wantProblem(409, "Token.Revoked", st, ct, body)

	// A row deleted behind the service's back (another node, an operator
	// with SQL): refused within the recheck interval, cache or not.
	_, _, y := e.call(admin, "POST", tokens, `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := y["token"].(string)
	if st, _, _ := e.call(spo, "GET", "/v1/me", ""); st != 200 { // now cached
		t.Fatalf("spo whoami: %d", st)
	}
	db, err := sql.Open("sqlite", e.dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec(`DELETE FROM api_tokens WHERE hash = ?`, tenant.HashToken(spo)); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("deleted %d rows", n)
	}
	time.Sleep(tenant.TokenRecheck + 50*time.Millisecond)
	st, ct, body = e.call(spo, "GET", "/v1/me", "")
	e.wantProblem(401, "Authentication", st, ct, body)
}

// TestOperatorReadsNoContent (T5): no data route lists the operator,
// whatever request it holds.
func TestOperatorReadsNoContent(t *testing.T) {
	_, s, _ := bareAPI(t)
	n := 0
	for _, r := range s.Routes() {
		if strings.Contains(r.Path, "/items") || strings.Contains(r.Path, "/files") || strings.Contains(r.Path, "/records") || strings.Contains(r.Path, "/search") {
			n++
			if slices.Contains(r.Roles, tenant.RoleOperator) {
				t.Errorf("%s %s lets the operator in", r.Method, r.Path)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d data routes; the route table changed shape", n)
	}
}

// TestAccessRequests (T5, T2): recovery and rollback run only with an
// approved, unexpired request for that very action, DEP and target, once;
// a request a tenant's global admin makes itself needs no approval; each
// step is in the tenant's audit log.
func TestAccessRequests(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	var newKeys []string
	for i, kc := range e.seed.Keys {
		if _, err := kc.CreateKey(ctx, "replacement", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			t.Fatal(err)
		}
		newKeys = append(newKeys, fmt.Sprintf("%q", e.seed.Vaults[i].URI+"/keys/replacement"))
	}
	for _, c := range []struct{ name, keys string }{{"DEP-1", e.keys}, {"DEP-2", "[" + strings.Join(newKeys, ",") + "]"}, {"DEP-3", "[" + strings.Join(newKeys, ",") + "]"}} {
		if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, c.name, c.keys)); st != 201 {
			t.Fatalf("%s: %d %v", c.name, st, body)
		}
	}
	if st, _, body := e.call(e.global, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("MDEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	const item = T + "/mailboxes/alice@contoso.com/items/m1"
	if st, body := e.raw(e.admin, "PUT", item, []byte("board minutes")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	ask := func(token, body string) map[string]any {
		t.Helper()
		st, _, r := e.call(token, "POST", T+"/accessRequests", body)
		if st != 201 {
			t.Fatalf("access request %s: %d %v", body, st, r)
		}
		return r
	}
	const recover = T + "/dataEncryptionPolicies/DEP-1/recover"
	use := func(id, to string) (int, string, map[string]any) {
		return e.call(e.operator, "POST", recover, fmt.Sprintf(`{"to":%q,"request":%q}`, to, id))
	}

	// Making requests: who may, and what they must name.
	for _, tc := range []struct {
		name, token, body string
		status            int
		rule              string
	}{
		{"an Exchange admin", e.admin, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r"}`, 403, "Authorization.TenantAdmin"},
		{"an unknown action", e.operator, `{"action":"read-mail","dep":"DEP-1","reason":"r"}`, 422, "Request"},
		{"no reason", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"  "}`, 400, "T5.Reason"},
		{"a reason with a newline", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"a\nb"}`, 400, "T5.Reason"},
		{"too long", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r","validFor":"720h"}`, 400, "T5.ValidFor"},
		{"too short", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r","validFor":"1m"}`, 400, "T5.ValidFor"},
		{"no target", e.operator, `{"action":"recover","dep":"DEP-1","reason":"r"}`, 400, "T5.Target"},
		{"the DEP as its own target", e.operator, `{"action":"recover","dep":"DEP-1","to":"dep-1","reason":"r"}`, 400, "T5.Target"},
		{"an unknown DEP", e.operator, `{"action":"recover","dep":"DEP-9","to":"DEP-2","reason":"r"}`, 404, "D1.Exists"},
		{"a rollback of a mailbox DEP", e.operator, `{"action":"rollback","dep":"DEP-1","reason":"r"}`, 404, "D1.Exists"},
		{"a geo with one key", e.operator, `{"action":"recover-geo","dep":"NAM","keys":["https://a/keys/k/1"],"reason":"r"}`, 404, "D4.Registered"},
	} {
		st, ct, body := e.call(tc.token, "POST", T+"/accessRequests", tc.body)
		if st != tc.status || body["rule"] != tc.rule {
			t.Errorf("%s: %d %s %v; want %d %s", tc.name, st, ct, body, tc.status, tc.rule)
		}
	}

	// Refused, each with its rule, before any key is asked.
	pending := ask(e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 1: pending"}`)
	denied := ask(e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 2: denied"}`)
	if st, _, r := e.call(e.global, "POST", T+"/accessRequests/"+denied["id"].(string)+"/deny", ""); st != 200 || r["state"] != "Denied" {
		t.Fatalf("deny: %d %v", st, r)
	}
	st, ct, body := e.call(e.global, "POST", T+"/accessRequests/"+denied["id"].(string)+"/approve", "")
	e.wantProblem(409, "T5.State", st, ct, body)
	st, ct, body = e.call(e.admin, "POST", T+"/accessRequests/"+pending["id"].(string)+"/approve", "")
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", T+"/accessRequests/"+pending["id"].(string)+"/approve", "")
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	otherTarget := e.grant(`{"action":"recover","dep":"DEP-1","to":"DEP-3","reason":"ticket 3: to DEP-3"}`)
	otherDEP := e.grant(`{"action":"recover","dep":"DEP-2","to":"DEP-3","reason":"ticket 4: DEP-2"}`)
	rollback := e.grant(`{"action":"rollback","dep":"MDEP-1","reason":"ticket 5"}`)
	// Expired ones, written as the store would hold them after the time.
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	d1, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	d2, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-2")
	for _, r := range []store.AccessRequest{
		{ID: "expired-approved", State: store.AccessApproved, DecidedBy: "admin@contoso.com (global-admin)", Decided: &past},
		{ID: "expired-pending", State: store.AccessPending},
	} {
		r.Tenant, r.Action, r.DEP, r.DEPName, r.Target, r.TargetName, r.Reason = e.seed.Tenant, "recover", d1.ID, "DEP-1", d2.ID, "DEP-2", "old"
		r.RequestedBy, r.Requested, r.Expires = "operator (operator)", past.Add(-time.Hour), past
		if err := e.st.CreateAccessRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	st, ct, body = e.call(e.global, "POST", T+"/accessRequests/expired-pending/approve", "")
	e.wantProblem(403, "T5.Expired", st, ct, body)
	for _, tc := range []struct {
		name, id, to string
		status       int
		rule         string
	}{
		{"no request", "", "DEP-2", 403, "T5.AccessRequest"},
		{"an unknown request", "9b0c7a36-0000-4000-8000-000000000000", "DEP-2", 404, "T5.Exists"},
		{"a pending request", pending["id"].(string), "DEP-2", 403, "T5.State"},
		{"a denied request", denied["id"].(string), "DEP-2", 403, "T5.State"},
		{"an expired request", "expired-approved", "DEP-2", 403, "T5.Expired"},
		{"a request for another target", otherTarget, "DEP-2", 403, "T5.Scope"},
		{"a request for another DEP", otherDEP, "DEP-3", 403, "T5.Scope"},
		{"a request for another action", rollback, "DEP-2", 403, "T5.Scope"},
		{"the right request, keys not lost", otherTarget, "DEP-3", 409, "R3.KeysNotLost"},
	} {
		st, ct, body := use(tc.id, tc.to)
		if st != tc.status || body["rule"] != tc.rule {
			t.Errorf("%s: %d %s %v; want %d %s", tc.name, st, ct, body, tc.status, tc.rule)
		}
	}

	// The tenant loses both keys of DEP-1, and its global admin asks for
	// the recovery itself: approved as made.
	for _, kc := range e.seed.Keys {
		if _, err := kc.DeleteKey(ctx, "key", nil); err != nil {
			t.Fatal(err)
		}
	}
	e.ring.Evict(d1.ID)
	own := ask(e.global, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"we deleted both keys of DEP-1","validFor":"1h"}`)
	if own["state"] != "Approved" || !strings.HasPrefix(own["decidedBy"].(string), "admin@contoso.com") {
		t.Fatalf("the tenant's own request: %v", own)
	}
	st, _, job := use(own["id"].(string), "DEP-2")
	if st != 202 {
		t.Fatalf("recover with the tenant's own request: %d %v", st, job)
	}
	e.waitJob(e.operator, "Contoso", job["id"].(string))
	if st, got := e.raw(e.admin, "GET", item, nil); st != 200 || string(got) != "board minutes" {
		t.Fatalf("after recovery: %d %q", st, got)
	}
	st, ct, body = use(own["id"].(string), "DEP-2")
	e.wantProblem(403, "T5.State", st, ct, body)
	if st, _, r := e.call(e.operator, "GET", T+"/accessRequests/"+own["id"].(string), ""); st != 200 || r["state"] != "Used" || !strings.HasPrefix(fmt.Sprint(r["usedBy"]), "operator (operator, token ") {
		t.Fatalf("the used request: %d %v", st, r)
	}
	st, _, l := e.call(e.global, "GET", T+"/accessRequests", "")
	if st != 200 || len(l["value"].([]any)) != 8 {
		t.Fatalf("list: %d %d requests", st, len(l["value"].([]any)))
	}

	// The audit log holds every step, with the request's ID.
	steps := map[string]bool{}
	for _, r := range e.readAudit(e.global, "Contoso", 0) {
		if strings.HasPrefix(r.Action, "access-request-") {
			steps[r.Action+" "+strings.Fields(r.Target)[2]] = true
		}
		if r.Action == "availability-key-use" && strings.Contains(r.Reason, own["id"].(string)) && strings.Contains(r.Reason, "we deleted both keys") {
			steps["availability-key-use"] = true
		}
	}
	for _, want := range []string{
		"access-request-create " + pending["id"].(string) + ":", "access-request-deny " + denied["id"].(string) + ":",
		"access-request-approve " + otherTarget + ":", "access-request-create " + own["id"].(string) + ":",
		"access-request-use " + own["id"].(string) + ":", "availability-key-use",
	} {
		if !steps[want] {
			t.Errorf("the audit log has no %q record", want)
		}
	}
}

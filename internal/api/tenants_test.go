package api_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/tenant"
)

func TestAuthentication(t *testing.T) {
	e := start(t)
	st, ct, body := e.call("", "GET", "/v1/tenants", "")
	e.wantProblem(401, "Authentication", st, ct, body)
	st, ct, body = e.call("cksvc_wrong", "GET", "/v1/tenants", "")
	e.wantProblem(401, "Authentication", st, ct, body)
	st, _, body = e.call(e.operator, "GET", "/v1/me", "")
	if st != 200 || body["role"] != "operator" {
		t.Fatalf("operator whoami: %d %v", st, body)
	}
	// Health and the OpenAPI document need no token.
	if st, _, _ := e.call("", "GET", "/healthz", ""); st != 200 {
		t.Fatalf("healthz: %d", st)
	}
}

func TestTenantIsolationAndRoles(t *testing.T) {
	e := start(t)
	for _, name := range []string{"Contoso", "Fabrikam"} {
		if st, _, body := e.call(e.operator, "POST", "/v1/tenants", `{"name":"`+name+`"}`); st != 201 {
			t.Fatalf("create %s: %d %v", name, st, body)
		}
	}
	st, _, tok := e.call(e.operator, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	if st != 201 {
		t.Fatalf("token: %d %v", st, tok)
	}
	admin := tok["token"].(string)
	_, _, exo := e.call(admin, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"exo@contoso.com","role":"exchange-admin"}`)
	exchange := exo["token"].(string)

	// Every tenant read with another tenant's token is denied as not found.
	for _, tc := range []struct {
		token, method, path, body string
		status                    int
		rule                      string
	}{
		{admin, "GET", "/v1/tenants/Fabrikam", "", 404, "Tenant.Exists"},
		{exchange, "GET", "/v1/tenants/Fabrikam", "", 404, "Tenant.Exists"},
		{admin, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@contoso.com","role":"global-admin"}`, 404, "Tenant.Exists"},
		{admin, "POST", "/v1/tenants", `{"name":"Northwind"}`, 403, "Authorization.Operator"},
		{exchange, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"x@contoso.com","role":"global-admin"}`, 403, "Authorization.TenantAdmin"},
		{e.operator, "POST", "/v1/tenants", `{"name":"contoso"}`, 409, "Tenant.Unique"},
		{e.operator, "POST", "/v1/tenants", `{"name":"a/b"}`, 400, "Tenant.Name"},
		{e.operator, "POST", "/v1/tenants", `{"name":"X","id":"not-a-guid"}`, 400, "Tenant.ID"},
		{e.operator, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"no-at-sign","role":"global-admin"}`, 400, "Token.Subject"},
		{e.operator, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"a@b.co","role":"global-admin","validFor":"1s"}`, 400, "Token.ValidFor"},
		{e.operator, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"a@b.co","role":"operator"}`, 422, "Request"},
		{e.operator, "POST", "/v1/tenants", `{"name":`, 400, "Request"},
		{e.operator, "POST", "/v1/tenants", `{"name":5}`, 422, "Request"},
	} {
		st, ct, body := e.call(tc.token, tc.method, tc.path, tc.body)
		e.wantProblem(tc.status, tc.rule, st, ct, body)
	}
	_, _, list := e.call(admin, "GET", "/v1/tenants", "")
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["name"] != "Contoso" {
		t.Fatalf("a tenant admin listed %v", v)
	}

	// Tokens are kept only as hashes.
	db, err := os.ReadFile(e.dbFile)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.dbFile + "-wal")
	for _, tok := range []string{admin, exchange, e.operator} {
		if bytes.Contains(db, []byte(tok)) || bytes.Contains(wal, []byte(tok)) {
			t.Fatal("a raw token is in the database")
		}
	}
}

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

package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
)

// TestRouteRoles tries every operation of the route table with a token of
// every role, on the caller's own tenant and on another: a role the route
// does not list is refused before the handler runs (403 Authorization.*),
// another tenant's admin finds nothing there (404), and a listed role is
// never refused for its role.
func TestRouteRoles(t *testing.T) {
	ctx := context.Background()
	st, s, srv := bareAPI(t)
	var err error
	now := time.Now()
	for _, name := range []string{"Contoso", "Fabrikam"} {
		if err := st.CreateServiceTenant(ctx, store.ServiceTenant{ID: strings.ToLower(name) + "-id", Name: name, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	for _, role := range append([]string{tenant.RoleOperator}, tenant.Roles...) {
		rec := store.APIToken{Role: role, Subject: role + "@contoso.com", Created: now, Expires: now.Add(time.Hour)}
		if role != tenant.RoleOperator {
			rec.Tenant = "contoso-id"
		}
		if tokens[role], err = tenant.NewToken(ctx, st, rec); err != nil {
			t.Fatal(err)
		}
	}
	param := regexp.MustCompile(`\{[a-z]+\}`)
	call := func(r api.Route, tenantName, role string) (int, string) {
		path := strings.Replace(r.Path, "{tenant}", tenantName, 1)
		path = param.ReplaceAllString(path, "x")
		req, _ := http.NewRequest(r.Method, srv.URL+path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p api.Problem
		json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Rule
	}
	if len(s.Routes()) < 50 {
		t.Fatalf("the route table has %d routes; want every operation", len(s.Routes()))
	}
	for _, r := range s.Routes() {
		if r.Roles == nil {
			continue
		}
		for role := range tokens {
			st, rl := call(r, "Contoso", role)
			refused := st == http.StatusForbidden && strings.HasPrefix(rl, "Authorization.")
			if allowed := slices.Contains(r.Roles, role); allowed == refused {
				t.Errorf("%s %s as %s: %d %s; allowed by the table: %v", r.Method, r.Path, role, st, rl, allowed)
			}
			if role != tenant.RoleOperator && strings.Contains(r.Path, "{tenant}") {
				if st, rl := call(r, "Fabrikam", role); st != http.StatusNotFound || rl != "Tenant.Exists" {
					t.Errorf("%s %s on another tenant as %s: %d %s; want 404 Tenant.Exists", r.Method, r.Path, role, st, rl)
				}
			}
		}
	}
}

// TestUnknownRoutes: paths and methods the API does not serve are answered
// as problems, like every other error, not as the mux's plain text.
func TestUnknownRoutes(t *testing.T) {
	_, _, srv := bareAPI(t)
	for _, tc := range []struct {
		method, path string
		status       int
		rule, allow  string
	}{
		{"GET", "/v1/nothing-here", 404, "Request.Path", ""},
		{"GET", "/", 404, "Request.Path", ""},
		{"DELETE", "/v1/tenants", 405, "Request.Method", "GET, POST"},
		{"PUT", "/healthz", 405, "Request.Method", "GET"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tc.status || p.Rule != tc.rule || p.Fix == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s %q (%+v); want %d problem+json with rule %s and a fix", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), p.Rule, p, tc.status, tc.rule)
		}
		if got := resp.Header.Get("Allow"); tc.allow != "" && !strings.Contains(got, strings.Split(tc.allow, ", ")[0]) {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// bareAPI serves the API over a fresh SQLite store, with no workloads.
func bareAPI(t *testing.T) (store.Store, *api.Server, *httptest.Server) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := service.NewAPI(service.Parts{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return st, s, srv
}

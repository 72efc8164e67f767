package tenant_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
)

func start(t testing.TB) (*tenant.Service, *sqlstore.DB, *time.Time) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	return tenant.New(st, func() time.Time { return now }, slog.New(slog.DiscardHandler)), st, &now
}

func as(role, tenantID string) context.Context {
	return tenant.WithCaller(context.Background(), store.APIToken{Role: role, Tenant: tenantID, Subject: role + "@contoso.com"})
}

func wantRule(t *testing.T, what string, err error, id string) {
	t.Helper()
	if e, ok := rule.As(err); !ok || e.Rule != id || e.Fix == "" {
		t.Errorf("%s: got %v, want rule %s with a fix", what, err, id)
	}
}

func TestTenantsAndTokens(t *testing.T) {
	s, _, now := start(t)
	op := as(tenant.RoleOperator, "")
	contoso, err := s.Create(op, "  Contoso  ", "7C8D9E0F-1A2B-4C3D-8E9F-0A1B2C3D4E5F")
	if err != nil || contoso.Name != "Contoso" || contoso.ID != "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f" {
		t.Fatalf("create: %+v, %v; want Contoso with its GUID in lower case", contoso, err)
	}
	fabrikam, err := s.Create(op, "Fabrikam", "")
	if err != nil || len(fabrikam.ID) != 36 {
		t.Fatalf("create without an ID: %+v, %v; want a new GUID", fabrikam, err)
	}
	admin := as(tenant.RoleGlobalAdmin, contoso.ID)
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		tn, id   string
		wantRule string
	}{
		{"a tenant admin creates a tenant", admin, "Litware", "", "Authorization.Operator"},
		{"an empty name", op, " ", "", "Tenant.Name"},
		{"a name starting with a symbol", op, "-x", "", "Tenant.Name"},
		{"a name that is another tenant's ID", op, fabrikam.ID, "", "Tenant.Name"},
		{"a name that reads as a GUID", op, strings.ToUpper(fabrikam.ID), "", "Tenant.Name"},
		{"an ID that is not a GUID", op, "Litware", "12345", "Tenant.ID"},
		{"a name taken", op, "Contoso", "", "Tenant.Unique"},
	} {
		_, err := s.Create(tc.ctx, tc.tn, tc.id)
		wantRule(t, tc.name, err, tc.wantRule)
	}

	// Visibility: a tenant's admin sees its own tenant only.
	if _, err := s.Get(admin, "Fabrikam"); !rule.Is(err, rule.KindNotFound) {
		t.Errorf("a Contoso admin gets Fabrikam: %v; want not found", err)
	}
	if got, err := s.Get(admin, "contoso"); err != nil || got.ID != contoso.ID {
		t.Errorf("a Contoso admin gets its tenant by name: %+v, %v", got, err)
	}
	if ts, _ := s.List(admin, store.PageKey{}, 100); len(ts) != 1 {
		t.Errorf("a tenant admin lists %d tenants; want its own", len(ts))
	}
	if ts, _ := s.List(op, store.PageKey{}, 100); len(ts) != 2 {
		t.Errorf("the operator lists %d tenants; want 2", len(ts))
	}
	// A tenant admin's page after its own tenant is empty.
	if ts, err := s.List(admin, tenant.ListKey(contoso), 100); err != nil || len(ts) != 0 {
		t.Errorf("a tenant admin's page after its tenant: %d tenants, %v; want none", len(ts), err)
	}

	// Tokens.
	for _, tc := range []struct {
		name                    string
		ctx                     context.Context
		subject, role, validFor string
		wantRule                string
	}{
		{"an Exchange admin issues a token", as(tenant.RoleExchangeAdmin, contoso.ID), "x@contoso.com", tenant.RoleGlobalAdmin, "", "Authorization.TenantAdmin"},
		{"another tenant's global admin", as(tenant.RoleGlobalAdmin, fabrikam.ID), "x@contoso.com", tenant.RoleGlobalAdmin, "", "Authorization.TenantAdmin"},
		{"a role that is not a tenant's", admin, "x@contoso.com", tenant.RoleOperator, "", "Token.Role"},
		{"a subject that is not a UPN", admin, "x", tenant.RoleExchangeAdmin, "", "Token.Subject"},
		{"a subject with a forged audit line", admin, "eve@contoso.com (global-admin)  create-token  201 Created\n9999  trusted@contoso.com", tenant.RoleExchangeAdmin, "", "Token.Subject"},
		{"a subject with an escape sequence", admin, "\x1b[32meve@contoso.com", tenant.RoleExchangeAdmin, "", "Token.Subject"},
		{"a lifetime under an hour", admin, "x@contoso.com", tenant.RoleExchangeAdmin, "30m", "Token.ValidFor"},
		{"a lifetime over a year", admin, "x@contoso.com", tenant.RoleExchangeAdmin, "9000h", "Token.ValidFor"},
	} {
		_, _, err := s.IssueToken(tc.ctx, contoso, tc.subject, tc.role, tc.validFor)
		wantRule(t, tc.name, err, tc.wantRule)
	}
	tok, rec, err := s.IssueToken(admin, contoso, "exo@contoso.com", tenant.RoleExchangeAdmin, "2h")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(context.Background(), tok)
	if err != nil || p.Subject != "exo@contoso.com" || p.Role != tenant.RoleExchangeAdmin || p.Tenant != contoso.ID || p.Expires.Sub(rec.Expires).Abs() > time.Millisecond {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	_, err = s.Authenticate(context.Background(), "")
	wantRule(t, "no token", err, "Authentication")
	_, err = s.Authenticate(context.Background(), tok+"x")
	wantRule(t, "an unknown token", err, "Authentication")
	*now = now.Add(3 * time.Hour)
	_, err = s.Authenticate(context.Background(), tok)
	wantRule(t, "an expired token", err, "Authentication")
}

func TestRolesAndLicences(t *testing.T) {
	s, st, _ := start(t)
	ctx := context.Background()
	ct := store.ServiceTenant{ID: "t1", Name: "Contoso", Created: time.Now()}
	if err := st.CreateServiceTenant(ctx, ct); err != nil {
		t.Fatal(err)
	}
	exo := as(tenant.RoleExchangeAdmin, ct.ID)
	wantRule(t, "an Exchange admin on a SharePoint route", tenant.RequireRole(exo, []string{tenant.RoleGlobalAdmin, tenant.RoleSharePointAdmin}), "Authorization.Role")
	wantRule(t, "an Exchange admin on an operator route", tenant.RequireOperator(exo), "Authorization.Operator")
	if err := tenant.RequireRole(exo, []string{tenant.RoleExchangeAdmin}); err != nil {
		t.Errorf("an Exchange admin on an Exchange route: %v", err)
	}
	_, err := s.SetLicence(exo, ct, "alice@contoso.com", "E5")
	wantRule(t, "an Exchange admin assigns a licence", err, "Authorization.TenantAdmin")
	admin := as(tenant.RoleGlobalAdmin, ct.ID)
	_, err = s.SetLicence(admin, ct, "alice", "E5")
	wantRule(t, "a user that is not a UPN", err, "Licence.User")
	wantRule(t, "no licence", s.RequireLicence(ctx, ct, "alice@contoso.com"), "O1.Licence")
	for plan, ok := range map[string]bool{"E5": true, "Microsoft 365 E5": true, "E3": false} {
		l, err := s.SetLicence(admin, ct, "Alice@contoso.com", plan)
		if err != nil || l.User != "alice@contoso.com" || l.CustomerKey != ok {
			t.Errorf("licence %s: %+v, %v; want customer key %v", plan, l, err, ok)
		}
		if err := s.RequireLicence(ctx, ct, "alice@contoso.com"); (err == nil) != ok {
			t.Errorf("require licence with %s: %v", plan, err)
		}
	}
}

// TestTokenRevocation (T5, T6): the operator issues only a tenant's first
// global admin token; the tenant's global admin lists and revokes tokens;
// a revoked token is refused at once, a deleted row once the cache
// rechecks it.
func TestTokenRevocation(t *testing.T) {
	s, st, now := start(t)
	op := as(tenant.RoleOperator, "")
	ct, err := s.Create(op, "Contoso", "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.IssueToken(op, ct, "exo@contoso.com", tenant.RoleExchangeAdmin, "")
	wantRule(t, "the operator issues an Exchange admin token", err, "T5.FirstGlobalAdmin")
	first, rec, err := s.IssueToken(op, ct, "admin@contoso.com", tenant.RoleGlobalAdmin, "")
	if err != nil || rec.Expires.Sub(rec.Created) != tenant.DefaultTokenLife || rec.ID != tenant.TokenID(tenant.HashToken(first)) {
		t.Fatalf("first global admin: %+v, %v", rec, err)
	}
	_, _, err = s.IssueToken(op, ct, "admin2@contoso.com", tenant.RoleGlobalAdmin, "")
	wantRule(t, "the operator issues a second global admin token", err, "T5.FirstGlobalAdmin")
	admin, err := s.Authenticate(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	ga := tenant.WithCaller(context.Background(), admin)
	exo, xrec, err := s.IssueToken(ga, ct, "exo@contoso.com", tenant.RoleExchangeAdmin, "24h")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(context.Background(), exo); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tokens(op, ct, store.PageKey{}, 100); err == nil {
		t.Error("the operator lists a tenant's tokens")
	}
	ts, err := s.Tokens(ga, ct, store.PageKey{}, 100)
	if err != nil || len(ts) != 2 || ts[0].LastUsed == nil {
		t.Fatalf("tokens: %+v, %v; want two, the admin's used", ts, err)
	}
	_, err = s.RevokeToken(as(tenant.RoleExchangeAdmin, ct.ID), ct, xrec.ID)
	wantRule(t, "an Exchange admin revokes", err, "Authorization.Role")
	if _, err := s.RevokeToken(ga, ct, xrec.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(context.Background(), exo)
	wantRule(t, "a revoked token, cached a moment ago", err, "Authentication")
	_, err = s.RevokeToken(ga, ct, xrec.ID)
	wantRule(t, "revoked twice", err, "Token.Revoked")
	_, err = s.RevokeToken(ga, ct, "nope")
	wantRule(t, "an unknown token", err, "Token.Exists")

	// A row deleted behind the service's back: served from the cache
	// until it is read again, refused from then on.
	spo, srec, err := s.IssueToken(ga, ct, "spo@contoso.com", tenant.RoleSharePointAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(context.Background(), spo); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeToken(context.Background(), ct.ID, srec.ID, *now); err != nil { // another node revokes it
		t.Fatal(err)
	}
	*now = now.Add(tenant.TokenRecheck)
	_, err = s.Authenticate(context.Background(), spo)
	wantRule(t, "a token another node revoked, after the recheck", err, "Authentication")
	// With every global admin token revoked, or expired, the operator
	// still issues none: it would then issue itself any role (T5).
	if _, err := s.RevokeToken(ga, ct, rec.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.IssueToken(op, ct, "admin@contoso.com", tenant.RoleGlobalAdmin, "48h")
	wantRule(t, "the operator issues a global admin token after all were revoked", err, "T5.FirstGlobalAdmin")
	*now = now.Add(100 * 24 * time.Hour) // every token expired
	_, _, err = s.IssueToken(op, ct, "admin@contoso.com", tenant.RoleGlobalAdmin, "48h")
	wantRule(t, "the operator issues a global admin token after all expired", err, "T5.FirstGlobalAdmin")
}

// FuzzAuthenticate: whatever bearer token arrives, Authenticate neither
// panics nor authenticates anything but a token the service issued, and
// a refusal never echoes the token.
func FuzzAuthenticate(f *testing.F) {
	s, _, _ := start(f)
	ctx := context.Background()
	ct, err := s.Create(as(tenant.RoleOperator, ""), "Contoso", "")
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := s.IssueToken(as(tenant.RoleOperator, ""), ct, "admin@contoso.com", tenant.RoleGlobalAdmin, "")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", good, good + "x", good[:len(good)-1], "cksvc_", "cksvc_" + strings.Repeat("A", 43), strings.Repeat("x", 32), strings.Repeat("x", 513),
		"cksvc_\x00" + strings.Repeat("a", 40), "Bearer " + good, good + "\n", "cksvc_ä" + strings.Repeat("a", 40)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, bearer string) {
		hash, perr := tenant.ParseToken(bearer)
		p, err := s.Authenticate(ctx, bearer)
		if bearer == good {
			if err != nil || p.Subject != "admin@contoso.com" {
				t.Fatalf("the issued token: %+v, %v", p, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("%q authenticated as %+v", bearer, p)
		}
		if e, ok := rule.As(err); !ok || e.Rule != "Authentication" || (len(bearer) > 3 && strings.Contains(e.Detail, bearer)) {
			t.Fatalf("%q: %v; want an Authentication refusal that does not echo the token", bearer, err)
		}
		if perr == nil && (len(bearer) < 32 || len(bearer) > 512 || hash != tenant.HashToken(bearer) || strings.ContainsAny(bearer, " \t\r\n")) {
			t.Fatalf("ParseToken accepted %q", bearer)
		}
	})
}

// lookups is a store that records which tenants it was asked for.
type lookups struct {
	*sqlstore.DB
	asked []string
}

func (l *lookups) ServiceTenant(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	l.asked = append(l.asked, idOrName)
	return l.DB.ServiceTenant(ctx, idOrName)
}

// TestTenantOfAnotherNotLookedUp: a tenant admin naming another tenant,
// existing or not, gets the same 404, and the store is not asked for it:
// neither the answer nor its time tells whether that tenant exists (the
// found ones were remembered, the missing ones asked each time). The
// admin's own tenant is found by its name or ID in any case.
func TestTenantOfAnotherNotLookedUp(t *testing.T) {
	_, db, _ := start(t)
	l := &lookups{DB: db}
	s := tenant.New(l, time.Now, slog.New(slog.DiscardHandler))
	op := as(tenant.RoleOperator, "")
	contoso, err := s.Create(op, "Contoso", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(op, "Fabrikam", ""); err != nil {
		t.Fatal(err)
	}
	admin := as(tenant.RoleExchangeAdmin, contoso.ID)
	for _, own := range []string{"Contoso", "CONTOSO", contoso.ID} {
		if got, err := s.Get(admin, own); err != nil || got.ID != contoso.ID {
			t.Errorf("own tenant by %q: %+v %v", own, got, err)
		}
	}
	l.asked = nil
	for _, other := range []string{"Fabrikam", "Nowhere", "Fabrikam", "Nowhere"} {
		_, err := s.Get(admin, other)
		wantRule(t, "another tenant "+other, err, "Tenant.Exists")
	}
	for _, a := range l.asked {
		if !strings.EqualFold(a, contoso.ID) {
			t.Errorf("the store was asked for %q on a tenant admin's behalf", a)
		}
	}
	if got, err := s.Get(op, "Fabrikam"); err != nil || got.Name != "Fabrikam" {
		t.Errorf("the operator finds any tenant: %+v %v", got, err)
	}
}

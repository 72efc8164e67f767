package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/store"
)

var jsonMarshal = json.Marshal

// Tenant is a customer organisation of the service.
type Tenant struct {
	ID      string    `json:"id" doc:"The tenant's directory ID (a GUID)"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type tenantOutput struct{ Body Tenant }

type tenantsOutput struct {
	Body struct {
		Value []Tenant `json:"value"`
	}
}

type tenantPath struct {
	Tenant string `path:"tenant" doc:"Tenant ID or name"`
}

var tenantNameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._&'-]{0,63}$`)

func (s *Server) tenantRoutes() {
	huma.Register(s.api, huma.Operation{OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Summary: "Create a tenant (operator)",
		Tags: []string{"tenants"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Body struct {
				Name string `json:"name" doc:"Display name, 1-64 characters"`
				ID   string `json:"id,omitempty" doc:"Directory ID (GUID); a new one if empty"`
			}
		}) (*tenantOutput, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			name := strings.TrimSpace(in.Body.Name)
			if !tenantNameRE.MatchString(name) {
				return nil, problem(400, "Tenant.Name", "use 1-64 letters, digits, spaces and . _ & ' -, starting with a letter or digit", "tenant name %q is invalid", in.Body.Name)
			}
			id := strings.ToLower(in.Body.ID)
			if id == "" {
				id = uuid.NewString()
			} else if _, err := uuid.Parse(id); err != nil {
				return nil, problem(400, "Tenant.ID", "give the tenant's directory ID as a GUID, or leave it out", "tenant id %q is not a GUID", in.Body.ID)
			}
			t := store.ServiceTenant{ID: id, Name: name, Created: s.cfg.Now().UTC()}
			if err := s.cfg.Store.CreateServiceTenant(ctx, t); errors.Is(err, store.ErrConflict) {
				return nil, problem(409, "Tenant.Unique", "choose another name, or use the existing tenant", "a tenant named %q or with ID %s exists", name, id)
			} else if err != nil {
				return nil, err
			}
			return &tenantOutput{Body: Tenant(t)}, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Summary: "List tenants: all for the operator, your own otherwise",
		Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, _ *struct{}) (*tenantsOutput, error) {
			ts, err := s.cfg.Store.ListServiceTenants(ctx)
			if err != nil {
				return nil, err
			}
			out := &tenantsOutput{}
			out.Body.Value = []Tenant{}
			p := caller(ctx)
			for _, t := range ts {
				if p.Role == RoleOperator || p.Tenant == t.ID {
					out.Body.Value = append(out.Body.Value, Tenant(t))
				}
			}
			return out, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{tenant}", Summary: "Get a tenant",
		Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, in *tenantPath) (*tenantOutput, error) {
			t, err := s.tenant(ctx, in.Tenant)
			if err != nil {
				return nil, err
			}
			return &tenantOutput{Body: Tenant(t)}, nil
		})

	type tokenBody struct {
		Token   string    `json:"token" doc:"Shown once; the service keeps only its hash"`
		Subject string    `json:"subject"`
		Role    string    `json:"role"`
		Tenant  string    `json:"tenant"`
		Expires time.Time `json:"expires"`
	}
	huma.Register(s.api, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/tokens",
		Summary: "Issue an API token for a tenant's admin (operator, or the tenant's global admin)", Tags: []string{"tenants"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Subject  string `json:"subject" doc:"The admin's UPN"`
				Role     string `json:"role" enum:"global-admin,exchange-admin,sharepoint-admin,compliance-admin"`
				ValidFor string `json:"validFor,omitempty" doc:"Lifetime as a Go duration, 1h to 8760h; default 720h"`
			}
		}) (*struct{ Body tokenBody }, error) {
			t, err := s.tenant(ctx, in.Tenant)
			if err != nil {
				return nil, err
			}
			p := caller(ctx)
			if p.Role != RoleOperator && !(p.Tenant == t.ID && p.Role == RoleGlobalAdmin) {
				return nil, problem(403, "Authorization.TenantAdmin", "ask the tenant's global admin (or the service operator) to issue tokens", "role %s may not issue tokens for tenant %s", p.Role, t.Name)
			}
			if !slices.Contains(tenantRoles, in.Body.Role) {
				return nil, problem(400, "Token.Role", "use global-admin, exchange-admin, sharepoint-admin or compliance-admin", "role %q is not a tenant role", in.Body.Role)
			}
			if !strings.Contains(in.Body.Subject, "@") {
				return nil, problem(400, "Token.Subject", "give the admin's user principal name, e.g. admin@contoso.com", "subject %q is not a UPN", in.Body.Subject)
			}
			validFor := 720 * time.Hour
			if in.Body.ValidFor != "" {
				d, err := time.ParseDuration(in.Body.ValidFor)
				if err != nil || d < time.Hour || d > 8760*time.Hour {
					return nil, problem(400, "Token.ValidFor", "give a duration from 1h to 8760h, e.g. 720h", "validFor %q is invalid", in.Body.ValidFor)
				}
				validFor = d
			}
			now := s.cfg.Now().UTC()
			rec := store.APIToken{Tenant: t.ID, Role: in.Body.Role, Subject: in.Body.Subject, Created: now, Expires: now.Add(validFor)}
			tok, err := NewToken(ctx, s.cfg.Store, rec)
			if err != nil {
				return nil, err
			}
			s.cfg.Logger.Info("api: token issued", "tenant", t.ID, "subject", rec.Subject, "role", rec.Role, "by", p.Subject, "expires", rec.Expires)
			return &struct{ Body tokenBody }{Body: tokenBody{Token: tok, Subject: rec.Subject, Role: rec.Role, Tenant: t.ID, Expires: rec.Expires}}, nil
		})
}

func requireOperator(ctx context.Context) error {
	if p := caller(ctx); p.Role != RoleOperator {
		return problem(403, "Authorization.Operator", "this is the service operator's action; a tenant admin cannot do it", "role %s may not do this", p.Role)
	}
	return nil
}

// tenant loads a tenant the caller may see; others are reported as not
// found, so tenants cannot probe for each other.
func (s *Server) tenant(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	t, err := s.tenants.get(ctx, s.cfg.Store, idOrName)
	p := caller(ctx)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.Role != RoleOperator && p.Tenant != t.ID {
		return t, problem(404, "Tenant.Exists", "check the tenant name or ID (ck tenant list)", "tenant %q not found", idOrName)
	}
	return t, err
}

// tenantCache remembers tenants found, for the lookup every request makes:
// a tenant never changes once created (there is no rename or delete), so
// a found tenant stays right; one not found is asked again each time.
type tenantCache struct {
	m sync.Map // lower-case ID or name -> store.ServiceTenant
	n atomic.Int64
}

const maxCachedTenants = 10000

func (c *tenantCache) get(ctx context.Context, st store.Service, idOrName string) (store.ServiceTenant, error) {
	key := strings.ToLower(idOrName)
	if v, ok := c.m.Load(key); ok {
		return v.(store.ServiceTenant), nil
	}
	t, err := st.ServiceTenant(ctx, idOrName)
	if err != nil {
		return t, err
	}
	if c.n.Add(1) > maxCachedTenants {
		c.m.Clear()
		c.n.Store(0)
	}
	c.m.Store(key, t)
	return t, nil
}

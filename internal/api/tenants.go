package api

import (
	"context"
	"time"

	"github.com/customerkey/customerkey/client"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

type TenantPath struct {
	Tenant string `path:"tenant" doc:"Tenant ID or name"`
}

type UserPath struct {
	Tenant string `path:"tenant"`
	User   string `path:"user"`
}

func tenantJSON(t store.ServiceTenant) client.Tenant {
	return client.Tenant{ID: t.ID, Name: t.Name, Created: t.Created}
}

func (s *Server) createTenant(ctx context.Context, in *struct{ Body client.CreateTenantRequest }) (*body[client.Tenant], error) {
	t, err := s.tenants.Create(ctx, in.Body.Name, in.Body.ID)
	if err != nil {
		return nil, err
	}
	return &body[client.Tenant]{tenantJSON(t)}, nil
}

func (s *Server) listTenants(ctx context.Context, in *struct{ PageQuery }) (*body[client.List[client.Tenant]], error) {
	return paged(in.PageQuery, "tenants", func(after store.PageKey, limit int) ([]store.ServiceTenant, error) {
		return s.tenants.List(ctx, after, limit)
	}, tenant.ListKey, tenantJSON)
}

func (s *Server) getTenant(ctx context.Context, _ *TenantPath) (*body[client.Tenant], error) {
	return &body[client.Tenant]{tenantJSON(tenantOf(ctx))}, nil
}

func (s *Server) createToken(ctx context.Context, in *struct {
	TenantPath
	Body client.CreateTokenRequest
}) (*body[client.Token], error) {
	t := tenantOf(ctx)
	tok, rec, err := s.tenants.IssueToken(ctx, t, in.Body.Subject, in.Body.Role, in.Body.ValidFor)
	if err != nil {
		return nil, err
	}
	// Beside the middleware's record of the call: which token was issued
	// (its ID, subject, role, expiry), so each later record's token is
	// traced to the call that made it.
	s.audit.Append(context.WithoutCancel(ctx), audit.Record{Tenant: t.ID, Actor: tenant.Actor(tenant.Caller(ctx)), Action: "token-issued",
		Target: "token " + rec.ID, Reason: rec.Subject + " (" + rec.Role + "), expires " + rec.Expires.UTC().Format(time.RFC3339), Outcome: "ok"})
	return &body[client.Token]{client.Token{Token: tok, ID: rec.ID, Subject: rec.Subject, Role: rec.Role, Tenant: t.ID, Expires: rec.Expires}}, nil
}

func (s *Server) setPlans(ctx context.Context, in *struct {
	TenantPath
	Body client.SetPlansRequest
}) (*body[client.TenantPlans], error) {
	if err := s.tenants.SetPlans(ctx, tenantOf(ctx), in.Body.Plans); err != nil {
		return nil, err
	}
	return &body[client.TenantPlans]{client.TenantPlans{Plans: in.Body.Plans}}, nil
}

func licenceJSON(l tenant.Licence) client.Licence {
	return client.Licence{User: l.User, Plan: l.Plan, CustomerKey: l.CustomerKey}
}

func (s *Server) setLicence(ctx context.Context, in *struct {
	UserPath
	Body client.SetLicenceRequest
}) (*body[client.Licence], error) {
	l, err := s.tenants.SetLicence(ctx, tenantOf(ctx), in.User, in.Body.Plan)
	if err != nil {
		return nil, err
	}
	return &body[client.Licence]{licenceJSON(l)}, nil
}

func (s *Server) getLicence(ctx context.Context, in *UserPath) (*body[client.Licence], error) {
	l, err := s.tenants.Licence(ctx, tenantOf(ctx), in.User)
	if err != nil {
		return nil, err
	}
	return &body[client.Licence]{licenceJSON(l)}, nil
}

func tokenJSON(t store.APIToken) client.TokenInfo {
	return client.TokenInfo{ID: t.ID, Subject: t.Subject, Role: t.Role, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, LastUsed: t.LastUsed}
}

func (s *Server) listTokens(ctx context.Context, in *struct {
	TenantPath
	PageQuery
}) (*body[client.List[client.TokenInfo]], error) {
	return paged(in.PageQuery, "tokens", func(after store.PageKey, limit int) ([]store.APIToken, error) {
		return s.tenants.Tokens(ctx, tenantOf(ctx), after, limit)
	}, func(t store.APIToken) store.PageKey { return store.PageKey{Time: t.Created, ID: t.ID} }, tokenJSON)
}

type TokenPath struct {
	Tenant string `path:"tenant" doc:"Tenant ID or name"`
	Token  string `path:"token" maxLength:"64" doc:"The token's ID (ck tenant token list)"`
}

func (s *Server) revokeToken(ctx context.Context, in *TokenPath) (*body[client.TokenInfo], error) {
	t, err := s.tenants.RevokeToken(ctx, tenantOf(ctx), in.Token)
	if err != nil {
		return nil, err
	}
	return &body[client.TokenInfo]{tokenJSON(t)}, nil
}

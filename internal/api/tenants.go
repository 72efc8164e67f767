package api

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/danielgtaylor/huma/v2"
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
	register(s, huma.Operation{OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Summary: "Create a tenant (operator)",
		Tags: []string{"tenants"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Body struct {
				Name string `json:"name" doc:"Display name, 1-64 characters"`
				ID   string `json:"id,omitempty" doc:"Directory ID (GUID); a new one if empty"`
			}
		}) (*tenantOutput, error) {
			t, err := s.tenants.Create(ctx, in.Body.Name, in.Body.ID)
			if err != nil {
				return nil, err
			}
			return &tenantOutput{Body: Tenant(t)}, nil
		})

	register(s, huma.Operation{OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Summary: "List tenants: all for the operator, your own otherwise",
		Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, _ *struct{}) (*tenantsOutput, error) {
			ts, err := s.tenants.List(ctx)
			if err != nil {
				return nil, err
			}
			out := &tenantsOutput{}
			out.Body.Value = []Tenant{}
			for _, t := range ts {
				out.Body.Value = append(out.Body.Value, Tenant(t))
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{tenant}", Summary: "Get a tenant",
		Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, in *tenantPath) (*tenantOutput, error) {
			t, err := s.tenants.Get(ctx, in.Tenant)
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
	register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/tokens",
		Summary: "Issue an API token for a tenant's admin (operator, or the tenant's global admin)", Tags: []string{"tenants"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Subject  string `json:"subject" doc:"The admin's UPN"`
				Role     string `json:"role" enum:"global-admin,exchange-admin,sharepoint-admin,compliance-admin"`
				ValidFor string `json:"validFor,omitempty" doc:"Lifetime as a Go duration, 1h to 8760h; default 720h"`
			}
		}) (*struct{ Body tokenBody }, error) {
			t, err := s.tenants.Get(ctx, in.Tenant)
			if err != nil {
				return nil, err
			}
			tok, rec, err := s.tenants.IssueToken(ctx, t, in.Body.Subject, in.Body.Role, in.Body.ValidFor)
			if err != nil {
				return nil, err
			}
			return &struct{ Body tokenBody }{Body: tokenBody{Token: tok, Subject: rec.Subject, Role: rec.Role, Tenant: t.ID, Expires: rec.Expires}}, nil
		})
}

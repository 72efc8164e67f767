package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
)

// OnboardingResult is New-/Get-CustomerKeyOnboardingRequest's output.
type OnboardingResult struct {
	ID               string             `json:"id"`
	CreatedDate      time.Time          `json:"createdDate"`
	Organization     string             `json:"organization"`
	Request          onboarding.Request `json:"request"`
	ValidationResult struct {
		Status string            `json:"status" enum:"Passed,Failed"`
		Rules  []onboarding.Rule `json:"rules"`
	} `json:"validationResult"`
	EnablementResult string `json:"enablementResult" enum:"Success,Failed,NotAttempted"`
}

var scenarioWorkload = map[string]string{onboarding.EXO: "mailbox", onboarding.SPO: "site", onboarding.MDEP: "mdep"}

func (s *Server) onboardingRoutes() {
	huma.Register(s.api, huma.Operation{OperationID: "set-plans", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/plans",
		Summary: "Set a tenant's service plans (operator); Customer Key needs one of " + strings.Join(onboarding.CustomerKeyPlans, ", "), Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Plans []string `json:"plans"`
			}
		}) (*struct{ Body struct{ Plans []string } }, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			t, err := s.tenant(ctx, in.Tenant)
			if err != nil {
				return nil, err
			}
			for _, p := range in.Body.Plans {
				if !tenantNameRE.MatchString(p) {
					return nil, problem(400, "Tenant.Plan", "give plan names such as E5 or E3", "plan %q is invalid", p)
				}
			}
			if err := s.cfg.Store.SetPlans(ctx, t.ID, in.Body.Plans); err != nil {
				return nil, err
			}
			out := &struct{ Body struct{ Plans []string } }{}
			out.Body.Plans = in.Body.Plans
			return out, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "set-licence", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/licences/{user}",
		Summary: "Give a user a licence (plan); empty removes it. Only users licensed for Customer Key get customer DEPs (O1)", Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			User   string `path:"user"`
			Body   struct {
				Plan string `json:"plan" doc:"e.g. E5 (includes Customer Key) or E3; empty to remove"`
			}
		}) (*struct{ Body Licence }, error) {
			t, err := s.tenant(ctx, in.Tenant)
			if err != nil {
				return nil, err
			}
			if p := caller(ctx); p.Role != RoleOperator && !(p.Tenant == t.ID && p.Role == RoleGlobalAdmin) {
				return nil, problem(403, "Authorization.TenantAdmin", "ask the tenant's global admin (or the operator) to assign licences", "role %s may not assign licences", p.Role)
			}
			if !upnRE.MatchString(in.User) {
				return nil, problem(400, "Licence.User", "give the user's principal name, e.g. alice@contoso.com", "user %q is not a UPN", in.User)
			}
			if in.Body.Plan != "" && !tenantNameRE.MatchString(in.Body.Plan) {
				return nil, problem(400, "Licence.Plan", "give a plan name such as E5 or E3", "plan %q is invalid", in.Body.Plan)
			}
			if err := s.cfg.Store.SetLicence(ctx, t.ID, in.User, in.Body.Plan); err != nil {
				return nil, err
			}
			return &struct{ Body Licence }{Body: licenceOf(in.User, in.Body.Plan)}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-licence", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/licences/{user}",
		Summary: "A user's licence", Tags: []string{"tenants"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			User   string `path:"user"`
		}) (*struct{ Body Licence }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
			if err != nil {
				return nil, err
			}
			plan, err := s.cfg.Store.Licence(ctx, t.ID, in.User)
			return &struct{ Body Licence }{Body: licenceOf(in.User, plan)}, err
		})

	huma.Register(s.api, huma.Operation{OperationID: "new-customerkeyonboardingrequest", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/onboardingRequests",
		Summary: "New-CustomerKeyOnboardingRequest: validate, prepare or enable a scenario", Tags: []string{"onboarding"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   onboarding.Request
		}) (*struct{ Body OnboardingResult }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, RoleGlobalAdmin)
			if err != nil {
				return nil, err
			}
			for _, o := range in.Body.Officers {
				if !upnRE.MatchString(o) {
					return nil, problem(400, "O7.Officer", "name each authorised officer by UPN, e.g. cso@contoso.com", "officer %q is not a UPN", o)
				}
			}
			w, ok := s.cfg.Workloads[scenarioWorkload[in.Body.Scenario]]
			if !ok || s.cfg.Azure == nil {
				return nil, problem(503, "Service.Workload", "the operator must configure the service's key vaults", "the service cannot check %s resources", in.Body.Scenario)
			}
			plans, err := s.cfg.Store.Plans(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			ons, err := s.cfg.Store.Onboarded(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			var done []string
			for _, o := range ons {
				done = append(done, o.Scenario)
			}
			res := OnboardingResult{ID: uuid.NewString(), CreatedDate: s.cfg.Now().UTC(), Organization: t.ID, Request: in.Body, EnablementResult: "NotAttempted"}
			res.ValidationResult.Rules = onboarding.Check(ctx, in.Body, onboarding.Facts{Tenant: t.ID, Plans: plans, Onboarded: done, App: w.App}, s.cfg.Azure, w.KMS)
			res.ValidationResult.Status = "Failed"
			if onboarding.Passed(res.ValidationResult.Rules) {
				res.ValidationResult.Status = "Passed"
			}
			if in.Body.Mode == onboarding.Enable {
				res.EnablementResult = "Failed"
				if res.ValidationResult.Status == "Passed" {
					if err := s.cfg.Store.SetOnboarded(ctx, store.Onboarding{Tenant: t.ID, Scenario: in.Body.Scenario, RequestID: res.ID, Officers: in.Body.Officers, Enabled: res.CreatedDate}); err != nil {
						return nil, err
					}
					res.EnablementResult = "Success"
					s.cfg.Logger.Info("api: tenant onboarded", "tenant", t.ID, "scenario", in.Body.Scenario, "request", res.ID, "by", caller(ctx).Subject)
				}
			}
			body, _ := json.Marshal(res)
			if err := s.cfg.Store.CreateOnboardingRequest(ctx, store.OnboardingRequest{ID: res.ID, Tenant: t.ID, Scenario: in.Body.Scenario, Created: res.CreatedDate, Body: body}); err != nil {
				return nil, err
			}
			return &struct{ Body OnboardingResult }{Body: res}, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-customerkeyonboardingrequests", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/onboardingRequests",
		Summary: "Get-CustomerKeyOnboardingRequest: the tenant's requests", Tags: []string{"onboarding"}, Security: bearerAuth},
		func(ctx context.Context, in *tenantPath) (*struct {
			Body struct {
				Value []OnboardingResult `json:"value"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
			if err != nil {
				return nil, err
			}
			rs, err := s.cfg.Store.ListOnboardingRequests(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Value []OnboardingResult `json:"value"`
				}
			}{}
			out.Body.Value = []OnboardingResult{}
			for _, r := range rs {
				var res OnboardingResult
				if err := json.Unmarshal(r.Body, &res); err != nil {
					return nil, err
				}
				out.Body.Value = append(out.Body.Value, res)
			}
			return out, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-customerkeyonboardingrequest", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/onboardingRequests/{id}",
		Summary: "Get-CustomerKeyOnboardingRequest -RequestID: one request with every rule", Tags: []string{"onboarding"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			ID     string `path:"id"`
		}) (*struct{ Body OnboardingResult }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
			if err != nil {
				return nil, err
			}
			r, err := s.cfg.Store.OnboardingRequest(ctx, t.ID, in.ID)
			if errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "O5.Exists", "list the requests (ck onboarding list)", "tenant %s has no onboarding request %s", t.Name, in.ID)
			} else if err != nil {
				return nil, err
			}
			var res OnboardingResult
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return nil, err
			}
			return &struct{ Body OnboardingResult }{Body: res}, nil
		})
}

// Licence is a user's plan and whether it covers Customer Key.
type Licence struct {
	User        string `json:"user"`
	Plan        string `json:"plan"`
	CustomerKey bool   `json:"customerKey" doc:"Whether the plan includes Customer Key"`
}

func licenceOf(user, plan string) Licence {
	return Licence{User: strings.ToLower(user), Plan: plan, CustomerKey: slices.Contains(onboarding.CustomerKeyPlans, plan)}
}

// requireLicence refuses a customer DEP for a mailbox whose user has no
// licence that includes Customer Key (O1).
func (s *Server) requireLicence(ctx context.Context, t store.ServiceTenant, user string) error {
	plan, err := s.cfg.Store.Licence(ctx, t.ID, user)
	if err != nil {
		return err
	}
	if !slices.Contains(onboarding.CustomerKeyPlans, plan) {
		return problem(400, "O1.Licence", "give the user a licence that includes Customer Key: ck tenant licence "+t.Name+" "+user+" --plan E5",
			"user %s is not licensed for Customer Key (plan %q)", user, plan)
	}
	return nil
}

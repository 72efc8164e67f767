package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Result is New-/Get-CustomerKeyOnboardingRequest's output, as stored.
type Result struct {
	ID               string    `json:"id"`
	CreatedDate      time.Time `json:"createdDate"`
	Organization     string    `json:"organization"`
	Request          Request   `json:"request"`
	ValidationResult struct {
		Status string `json:"status"`
		Rules  []Rule `json:"rules"`
	} `json:"validationResult"`
	EnablementResult string `json:"enablementResult"`
}

// Store is the slice of the store onboarding requests use.
type Store interface {
	Plans(ctx context.Context, tenant string) ([]string, error)
	Onboarded(ctx context.Context, tenant string) ([]store.Onboarding, error)
	SetOnboarded(ctx context.Context, o store.Onboarding) error
	CreateOnboardingRequest(ctx context.Context, r store.OnboardingRequest) error
	OnboardingRequest(ctx context.Context, tenant, id string) (store.OnboardingRequest, error)
	ListOnboardingRequestsAfter(ctx context.Context, tenant string, after store.PageKey, limit int) ([]store.OnboardingRequest, error)
}

// Config configures onboarding requests.
type Config struct {
	Store Store
	Azure Azure
	// Workload returns the service principal and key client that reach
	// customer keys for a scenario (EXO, SPO, MDEP).
	Workload func(scenario string) (app string, keys kms.Client, ok bool)
	Now      func() time.Time
	Logger   *slog.Logger
}

// Requests runs and keeps a tenant's onboarding requests.
type Requests struct{ cfg Config }

// NewRequests returns the onboarding requests service.
func NewRequests(cfg Config) *Requests { return &Requests{cfg: cfg} }

var upnRE = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)

// Submit is New-CustomerKeyOnboardingRequest: it checks every rule of the
// scenario and, in Enable mode with every rule passed, onboards the tenant.
// Every request is kept, passed or not.
func (s *Requests) Submit(ctx context.Context, tenant store.ServiceTenant, req Request, by string) (Result, error) {
	for _, o := range req.Officers {
		if !upnRE.MatchString(o) {
			return Result{}, rule.Invalid(client.RuleOfficer, "name each authorised officer by UPN, e.g. cso@contoso.com", "officer %q is not a UPN", o)
		}
	}
	app, keys, ok := s.cfg.Workload(req.Scenario)
	if !ok || s.cfg.Azure == nil {
		return Result{}, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure the service's key vaults", "the service cannot check %s resources", req.Scenario)
	}
	plans, err := s.cfg.Store.Plans(ctx, tenant.ID)
	if err != nil {
		return Result{}, err
	}
	ons, err := s.cfg.Store.Onboarded(ctx, tenant.ID)
	if err != nil {
		return Result{}, err
	}
	var done []string
	for _, o := range ons {
		done = append(done, o.Scenario)
	}
	res := Result{ID: uuid.NewString(), CreatedDate: s.cfg.Now().UTC(), Organization: tenant.ID, Request: req, EnablementResult: "NotAttempted"}
	res.ValidationResult.Rules = Check(ctx, req, Facts{Tenant: tenant.ID, Plans: plans, Onboarded: done, App: app}, s.cfg.Azure, keys)
	res.ValidationResult.Status = "Failed"
	if Passed(res.ValidationResult.Rules) {
		res.ValidationResult.Status = "Passed"
	}
	if req.Mode == Enable {
		res.EnablementResult = "Failed"
		if res.ValidationResult.Status == "Passed" {
			if err := s.cfg.Store.SetOnboarded(ctx, store.Onboarding{Tenant: tenant.ID, Scenario: req.Scenario, RequestID: res.ID, Officers: req.Officers, Enabled: res.CreatedDate}); err != nil {
				return Result{}, err
			}
			res.EnablementResult = "Success"
			s.cfg.Logger.Info("onboarding: tenant onboarded", "tenant", tenant.ID, "scenario", req.Scenario, "request", res.ID, "by", by)
		}
	}
	body, _ := json.Marshal(res)
	if err := s.cfg.Store.CreateOnboardingRequest(ctx, store.OnboardingRequest{ID: res.ID, Tenant: tenant.ID, Scenario: req.Scenario, Created: res.CreatedDate, Body: body}); err != nil {
		return Result{}, err
	}
	return res, nil
}

// List returns one page of a tenant's onboarding requests, oldest first:
// at most limit after the key after (see ListKey; zero: the first page).
func (s *Requests) List(ctx context.Context, tenant store.ServiceTenant, after store.PageKey, limit int) ([]Result, error) {
	rs, err := s.cfg.Store.ListOnboardingRequestsAfter(ctx, tenant.ID, after, limit)
	if err != nil {
		return nil, err
	}
	out := []Result{}
	for _, r := range rs {
		var res Result
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// ListKey is a request's key in List: its creation time (stored to the
// millisecond) and ID.
func ListKey(r Result) store.PageKey {
	return store.PageKey{Time: r.CreatedDate.Truncate(time.Millisecond), ID: r.ID}
}

// Get returns one of a tenant's onboarding requests.
func (s *Requests) Get(ctx context.Context, tenant store.ServiceTenant, id string) (Result, error) {
	r, err := s.cfg.Store.OnboardingRequest(ctx, tenant.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, rule.NotFound(client.RuleOnboardingRequestExists, "list the requests (ck onboarding list)", "tenant %s has no onboarding request %s", tenant.Name, id)
	} else if err != nil {
		return Result{}, err
	}
	var res Result
	return res, json.Unmarshal(r.Body, &res)
}

package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/tenant"
)

func onboardingJSON(r onboarding.Result) client.OnboardingResult {
	rules := r.ValidationResult.Rules
	if rules == nil {
		rules = []client.OnboardingRule{}
	}
	return client.OnboardingResult{ID: r.ID, CreatedDate: r.CreatedDate, Organization: r.Organization, Request: r.Request,
		ValidationResult: client.ValidationResult{Status: r.ValidationResult.Status, Rules: rules}, EnablementResult: r.EnablementResult}
}

func (s *Server) newOnboardingRequest(ctx context.Context, in *struct {
	TenantPath
	Body client.OnboardingRequest
}) (*body[client.OnboardingResult], error) {
	r, err := s.onboarding.Submit(ctx, tenantOf(ctx), in.Body, tenant.Caller(ctx).Subject)
	if err != nil {
		return nil, err
	}
	return &body[client.OnboardingResult]{onboardingJSON(r)}, nil
}

func (s *Server) listOnboardingRequests(ctx context.Context, _ *TenantPath) (*body[client.List[client.OnboardingResult]], error) {
	rs, err := s.onboarding.List(ctx, tenantOf(ctx))
	if err != nil {
		return nil, err
	}
	out := client.List[client.OnboardingResult]{Value: []client.OnboardingResult{}}
	for _, r := range rs {
		out.Value = append(out.Value, onboardingJSON(r))
	}
	return &body[client.List[client.OnboardingResult]]{out}, nil
}

func (s *Server) getOnboardingRequest(ctx context.Context, in *struct {
	TenantPath
	ID string `path:"id"`
}) (*body[client.OnboardingResult], error) {
	r, err := s.onboarding.Get(ctx, tenantOf(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &body[client.OnboardingResult]{onboardingJSON(r)}, nil
}

package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/tenant"
)

func onboardingJSON(r onboarding.Result) client.OnboardingResult {
	out := client.OnboardingResult{ID: r.ID, CreatedDate: r.CreatedDate, Organization: r.Organization, Request: client.OnboardingRequest(r.Request),
		ValidationResult: client.ValidationResult{Status: r.ValidationResult.Status, Rules: []client.OnboardingRule{}}, EnablementResult: r.EnablementResult}
	for _, x := range r.ValidationResult.Rules {
		out.ValidationResult.Rules = append(out.ValidationResult.Rules, client.OnboardingRule(x))
	}
	return out
}

func (s *Server) newOnboardingRequest(ctx context.Context, in *struct {
	TenantPath
	Body client.OnboardingRequest
}) (*body[client.OnboardingResult], error) {
	r, err := s.onboarding.Submit(ctx, tenantOf(ctx), onboarding.Request(in.Body), tenant.Caller(ctx).Subject)
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

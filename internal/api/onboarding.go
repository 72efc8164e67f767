package api

import (
	"context"

	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/tenant"
)

func onboardingJSON(r onboarding.Result) OnboardingResult {
	return OnboardingResult{ID: r.ID, CreatedDate: r.CreatedDate, Organization: r.Organization, Request: r.Request,
		ValidationResult: ValidationResult{Status: r.ValidationResult.Status, Rules: r.ValidationResult.Rules}, EnablementResult: r.EnablementResult}
}

func (s *Server) newOnboardingRequest(ctx context.Context, in *struct {
	TenantPath
	Body onboarding.Request
}) (*body[OnboardingResult], error) {
	r, err := s.onboarding.Submit(ctx, tenantOf(ctx), in.Body, tenant.Caller(ctx).Subject)
	if err != nil {
		return nil, err
	}
	return &body[OnboardingResult]{onboardingJSON(r)}, nil
}

func (s *Server) listOnboardingRequests(ctx context.Context, _ *TenantPath) (*body[OnboardingResults], error) {
	rs, err := s.onboarding.List(ctx, tenantOf(ctx))
	if err != nil {
		return nil, err
	}
	out := OnboardingResults{Value: []OnboardingResult{}}
	for _, r := range rs {
		out.Value = append(out.Value, onboardingJSON(r))
	}
	return &body[OnboardingResults]{out}, nil
}

func (s *Server) getOnboardingRequest(ctx context.Context, in *struct {
	TenantPath
	ID string `path:"id"`
}) (*body[OnboardingResult], error) {
	r, err := s.onboarding.Get(ctx, tenantOf(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &body[OnboardingResult]{onboardingJSON(r)}, nil
}

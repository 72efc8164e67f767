package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
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

func (s *Server) listOnboardingRequests(ctx context.Context, in *struct {
	TenantPath
	PageQuery
}) (*body[client.List[client.OnboardingResult]], error) {
	return paged(in.PageQuery, "onboarding-requests", func(after store.PageKey, limit int) ([]onboarding.Result, error) {
		return s.onboarding.List(ctx, tenantOf(ctx), after, limit)
	}, onboarding.ListKey, onboardingJSON)
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

package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func (s *DB) SetPlans(ctx context.Context, tenant string, plans []string) error {
	if plans == nil {
		plans = []string{}
	}
	_, err := s.exec(ctx, `INSERT INTO svc_plans (tenant, plans) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET plans = excluded.plans`, tenant, jsonText(plans))
	return err
}

func (s *DB) Plans(ctx context.Context, tenant string) ([]string, error) {
	var raw string
	err := s.queryRow(ctx, `SELECT plans FROM svc_plans WHERE tenant = ?`, tenant).Scan(&raw)
	if errors.Is(s.mapErr(err), store.ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var plans []string
	return plans, json.Unmarshal([]byte(raw), &plans)
}

func scanOnboardingRequest(r scanner) (store.OnboardingRequest, error) {
	var o store.OnboardingRequest
	var created int64
	var body string
	err := r.Scan(&o.ID, &o.Tenant, &o.Scenario, &created, &body)
	o.Created, o.Body = fromMS(created), []byte(body)
	return o, err
}

func (s *DB) CreateOnboardingRequest(ctx context.Context, r store.OnboardingRequest) error {
	_, err := s.exec(ctx, `INSERT INTO onboarding_requests (id, tenant, scenario, created, body) VALUES (?, ?, ?, ?, ?)`, r.ID, r.Tenant, r.Scenario, ms(r.Created), string(r.Body))
	return err
}

func (s *DB) OnboardingRequest(ctx context.Context, tenant, id string) (store.OnboardingRequest, error) {
	r, err := scanOnboardingRequest(s.queryRow(ctx, `SELECT id, tenant, scenario, created, body FROM onboarding_requests WHERE tenant = ? AND id = ?`, tenant, id))
	return r, s.mapErr(err)
}

func (s *DB) ListOnboardingRequests(ctx context.Context, tenant string) ([]store.OnboardingRequest, error) {
	return list(ctx, s, scanOnboardingRequest, `SELECT id, tenant, scenario, created, body FROM onboarding_requests WHERE tenant = ? ORDER BY created, id`, tenant)
}

func (s *DB) SetOnboarded(ctx context.Context, o store.Onboarding) error {
	_, err := s.exec(ctx, `INSERT INTO onboarded (tenant, scenario, request_id, officers, enabled) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant, scenario) DO UPDATE SET request_id = excluded.request_id, officers = excluded.officers, enabled = excluded.enabled`,
		o.Tenant, o.Scenario, o.RequestID, jsonText(o.Officers), ms(o.Enabled))
	return err
}

func (s *DB) Onboarded(ctx context.Context, tenant string) ([]store.Onboarding, error) {
	return list(ctx, s, func(r scanner) (store.Onboarding, error) {
		var o store.Onboarding
		var officers string
		var enabled int64
		err := r.Scan(&o.Tenant, &o.Scenario, &o.RequestID, &officers, &enabled)
		if err == nil {
			err = json.Unmarshal([]byte(officers), &o.Officers)
		}
		o.Enabled = fromMS(enabled)
		return o, err
	}, `SELECT tenant, scenario, request_id, officers, enabled FROM onboarded WHERE tenant = ? ORDER BY scenario`, tenant)
}

func (s *DB) SetAssignment(ctx context.Context, tenant, scenario, dep string, at time.Time) error {
	if dep == "" {
		_, err := s.exec(ctx, `DELETE FROM svc_assignments WHERE tenant = ? AND scenario = ?`, tenant, scenario)
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO svc_assignments (tenant, scenario, dep, assigned) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant, scenario) DO UPDATE SET dep = excluded.dep, assigned = excluded.assigned`, tenant, scenario, dep, ms(at))
	return err
}

func (s *DB) Assignment(ctx context.Context, tenant, scenario string) (string, time.Time, error) {
	var dep string
	var at int64
	err := s.queryRow(ctx, `SELECT dep, assigned FROM svc_assignments WHERE tenant = ? AND scenario = ?`, tenant, scenario).Scan(&dep, &at)
	if errors.Is(s.mapErr(err), store.ErrNotFound) {
		return "", time.Time{}, nil
	}
	return dep, fromMS(at), err
}

func (s *DB) SetLicence(ctx context.Context, tenant, user, plan string) error {
	user = strings.ToLower(user)
	if plan == "" {
		_, err := s.exec(ctx, `DELETE FROM svc_licences WHERE tenant = ? AND user_name = ?`, tenant, user)
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO svc_licences (tenant, user_name, plan) VALUES (?, ?, ?) ON CONFLICT (tenant, user_name) DO UPDATE SET plan = excluded.plan`, tenant, user, plan)
	return err
}

func (s *DB) Licence(ctx context.Context, tenant, user string) (string, error) {
	var plan string
	err := s.queryRow(ctx, `SELECT plan FROM svc_licences WHERE tenant = ? AND user_name = ?`, tenant, strings.ToLower(user)).Scan(&plan)
	if errors.Is(s.mapErr(err), store.ErrNotFound) {
		return "", nil
	}
	return plan, err
}

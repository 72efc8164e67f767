package dep

import (
	"context"
	"errors"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// MDEPRollbackFix is how a tenant leaves its multi-workload DEP (R4).
const MDEPRollbackFix = "roll back from a multi-workload DEP is the operator's action with an access request the tenant approved: ck operator request --action rollback --dep NAME ..., ck access-request approve ID, ck operator rollback --mdep NAME --request ID; or assign another multi-workload DEP (ck mdep assign NAME)"

// Assignable resolves the DEP a container of kind k (mailbox or mdep)
// should be assigned: an enabled DEP of that kind without a purge request
// (D2), or the tenant's service-managed DEP for "" (mailboxes only).
func (s *Service) Assignable(ctx context.Context, t store.ServiceTenant, k Kind, name string) (store.DEP, error) {
	if name == "" {
		return s.ServiceDEP(ctx, t)
	}
	d, err := s.Get(ctx, t, k, name)
	if err != nil {
		return d, err
	}
	if p, err := s.st.Purge(ctx, t.ID, d.ID); err == nil {
		return d, rule.Invalid(client.RuleDEPAssignPurgeRequested, "choose another DEP: a DEP with a permanent data purge request can never be assigned again (ck dep purge show "+d.Name+")",
			"DEP %s has a permanent data purge request (%s) and cannot be assigned", d.Name, p.State)
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	if !d.Enabled {
		cmd := "ck dep set"
		if k == MDEP {
			cmd = "ck mdep set"
		}
		return d, rule.Invalid(client.RuleDEPDisabled, "enable the DEP first ("+cmd+" "+d.Name+" --enabled=true), or choose another", "DEP %s is disabled and cannot be assigned", d.Name)
	}
	return d, nil
}

// Assignment is the tenant's multi-workload DEP assignment.
type Assignment struct {
	DEP      store.DEP // zero when none
	Assigned time.Time
}

// AssignMDEP assigns a multi-workload DEP to the whole tenant (D6). The
// caller then moves the workload containers (lifecycle).
func (s *Service) AssignMDEP(ctx context.Context, t store.ServiceTenant, name string) (Assignment, error) {
	if name == "" {
		return Assignment{}, rule.Invalid(client.RuleMDEPRollback, MDEPRollbackFix, "a tenant cannot unassign its multi-workload DEP itself")
	}
	d, err := s.Assignable(ctx, t, MDEP, name)
	if err != nil {
		return Assignment{}, err
	}
	now := s.cfg.Now().UTC()
	if err := s.st.SetAssignment(ctx, t.ID, string(MDEP), d.ID, now); err != nil {
		return Assignment{}, err
	}
	s.cfg.Logger.Info("dep: multi-workload DEP assigned", "tenant", t.ID, "dep", d.ID, "by", tenant.Caller(ctx).Subject)
	return Assignment{DEP: d, Assigned: now}, nil
}

// MDEPAssignment returns the tenant's multi-workload DEP assignment.
func (s *Service) MDEPAssignment(ctx context.Context, t store.ServiceTenant) (Assignment, error) {
	id, at, err := s.st.Assignment(ctx, t.ID, string(MDEP))
	if err != nil || id == "" {
		return Assignment{}, err
	}
	d, err := s.Get(ctx, t, MDEP, id)
	return Assignment{DEP: d, Assigned: at}, err
}

// Unassign drops the tenant's assignment of d if d is assigned (the
// operator's rollback).
func (s *Service) Unassign(ctx context.Context, t store.ServiceTenant, d store.DEP) error {
	assigned, _, err := s.st.Assignment(ctx, t.ID, d.Kind)
	if err != nil || assigned != d.ID {
		return err
	}
	return s.st.SetAssignment(ctx, t.ID, d.Kind, "", s.cfg.Now().UTC())
}

// ForMultiWorkload is the DEP multi-workload data must be under now: the
// assigned MDEP, or service-managed keys.
func (s *Service) ForMultiWorkload(ctx context.Context, t store.ServiceTenant) (store.DEP, error) {
	id, _, err := s.st.Assignment(ctx, t.ID, string(MDEP))
	if err != nil {
		return store.DEP{}, err
	}
	if id == "" {
		return s.ServiceDEP(ctx, t)
	}
	return s.Get(ctx, t, MDEP, id)
}

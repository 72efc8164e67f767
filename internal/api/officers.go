package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Authorised officers and the keys their purge approvals are signed with
// (SPEC O7, T7).

type OfficerPath struct {
	Tenant  string `path:"tenant" doc:"Tenant ID or name"`
	Officer string `path:"officer" doc:"The officer's address (UPN), as designated at onboarding"`
}

func officerJSON(o dep.Officer) client.Officer {
	out := client.Officer{Officer: o.Officer}
	if len(o.Key.PublicKey) > 0 {
		reg := o.Key.Registered
		out.Fingerprint, out.PublicKey, out.Registered, out.RegisteredBy = client.KeyFingerprint(o.Key.PublicKey), client.AuthorizedKey(o.Key.PublicKey, o.Officer), &reg, o.Key.RegisteredBy
	}
	if !o.Key.Confirmed.IsZero() {
		conf := o.Key.Confirmed
		out.Confirmed, out.ConfirmedBy = &conf, o.Key.ConfirmedBy
	}
	return out
}

func (s *Server) listOfficers(ctx context.Context, in *struct {
	TenantPath
	PageQuery
}) (*body[client.Officers], error) {
	os, err := s.deps.ListOfficers(ctx, tenantOf(ctx))
	if err != nil {
		return nil, err
	}
	fetch, key := byName(os, func(o dep.Officer) string { return o.Officer })
	return paged(in.PageQuery, "officers", fetch, key, officerJSON)
}

// registerOfficerKey registers or replaces an officer's key. Beside the
// audit middleware's record of the call, the log gets which key replaced
// which: the fingerprints an officer checks.
func (s *Server) registerOfficerKey(ctx context.Context, in *struct {
	OfficerPath
	Body client.RegisterOfficerKeyRequest
}) (*body[client.Officer], error) {
	t := tenantOf(ctx)
	o, old, err := s.deps.RegisterOfficerKey(ctx, t, in.Officer, in.Body.PublicKey)
	if err != nil {
		return nil, err
	}
	out := officerJSON(o)
	action, reason := "officer-key-register", "first key of the officer"
	if len(old.PublicKey) > 0 {
		out.Replaced = client.KeyFingerprint(old.PublicKey)
		action, reason = "officer-key-replace", "replaces "+out.Replaced+" registered "+old.Registered.Format("2006-01-02T15:04:05Z")+" by "+old.RegisteredBy
	}
	p := tenant.Caller(ctx)
	s.audit.Append(context.WithoutCancel(ctx), audit.Record{Tenant: t.ID, Actor: tenant.Actor(p), Action: action,
		Target: "officer " + o.Officer, KeyID: out.Fingerprint, Reason: reason, Outcome: "ok"})
	return &body[client.Officer]{out}, nil
}

// confirmOfficerKey is the operator's confirmation of an officer's key,
// by the fingerprint the officer gave: recorded in the tenant's audit log.
func (s *Server) confirmOfficerKey(ctx context.Context, in *struct {
	OfficerPath
	Body client.ConfirmOfficerKeyRequest
}) (*body[client.Officer], error) {
	t := tenantOf(ctx)
	o, err := s.deps.ConfirmOfficerKey(ctx, t, in.Officer, in.Body.Fingerprint)
	if err != nil {
		return nil, err
	}
	out := officerJSON(o)
	p := tenant.Caller(ctx)
	s.audit.Append(context.WithoutCancel(ctx), audit.Record{Tenant: t.ID, Actor: tenant.Actor(p), Action: "officer-key-confirm",
		Target: "officer " + o.Officer, KeyID: out.Fingerprint, Reason: "registered " + o.Key.Registered.Format("2006-01-02T15:04:05Z") + " by " + o.Key.RegisteredBy, Outcome: "ok"})
	return &body[client.Officer]{out}, nil
}

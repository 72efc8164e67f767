package dep

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// The data purge path (SPEC R6, seed "Revoke your keys and start the data
// purge path process"), for mailbox DEPs only:
//  1. the tenant removes the Exchange workload's wrap and unwrap rights on
//     both keys, in its vaults;
//  2. Set-DataEncryptionPolicy -PermanentDataPurgeRequested with a reason
//     and a contact (RequestPurge): refused while either key still
//     unwraps; afterwards the DEP is disabled for good and cannot be
//     assigned;
//  3. authorised officers designated at onboarding approve (Approve), each
//     signed in as themselves (Config.PurgeApprovals of them);
//  4. the purge job (internal/lifecycle) deletes the DEP and its
//     mailboxes, destroys the availability key and signs a crypto-shred
//     certificate.

// PurgeOf finds a purge request by DEP GUID or name; by name, the newest
// (a purged DEP's name may be used again).
func (s *Service) PurgeOf(ctx context.Context, t store.ServiceTenant, idOrName string) (store.Purge, error) {
	ps, err := s.st.ListPurges(ctx, t.ID) // oldest first
	if err != nil {
		return store.Purge{}, err
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; p.DEP == strings.ToLower(idOrName) || strings.EqualFold(p.Name, idOrName) {
			return p, nil
		}
	}
	return store.Purge{}, rule.NotFound(client.RulePurgeRequested, "request the purge first: ck dep set NAME --purge-request --reason R --contact C", "DEP %q has no purge request", idOrName)
}

// Officers are the tenant's authorised officers, from every onboarding.
func (s *Service) Officers(ctx context.Context, t store.ServiceTenant) ([]string, error) {
	ons, err := s.st.Onboarded(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range ons {
		for _, x := range o.Officers {
			if x = strings.ToLower(x); !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out, nil
}

// RequestPurge is step 2: the tenant's purge request on a mailbox DEP.
func (s *Service) RequestPurge(ctx context.Context, t store.ServiceTenant, d store.DEP, reason, contact string) (store.DEP, error) {
	reason, contact = strings.TrimSpace(reason), strings.TrimSpace(contact)
	if reason == "" || len(reason) > 512 {
		return d, rule.Invalid(client.RulePurgeReason, "give the reason for the purge (-PermanentDataPurgeReason), 1-512 characters", "a purge request needs a reason")
	}
	if contact == "" || len(contact) > 256 {
		return d, rule.Invalid(client.RulePurgeContact, "give who to contact about the purge (-PermanentDataPurgeContact), 1-256 characters", "a purge request needs a contact")
	}
	if s.cfg.Signer == nil {
		return d, rule.Unavailable(client.RulePurgeSigner, "the operator must give the service a signing key", "the service cannot issue crypto-shred certificates")
	}
	if _, err := s.st.Purge(ctx, t.ID, d.ID); err == nil {
		return d, rule.Conflict(client.RulePurgeRequested, "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	}
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return d, err
	}
	if len(officers) < s.cfg.PurgeApprovals {
		return d, rule.Invalid(client.RulePurgeOfficers, "designate authorised officers at onboarding (ck onboarding new ... --officer UPN)", "tenant %s has %d authorised officers; a purge needs %d to approve", t.Name, len(officers), s.cfg.PurgeApprovals)
	}
	w, kd, err := s.Ring(d)
	if err != nil {
		return d, err
	}
	_, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "purge request check"})
	for i, e := range errs {
		switch kms.ClassOf(e) {
		case kms.Denied:
			continue
		case kms.Transient:
			return d, rule.Unavailable(client.RulePurgeKeysRevoked, "retry when the vaults answer: the service must see both keys refuse", "customer key %d (%s) could not be asked: %v", i+1, d.KeyURIs[i], e)
		default:
			return d, rule.Conflict(client.RulePurgeKeysRevoked, "remove the wrap and unwrap permissions of the Exchange Online workload ("+w.App+") from both keys in the vaults (ck vault access-policy remove VAULT --spn "+w.App+"), then request again",
				"the service can still unwrap the DEP key with customer key %d (%s)", i+1, d.KeyURIs[i])
		}
	}
	w.Ring.Evict(d.ID)
	now := s.cfg.Now().UTC()
	d.Enabled, d.Updated = false, now
	if err := s.st.UpdateDEP(ctx, d); err != nil {
		return d, err
	}
	p := store.Purge{Tenant: t.ID, DEP: d.ID, Name: d.Name, Reason: reason, Contact: contact, RequestedBy: tenant.Caller(ctx).Subject, Requested: now, Required: s.cfg.PurgeApprovals, State: store.PurgeRequested, Updated: now}
	if err := s.st.CreatePurge(ctx, p); errors.Is(err, store.ErrConflict) {
		return d, rule.Conflict(client.RulePurgeRequested, "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	} else if err != nil {
		return d, err
	}
	s.cfg.Logger.Warn("dep: purge requested", "tenant", t.ID, "dep", d.ID, "by", p.RequestedBy, "reason", reason, "contact", contact)
	return d, nil
}

// Approve is step 3: the caller, an authorised officer, approves the purge
// of a DEP. The purge is Approved once enough officers did; the caller
// then starts the purge job.
func (s *Service) Approve(ctx context.Context, t store.ServiceTenant, idOrName string) (store.Purge, error) {
	p, err := s.PurgeOf(ctx, t, idOrName)
	if err != nil {
		return p, err
	}
	who := strings.ToLower(tenant.Caller(ctx).Subject)
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return p, err
	}
	if !slices.Contains(officers, who) {
		return p, rule.Refused(client.RulePurgeOfficer, "sign in as an authorised officer designated at onboarding ("+strings.Join(officers, ", ")+"): ck dep purge approve NAME --token-file OFFICER.token",
			"%s is not an authorised officer of tenant %s", who, t.Name)
	}
	if p.State != store.PurgeRequested {
		return p, rule.Conflict(client.RulePurgeState, "nothing to approve: read the request (ck dep purge show "+p.Name+")", "the purge of %s is %s", p.Name, p.State)
	}
	for _, a := range p.Approvals {
		if a.Officer == who {
			return p, rule.Conflict(client.RulePurgeDistinctOfficers, "another authorised officer must approve", "%s already approved the purge of %s", who, p.Name)
		}
	}
	prev := p.State
	now := s.cfg.Now().UTC()
	p.Approvals = append(p.Approvals, store.PurgeApproval{Officer: who, At: now})
	p.Updated = now
	if len(p.Approvals) >= p.Required {
		p.State = store.PurgeApproved
	}
	if err := s.st.UpdatePurge(ctx, p, prev); errors.Is(err, store.ErrConflict) {
		return p, rule.Conflict(client.RulePurgeState, "read the request again (ck dep purge show "+p.Name+")", "the purge of %s changed meanwhile", p.Name)
	} else if err != nil {
		return p, err
	}
	s.cfg.Logger.Warn("dep: purge approved", "tenant", t.ID, "dep", p.DEP, "officer", who, "approvals", len(p.Approvals), "of", p.Required)
	return p, nil
}

// RequirePurgeFree refuses to re-enable, or move containers off, a DEP
// with a purge request.
func (s *Service) RequirePurgeFree(ctx context.Context, t store.ServiceTenant, d store.DEP) error {
	if _, err := s.st.Purge(ctx, t.ID, d.ID); err == nil {
		return rule.Conflict(client.RuleDEPPurgeRequested, "nothing can be assigned to or moved off a DEP with a permanent data purge request (ck dep purge show "+d.Name+")", "DEP %s has a purge request", d.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// Purges returns the tenant's purge requests, oldest first.
func (s *Service) Purges(ctx context.Context, t store.ServiceTenant) ([]store.Purge, error) {
	return s.st.ListPurges(ctx, t.ID)
}

package dep

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/events"
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
//     with their signature over the request (SPEC T7, officers.go),
//     Config.PurgeApprovals of them;
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
			return s.fixContainers(ctx, p)
		}
	}
	return store.Purge{}, rule.NotFound(client.RulePurgeRequested, "request the purge first: ck dep set NAME --purge-request --reason R --contact C", "DEP %q has no purge request", idOrName)
}

// fixContainers gives a request stored before its containers were fixed
// (migration 0019) the DEP's containers now: nothing joins or leaves a
// DEP with a purge request.
func (s *Service) fixContainers(ctx context.Context, p store.Purge) (store.Purge, error) {
	if p.Containers != nil {
		return p, nil
	}
	cs, err := s.containersOn(ctx, p.Tenant, p.DEP)
	p.Containers = cs
	return p, err
}

// containersOn lists the IDs of the containers on a DEP, sorted.
func (s *Service) containersOn(ctx context.Context, tenant, dep string) ([]string, error) {
	ms, err := s.st.ContainersOnDEP(ctx, tenant, dep)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	slices.Sort(out)
	return out, nil
}

// Statement is what officer signs to approve purge p (SPEC T7).
func Statement(p store.Purge, officer string) client.PurgeStatement {
	return client.PurgeStatement{Officer: officer, Tenant: p.Tenant, DEP: p.DEP, DEPName: p.Name, Reason: p.Reason, Contact: p.Contact,
		RequestedBy: p.RequestedBy, Requested: p.Requested, Containers: p.Containers}
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
	// The officers read the reason and the contact before they sign
	// (ck dep purge approve prints them): text that moves the cursor,
	// erases or starts a line, or reorders what follows could make them
	// read another request than the one they sign (SPEC T7, T9).
	const signers = "the officers who sign the purge must read it as it is"
	if err := plainText(client.RulePurgeReason, "permanentDataPurgeReason", "-PermanentDataPurgeReason", reason, signers); err != nil {
		return d, err
	}
	if err := plainText(client.RulePurgeContact, "permanentDataPurgeContact", "-PermanentDataPurgeContact", contact, signers); err != nil {
		return d, err
	}
	if s.cfg.Signer == nil {
		return d, rule.Unavailable(client.RulePurgeSigner, "the operator must give the service a signing key", "the service cannot issue crypto-shred certificates")
	}
	if _, err := s.st.Purge(ctx, t.ID, d.ID); err == nil {
		return d, rule.Conflict(client.RulePurgeRequested, "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	}
	// A key-loss recovery moving the DEP's mailboxes off it: the request
	// would list mailboxes that then leave for another DEP's keys.
	if j, err := s.st.ActiveJob(ctx, t.ID, "dep:"+d.ID); err == nil {
		return d, rule.Conflict(client.RulePurgeJobRunning, "wait for the job to end (ck job show "+j.ID+" --wait), then request the purge of what is left on the DEP",
			"DEP %s's %s job is moving its mailboxes off it", d.Name, j.Kind)
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return d, err
	}
	if len(officers) < s.cfg.PurgeApprovals {
		return d, rule.Invalid(client.RulePurgeOfficers, "designate authorised officers at onboarding (ck onboarding new ... --officer UPN)", "tenant %s has %d authorised officers; a purge needs %d to approve", t.Name, len(officers), s.cfg.PurgeApprovals)
	}
	// Officers sign with registered keys, and keys do not change under an
	// open purge: enough of them must have one before it opens.
	if n, err := s.countKeyed(ctx, t, officers); err != nil {
		return d, err
	} else if n < s.cfg.PurgeApprovals {
		return d, rule.Invalid(client.RulePurgeOfficers, "the tenant's global admin registers each officer's public key (ck officer keygen, then ck officer register UPN --public-key FILE), and the service operator confirms it with the officer (ck officer confirm UPN --fingerprint FP)",
			"%d of tenant %s's authorised officers have a registered key the operator confirmed; a purge needs %d signed approvals", n, t.Name, s.cfg.PurgeApprovals)
	}
	if err := s.AccessRemoved(ctx, d, "purge request check"); err != nil {
		return d, err
	}
	// What the officers sign: the request as stored, to the millisecond
	// the store keeps, with the containers it deletes.
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	containers, err := s.containersOn(ctx, t.ID, d.ID)
	if err != nil {
		return d, err
	}
	p := store.Purge{Tenant: t.ID, DEP: d.ID, Name: d.Name, Reason: reason, Contact: contact, RequestedBy: tenant.Caller(ctx).Subject, Requested: now, Required: s.cfg.PurgeApprovals, Containers: containers, State: store.PurgeRequested, Updated: now}
	if err := s.st.CreatePurge(ctx, p); errors.Is(err, store.ErrConflict) {
		return d, rule.Conflict(client.RulePurgeRequested, "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	} else if err != nil {
		return d, err
	}
	s.cfg.Logger.Warn("dep: purge requested", "tenant", t.ID, "dep", d.ID, "by", p.RequestedBy, "reason", reason, "contact", contact)
	// Disabled once the request is recorded: an enable at the same moment
	// lands before this and is undone by it, or reads the request and is
	// refused (RequirePurgeFree). Disabled first, an enable could land
	// between the two and leave the request on an enabled DEP.
	if off, err := s.Disable(ctx, d); err != nil {
		s.cfg.Logger.Error("dep: the DEP of a purge request is still enabled; every node disables such DEPs at start and hourly", "tenant", t.ID, "dep", d.ID, "err", err)
		d.Enabled = false // as the request makes it: no node assigns to it (Assignable, RequirePurgeFree)
	} else {
		d = off
	}
	s.publish(ctx, events.Event{Kind: events.DEPChanged, Tenant: t.ID, Ref: d.ID, Detail: "purge requested"})
	return d, nil
}

// KeepDisabled disables the DEP of an open purge request (Requested or
// Approved) if it is enabled: the request disables it once recorded, and
// a process that died in between left it enabled. Every node runs it at
// start and every hour (lifecycle). It says whether it disabled it.
func (s *Service) KeepDisabled(ctx context.Context, p store.Purge) (bool, error) {
	if p.State != store.PurgeRequested && p.State != store.PurgeApproved {
		return false, nil
	}
	d, err := s.st.DEPByID(ctx, p.Tenant, p.DEP)
	if errors.Is(err, store.ErrNotFound) || err == nil && !d.Enabled {
		return false, nil // gone with its purge, or disabled
	} else if err != nil {
		return false, err
	}
	_, err = s.Disable(ctx, d)
	return err == nil, err
}

// AccessRemoved checks R6's first step: the service can no longer unwrap
// d's DEP key with either customer key, at its current version or at any
// earlier one the DEP key was wrapped under before a roll (a copy of the
// DEP from before the roll, in a backup, opens with that one). Each must
// refuse deliberately (kms.Denied); a vault that does not answer is
// retried later. The purge request asks it, and the purge job again
// before it destroys anything: access given back meanwhile stops it.
func (s *Service) AccessRemoved(ctx context.Context, d store.DEP, why string) error {
	w, kd, err := s.Ring(d)
	if err != nil {
		return err
	}
	fix := "remove the wrap and unwrap permissions of the Exchange Online workload (" + w.App + ") from both keys in the vaults (ck vault access-policy remove VAULT --spn " + w.App + "), which covers every version of a key, then request again"
	req := keyring.Request{Initiator: keyring.Service, Reason: why}
	_, errs := w.Ring.Probe(ctx, kd, req)
	for i, e := range errs {
		switch kms.ClassOf(e) {
		case kms.Denied:
			continue
		case kms.Transient:
			return rule.Unavailable(client.RulePurgeKeysRevoked, "retry when the vaults answer: the service must see both keys refuse", "customer key %d (%s) could not be asked: %v", i+1, d.KeyURIs[i], e)
		default:
			return rule.Conflict(client.RulePurgeKeysRevoked, fix, "the service can still unwrap the DEP key with customer key %d (%s)", i+1, d.KeyURIs[i])
		}
	}
	for _, f := range w.Ring.ProbeFormer(ctx, kd, req) {
		switch kms.ClassOf(f.Err) {
		case kms.Denied:
			continue
		case kms.Transient:
			return rule.Unavailable(client.RulePurgeKeysRevoked, "retry when the vaults answer: the service must see every version of both keys refuse", "the earlier key version %s could not be asked: %v", f.KeyURI, f.Err)
		default:
			return rule.Conflict(client.RulePurgeKeysRevoked, fix,
				"the earlier key version %s, which the DEP key was wrapped under before a roll, still answers the service: a copy of the DEP from before the roll would open with it (disabling only the current version leaves it)", f.KeyURI)
		}
	}
	w.Ring.Evict(d.ID)
	return nil
}

// plainText refuses text people are shown (officers before they sign,
// admins in the console and the CLI) when it is not one line of plain
// text (rule.HiddenRune): why says who must read it as it is.
func plainText(id, field, param, s, why string) error {
	r, at, bad := rule.HiddenRune(s)
	switch {
	case !bad:
		return nil
	case r == utf8.RuneError:
		return rule.Invalid(id, "send "+field+" ("+param+") as UTF-8 text", "%s is not UTF-8", field)
	}
	return rule.Invalid(id, "write "+field+" ("+param+") as one line of plain text: remove control characters (newline, tab, escape sequences) and invisible format or bidirectional-text characters",
		"%s holds %U at byte %d: %s", field, r, at, why)
}

// Approve is step 3: an authorised officer's signed approval of the
// purge of a DEP (SPEC T7). sig must be the officer's Ed25519 signature,
// by the key registered for them before the request, over the request's
// canonical statement (Statement); the caller's token only carried it.
// The purge is Approved once enough distinct officers did; the caller
// then starts the purge job.
//
// Officers approving at the same moment each count: an approval lands
// only on the request as read, and one that lost the race is checked and
// added again on the request as it is now.
func (s *Service) Approve(ctx context.Context, t store.ServiceTenant, idOrName, officer, signature string) (store.Purge, error) {
	sig, err := client.DecodeSignature(signature)
	if err != nil {
		return store.Purge{}, rule.Invalid(client.RuleApprovalSignature, "send the officer's signature, made by: ck dep purge approve NAME --key FILE", "%s", err.Error())
	}
	return again(func() (store.Purge, error) { return s.approve(ctx, t, idOrName, officer, sig) },
		func(err error) error {
			return rule.Conflict(client.RulePurgeState, "approve it again (ck dep purge show "+idOrName+")", "the purge of %s is being changed by others at the same moment: %v", idOrName, err)
		})
}

func (s *Service) approve(ctx context.Context, t store.ServiceTenant, idOrName, officer string, sig []byte) (store.Purge, error) {
	p, err := s.PurgeOf(ctx, t, idOrName)
	if err != nil {
		return p, err
	}
	who := strings.ToLower(strings.TrimSpace(officer))
	k, err := s.officerKey(ctx, t, who)
	if err != nil {
		return p, err
	}
	if p.State != store.PurgeRequested {
		return p, rule.Conflict(client.RulePurgeState, "nothing to approve: read the request (ck dep purge show "+p.Name+")", "the purge of %s is %s", p.Name, p.State)
	}
	if !k.Registered.Before(p.Requested) {
		// Registered under the open request (a race with the store's guard
		// on PostgreSQL): not a key the officer had before the request.
		// Times are kept to the millisecond, so a key of the request's own
		// millisecond counts as after it (found as a flaky test).
		return p, rule.Refused(client.RuleOfficerKeyDuringPurge, "an officer signs with the key registered before the purge was requested",
			"the key of %s was registered at %s, not before the purge of %s was requested", who, k.Registered.Format(time.RFC3339Nano), p.Name)
	}
	if !client.VerifyPurge(k.PublicKey, Statement(p, who), sig) {
		return p, rule.Refused(client.RuleApprovalSignature, "sign this request with the officer's own key (ck dep purge approve "+p.Name+" --key FILE); a signature over another request, or by another key, does not approve it",
			"the signature is not %s's (key %s) over the purge request of %s", who, client.KeyFingerprint(k.PublicKey), p.Name)
	}
	for _, a := range p.Approvals {
		if a.Officer == who {
			return p, rule.Conflict(client.RulePurgeDistinctOfficers, "another authorised officer must approve", "%s already approved the purge of %s", who, p.Name)
		}
	}
	// Lands only on the request as read: an officer approving at the
	// same moment is not overwritten (both were told they approved, and
	// one approval was lost), the later one asks again.
	prev := p
	now := s.cfg.Now().UTC()
	p.Approvals = append(slices.Clone(p.Approvals), store.PurgeApproval{Officer: who, At: now, Signature: sig, PublicKey: k.PublicKey, KeyRegistered: k.Registered, SubmittedBy: tenant.Caller(ctx).Subject})
	p.Updated = store.After(prev.Updated, now)
	if len(p.Approvals) >= p.Required {
		p.State = store.PurgeApproved
	}
	if err := s.st.UpdatePurge(ctx, p, prev); err != nil {
		return p, err // ErrConflict: Approve asks again
	}
	s.cfg.Logger.Warn("dep: purge approved", "tenant", t.ID, "dep", p.DEP, "officer", who, "key", client.KeyFingerprint(k.PublicKey), "submitted by", tenant.Caller(ctx).Subject, "approvals", len(p.Approvals), "of", p.Required)
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
	ps, err := s.st.ListPurges(ctx, t.ID)
	for i := range ps {
		if err == nil && ps[i].State != store.PurgePurged {
			ps[i], err = s.fixContainers(ctx, ps[i])
		}
	}
	return ps, err
}

package dep

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Officers sign (SPEC T7). Each authorised officer designated at
// onboarding (O7) has an Ed25519 public key, registered by the tenant's
// global admin (RegisterOfficerKey) and confirmed by the service operator
// (ConfirmOfficerKey), who checks its fingerprint with the officer out of
// band, as Microsoft checks with the officer named at onboarding; a purge
// approval is the officer's signature over the purge's canonical
// statement (client.PurgeStatement), checked against that key (Approve).
// A token names a subject but proves nothing about the officer: it only
// authenticates the call that carries the signature. The confirmation is
// what keeps the global admin, who issues every token and registers the
// keys, from registering a key of their own for an officer and signing
// in the officer's name: that now takes the operator too.
//
// Keys do not change while a purge request is open (Requested or
// Approved): a key registered for the occasion could sign for an officer
// who never saw the request. The store refuses the write in the same
// statement that checks; an approval also refuses a key registered after
// the request, which closes the race on PostgreSQL.

// Officer is an authorised officer with the key registered for them (a
// zero Key if none).
type Officer struct {
	Officer string
	Key     store.OfficerKey
}

// ListOfficers returns the tenant's authorised officers with their keys.
func (s *Service) ListOfficers(ctx context.Context, t store.ServiceTenant) ([]Officer, error) {
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return nil, err
	}
	keys, err := s.st.ListOfficerKeys(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	slices.Sort(officers)
	out := make([]Officer, 0, len(officers))
	for _, o := range officers {
		of := Officer{Officer: o}
		for _, k := range keys {
			if k.Officer == o {
				of.Key = k
			}
		}
		out = append(out, of)
	}
	return out, nil
}

// RegisterOfficerKey registers or replaces an authorised officer's public
// key (the tenant's global admin: the route checks the role). It returns
// the officer with the new key and the key it replaced, if any.
func (s *Service) RegisterOfficerKey(ctx context.Context, t store.ServiceTenant, officer, publicKey string) (Officer, store.OfficerKey, error) {
	officer = strings.ToLower(strings.TrimSpace(officer))
	pub, err := client.ParseOfficerKey(publicKey)
	if err != nil {
		return Officer{}, store.OfficerKey{}, rule.Invalid(client.RuleOfficerPublicKey, "give the officer's Ed25519 public key: an ssh-ed25519 line (FILE.pub of: ck officer keygen --out FILE), PEM, or 32 bytes base64", "%s", err.Error())
	}
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return Officer{}, store.OfficerKey{}, err
	}
	if !slices.Contains(officers, officer) {
		return Officer{}, store.OfficerKey{}, rule.NotFound(client.RulePurgeOfficer, "designate the officer at onboarding first (ck onboarding new ... --officer UPN); officers now: "+listOr(officers),
			"%s is not an authorised officer of tenant %s", officer, t.Name)
	}
	keys, err := s.st.ListOfficerKeys(ctx, t.ID)
	if err != nil {
		return Officer{}, store.OfficerKey{}, err
	}
	var old store.OfficerKey
	for _, k := range keys {
		switch {
		case k.Officer == officer:
			old = k
		case bytes.Equal(k.PublicKey, pub):
			// Two officers with one key would be one signer counted twice.
			return Officer{}, store.OfficerKey{}, rule.Conflict(client.RuleOfficerKeyUnique, "each officer registers a key of their own (ck officer keygen --out FILE)",
				"the key %s is registered for %s already", client.KeyFingerprint(pub), k.Officer)
		}
	}
	if err := s.requireNoOpenPurge(ctx, t, officer); err != nil {
		return Officer{}, store.OfficerKey{}, err
	}
	k := store.OfficerKey{Tenant: t.ID, Officer: officer, PublicKey: pub, Registered: s.cfg.Now().UTC(), RegisteredBy: tenant.Caller(ctx).Subject}
	if err := s.st.PutOfficerKey(ctx, k); errors.Is(err, store.ErrConflict) {
		if err := s.requireNoOpenPurge(ctx, t, officer); err != nil {
			return Officer{}, store.OfficerKey{}, err
		}
		return Officer{}, store.OfficerKey{}, rule.Conflict(client.RuleOfficerKeyDuringPurge, "try again", "a purge request of tenant %s was opened meanwhile", t.Name)
	} else if err != nil {
		return Officer{}, store.OfficerKey{}, err
	}
	s.cfg.Logger.Warn("dep: officer key registered", "tenant", t.ID, "officer", officer, "fingerprint", client.KeyFingerprint(pub), "by", k.RegisteredBy, "replaced", fingerprintOf(old))
	return Officer{Officer: officer, Key: k}, old, nil
}

// ConfirmOfficerKey confirms an officer's registered key (the service
// operator: the route checks the role), given the fingerprint the officer
// gave the operator out of band: a key other than that one (registered
// meanwhile, or by someone else) is not confirmed.
func (s *Service) ConfirmOfficerKey(ctx context.Context, t store.ServiceTenant, officer, fingerprint string) (Officer, error) {
	officer = strings.ToLower(strings.TrimSpace(officer))
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return Officer{}, err
	}
	if !slices.Contains(officers, officer) {
		return Officer{}, rule.NotFound(client.RulePurgeOfficer, "confirm a key of an officer designated at onboarding; officers now: "+listOr(officers),
			"%s is not an authorised officer of tenant %s", officer, t.Name)
	}
	k, err := s.st.OfficerKey(ctx, t.ID, officer)
	if errors.Is(err, store.ErrNotFound) {
		return Officer{}, rule.NotFound(client.RuleOfficerKeyMissing, "the tenant's global admin registers the officer's public key first (ck officer register "+officer+" --public-key FILE)",
			"authorised officer %s has no registered key", officer)
	} else if err != nil {
		return Officer{}, err
	}
	if got := fingerprintOf(k); got != strings.TrimSpace(fingerprint) {
		s.cfg.Logger.Warn("dep: officer key not confirmed: another fingerprint", "tenant", t.ID, "officer", officer, "registered", got, "given", fingerprint, "by", tenant.Caller(ctx).Subject)
		// The answer does not say the registered fingerprint: an operator
		// could paste it back and confirm without the officer (T7).
		return Officer{}, rule.Conflict(client.RuleOfficerKeyFingerprint, "confirm only the key whose fingerprint the officer read out to you; the key registered for them is another one: do not confirm it, and ask the officer and the tenant why",
			"the key registered for %s is not %s", officer, strings.TrimSpace(fingerprint))
	}
	// Confirming is allowed under an open purge: no key can change then,
	// and the approval still takes only a key registered before the
	// request (Approve). A key left unconfirmed by the upgrade to this
	// rule, or by a race with the request, can so still sign.
	now := s.cfg.Now().UTC()
	by := tenant.Caller(ctx).Subject
	switch err := s.st.ConfirmOfficerKey(ctx, t.ID, officer, k.PublicKey, now, by); {
	case errors.Is(err, store.ErrNotFound):
		return Officer{}, rule.Conflict(client.RuleOfficerKeyFingerprint, "ask the officer for their fingerprint again and confirm it", "the key of %s was replaced meanwhile", officer)
	case err != nil:
		return Officer{}, err
	}
	k.Confirmed, k.ConfirmedBy = now, by
	s.cfg.Logger.Warn("dep: officer key confirmed", "tenant", t.ID, "officer", officer, "fingerprint", fingerprintOf(k), "by", by)
	return Officer{Officer: officer, Key: k}, nil
}

// requireNoOpenPurge refuses a key change while a purge request of the
// tenant is open, naming it.
func (s *Service) requireNoOpenPurge(ctx context.Context, t store.ServiceTenant, officer string) error {
	ps, err := s.st.ListPurges(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.State == store.PurgeRequested || p.State == store.PurgeApproved {
			return rule.Conflict(client.RuleOfficerKeyDuringPurge, "officer keys change only when no purge request is open: wait until the purge of "+p.Name+" is done (ck dep purge show "+p.Name+" --wait)",
				"the key of %s cannot change while the purge request of DEP %s (%s) is %s", officer, p.Name, p.DEP, p.State)
		}
	}
	return nil
}

// fingerprintOf is a stored key's fingerprint, "" for none.
func fingerprintOf(k store.OfficerKey) string {
	if len(k.PublicKey) != ed25519.PublicKeySize {
		return ""
	}
	return client.KeyFingerprint(k.PublicKey)
}

// officerKey returns the key an officer signs with, refusing an officer
// who is not designated or has none.
func (s *Service) officerKey(ctx context.Context, t store.ServiceTenant, officer string) (store.OfficerKey, error) {
	officers, err := s.Officers(ctx, t)
	if err != nil {
		return store.OfficerKey{}, err
	}
	if !slices.Contains(officers, officer) {
		return store.OfficerKey{}, rule.Refused(client.RulePurgeOfficer, "an authorised officer designated at onboarding ("+listOr(officers)+") signs the approval with their own key: ck dep purge approve NAME --key FILE",
			"%s is not an authorised officer of tenant %s", officer, t.Name)
	}
	k, err := s.st.OfficerKey(ctx, t.ID, officer)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(k.PublicKey) != ed25519.PublicKeySize {
		return k, rule.Refused(client.RuleOfficerKeyMissing, "the tenant's global admin registers the officer's public key when no purge is open (ck officer register "+officer+" --public-key FILE)",
			"authorised officer %s has no registered key", officer)
	}
	if err == nil && k.Confirmed.IsZero() {
		return k, rule.Refused(client.RuleOfficerKeyUnconfirmed, "the service operator confirms the key with the officer, by the fingerprint the officer reads out to them (ck officer confirm "+officer+" --fingerprint FP --tenant "+t.Name+")",
			"the key registered for %s is not confirmed by the service operator", officer)
	}
	return k, err
}

// countKeyed is how many of the tenant's officers have a registered key
// the operator confirmed.
func (s *Service) countKeyed(ctx context.Context, t store.ServiceTenant, officers []string) (int, error) {
	keys, err := s.st.ListOfficerKeys(ctx, t.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if slices.Contains(officers, k.Officer) && !k.Confirmed.IsZero() {
			n++
		}
	}
	return n, nil
}

func listOr(xs []string) string {
	if len(xs) == 0 {
		return "none yet"
	}
	return strings.Join(xs, ", ")
}

package dep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// ErrNothingToRecover is returned for a key-loss recovery of a
// service-managed DEP.
var ErrNothingToRecover = errors.New("the DEP is service-managed: nothing to recover")

// RequireLost refuses a key-loss recovery unless both customer keys of d
// are lost: the vault answers that the key (or its version, or the vault)
// does not exist (R3, T2). A key refused (access removed, disabled) is a
// revocation, not a loss: the availability key never serves it; an outage
// or one working key is not a loss either.
func (s *Service) RequireLost(ctx context.Context, d store.DEP, reason string) error {
	w, kd, err := s.Ring(d)
	if err != nil {
		return err
	}
	_, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery check: " + reason})
	s.keepRevocation(ctx, w, d)
	if !errors.Is(errs[0], kms.KeyNotFound) || !errors.Is(errs[1], kms.KeyNotFound) {
		return rule.Conflict(client.RuleRecoveryKeysNotLost, "recovery through the availability key is only for a DEP whose two customer keys are both lost (deleted and purged: the vault answers not found). A key whose access was removed or that is disabled is revoked, and stays so: restore the workload's access instead; wait out an outage (ck dep health "+d.Name+")",
			"DEP %s: key 1: %s; key 2: %s", d.Name, Answer(errs[0]), Answer(errs[1]))
	}
	// Lost now, but revoked before that (the tenant's signal, access
	// removed): the revocation holds until a customer key unwraps again
	// (T1), and a recovery would undo it.
	if now, err := s.st.DEPByID(ctx, d.Tenant, d.ID); err != nil {
		return err
	} else if !now.Revoked.IsZero() && !keyring.ByLoss(now.RevokedCause) {
		return rule.Conflict(client.RuleRecoveryRevoked, "a revocation holds until a customer key unwraps again: if the keys are only soft-deleted, recover them in their vaults (Undo-AzKeyVaultKeyRemoval; ck vault key recover VAULT KEY), then check the DEP's health (ck dep health "+d.Name+"), which clears it",
			"DEP %s was revoked (%s, since %s) before its keys were lost; recovery through the availability key would undo the revocation", d.Name, now.RevokedCause, now.Revoked.UTC().Format(time.RFC3339))
	}
	return nil
}

// RequireHealthy refuses a DEP unless both of its customer keys answer
// (the target of a recovery).
func (s *Service) RequireHealthy(ctx context.Context, d store.DEP, rid, why string) error {
	w, kd, err := s.Ring(d)
	if err != nil {
		return err
	}
	if _, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: why}); errs[0] != nil || errs[1] != nil {
		return rule.Conflict(rid, "the target DEP must be healthy: both of its keys must answer (ck dep health "+d.Name+")", "DEP %s: key 1: %s; key 2: %s", d.Name, Answer(errs[0]), Answer(errs[1]))
	}
	return nil
}

// RequireUsable refuses a DEP when neither customer key answers (the
// rollback of a multi-workload DEP re-wraps with them, R4).
func (s *Service) RequireUsable(ctx context.Context, d store.DEP, reason string) error {
	w, kd, err := s.Ring(d)
	if err != nil {
		return err
	}
	if _, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "rollback check: " + reason}); errs[0] != nil && errs[1] != nil {
		return rule.Conflict(client.RuleRollbackKeysUsable, "the tenant must keep its vaults and keys with the workload's permissions until the rollback is done (ck dep health "+d.Name+")",
			"DEP %s: key 1: %s; key 2: %s", d.Name, Answer(errs[0]), Answer(errs[1]))
	}
	return nil
}

// Disable disables a DEP (so nothing is assigned to it meanwhile), as
// it is stored now, read again: d may have been read before another
// change (a refresh's keys), which stays. It returns the DEP as stored.
func (s *Service) Disable(ctx context.Context, d store.DEP) (store.DEP, error) {
	tenant, id, name := d.Tenant, d.ID, d.Name
	d, err := again(func() (store.DEP, error) {
		d, err := s.st.DEPByID(ctx, tenant, id)
		if err != nil {
			return d, err
		}
		d.Enabled = false
		prev := s.touch(&d)
		return d, s.st.UpdateDEP(ctx, d, prev)
	}, func(err error) error {
		return rule.Conflict(client.RuleDEPSet, "try again", "DEP %s is being changed by others at the same moment: %v", name, err)
	})
	if errors.Is(err, store.ErrNotFound) {
		return d, rule.NotFound(client.RuleDEPExists, "list the tenant's DEPs (ck dep list)", "DEP %s was deleted", name)
	}
	return d, err
}

// OldKey is the key of a DEP that containers are moved off: through the
// keyring, or in a key-loss recovery (recoverReason set) through the
// availability key alone (then the caller destroys it).
func (s *Service) OldKey(ctx context.Context, d store.DEP, req keyring.Request, recoverReason string) (*envelope.Key, error) {
	if recoverReason == "" {
		return s.Key(ctx, d, req)
	}
	if Kind(d.Kind) == ServiceManaged {
		return nil, fmt.Errorf("DEP %s: %w", d.Name, ErrNothingToRecover)
	}
	w, kd, err := s.Ring(d)
	if err != nil {
		return nil, err
	}
	req.Reason = "key-loss recovery of DEP " + d.Name + " by the operator: " + recoverReason
	return w.Ring.RecoveryKey(ctx, kd, req)
}

// Retire deletes a DEP no container uses any more, destroying its
// availability key: nothing is wrapped under its key.
func (s *Service) Retire(ctx context.Context, t store.ServiceTenant, d store.DEP, why string) error {
	w, kd, err := s.Ring(d)
	if err != nil {
		return err
	}
	if err := w.Ring.DestroyAvailabilityKey(ctx, kd, "service", why); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	if err := s.st.DeleteDEP(ctx, t.ID, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.Ring.Evict(d.ID)
	s.publish(ctx, events.Event{Kind: events.DEPChanged, Tenant: t.ID, Ref: d.ID, Detail: "retired: " + why})
	return nil
}

// Delete deletes a DEP record (the purge's first step).
func (s *Service) Delete(ctx context.Context, t store.ServiceTenant, id string) error {
	if err := s.st.DeleteDEP(ctx, t.ID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.publish(ctx, events.Event{Kind: events.DEPChanged, Tenant: t.ID, Ref: id, Detail: "deleted for its purge"})
	return nil
}

// NextSiteName names a geo's next site DEP (after a roll or recovery).
func NextSiteName(geo string) string { return "SPO-" + geo + "-" + uuid.NewString()[:8] }

// OfGeo reports whether d is a site DEP of geo.
func OfGeo(d store.DEP, geo string) bool {
	return d.Name == "SPO-"+geo || strings.HasPrefix(d.Name, "SPO-"+geo+"-")
}

package dep

import (
	"context"
	"errors"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// mdepPurgeRefusal is R6's answer to a purge request on a multi-workload DEP.
const mdepPurgeRefusal = "purging of a multi-workload DEP isn't supported: it encrypts data across multiple workloads for all of the tenant's users, and purging it would make all of that data inaccessible"

// Change is Set-DataEncryptionPolicy's (or Set-M365DataAtRestEncryptionPolicy's)
// change: enable or disable, a new description, a refresh after a key
// roll, or the permanent data purge request (alone).
type Change struct {
	Enabled      *bool
	Description  *string
	Refresh      bool
	Purge        bool
	PurgeReason  string
	PurgeContact string
}

// Set applies a change to a DEP of kind k. A change lands only on the
// DEP as it was read (store.UpdateDEP): one that landed meanwhile (a
// disable, a refresh, a purge request, on any node) is not undone by it;
// the change is made again, with its checks, from the DEP as it is now.
func (s *Service) Set(ctx context.Context, t store.ServiceTenant, k Kind, idOrName string, c Change) (store.DEP, error) {
	return again(func() (store.DEP, error) { return s.set(ctx, t, k, idOrName, c) },
		func(err error) error {
			return rule.Conflict(client.RuleDEPSet, "change it again", "DEP %s is being changed by others at the same moment: %v", idOrName, err)
		})
}

// again makes a change that lands only on a record as it was read (a DEP,
// a purge request): while another change lands first (store.ErrConflict),
// it is made again, with its checks, from the record as it is now; a
// record that others keep changing gets busy's answer after maxAttempts.
func again[T any](change func() (T, error), busy func(error) error) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := change()
		switch {
		case !errors.Is(err, store.ErrConflict):
			return v, err
		case attempt == maxAttempts:
			return v, busy(err)
		}
	}
}

// maxAttempts bounds the tries of a change of a record that others keep
// changing under it.
const maxAttempts = 8

// touch marks d changed now and returns the Updated it was read with,
// for store.UpdateDEP: its new Updated comes after that one to the
// millisecond, whatever the clock says.
func (s *Service) touch(d *store.DEP) (prev time.Time) {
	prev = d.Updated
	d.Updated = store.After(prev, s.cfg.Now())
	return prev
}

func (s *Service) set(ctx context.Context, t store.ServiceTenant, k Kind, idOrName string, c Change) (store.DEP, error) {
	d, err := s.Get(ctx, t, k, idOrName)
	if err != nil {
		return d, err
	}
	if c.Purge {
		if k != Mailbox {
			return d, rule.Invalid(client.RulePurgeNotForMDEP, "to leave the service altogether, delete the tenant (Microsoft Entra ID tenant deletion)", mdepPurgeRefusal)
		}
		if c.Enabled != nil || c.Description != nil || c.Refresh {
			return d, rule.Invalid(client.RulePurgeAlone, "request the purge on its own, with only its reason and contact", "a purge request cannot be combined with other changes")
		}
		return s.RequestPurge(ctx, t, d, c.PurgeReason, c.PurgeContact)
	}
	if c.Enabled == nil && c.Description == nil && !c.Refresh {
		return d, rule.Invalid(client.RuleDEPSet, "give enabled, description, refresh, or a purge request", "nothing to change")
	}
	if c.Description != nil {
		if err := plainText(client.RuleDEPDescription, "description", "-Description", *c.Description, descriptionReaders); err != nil {
			return d, err
		}
	}
	by := tenant.Caller(ctx).Subject
	if c.Enabled != nil && *c.Enabled {
		if err := s.RequirePurgeFree(ctx, t, d); err != nil {
			return d, err
		}
		// A key-loss recovery or a rollback disabled the DEP to move its
		// containers off it: enabled meanwhile, it would take new ones
		// that the job never moves.
		switch j, err := s.st.ActiveJob(ctx, t.ID, "dep:"+d.ID); {
		case err == nil && !d.Enabled:
			return d, rule.Conflict(client.RuleDEPJobRunning, "wait for the job to end (ck job show "+j.ID+" --wait), then enable the DEP",
				"DEP %s cannot be enabled while its %s job moves its containers off it", d.Name, j.Kind)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return d, err
		}
	}
	if c.Refresh {
		w, kd, err := s.Ring(d)
		if err != nil {
			return d, err
		}
		rolled, err := w.Ring.Refresh(ctx, kd, keyring.Request{Initiator: keyring.User, Reason: "refresh (key roll) by " + by})
		var de *keyring.DEPError
		switch {
		case errors.As(err, &de):
			return d, rule.Conflict(client.RuleRefresh, "the DEP key must be readable with a customer key to refresh it: restore the workload's access to the keys (ck dep health "+d.Name+")", "%v", err)
		case err != nil:
			return d, rule.Conflict(client.RuleRefresh, "both customer keys must wrap with their current version: check that the new versions are enabled, without expiry, and that the workload may use them", "%v", err)
		}
		d.Keys = rolled.MarshalKeys()
	}
	if c.Enabled != nil && !*c.Enabled && k == MDEP {
		if assigned, _, err := s.st.Assignment(ctx, t.ID, string(MDEP)); err != nil {
			return d, err
		} else if assigned == d.ID {
			return d, rule.Invalid(client.RuleMDEPDisableAfterUnassign, "assign another multi-workload DEP first (ck mdep assign NAME), then disable this one", "DEP %s is assigned to the tenant and cannot be disabled", d.Name)
		}
	}
	if c.Enabled != nil {
		d.Enabled = *c.Enabled
	}
	if c.Description != nil {
		d.Description = *c.Description
	}
	prev := s.touch(&d)
	if err := s.st.UpdateDEP(ctx, d, prev); err != nil {
		return d, err
	}
	s.cfg.Logger.Info("dep: changed", "tenant", t.ID, "dep", d.ID, "enabled", d.Enabled, "by", by)
	s.publish(ctx, events.Event{Kind: events.DEPChanged, Tenant: t.ID, Ref: d.ID, Detail: "changed by " + by})
	return d, nil
}

// Health is a DEP's health with each customer key's answer to a probe,
// and its revocation state (T1).
type Health struct {
	DEP     store.DEP
	State   keyring.State
	Cause   string
	Since   time.Time
	Keys    [2]KeyHealth
	Revoked keyring.Revocation
}

// KeyHealth is one customer key's answer.
type KeyHealth struct {
	KeyID string
	Err   error
}

// Probe asks each customer key of a DEP to unwrap its key now (R5). With
// revoked, it is the tenant's revocation signal: the DEP is revoked (T1)
// and its key leaves the cache first; the revocation holds until a
// customer key unwraps again, which this very probe may find. Who may
// ask is the API's route table's business.
func (s *Service) Probe(ctx context.Context, t store.ServiceTenant, k Kind, idOrName string, revoked bool) (Health, error) {
	d, err := s.Get(ctx, t, k, idOrName)
	if err != nil {
		return Health{}, err
	}
	return s.probe(ctx, d, revoked)
}

func (s *Service) probe(ctx context.Context, d store.DEP, revoked bool) (Health, error) {
	w, kd, err := s.Ring(d)
	if err != nil {
		return Health{}, err
	}
	if kd.Kind == keyring.ServiceManaged {
		return Health{}, rule.Invalid(client.RuleDEPExists, "the service-managed DEP has no customer keys to check", "DEP %s is service-managed", d.Name)
	}
	by := tenant.Caller(ctx).Subject
	reason := "DEP health check by " + by
	if revoked {
		reason = "revocation signal from " + by
		w.Ring.Revoke(kd, reason)
	}
	h, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: reason})
	s.keepRevocation(ctx, w, d)
	if r, ok := w.Ring.Revocation(d.ID); revoked && ok && r.Revoked && !d.Revoked.IsZero() {
		// Revoked already in the record (keepRevocation said nothing):
		// the signal still reaches every node.
		s.publish(ctx, events.Event{Kind: events.DEPRevoked, Tenant: d.Tenant, Ref: d.ID, Detail: r.Cause, At: r.Since})
	}
	out := Health{DEP: d, State: h.State, Cause: h.Cause, Since: h.Since}
	if r, ok := w.Ring.Revocation(d.ID); ok && r.Revoked {
		out.Revoked = r
	} else if !ok {
		out.Revoked = kd.Revoked
	}
	for i, ck := range kd.CustomerKeys {
		out.Keys[i] = KeyHealth{KeyID: ck.KeyID, Err: errs[i]}
	}
	return out, nil
}

// WatchRevocations runs the revocation probe (S3) of every workload's
// keyring every interval until ctx is done, and stores the revocations it
// finds: a tenant that removes the workload's access without signalling
// it is seen within the interval, not at cache expiry.
func (s *Service) WatchRevocations(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.ProbeRevocations(ctx)
	}
}

// reconcile compares each DEP whose key w's keyring holds with its
// record, one read each: a revocation or a deletion another node stored
// and told (S2) but whose event was never recorded (that node gone
// between the two) reaches this node's cache here, every probe interval,
// and holds in an outage, when the probe's unwraps tell nothing.
func (s *Service) reconcile(ctx context.Context, w Workload) {
	for _, kd := range w.Ring.CachedFromCustomerKeys() {
		d, err := s.st.DEPByID(ctx, kd.Tenant, kd.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.OnEvent(events.Event{Kind: events.DEPChanged, Tenant: kd.Tenant, Ref: kd.ID})
		case err != nil:
			s.cfg.Logger.Warn("dep: reading a cached DEP's record for the revocation probe", "tenant", kd.Tenant, "dep", kd.ID, "err", err)
		case !d.Revoked.IsZero():
			if r, ok := w.Ring.Revocation(d.ID); ok && r.Answers(d.Revoked) {
				s.keepRevocation(ctx, w, d) // a customer key answered it: store the clear
				continue
			}
			s.cfg.Logger.Warn("dep: a revocation stored by another node reached this one by the probe, not by its event", "tenant", d.Tenant, "dep", d.ID)
			s.OnEvent(events.Event{Kind: events.DEPRevoked, Tenant: d.Tenant, Ref: d.ID, Detail: d.RevokedCause, At: d.Revoked})
		}
	}
}

// ProbeRevocations runs the revocation probe once (WatchRevocations) and
// returns how many unwraps it cost.
func (s *Service) ProbeRevocations(ctx context.Context) int {
	calls := 0
	seen := map[*keyring.Keyring]bool{}
	for _, w := range s.cfg.Workloads {
		if w.Ring == nil || seen[w.Ring] {
			continue
		}
		seen[w.Ring] = true
		s.reconcile(ctx, w)
		n, revoked := w.Ring.ProbeCached(ctx)
		calls += n
		for _, kd := range revoked {
			d, err := s.st.DEPByID(ctx, kd.Tenant, kd.ID)
			if err != nil {
				continue // deleted meanwhile
			}
			s.keepRevocation(ctx, w, d)
		}
	}
	return calls
}

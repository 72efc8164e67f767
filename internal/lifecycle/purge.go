package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/shred"
	"github.com/customerkey/customerkey/internal/store"
)

// purgeArgs are a purge job's arguments, fixed when the purge is approved.
type purgeArgs struct {
	DEP               string
	AvailabilityKeyID string
	CustomerKeys      []string // the versioned key IDs that wrapped the DEP key
	Containers        []string
}

// ApprovePurge is an authorised officer's signed approval (R6 step 3,
// T7); with enough approvals the purge job starts.
func (s *Service) ApprovePurge(ctx context.Context, t store.ServiceTenant, idOrName, officer, signature string) (store.Purge, error) {
	p, err := s.deps.Approve(ctx, t, idOrName, officer, signature)
	if err != nil {
		return p, err
	}
	if p.State == store.PurgeApproved {
		if err := s.startPurge(ctx, t, p); err != nil {
			return p, err
		}
	}
	return p, nil
}

// startPurge queues the purge job with what it will destroy.
func (s *Service) startPurge(ctx context.Context, t store.ServiceTenant, p store.Purge) error {
	a := purgeArgs{DEP: p.DEP}
	if d, err := s.deps.Get(ctx, t, dep.Mailbox, p.DEP); err == nil {
		_, kd, err := s.deps.Ring(d)
		if err != nil {
			return err
		}
		a.AvailabilityKeyID = kd.AvailabilityKeyID
		for _, r := range kd.CustomerKeys {
			a.CustomerKeys = append(a.CustomerKeys, r.KeyID)
		}
		// The containers are those the officers signed for, fixed with the
		// request (T7); nothing joins or leaves a DEP with a purge request.
		a.Containers = p.Containers
	} else if !rule.Is(err, rule.KindNotFound) {
		return err
	}
	_, err := s.enqueue(ctx, t, JobPurge, "dep:"+p.DEP, a)
	return err
}

// resumePurges queues the job of every approved purge that has none (the
// process died between recording the last approval and queuing the job)
// and queues again, with the same arguments, the job of one whose jobs
// all failed after retrying (a keystore down for longer than its
// retries, or the keys given back to the service until they were taken
// away again): an approved purge is carried out, however long it waits.
// A job refused on its first try (its arguments, its state) is not. Every node runs
// it at start and every hour; the queue takes one job per target.
func (s *Service) resumePurges(ctx context.Context) {
	ts, err := s.st.ListServiceTenants(ctx)
	if err != nil {
		s.log.Error("lifecycle: resume purges", "err", err)
		return
	}
	for _, t := range ts {
		ps, err := s.deps.Purges(ctx, t)
		if err != nil {
			s.log.Error("lifecycle: resume purges", "tenant", t.ID, "err", err)
			continue
		}
		for _, p := range ps {
			if off, err := s.deps.KeepDisabled(ctx, p); err != nil {
				s.log.Error("lifecycle: disable the DEP of a purge request", "tenant", t.ID, "dep", p.DEP, "err", err)
			} else if off {
				s.log.Warn("lifecycle: disabled the DEP of a purge request, left enabled", "tenant", t.ID, "dep", p.DEP)
			}
			if p.State != store.PurgeApproved {
				continue
			}
			// Its DEP's jobs, however many others the tenant ran since.
			js, err := s.st.ListJobsOn(ctx, t.ID, "dep:"+p.DEP, 100)
			if err != nil {
				s.log.Error("lifecycle: resume purges", "tenant", t.ID, "err", err)
				break
			}
			// The newest purge job decides (js: newest first): an earlier
			// refusal does not hide a later job's giving up.
			var newest *store.Job
			for i := range js {
				if js[i].Kind == JobPurge {
					newest = &js[i]
					break
				}
			}
			switch {
			case newest != nil && newest.State != store.JobFailed:
				continue // queued, running or done
			case newest != nil && newest.Attempts <= 1: // refused on its first try (its arguments, its state): not retried
				s.log.Warn("lifecycle: the job of an approved purge was refused; it is not queued again", "tenant", t.ID, "dep", p.DEP, "job", newest.ID, "its error", newest.Error)
				continue
			case newest != nil: // gave up after retries: the same arguments (the DEP may be gone already)
				failed := newest
				if _, err := s.enqueue(ctx, t, JobPurge, failed.Target, json.RawMessage(failed.Args)); err != nil && !rule.Is(err, rule.KindConflict) {
					s.log.Error("lifecycle: re-queue a failed purge job", "tenant", t.ID, "dep", p.DEP, "err", err)
				} else if err == nil {
					s.log.Warn("lifecycle: queued again the failed job of an approved purge", "tenant", t.ID, "dep", p.DEP, "job", failed.ID, "its error", failed.Error)
				}
				continue
			}
			if err := s.startPurge(ctx, t, p); err != nil {
				s.log.Error("lifecycle: resume purge", "tenant", t.ID, "dep", p.DEP, "err", err)
				continue
			}
			s.log.Warn("lifecycle: queued the missing job of an approved purge", "tenant", t.ID, "dep", p.DEP)
		}
	}
}

// purgeDEP is the purge job (step 4), in the seed's order: the DEP is
// deleted, its mailboxes are deleted with all their items, and the
// availability key is destroyed; then the certificate is issued. Each
// step is idempotent, so the job resumes after a crash.
func (s *Service) purgeDEP(ctx context.Context, x *jobs.Run) error {
	var a purgeArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	p, err := s.st.Purge(ctx, t.ID, a.DEP)
	if errors.Is(err, store.ErrNotFound) {
		return jobs.Permanent(err)
	} else if err != nil {
		return err // the store, for a moment: tried again
	}
	if p.State == store.PurgePurged {
		return nil
	}
	if p.State != store.PurgeApproved || len(p.Approvals) < p.Required {
		return jobs.Permanent(errors.New("the purge is not approved"))
	}
	if a.AvailabilityKeyID == "" {
		return jobs.Permanent(errors.New("the DEP was gone before the purge started: nothing to purge"))
	}
	// R6's first step still holds (every version of both keys refuses),
	// asked again before anything is destroyed: access the tenant gave
	// back after the request stops the purge here, and the job retries.
	// (Once the DEP is deleted, a resumed job has destroyed things
	// already: it finishes.)
	if d, err := s.deps.ByID(ctx, t, a.DEP); err == nil {
		if err := s.deps.AccessRemoved(ctx, d, "purge job check"); err != nil {
			s.log.Warn("lifecycle: purge held: the service can unwrap the DEP key again", "tenant", t.ID, "dep", a.DEP, "err", err)
			return err
		}
		// Every container the officers signed for must still be on the
		// DEP (or gone): one that left for another DEP's keys would
		// outlive the purge there, and the certificate would say it was
		// shredded (T8). Nothing leaves a DEP with a purge request; this
		// is the last guard, before anything is destroyed.
		for _, id := range a.Containers {
			m, err := s.st.Mailbox(ctx, t.ID, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if m.DEP != a.DEP {
				s.log.Error("lifecycle: purge refused: a container it deletes left the DEP", "tenant", t.ID, "dep", a.DEP, "container", id, "now", m.DEP)
				return jobs.Permanent(fmt.Errorf("%s left DEP %s for DEP %s after the purge was requested: its data would outlive the purge under that DEP's keys, so nothing was destroyed and no certificate issued; the operator should find out how it moved", id, p.Name, m.DEP))
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	total := len(a.Containers) + 2
	if err := s.deps.Delete(ctx, t, a.DEP); err != nil {
		return err
	}
	if err := x.Progress(ctx, 1, total); err != nil {
		return err
	}
	for i, id := range a.Containers {
		if err := s.boxes.Delete(ctx, t, id); err != nil {
			return err
		}
		if err := x.Progress(ctx, 2+i, total); err != nil {
			return err
		}
	}
	w, ok := s.deps.Workload(dep.Mailbox)
	if !ok {
		return errors.New("the service has no mailbox workload")
	}
	kd := keyring.DEP{ID: a.DEP, Tenant: t.ID, Kind: keyring.Mailbox, AvailabilityKeyID: a.AvailabilityKeyID}
	// Destroy the availability key, then shred it: the other availability
	// keys are re-sealed under a new key-encryption key version and the
	// version that sealed this one is destroyed (SPEC T8). Idempotent, so
	// a crash anywhere resumes here.
	kek, err := w.Ring.ShredAvailabilityKey(ctx, kd, "purge job "+x.ID, "permanent data purge: "+p.Reason)
	if err != nil {
		return err
	}
	w.Ring.Evict(a.DEP)
	avk, err := s.st.AvailabilityKey(ctx, a.AvailabilityKeyID)
	if err != nil {
		return err
	}
	if avk.Sealed != nil || avk.DestroyedAt == nil {
		return errors.New("the availability key is not destroyed")
	}
	now := s.now().UTC()
	c := shred.Certificate{Serial: x.ID, Issuer: "customerkey service", Tenant: t.ID, TenantName: t.Name, DEP: p.DEP, DEPName: p.Name,
		Containers: append([]string{}, a.Containers...), Reason: p.Reason, Contact: p.Contact, RequestedBy: p.RequestedBy, Requested: p.Requested, Completed: now,
		Keys: []shred.Key{{ID: a.AvailabilityKeyID, Kind: "availability-key", State: "destroyed", Time: avk.DestroyedAt}}}
	if kek != 0 {
		c.Keys = append(c.Keys, shred.Key{ID: "kek-v" + strconv.FormatUint(uint64(kek), 10), Kind: "key-encryption-key", State: "destroyed", Time: &now,
			Detail: "the key-encryption key version that sealed the availability key (and every older one) is destroyed in the service keystore; every other availability key was sealed again under a newer version first"})
	}
	for _, k := range a.CustomerKeys {
		c.Keys = append(c.Keys, shred.Key{ID: k, Kind: "customer-key", State: "access-removed", Time: &p.Requested, Detail: "the service's unwrap was refused when the purge was requested; the key stays in the tenant's vault"})
	}
	c.Approvals = certApprovals(p.Approvals)
	cert, err := shred.Sign(c, s.deps.Signer())
	if err != nil {
		return jobs.Permanent(err)
	}
	prev := p
	p.State, p.Certificate, p.Updated = store.PurgePurged, cert, store.After(prev.Updated, now)
	if err := s.st.UpdatePurge(ctx, p, prev); err != nil {
		return err
	}
	if err := x.Progress(ctx, total, total); err != nil {
		return err
	}
	s.audit.Append(ctx, audit.Record{Tenant: t.ID, Actor: "service (purge job " + x.ID + ")", Action: "purge", Target: "DEP " + p.DEP,
		KeyID: a.AvailabilityKeyID, Reason: p.Reason, Outcome: "ok: DEP deleted, " + strconv.Itoa(len(a.Containers)) + " mailboxes deleted, availability key destroyed, key-encryption key version " + strconv.FormatUint(uint64(kek), 10) + " destroyed"})
	s.log.Warn("lifecycle: DEP purged", "tenant", t.ID, "dep", p.DEP, "mailboxes", len(a.Containers), "availability key", a.AvailabilityKeyID)
	return nil
}

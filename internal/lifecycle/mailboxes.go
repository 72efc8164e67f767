package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

// SetMailbox is Set-Mailbox / Set-MailUser -DataEncryptionPolicy: the
// assignment is stored with the mailbox, and the tenant's
// reassign-mailboxes job re-wraps it in the background. It returns the
// mailbox's statistics now (the old DEP until the re-wrap is done, with
// the pending one), and the job if the mailbox must move.
func (s *Service) SetMailbox(ctx context.Context, t store.ServiceTenant, upn, depName string) (workload.Stats, *store.Job, error) {
	m, err := s.boxes.Mailbox(ctx, t, upn)
	if err != nil {
		return workload.Stats{}, nil, err
	}
	m, move, err := s.boxes.Assign(ctx, t, m, depName)
	if err != nil {
		return workload.Stats{}, nil, err
	}
	var job *store.Job
	if move {
		j, err := s.startReassign(ctx, t)
		if err != nil {
			return workload.Stats{}, nil, err
		}
		job = &j
	}
	st, err := s.boxes.Statistics(ctx, m)
	return st, job, err
}

// startReassign makes sure the tenant's reassign-mailboxes job is queued
// or running. A running job goes over the pending mailboxes until none is
// left; should it have taken its last look already, the sweep of Run
// queues a new one within a few seconds (the assignment is stored).
func (s *Service) startReassign(ctx context.Context, t store.ServiceTenant) (store.Job, error) {
	for range 3 { // a conflicting job may end between the two reads
		j, err := s.jobs.Enqueue(ctx, t.ID, JobReassign, "mailboxes", struct{}{})
		if !errors.Is(err, store.ErrConflict) {
			return j, err
		}
		if j, err = s.st.ActiveJob(ctx, t.ID, "mailboxes"); !errors.Is(err, store.ErrNotFound) {
			return j, err
		}
	}
	return store.Job{}, rule.Unavailable(client.RuleJobBusy, "retry: the assignment is stored and the service queues its re-wrap within seconds", "the re-wrap job of tenant %s could not be queued", t.Name)
}

// sweepPending queues the reassign-mailboxes job of every tenant with
// pending assignments and none queued or running, every interval until
// ctx is done: after a crash between storing an assignment and queuing
// its job, or an assignment made just as the job ended.
func (s *Service) sweepPending(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		tenants, err := s.boxes.TenantsWithPending(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("lifecycle: sweep of pending assignments", "err", err)
		}
		for _, id := range tenants {
			if _, err := s.jobs.Enqueue(ctx, id, JobReassign, "mailboxes", struct{}{}); err == nil {
				s.log.Info("lifecycle: queued the re-wrap of pending assignments", "tenant", id)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reassignMailboxes is the reassign-mailboxes job (Set-Mailbox, D3, R2):
// every mailbox of the tenant with a pending assignment has its key
// re-wrapped under the assigned DEP (one conditional write each; the
// content is not touched), until none is pending. A mailbox whose DEP
// cannot be reached now is left for a retry, without holding up the rest.
func (s *Service) reassignMailboxes(ctx context.Context, x *jobs.Run) error {
	var a struct{}
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	done, deps := 0, map[string]store.DEP{}
	target := func(id string) (store.DEP, error) {
		if d, ok := deps[id]; ok {
			return d, nil
		}
		d, err := s.deps.ByID(ctx, t, id)
		if err == nil {
			deps[id] = d
		}
		return d, err
	}
	pace := s.pacer()
	for {
		ms, err := s.boxes.Pending(ctx, t, 1000)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return x.Progress(ctx, done, done)
		}
		var failed error
		moved := 0
		for _, m := range ms {
			to, err := target(m.Target)
			if errors.Is(err, store.ErrNotFound) { // the DEP went away: the assignment with it
				s.log.Warn("lifecycle: assignment dropped: its DEP no longer exists", "tenant", t.ID, "mailbox", m.ID, "dep", m.Target)
				err, to = s.boxes.DropAssignment(ctx, t, m), store.DEP{}
			}
			if err == nil && to.ID != "" {
				// A purge requested since the assignment, on either DEP,
				// drops it: nothing leaves a DEP to be purged, and nothing
				// moves onto one (its container list is fixed when the
				// purge is approved, and its key may come only from the
				// availability key).
				for _, d := range []string{m.DEP, to.ID} {
					if _, perr := s.st.Purge(ctx, t.ID, d); perr == nil {
						s.log.Warn("lifecycle: assignment dropped: a DEP of the move has a purge request", "tenant", t.ID, "mailbox", m.ID, "dep", d)
						err, to = s.boxes.DropAssignment(ctx, t, m), store.DEP{}
						break
					}
				}
			}
			if err == nil && to.ID != "" {
				if err := pace.Wait(ctx); err != nil {
					return err
				}
				err = s.boxes.Rewrap(ctx, t, m, to, "Set-Mailbox")
				if rule.Is(err, rule.KindConflict) { // moved meanwhile: seen again in the next pass
					err = nil
				}
			}
			if err != nil {
				failed = err
				continue
			}
			moved++
			done++
			if err := x.Progress(ctx, done, done+len(ms)-moved); err != nil {
				return err
			}
		}
		if moved == 0 && failed != nil {
			return failed // nothing moved this pass: retry later
		}
	}
}

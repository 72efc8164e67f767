package lifecycle

import (
	"context"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/workload"
)

// AssignMDEP is Set-M365DataAtRestEncryptionPolicyAssignment: one DEP for
// all multi-workload data of the tenant. The workload containers move in
// the background; a job already running runs again after it, so it
// cannot miss this assignment.
func (s *Service) AssignMDEP(ctx context.Context, t store.ServiceTenant, name string) (dep.Assignment, error) {
	a, err := s.deps.AssignMDEP(ctx, t, name)
	if err != nil {
		return a, err
	}
	return a, s.jobs.Again(ctx, t.ID, JobReassociate, "mdep", struct{}{})
}

// reassociateMDEP is the reassociate-mdep job an assignment change queues:
// every workload container of the tenant moves to the tenant's current
// MDEP (only the container keys are re-wrapped). It goes over them again
// until none is left behind, in case the assignment changed meanwhile;
// a container read before the job reaches it is moved on that read.
func (s *Service) reassociateMDEP(ctx context.Context, x *jobs.Run) error {
	var a struct{}
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	for {
		want, err := s.deps.ForMultiWorkload(ctx, t)
		if err != nil {
			return err
		}
		ms, err := s.boxes.OfKind(ctx, t, workload.MultiWorkload)
		if err != nil {
			return err
		}
		var todo []store.Mailbox
		for _, m := range ms {
			if m.DEP != want.ID {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return x.Progress(ctx, x.Total, x.Total)
		}
		pace := s.pacer()
		for i, m := range todo {
			if err := pace.Wait(ctx); err != nil {
				return err
			}
			if _, err := s.boxes.Box(ctx, t, strings.TrimPrefix(m.ID, "workload:")); err != nil {
				return err
			}
			if err := x.Progress(ctx, i+1, len(todo)); err != nil {
				return err
			}
		}
	}
}

// recoverArgs are a recover job's arguments.
type recoverArgs struct {
	From, To string // DEP GUIDs
	Reason   string
}

// RecoverDEP is key-loss recovery (SPEC R3), the operator's action with
// the access request (its ID: request) the tenant approved for exactly
// this DEP and target (T5), used once: every mailbox of a DEP whose two customer keys are
// both lost is moved, through the DEP's availability key, to another DEP
// with new keys, by a background job. Only the mailbox keys are
// re-wrapped. (Sites: RecoverGeo.)
func (s *Service) RecoverDEP(ctx context.Context, t store.ServiceTenant, lost, target, request string) (store.Job, error) {
	if err := tenant.RequireOperator(ctx); err != nil {
		return store.Job{}, err
	}
	from, err := s.deps.Get(ctx, t, dep.Mailbox, lost)
	if err != nil {
		return store.Job{}, err
	}
	// Nothing leaves a DEP with a purge request (R6): the officers sign
	// for its containers, and a mailbox moved off it would outlive the
	// purge under another DEP's keys. Checked before the request is used,
	// and again by the job before each move.
	if err := s.deps.RequirePurgeFree(ctx, t, from); err != nil {
		return store.Job{}, err
	}
	to, err := s.deps.Get(ctx, t, dep.Mailbox, target)
	if err != nil {
		return store.Job{}, err
	}
	req, err := s.allowed(ctx, t, request, access.Scope{Action: access.Recover, DEP: from.ID, Target: to.ID})
	if err != nil {
		return store.Job{}, err
	}
	if to.ID == from.ID || !to.Enabled {
		return store.Job{}, rule.Invalid(client.RuleRecoveryTarget, "create a new DEP on new customer keys (ck dep new) and give it as --to", "DEP %s cannot take the mailboxes: it is the lost DEP or disabled", to.Name)
	}
	if err := s.deps.RequireLost(ctx, from, req.Reason); err != nil {
		return store.Job{}, err
	}
	if err := s.deps.RequireHealthy(ctx, to, client.RuleRecoveryTarget, "key-loss recovery target check"); err != nil {
		return store.Job{}, err
	}
	if err := s.requireNoJob(ctx, t, "dep:"+from.ID); err != nil {
		return store.Job{}, err
	}
	// Disabled first, so no mailbox is assigned to it meanwhile; and
	// before the access request is used, so that a refusal here leaves
	// the tenant's approval for the next try.
	if _, err := s.deps.Disable(ctx, from); err != nil {
		return store.Job{}, err
	}
	reason, err := s.use(ctx, t, req)
	if err != nil {
		return store.Job{}, err
	}
	j, err := s.enqueue(ctx, t, JobRecover, "dep:"+from.ID, recoverArgs{From: from.ID, To: to.ID, Reason: reason})
	if err != nil {
		return j, err
	}
	s.log.Warn("lifecycle: key-loss recovery started", "tenant", t.ID, "from", from.ID, "to", to.ID, "job", j.ID, "reason", reason)
	return j, nil
}

// recoverDEP is the recover job: every container still on the lost DEP is
// moved to the target, with the lost DEP's key from its availability key.
func (s *Service) recoverDEP(ctx context.Context, x *jobs.Run) error {
	var a recoverArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	return s.moveAll(ctx, x, t, a.From, a.To, func(from store.DEP, req keyring.Request) (*envelope.Key, error) {
		return s.oldKey(ctx, from, req, a.Reason)
	}, a.Reason != "")
}

// rollbackArgs are a rollback-mdep job's arguments.
type rollbackArgs struct {
	From, To string // the MDEP, and the tenant's service-managed DEP
	Reason   string
}

// Rollback rolls a tenant back from a multi-workload DEP to
// service-managed keys (SPEC R4), the operator's action with the access
// request the tenant approved for this DEP (T5), used once: the DEP is unassigned and every workload container re-wrapped
// in the background. The customer keys must still be usable: the data is
// re-wrapped with them, never with the availability key. (Mailboxes roll
// back by assigning none; sites cannot roll back.)
func (s *Service) Rollback(ctx context.Context, t store.ServiceTenant, name, request string) (store.Job, error) {
	if err := tenant.RequireOperator(ctx); err != nil {
		return store.Job{}, err
	}
	d, err := s.deps.Get(ctx, t, dep.MDEP, name)
	if rule.Is(err, rule.KindNotFound) {
		// A mailbox DEP by that name first: its name may start with SPO-
		// too.
		if _, merr := s.deps.Get(ctx, t, dep.Mailbox, name); merr == nil {
			return store.Job{}, rule.Invalid(client.RuleRollbackMailboxes, "mailboxes roll back by being assigned no DEP: ck mailbox set UPN --dep ''",
				"%s is a mailbox DEP: the operator's rollback is for multi-workload DEPs", name)
		}
		if _, serr := s.deps.Get(ctx, t, dep.Site, name); serr == nil || strings.HasPrefix(strings.ToUpper(name), "SPO-") {
			return store.Job{}, rule.Invalid(client.RuleRollbackNotForSites, "a site DEP stays on customer keys; to change its keys, roll them (ck spo dep update --geo GEO ...)",
				"roll back from Customer Key to service-managed keys isn't supported for SharePoint and OneDrive (%s is a site DEP)", name)
		}
	}
	if err != nil {
		return store.Job{}, err
	}
	req, err := s.allowed(ctx, t, request, access.Scope{Action: access.Rollback, DEP: d.ID})
	if err != nil {
		return store.Job{}, err
	}
	if err := s.deps.RequireUsable(ctx, d, req.Reason); err != nil {
		return store.Job{}, err
	}
	if err := s.requireNoJob(ctx, t, "dep:"+d.ID); err != nil {
		return store.Job{}, err
	}
	reason, err := s.use(ctx, t, req)
	if err != nil {
		return store.Job{}, err
	}
	svc, err := s.deps.ServiceDEP(ctx, t)
	if err != nil {
		return store.Job{}, err
	}
	if err := s.deps.Unassign(ctx, t, d); err != nil {
		return store.Job{}, err
	}
	j, err := s.enqueue(ctx, t, JobRollback, "dep:"+d.ID, rollbackArgs{From: d.ID, To: svc.ID, Reason: reason})
	if err != nil {
		return j, err
	}
	s.log.Warn("lifecycle: multi-workload rollback started", "tenant", t.ID, "dep", d.ID, "job", j.ID, "reason", reason)
	return j, nil
}

// rollbackMDEP is the rollback-mdep job: every container still on the
// MDEP moves to service-managed keys, unwrapped with the customer keys.
func (s *Service) rollbackMDEP(ctx context.Context, x *jobs.Run) error {
	var a rollbackArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	return s.moveAll(ctx, x, t, a.From, a.To, func(from store.DEP, req keyring.Request) (*envelope.Key, error) {
		req.Reason = "rollback to service-managed keys by the operator: " + a.Reason
		return s.deps.Key(ctx, from, req)
	}, false)
}

// moveAll moves every container of DEP fromID to DEP toID, with from's key
// as oldKey gives it (destroyed after if owned), reporting progress.
func (s *Service) moveAll(ctx context.Context, x *jobs.Run, t store.ServiceTenant, fromID, toID string, oldKey func(store.DEP, keyring.Request) (*envelope.Key, error), owned bool) error {
	from, err := s.deps.ByID(ctx, t, fromID)
	if err != nil {
		return jobs.Permanent(err)
	}
	to, err := s.deps.ByID(ctx, t, toID)
	if err != nil {
		return jobs.Permanent(err)
	}
	todo, err := s.boxes.OnDEP(ctx, t, from.ID)
	if err != nil {
		return err
	}
	// Progress counts what this run has left: a resumed job starts again
	// from the containers still on the old DEP.
	if err := x.Progress(ctx, 0, len(todo)); err != nil {
		return err
	}
	if len(todo) == 0 {
		return nil
	}
	// Off the old DEP with a customer key only (T2; a recovery's oldKey
	// takes the availability key of a lost DEP instead); onto the new one
	// as service work.
	req := keyring.Request{Initiator: keyring.Move, Reason: "move the containers of DEP " + from.Name + " to " + to.Name}
	held := s.hold(from.ID)
	ok, err := oldKey(from, req)
	if err != nil {
		return err
	}
	if owned {
		defer ok.Destroy()
	}
	nk, err := s.deps.Key(ctx, to, keyring.Request{Initiator: keyring.Service, Reason: req.Reason})
	if err != nil {
		return err
	}
	pace := s.pacer()
	for i, m := range todo {
		if err := pace.Wait(ctx); err != nil {
			return err
		}
		// A job may run long at a bounded rate: a revocation meanwhile
		// stops it (T1, T2), and the old DEP's key is asked for again
		// once it left the cache (held.stale). A recovery's key is the
		// lost DEP's availability key, the job's own, which its lost
		// keys' refusals do not stop.
		if !owned {
			if err := s.deps.CheckRevoked(from.ID); err != nil {
				return err
			}
			if held.stale() {
				held = s.hold(from.ID)
				if ok, err = oldKey(from, req); err != nil {
					return err
				}
			}
		}
		// A purge requested while the job runs stops it: the request
		// holds the containers still on the DEP, and none may leave it.
		if err := s.deps.RequirePurgeFree(ctx, t, from); err != nil {
			return jobs.Permanent(err)
		}
		if err := s.boxes.Move(ctx, t, m, from, ok, to, nk); err != nil && !rule.Is(err, rule.KindConflict) {
			return err
		}
		if err := x.Progress(ctx, i+1, len(todo)); err != nil {
			return err
		}
	}
	s.log.Warn("lifecycle: containers moved", "tenant", t.ID, "from", from.ID, "to", to.ID, "containers", len(todo))
	return nil
}

package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// recoverArgs are a recover job's arguments.
type recoverArgs struct {
	From, To string // DEP GUIDs
	Reason   string
}

// recoveryRoutes: key-loss recovery (SPEC R3), the operator's action on the
// tenant's request. Every mailbox of a DEP whose two customer keys are both
// lost is moved, through the DEP's availability key, to another DEP with
// new keys, by a background job. Only the mailbox keys are re-wrapped.
// (Sites: POST .../spoDataEncryptionPolicies/{geo}/recover.)
func (s *Server) recoveryRoutes() {
	register(s, huma.Operation{OperationID: "recover-dataencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/dataEncryptionPolicies/{dep}/recover",
		Summary: "Key-loss recovery (operator, on the tenant's request): move every mailbox of a DEP whose customer keys are both lost to another DEP, through the availability key, in the background",
		Tags:    []string{"mailbox DEPs"}, Security: bearerAuth, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			DEP    string `path:"dep"`
			Body   struct {
				To     string `json:"to" doc:"The healthy DEP, on new keys, to move the mailboxes to"`
				Reason string `json:"reason" doc:"The tenant's request: ticket and who asked (recorded in the tenant's audit log)"`
			}
		}) (*jobOutput, error) {
			t, reason, err := s.operatorRequest(ctx, in.Tenant, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			from, err := s.dep(ctx, t, "mailbox", in.DEP)
			if err != nil {
				return nil, err
			}
			to, err := s.dep(ctx, t, "mailbox", in.Body.To)
			if err != nil {
				return nil, err
			}
			if to.ID == from.ID || !to.Enabled {
				return nil, problem(400, "R3.Target", "create a new DEP on new customer keys (ck dep new) and give it as --to", "DEP %s cannot take the mailboxes: it is the lost DEP or disabled", to.Name)
			}
			if err := s.requireLost(ctx, from, reason); err != nil {
				return nil, err
			}
			wt, kt, err := s.ringDEP(to)
			if err != nil {
				return nil, err
			}
			if _, terrs := wt.Ring.Probe(ctx, kt, keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery target check"}); terrs[0] != nil || terrs[1] != nil {
				return nil, problem(409, "R3.Target", "the target DEP must be healthy: both of its keys must answer (ck dep health "+to.Name+")", "DEP %s: key 1: %s; key 2: %s", to.Name, answer(terrs[0]), answer(terrs[1]))
			}
			// Disabled first, so no mailbox is assigned to it meanwhile.
			from.Enabled, from.Updated = false, s.cfg.Now().UTC()
			if err := s.cfg.Store.UpdateDEP(ctx, from); err != nil {
				return nil, err
			}
			j, err := s.enqueue(ctx, t, jobRecover, "dep:"+from.ID, recoverArgs{From: from.ID, To: to.ID, Reason: reason})
			if err != nil {
				return nil, err
			}
			s.cfg.Logger.Warn("api: key-loss recovery started", "tenant", t.ID, "from", from.ID, "to", to.ID, "job", j.ID, "reason", reason)
			return &jobOutput{Body: jobJSON(j)}, nil
		})
}

// operatorRequest checks an operator action taken on a tenant's request
// (recovery, rollback): the caller is the operator, and the reason (the
// tenant's ticket, who asked) is given; it returns the tenant and reason.
func (s *Server) operatorRequest(ctx context.Context, tenantName, reason string) (store.ServiceTenant, string, error) {
	if err := tenant.RequireOperator(ctx); err != nil {
		return store.ServiceTenant{}, "", err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 512 {
		return store.ServiceTenant{}, "", problem(400, "R3.Reason", "give the tenant's request (ticket, who asked), 1-512 characters", "an operator action on a tenant's request needs its reason")
	}
	t, err := s.tenants.Get(ctx, tenantName)
	return t, reason, err
}

// requireLost refuses a recovery unless both customer keys of d refuse,
// deliberately: an outage or one working key is not a loss.
func (s *Server) requireLost(ctx context.Context, d store.DEP, reason string) error {
	w, kd, err := s.ringDEP(d)
	if err != nil {
		return err
	}
	_, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery check: " + reason})
	if kms.ClassOf(errs[0]) != kms.Denied || kms.ClassOf(errs[1]) != kms.Denied {
		return problem(409, "R3.KeysNotLost", "recovery through the availability key is only for a DEP whose two customer keys are both lost; move the containers off it (Set-Mailbox, or roll the keys), or wait out an outage (ck dep health "+d.Name+")",
			"DEP %s: key 1: %s; key 2: %s", d.Name, answer(errs[0]), answer(errs[1]))
	}
	return nil
}

// recoverDEP is the recover job: every container still on the lost DEP is
// moved to the target, with the lost DEP's key from its availability key.
func (s *Server) recoverDEP(ctx context.Context, x *jobs.Run) error {
	var a recoverArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	return s.moveAll(ctx, x, t, a.From, a.To, func(from store.DEP, req keyring.Request) (*envelope.Key, error) {
		return s.oldDEPKey(ctx, from, req, a.Reason)
	}, a.Reason != "")
}

// moveAll moves every container of DEP fromID to DEP toID, with from's key
// as oldKey gives it (destroyed after if owned), reporting progress.
func (s *Server) moveAll(ctx context.Context, x *jobs.Run, t store.ServiceTenant, fromID, toID string, oldKey func(store.DEP, keyring.Request) (*envelope.Key, error), owned bool) error {
	from, err := s.depByID(ctx, t, fromID)
	if err != nil {
		return jobs.Permanent(err)
	}
	to, err := s.depByID(ctx, t, toID)
	if err != nil {
		return jobs.Permanent(err)
	}
	ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
	if err != nil {
		return err
	}
	var todo []store.Mailbox
	for _, m := range ms {
		if m.DEP == from.ID {
			todo = append(todo, m)
		}
	}
	// Progress counts what this run has left: a resumed job starts again
	// from the containers still on the old DEP.
	if err := x.Progress(ctx, 0, len(todo)); err != nil {
		return err
	}
	if len(todo) == 0 {
		return nil
	}
	req := keyring.Request{Initiator: keyring.Service, Reason: "move the containers of DEP " + from.Name + " to " + to.Name}
	ok, err := oldKey(from, req)
	if err != nil {
		return err
	}
	if owned {
		defer ok.Destroy()
	}
	nk, err := s.depKey(ctx, to, req)
	if err != nil {
		return err
	}
	for i, m := range todo {
		if err := s.moveMailbox(ctx, t, m, from, ok, to, nk); err != nil && !isStatus(err, 409) {
			return err
		}
		if err := x.Progress(ctx, i+1, len(todo)); err != nil {
			return err
		}
	}
	s.cfg.Logger.Warn("api: containers moved", "tenant", t.ID, "from", from.ID, "to", to.ID, "containers", len(todo))
	return nil
}

func answer(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
)

// RecoveryResult reports a key-loss recovery.
type RecoveryResult struct {
	From      string `json:"from" doc:"The DEP whose customer keys were lost (now disabled)"`
	To        string `json:"to" doc:"The DEP the mailboxes were moved to"`
	Mailboxes int    `json:"mailboxes" doc:"Mailboxes moved"`
}

// recoveryRoutes: key-loss recovery (SPEC R3), the operator's action on the
// tenant's request. Every mailbox of a DEP whose two customer keys are both
// lost is moved, through the DEP's availability key, to another DEP with
// new keys. Only the mailbox keys are re-wrapped.
func (s *Server) recoveryRoutes() {
	huma.Register(s.api, huma.Operation{OperationID: "recover-dataencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/dataEncryptionPolicies/{dep}/recover",
		Summary: "Key-loss recovery (operator, on the tenant's request): move every mailbox of a DEP whose customer keys are both lost to another DEP, through the availability key",
		Tags:    []string{"mailbox DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			DEP    string `path:"dep"`
			Body   struct {
				To     string `json:"to" doc:"The healthy DEP, on new keys, to move the mailboxes to"`
				Reason string `json:"reason" doc:"The tenant's request: ticket and who asked (recorded in the tenant's audit log)"`
			}
		}) (*struct{ Body RecoveryResult }, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			reason := strings.TrimSpace(in.Body.Reason)
			if reason == "" || len(reason) > 512 {
				return nil, problem(400, "R3.Reason", "give the tenant's request (ticket, who asked), 1-512 characters", "a recovery needs a reason")
			}
			t, err := s.tenant(ctx, in.Tenant)
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
			// The lost DEP's keys must both refuse, deliberately: an outage
			// or one working key is not a loss.
			w, kd, err := s.ringDEP(from)
			if err != nil {
				return nil, err
			}
			_, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery check: " + reason})
			if kms.ClassOf(errs[0]) != kms.Denied || kms.ClassOf(errs[1]) != kms.Denied {
				return nil, problem(409, "R3.KeysNotLost", "recovery through the availability key is only for a DEP whose two customer keys are both lost; move mailboxes with Set-Mailbox, or wait out an outage (ck dep health "+from.Name+")",
					"DEP %s: key 1: %s; key 2: %s", from.Name, answer(errs[0]), answer(errs[1]))
			}
			wt, kt, err := s.ringDEP(to)
			if err != nil {
				return nil, err
			}
			if _, terrs := wt.Ring.Probe(ctx, kt, keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery target check"}); terrs[0] != nil || terrs[1] != nil {
				return nil, problem(409, "R3.Target", "the target DEP must be healthy: both of its keys must answer (ck dep health "+to.Name+")", "DEP %s: key 1: %s; key 2: %s", to.Name, answer(terrs[0]), answer(terrs[1]))
			}
			req := keyring.Request{Initiator: keyring.Service, Reason: "key-loss recovery of DEP " + from.Name + " to " + to.Name + " by the operator: " + reason}
			oldKey, err := s.depKey(ctx, from, req) // the availability key, audited with the reason
			if err != nil {
				return nil, err
			}
			newKey, err := s.depKey(ctx, to, req)
			if err != nil {
				return nil, err
			}
			// Disabled first, so no mailbox is assigned to it meanwhile.
			from.Enabled, from.Updated = false, s.cfg.Now().UTC()
			if err := s.cfg.Store.UpdateDEP(ctx, from); err != nil {
				return nil, err
			}
			ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			out := &struct{ Body RecoveryResult }{Body: RecoveryResult{From: from.Name, To: to.Name}}
			for _, m := range ms {
				if m.DEP != from.ID {
					continue
				}
				if err := s.moveMailbox(ctx, t, m, from, oldKey, to, newKey); err != nil {
					return nil, err
				}
				out.Body.Mailboxes++
			}
			s.cfg.Logger.Warn("api: key-loss recovery done", "tenant", t.ID, "from", from.ID, "to", to.ID, "mailboxes", out.Body.Mailboxes, "reason", reason)
			return out, nil
		})
}

func answer(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

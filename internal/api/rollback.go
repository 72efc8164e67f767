package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
)

const mdepRollbackFix = "roll back from a multi-workload DEP is the operator's action on the tenant's request (tenant, contact, reason, incident): ck operator rollback --mdep NAME; or assign another multi-workload DEP (ck mdep assign NAME)"

// rollbackArgs are a rollback-mdep job's arguments.
type rollbackArgs struct {
	From, To string // the MDEP, and the tenant's service-managed DEP
	Reason   string
}

// rollbackRoutes: roll back from a multi-workload DEP to service-managed
// keys (SPEC R4), the operator's action on the tenant's request. The
// customer keys must still be usable: the data is re-wrapped with them,
// never with the availability key. (Mailboxes roll back by assigning
// none; sites cannot roll back.)
func (s *Server) rollbackRoutes() {
	register(s, huma.Operation{OperationID: "rollback-m365dataatrestencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/m365DataAtRestEncryptionPolicies/{dep}/rollback",
		Summary: "Roll back from a multi-workload DEP to service-managed keys (operator, on the tenant's request): unassign it and re-wrap every workload container in the background",
		Tags:    []string{"multi-workload DEPs"}, Security: bearerAuth, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			DEP    string `path:"dep"`
			Body   struct {
				Reason string `json:"reason" doc:"The tenant's request: incident, contact and reason for leaving"`
			}
		}) (*jobOutput, error) {
			t, reason, err := s.operatorRequest(ctx, in.Tenant, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			d, err := s.dep(ctx, t, "mdep", in.DEP)
			if err != nil {
				return nil, err
			}
			w, kd, err := s.ringDEP(d)
			if err != nil {
				return nil, err
			}
			if _, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "rollback check: " + reason}); errs[0] != nil && errs[1] != nil {
				return nil, problem(409, "R4.CustomerKeysUsable", "the tenant must keep its vaults and keys with the workload's permissions until the rollback is done (ck dep health "+d.Name+")",
					"DEP %s: key 1: %s; key 2: %s", d.Name, answer(errs[0]), answer(errs[1]))
			}
			svc, err := s.serviceDEP(ctx, t)
			if err != nil {
				return nil, err
			}
			if assigned, _, err := s.cfg.Store.Assignment(ctx, t.ID, "mdep"); err != nil {
				return nil, err
			} else if assigned == d.ID {
				if err := s.cfg.Store.SetAssignment(ctx, t.ID, "mdep", "", s.cfg.Now().UTC()); err != nil {
					return nil, err
				}
			}
			j, err := s.enqueue(ctx, t, jobRollback, "dep:"+d.ID, rollbackArgs{From: d.ID, To: svc.ID, Reason: reason})
			if err != nil {
				return nil, err
			}
			s.cfg.Logger.Warn("api: multi-workload rollback started", "tenant", t.ID, "dep", d.ID, "job", j.ID, "reason", reason)
			return &jobOutput{Body: jobJSON(j)}, nil
		})
}

// rollbackMDEP is the rollback-mdep job: every container still on the
// MDEP moves to service-managed keys, unwrapped with the customer keys.
func (s *Server) rollbackMDEP(ctx context.Context, x *jobs.Run) error {
	var a rollbackArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	return s.moveAll(ctx, x, t, a.From, a.To, func(from store.DEP, req keyring.Request) (*envelope.Key, error) {
		req.Initiator, req.Reason = keyring.User, "rollback to service-managed keys by the operator: "+a.Reason // never the availability key on a refusal
		return s.depKey(ctx, from, req)
	}, false)
}

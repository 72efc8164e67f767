package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Multi-workload records (D6): each workload of a tenant (teams, purview,
// ...) has one container whose key is wrapped by the tenant's assigned
// multi-workload DEP, or by service-managed keys when none is assigned.
// Containers live with the mailboxes, as kind MultiWorkload.

const multiWorkload = "MultiWorkload"

var workloadRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

func workloadContainer(name string) string { return "workload:" + name }

// mdepForTenant is the DEP multi-workload data must be under now.
func (s *Server) mdepForTenant(ctx context.Context, t store.ServiceTenant) (store.DEP, error) {
	id, _, err := s.cfg.Store.Assignment(ctx, t.ID, "mdep")
	if err != nil {
		return store.DEP{}, err
	}
	if id == "" {
		return s.serviceDEP(ctx, t)
	}
	return s.dep(ctx, t, "mdep", id)
}

// workloadContainer returns a workload's container under the tenant's
// current MDEP: made on first use, re-wrapped if the assignment changed.
func (s *Server) workloadBox(ctx context.Context, t store.ServiceTenant, workload string) (store.Mailbox, error) {
	want, err := s.mdepForTenant(ctx, t)
	if err != nil {
		return store.Mailbox{}, err
	}
	id := workloadContainer(workload)
	m, err := s.cfg.Store.Mailbox(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		depKey, err := s.depKey(ctx, want, keyring.Request{Initiator: keyring.Service, Reason: "new " + workload + " container"})
		if err != nil {
			return m, err
		}
		rec, err := envelope.WrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: want.ID, ID: id}, envelope.NewKey())
		if err != nil {
			return m, err
		}
		now := s.cfg.Now().UTC()
		m = store.Mailbox{Tenant: t.ID, ID: id, Kind: multiWorkload, DEP: want.ID, ContainerKey: rec.Marshal(), KeyVersion: 1, Created: now, Updated: now}
		if err := s.cfg.Store.CreateMailbox(ctx, m); err != nil && !errors.Is(err, store.ErrConflict) {
			return m, err
		}
		return s.cfg.Store.Mailbox(ctx, t.ID, id)
	}
	if err != nil {
		return m, err
	}
	if m.DEP != want.ID {
		if err := s.rewrap(ctx, t, m, want); err != nil {
			return m, err
		}
		return s.cfg.Store.Mailbox(ctx, t.ID, id)
	}
	return m, nil
}

// reassociateMDEP is the reassociate-mdep job an assignment change queues:
// every workload container of the tenant moves to the tenant's current
// MDEP (only the container keys are re-wrapped). It goes over them again
// until none is left behind, in case the assignment changed meanwhile;
// a container read before the job reaches it is moved on that read.
func (s *Server) reassociateMDEP(ctx context.Context, x *jobs.Run) error {
	var a struct{}
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	for {
		want, err := s.mdepForTenant(ctx, t)
		if err != nil {
			return err
		}
		ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
		if err != nil {
			return err
		}
		var todo []store.Mailbox
		for _, m := range ms {
			if m.Kind == multiWorkload && m.DEP != want.ID {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return x.Progress(ctx, x.Total, x.Total)
		}
		for i, m := range todo {
			if _, err := s.workloadBox(ctx, t, strings.TrimPrefix(m.ID, "workload:")); err != nil {
				return err
			}
			if err := x.Progress(ctx, i+1, len(todo)); err != nil {
				return err
			}
		}
	}
}

// RecordInfo describes a stored record (never its content).
type RecordInfo struct {
	Workload string `json:"workload"`
	ItemInfo
}

func (s *Server) recordRoutes() {
	roles := []string{tenant.RoleGlobalAdmin, tenant.RoleComplianceAdmin}
	base := "/v1/tenants/{tenant}/records/{workload}"
	type recordPath struct {
		Tenant   string `path:"tenant"`
		Workload string `path:"workload" doc:"Workload name: 2-32 lower-case letters, digits and -"`
		Record   string `path:"record"`
	}
	open := func(ctx context.Context, tenantName, workload, why string) (store.ServiceTenant, store.Mailbox, *envelope.Key, error) {
		t, err := s.tenantRole(ctx, tenantName, roles...)
		if err != nil {
			return t, store.Mailbox{}, nil, err
		}
		if !workloadRE.MatchString(workload) {
			return t, store.Mailbox{}, nil, problem(400, "Record.Workload", "name the workload with 2-32 lower-case letters, digits and -, e.g. teams", "workload %q is invalid", workload)
		}
		m, err := s.workloadBox(ctx, t, workload)
		if err != nil {
			return t, m, nil, err
		}
		ck, err := s.containerKey(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: why + " in " + workload + " by " + tenant.Caller(ctx).Subject})
		return t, m, ck, err
	}
	register(s, huma.Operation{OperationID: "put-record", Method: http.MethodPut, Path: base + "/{record}", Summary: "Write a multi-workload record (sealed under the tenant's multi-workload DEP)",
		Tags: []string{"multi-workload data"}, Security: bearerAuth, MaxBodyBytes: 16 << 20},
		func(ctx context.Context, in *struct {
			Tenant   string `path:"tenant"`
			Workload string `path:"workload"`
			Record   string `path:"record"`
			RawBody  []byte `contentType:"application/octet-stream"`
		}) (*struct{ Body RecordInfo }, error) {
			t, m, ck, err := open(ctx, in.Tenant, in.Workload, "write record")
			if err != nil {
				return nil, err
			}
			if !itemIDRE.MatchString(in.Record) {
				return nil, problem(400, "Record.ID", "use 1-128 letters, digits, '.', '_' or '-'", "record ID %q is invalid", in.Record)
			}
			version, err := s.nextVersion(ctx, t, m, in.Record)
			if err != nil {
				return nil, err
			}
			sealed, err := envelope.Seal(ck, containerKeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: in.Record, Version: version}, in.RawBody)
			if err != nil {
				return nil, err
			}
			it := store.Item{Tenant: t.ID, Mailbox: m.ID, ID: in.Record, Kind: "record", Version: version, Sealed: sealed, Created: s.cfg.Now().UTC()}
			if err := s.cfg.Store.PutItem(ctx, it); err != nil {
				return nil, err
			}
			return &struct{ Body RecordInfo }{Body: RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(it)}}, nil
		})
	register(s, huma.Operation{OperationID: "get-record", Method: http.MethodGet, Path: base + "/{record}", Summary: "Read a multi-workload record",
		Tags: []string{"multi-workload data"}, Security: bearerAuth},
		func(ctx context.Context, in *recordPath) (*contentOutput, error) {
			t, m, ck, err := open(ctx, in.Tenant, in.Workload, "read record")
			if err != nil {
				return nil, err
			}
			it, err := s.cfg.Store.Item(ctx, t.ID, m.ID, in.Record)
			if errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "Record.Exists", "list the workload's records (ck record list WORKLOAD)", "workload %s has no record %q", in.Workload, in.Record)
			} else if err != nil {
				return nil, err
			}
			content, err := s.openSealed(ck, t, m, it)
			if err != nil {
				return nil, err
			}
			return opened(content), nil
		})
	register(s, huma.Operation{OperationID: "list-records", Method: http.MethodGet, Path: base, Summary: "List a workload's records (no content)",
		Tags: []string{"multi-workload data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant   string `path:"tenant"`
			Workload string `path:"workload"`
		}) (*struct {
			Body struct {
				Value []RecordInfo `json:"value"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, roles...)
			if err != nil {
				return nil, err
			}
			items, err := s.cfg.Store.ListItemHeads(ctx, t.ID, workloadContainer(in.Workload))
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Value []RecordInfo `json:"value"`
				}
			}{}
			out.Body.Value = []RecordInfo{}
			for _, it := range items {
				out.Body.Value = append(out.Body.Value, RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(it)})
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "delete-record", Method: http.MethodDelete, Path: base + "/{record}", Summary: "Delete a multi-workload record",
		Tags: []string{"multi-workload data"}, Security: bearerAuth, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *recordPath) (*struct{}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, roles...)
			if err != nil {
				return nil, err
			}
			if err := s.cfg.Store.DeleteItem(ctx, t.ID, workloadContainer(in.Workload), in.Record); errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "Record.Exists", "list the workload's records (ck record list WORKLOAD)", "workload %s has no record %q", in.Workload, in.Record)
			} else if err != nil {
				return nil, err
			}
			return &struct{}{}, nil
		})
}

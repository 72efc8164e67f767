package api

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/customerkey/customerkey/client"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// depKind describes one kind of DEP the API manages the same way.
type depKind struct {
	kind      dep.Kind
	path      string // collection path under the tenant
	noun      string // cmdlet noun: DataEncryptionPolicy | M365DataAtRestEncryptionPolicy
	tag       string
	writers   []string // roles that may create and change
	scenarios []string // onboarding that must be done first
}

var depKinds = []depKind{
	{kind: dep.Mailbox, path: "dataEncryptionPolicies", noun: "DataEncryptionPolicy", tag: "mailbox DEPs", writers: exchange, scenarios: []string{"EXO", "MDEP"}},
	{kind: dep.MDEP, path: "m365DataAtRestEncryptionPolicies", noun: "M365DataAtRestEncryptionPolicy", tag: "multi-workload DEPs", writers: mdepAdmins, scenarios: []string{"MDEP"}},
}

// depRoutes are a DEP kind's routes (part of the route table).
func (s *Server) depRoutes(k depKind) {
	base := "/v1/tenants/{tenant}/" + k.path
	noun := strings.ToLower(k.noun)
	add(s, route{id: "new-" + noun, method: "POST", path: base, summary: "New-" + k.noun + ": a DEP on two customer keys in two vaults", tag: k.tag, roles: k.writers, status: 201},
		func(ctx context.Context, in *struct {
			TenantPath
			Body client.NewDEPRequest
		}) (*body[client.DEP], error) {
			return depOut(s.deps.Create(ctx, tenantOf(ctx), dep.Spec{Kind: k.kind, Name: in.Body.Name, Description: in.Body.Description,
				KeyURIs: in.Body.AzureKeyIDs, Onboarded: k.scenarios}))
		})
	add(s, route{id: "get-" + strings.TrimSuffix(noun, "policy") + "policies", method: "GET", path: base, summary: "Get-" + k.noun + ": all of them", tag: k.tag, roles: tenantAdmins},
		func(ctx context.Context, in *struct {
			TenantPath
			PageQuery
		}) (*body[client.List[client.DEP]], error) {
			ds, err := s.deps.List(ctx, tenantOf(ctx), k.kind) // a few: a tenant has at most dep.MaxMailboxDEPs of a kind
			if err != nil {
				return nil, err
			}
			fetch, key := byName(ds, func(d store.DEP) string { return strings.ToLower(d.Name) })
			return paged(in.PageQuery, "deps", fetch, key, depJSON)
		})
	add(s, route{id: "get-" + noun, method: "GET", path: base + "/{dep}", summary: "Get-" + k.noun + " -Identity: one, by name or GUID", tag: k.tag, roles: tenantAdmins},
		func(ctx context.Context, in *DEPPath) (*body[client.DEP], error) {
			return depOut(s.deps.Get(ctx, tenantOf(ctx), k.kind, in.DEP))
		})
	add(s, route{id: "get-" + noun + "-health", method: "GET", path: base + "/{dep}/health", tag: k.tag, roles: everyone,
		summary: "A DEP's health (R5): each customer key is asked to unwrap the DEP key now; healthy, degraded (one key fails) or unhealthy (both fail), with the cause"},
		func(ctx context.Context, in *DEPPath) (*body[client.DEPHealth], error) {
			return healthOut(s.deps.Probe(ctx, tenantOf(ctx), k.kind, in.DEP, false))
		})
	add(s, route{id: "signal-" + noun + "-revocation", method: "POST", path: base + "/{dep}/revocation", tag: k.tag, roles: append([]string{tenant.RoleOperator}, k.writers...),
		summary: "Revocation signal (R5, T1): the tenant removed access to the customer keys; the DEP is revoked and its key leaves the service's caches at once, then the keys are probed. While revoked, the availability key serves nothing for it; a customer key that unwraps again clears it"},
		func(ctx context.Context, in *DEPPath) (*body[client.DEPHealth], error) {
			return healthOut(s.deps.Probe(ctx, tenantOf(ctx), k.kind, in.DEP, true))
		})
	add(s, route{id: "set-" + noun, method: "PATCH", path: base + "/{dep}", summary: "Set-" + k.noun + ": enable or disable, change the description", tag: k.tag, roles: k.writers},
		func(ctx context.Context, in *struct {
			DEPPath
			Body client.SetDEPRequest
		}) (*body[client.DEP], error) {
			b := in.Body
			return depOut(s.deps.Set(ctx, tenantOf(ctx), k.kind, in.DEP, dep.Change{Enabled: b.Enabled, Description: b.Description, Refresh: b.Refresh,
				Purge: b.Purge, PurgeReason: b.Reason, PurgeContact: b.Contact}))
		})
}

type DEPPath struct {
	Tenant string `path:"tenant" doc:"Tenant ID or name"`
	DEP    string `path:"dep" doc:"DEP name or GUID"`
}

func depJSON(d store.DEP) client.DEP {
	return client.DEP{ID: d.ID, Name: d.Name, Description: d.Description, Kind: d.Kind, AzureKeyIDs: d.KeyURIs[:], Enabled: d.Enabled, Created: d.Created, Updated: d.Updated, WrappedWith: dep.WrappedWith(d)}
}

func depOut(d store.DEP, err error) (*body[client.DEP], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.DEP]{depJSON(d)}, nil
}

func healthOut(h dep.Health, err error) (*body[client.DEPHealth], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.DEPHealth]{healthJSON(h)}, nil
}

func healthJSON(h dep.Health) client.DEPHealth {
	out := client.DEPHealth{DEP: h.DEP.ID, Name: h.DEP.Name, Kind: h.DEP.Kind, State: string(h.State), Cause: h.Cause}
	if h.Revoked.Revoked {
		out.Revoked = &client.Revocation{Since: h.Revoked.Since, Cause: h.Revoked.Cause}
	}
	if !h.Since.IsZero() {
		out.Since = &h.Since
	}
	for _, k := range h.Keys {
		kh := client.DEPKeyHealth{KeyID: k.KeyID, OK: k.Err == nil}
		if k.Err != nil {
			kh.Error = k.Err.Error()
		}
		out.Keys = append(out.Keys, kh)
	}
	return out
}

// depHealths is every customer DEP's health as last seen, with no vault
// call (the console's overview).
func (s *Server) depHealths(ctx context.Context, _ *TenantPath) (*body[client.DEPHealths], error) {
	hs, err := s.deps.Healths(ctx, tenantOf(ctx))
	if err != nil {
		return nil, err
	}
	out := client.DEPHealths{Value: []client.DEPHealth{}}
	for _, h := range hs {
		j := healthJSON(h)
		j.Keys = []client.DEPKeyHealth{} // no key was asked
		out.Value = append(out.Value, j)
	}
	return &body[client.DEPHealths]{out}, nil
}

func assignmentJSON(a dep.Assignment) client.Assignment {
	if a.DEP.ID == "" {
		return client.Assignment{}
	}
	return client.Assignment{DataEncryptionPolicy: a.DEP.Name, DataEncryptionPolicyID: a.DEP.ID, Assigned: a.Assigned}
}

func (s *Server) assignMDEP(ctx context.Context, in *struct {
	TenantPath
	Body client.AssignMDEPRequest
}) (*body[client.Assignment], error) {
	a, err := s.life.AssignMDEP(ctx, tenantOf(ctx), in.Body.DataEncryptionPolicy)
	if err != nil {
		return nil, err
	}
	return &body[client.Assignment]{assignmentJSON(a)}, nil
}

func (s *Server) getMDEPAssignment(ctx context.Context, _ *TenantPath) (*body[client.Assignment], error) {
	a, err := s.deps.MDEPAssignment(ctx, tenantOf(ctx))
	if err != nil {
		return nil, err
	}
	return &body[client.Assignment]{assignmentJSON(a)}, nil
}

func (s *Server) rollbackMDEP(ctx context.Context, in *struct {
	DEPPath
	Body client.RollbackRequest
}) (*body[client.Job], error) {
	return jobOut(s.life.Rollback(ctx, tenantOf(ctx), in.DEP, in.Body.Request))
}

func (s *Server) recoverDEP(ctx context.Context, in *struct {
	DEPPath
	Body client.RecoverDEPRequest
}) (*body[client.Job], error) {
	return jobOut(s.life.RecoverDEP(ctx, tenantOf(ctx), in.DEP, in.Body.To, in.Body.Request))
}

func purgeJSON(p store.Purge) client.PurgeRequest {
	out := client.PurgeRequest{Tenant: p.Tenant, DEP: p.DEP, Name: p.Name, State: p.State, Reason: p.Reason, Contact: p.Contact, RequestedBy: p.RequestedBy,
		Requested: p.Requested.UTC().Format("2006-01-02T15:04:05.000Z"), Containers: slices.Sorted(slices.Values(p.Containers)), ApprovalsRequired: p.Required, Approvals: []client.PurgeApproval{}}
	if out.Containers == nil {
		out.Containers = []string{}
	}
	for _, a := range p.Approvals {
		ap := client.PurgeApproval{Officer: a.Officer, At: a.At, SubmittedBy: a.SubmittedBy}
		if len(a.Signature) > 0 {
			kr := a.KeyRegistered
			ap.Signature, ap.PublicKey, ap.Fingerprint, ap.KeyRegistered = base64.StdEncoding.EncodeToString(a.Signature), base64.StdEncoding.EncodeToString(a.PublicKey), client.KeyFingerprint(a.PublicKey), &kr
		}
		out.Approvals = append(out.Approvals, ap)
	}
	if len(p.Certificate) > 0 {
		out.Certificate = base64.StdEncoding.EncodeToString(p.Certificate)
	}
	return out
}

func purgeOut(p store.Purge, err error) (*body[client.PurgeRequest], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.PurgeRequest]{purgeJSON(p)}, nil
}

func (s *Server) getPurge(ctx context.Context, in *DEPPath) (*body[client.PurgeRequest], error) {
	return purgeOut(s.deps.PurgeOf(ctx, tenantOf(ctx), in.DEP))
}

func (s *Server) approvePurge(ctx context.Context, in *struct {
	DEPPath
	Body client.ApprovePurgeRequest
}) (*body[client.PurgeRequest], error) {
	return purgeOut(s.life.ApprovePurge(ctx, tenantOf(ctx), in.DEP, in.Body.Officer, in.Body.Signature))
}

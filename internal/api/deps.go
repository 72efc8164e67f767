package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Well-known application IDs of the service's workloads (SPEC V4): the
// service principals a tenant registers and grants get, wrapKey and
// unwrapKey on its keys.
const (
	ExchangeApp   = "00000002-0000-0ff1-ce00-000000000000" // Office 365 Exchange Online: mailbox DEPs
	SharePointApp = "00000003-0000-0ff1-ce00-000000000000" // Office 365 SharePoint Online: site DEPs
	M365App       = "c066d759-24ae-40e7-a56f-027002b5d3e4" // M365DataAtRestEncryption: the multi-workload DEP
)

// Workload is how the service reaches customer keys as one workload's
// service principal.
type Workload struct {
	App  string // application ID
	KMS  kms.Client
	Ring *keyring.Keyring
}

// MaxMailboxDEPs per tenant (SPEC D1).
const MaxMailboxDEPs = 50

// DEP is a data encryption policy as the API shows it.
type DEP struct {
	ID          string    `json:"id" doc:"The DEP's GUID"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Kind        string    `json:"kind" enum:"mailbox,site,mdep"`
	AzureKeyIDs []string  `json:"azureKeyIDs" doc:"The two customer key URIs as given"`
	WrappedWith []string  `json:"wrappedWith" doc:"The key versions that wrap the DEP key"`
	Enabled     bool      `json:"enabled"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

type depOutput struct{ Body DEP }

type depPath struct {
	Tenant string `path:"tenant" doc:"Tenant ID or name"`
	DEP    string `path:"dep" doc:"DEP name or GUID"`
}

var depNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// depKind describes one kind of DEP the API manages.
type depKind struct {
	kind      string // store kind: mailbox | mdep
	ring      keyring.Kind
	path      string // collection path under the tenant
	noun      string // cmdlet noun: DataEncryptionPolicy | M365DataAtRestEncryptionPolicy
	tag       string
	writers   []string // roles that may create and change
	scenarios []string // onboarding that must be done first
	max       int
}

var depKinds = []depKind{
	{kind: "mailbox", ring: keyring.Mailbox, path: "dataEncryptionPolicies", noun: "DataEncryptionPolicy", tag: "mailbox DEPs",
		writers: []string{tenant.RoleGlobalAdmin, tenant.RoleExchangeAdmin}, scenarios: []string{"EXO", "MDEP"}, max: MaxMailboxDEPs},
	{kind: "mdep", ring: keyring.Mailbox, path: "m365DataAtRestEncryptionPolicies", noun: "M365DataAtRestEncryptionPolicy", tag: "multi-workload DEPs",
		writers: []string{tenant.RoleGlobalAdmin, tenant.RoleComplianceAdmin}, scenarios: []string{"MDEP"}, max: MaxMailboxDEPs},
}

func (s *Server) depRoutes() {
	for _, k := range depKinds {
		s.registerDEPRoutes(k)
	}
	s.mdepAssignmentRoutes()
}

func (s *Server) registerDEPRoutes(k depKind) {
	base := "/v1/tenants/{tenant}/" + k.path
	register(s, huma.Operation{OperationID: "new-" + strings.ToLower(k.noun), Method: http.MethodPost, Path: base,
		Summary: "New-" + k.noun + ": a DEP on two customer keys in two vaults", Tags: []string{k.tag}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Name        string   `json:"name" doc:"No spaces; letters, digits, . _ -"`
				Description string   `json:"description,omitempty" maxLength:"512"`
				AzureKeyIDs []string `json:"azureKeyIDs" doc:"Exactly two key URIs, in two different vaults"`
			}
		}) (*depOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, k.writers...)
			if err != nil {
				return nil, err
			}
			if err := s.requireOnboarded(ctx, t, k.scenarios...); err != nil {
				return nil, err
			}
			d, err := s.newDEP(ctx, t, k.kind, k.ring, in.Body.Name, in.Body.Description, in.Body.AzureKeyIDs, k.max)
			if err != nil {
				return nil, err
			}
			return &depOutput{Body: d}, nil
		})

	type depList struct {
		Body struct {
			Value []DEP `json:"value"`
		}
	}
	register(s, huma.Operation{OperationID: "get-" + strings.TrimSuffix(strings.ToLower(k.noun), "policy") + "policies", Method: http.MethodGet, Path: base,
		Summary: "Get-" + k.noun + ": all of them", Tags: []string{k.tag}, Security: bearerAuth},
		func(ctx context.Context, in *tenantPath) (*depList, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenant.Roles...)
			if err != nil {
				return nil, err
			}
			ds, err := s.cfg.Store.ListDEPs(ctx, t.ID, k.kind)
			if err != nil {
				return nil, err
			}
			out := &depList{}
			out.Body.Value = []DEP{}
			for _, d := range ds {
				out.Body.Value = append(out.Body.Value, depJSON(d))
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "get-" + strings.ToLower(k.noun), Method: http.MethodGet, Path: base + "/{dep}",
		Summary: "Get-" + k.noun + " -Identity: one, by name or GUID", Tags: []string{k.tag}, Security: bearerAuth},
		func(ctx context.Context, in *depPath) (*depOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenant.Roles...)
			if err != nil {
				return nil, err
			}
			d, err := s.dep(ctx, t, k.kind, in.DEP)
			if err != nil {
				return nil, err
			}
			return &depOutput{Body: depJSON(d)}, nil
		})

	register(s, huma.Operation{OperationID: "get-" + strings.ToLower(k.noun) + "-health", Method: http.MethodGet, Path: base + "/{dep}/health",
		Summary: "A DEP's health (R5): each customer key is asked to unwrap the DEP key now; healthy, degraded (one key fails) or unhealthy (both fail), with the cause",
		Tags:    []string{k.tag}, Security: bearerAuth},
		func(ctx context.Context, in *depPath) (*depHealthOutput, error) {
			return s.depHealth(ctx, k, in, tenant.Roles, false)
		})
	register(s, huma.Operation{OperationID: "signal-" + strings.ToLower(k.noun) + "-revocation", Method: http.MethodPost, Path: base + "/{dep}/revocation",
		Summary: "Revocation signal (R5): the tenant removed access to a customer key; the DEP key leaves the service's caches at once, then the keys are probed",
		Tags:    []string{k.tag}, Security: bearerAuth},
		func(ctx context.Context, in *depPath) (*depHealthOutput, error) {
			return s.depHealth(ctx, k, in, k.writers, true)
		})

	register(s, huma.Operation{OperationID: "set-" + strings.ToLower(k.noun), Method: http.MethodPatch, Path: base + "/{dep}",
		Summary: "Set-" + k.noun + ": enable or disable, change the description", Tags: []string{k.tag}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			DEP    string `path:"dep"`
			Body   struct {
				Enabled     *bool   `json:"enabled,omitempty"`
				Description *string `json:"description,omitempty" maxLength:"512"`
				Refresh     bool    `json:"refresh,omitempty" doc:"After rolling a customer key in its vault: re-wrap the DEP key with the current version of both keys (R1; -Refresh)"`
				Purge       bool    `json:"permanentDataPurgeRequested,omitempty" doc:"Mailbox DEPs only: request the permanent data purge (R6), after removing the workload's wrap and unwrap permissions on both keys"`
				Reason      string  `json:"permanentDataPurgeReason,omitempty"`
				Contact     string  `json:"permanentDataPurgeContact,omitempty"`
			}
		}) (*depOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, k.writers...)
			if err != nil {
				return nil, err
			}
			d, err := s.dep(ctx, t, k.kind, in.DEP)
			if err != nil {
				return nil, err
			}
			if in.Body.Purge {
				if k.kind != "mailbox" {
					return nil, problem(400, "R6.NotForMDEP", "to leave the service altogether, delete the tenant (Microsoft Entra ID tenant deletion)", mdepPurgeRefusal)
				}
				if in.Body.Enabled != nil || in.Body.Description != nil || in.Body.Refresh {
					return nil, problem(400, "R6.Alone", "request the purge on its own, with only its reason and contact", "a purge request cannot be combined with other changes")
				}
				d, err := s.requestPurge(ctx, t, d, in.Body.Reason, in.Body.Contact)
				if err != nil {
					return nil, err
				}
				return &depOutput{Body: depJSON(d)}, nil
			}
			if in.Body.Enabled == nil && in.Body.Description == nil && !in.Body.Refresh {
				return nil, problem(400, "D1.Set", "give enabled, description, refresh, or a purge request", "nothing to change")
			}
			if in.Body.Enabled != nil && *in.Body.Enabled {
				if err := s.requirePurgeFree(ctx, t, d); err != nil {
					return nil, err
				}
			}
			if in.Body.Refresh {
				w, kd, err := s.ringDEP(d)
				if err != nil {
					return nil, err
				}
				rolled, err := w.Ring.Refresh(ctx, kd, keyring.Request{Initiator: keyring.User, Reason: "refresh (key roll) by " + tenant.Caller(ctx).Subject})
				var de *keyring.DEPError
				switch {
				case errors.As(err, &de):
					return nil, problem(409, "R1.Refresh", "the DEP key must be readable with a customer key to refresh it: restore the workload's access to the keys (ck dep health "+d.Name+")", "%v", err)
				case err != nil:
					return nil, problem(409, "R1.Refresh", "both customer keys must wrap with their current version: check that the new versions are enabled, without expiry, and that the workload may use them", "%v", err)
				}
				d.Keys = rolled.MarshalKeys()
			}
			if in.Body.Enabled != nil && !*in.Body.Enabled && k.kind == "mdep" {
				if assigned, _, err := s.cfg.Store.Assignment(ctx, t.ID, "mdep"); err != nil {
					return nil, err
				} else if assigned == d.ID {
					return nil, problem(400, "D6.DisableAfterUnassign", "assign another multi-workload DEP first (ck mdep assign NAME), then disable this one", "DEP %s is assigned to the tenant and cannot be disabled", d.Name)
				}
			}
			if in.Body.Enabled != nil {
				d.Enabled = *in.Body.Enabled
			}
			if in.Body.Description != nil {
				d.Description = *in.Body.Description
			}
			d.Updated = s.cfg.Now().UTC()
			if err := s.cfg.Store.UpdateDEP(ctx, d); err != nil {
				return nil, err
			}
			s.cfg.Logger.Info("api: DEP changed", "tenant", t.ID, "dep", d.ID, "enabled", d.Enabled, "by", tenant.Caller(ctx).Subject)
			return &depOutput{Body: depJSON(d)}, nil
		})
}

// Assignment is Get-M365DataAtRestEncryptionPolicyAssignment.
type Assignment struct {
	DataEncryptionPolicy   string    `json:"dataEncryptionPolicy,omitempty" doc:"The assigned DEP's name; empty when none"`
	DataEncryptionPolicyID string    `json:"dataEncryptionPolicyID,omitempty"`
	Assigned               time.Time `json:"assigned,omitempty"`
}

func (s *Server) mdepAssignmentRoutes() {
	path := "/v1/tenants/{tenant}/m365DataAtRestEncryptionPolicyAssignment"
	register(s, huma.Operation{OperationID: "set-m365dataatrestencryptionpolicyassignment", Method: http.MethodPut, Path: path,
		Summary: "Set-M365DataAtRestEncryptionPolicyAssignment: one DEP for all multi-workload data of the tenant", Tags: []string{"multi-workload DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				DataEncryptionPolicy string `json:"dataEncryptionPolicy" doc:"An enabled multi-workload DEP's name or GUID (to roll back to service-managed keys, ask the operator: R4)"`
			}
		}) (*struct{ Body Assignment }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenant.RoleGlobalAdmin, tenant.RoleComplianceAdmin)
			if err != nil {
				return nil, err
			}
			now := s.cfg.Now().UTC()
			if in.Body.DataEncryptionPolicy == "" {
				return nil, problem(400, "R4.MDEPRollback", mdepRollbackFix, "a tenant cannot unassign its multi-workload DEP itself")
			}
			d, err := s.dep(ctx, t, "mdep", in.Body.DataEncryptionPolicy)
			if err != nil {
				return nil, err
			}
			if !d.Enabled {
				return nil, problem(400, "D2.Enabled", "enable the DEP first (ck mdep set NAME --enabled=true), or choose another", "DEP %s is disabled and cannot be assigned", d.Name)
			}
			if err := s.cfg.Store.SetAssignment(ctx, t.ID, "mdep", d.ID, now); err != nil {
				return nil, err
			}
			s.cfg.Logger.Info("api: multi-workload DEP assigned", "tenant", t.ID, "dep", d.ID, "by", tenant.Caller(ctx).Subject)
			// The workload containers move in the background; a running
			// job goes over them again and picks up this assignment.
			if _, err := s.jobs.Enqueue(ctx, t.ID, jobReassociate, "mdep", struct{}{}); err != nil && !errors.Is(err, store.ErrConflict) {
				return nil, err
			}
			return &struct{ Body Assignment }{Body: Assignment{DataEncryptionPolicy: d.Name, DataEncryptionPolicyID: d.ID, Assigned: now}}, nil
		})
	register(s, huma.Operation{OperationID: "get-m365dataatrestencryptionpolicyassignment", Method: http.MethodGet, Path: path,
		Summary: "Get-M365DataAtRestEncryptionPolicyAssignment", Tags: []string{"multi-workload DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *tenantPath) (*struct{ Body Assignment }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenant.Roles...)
			if err != nil {
				return nil, err
			}
			id, at, err := s.cfg.Store.Assignment(ctx, t.ID, "mdep")
			if err != nil || id == "" {
				return &struct{ Body Assignment }{}, err
			}
			d, err := s.dep(ctx, t, "mdep", id)
			if err != nil {
				return nil, err
			}
			return &struct{ Body Assignment }{Body: Assignment{DataEncryptionPolicy: d.Name, DataEncryptionPolicyID: d.ID, Assigned: at}}, nil
		})
}

// requireOnboarded refuses work for a scenario the tenant has not enabled
// through onboarding (O3): any of scenarios will do.
func (s *Server) requireOnboarded(ctx context.Context, t store.ServiceTenant, scenarios ...string) error {
	ons, err := s.cfg.Store.Onboarded(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, o := range ons {
		if slices.Contains(scenarios, o.Scenario) {
			return nil
		}
	}
	return problem(400, "O3.Onboarded", "onboard the tenant first: ck onboarding new --scenario "+scenarios[0]+" --mode Enable ... (after Validate and Prepare pass)",
		"tenant %s is not onboarded for %s", t.Name, strings.Join(scenarios, " or "))
}

// tenantRole loads a tenant the caller belongs to with one of roles.
func (s *Server) tenantRole(ctx context.Context, name string, roles ...string) (store.ServiceTenant, error) {
	return s.tenants.Authorize(ctx, name, roles)
}

func (s *Server) dep(ctx context.Context, t store.ServiceTenant, kind, idOrName string) (store.DEP, error) {
	d, err := s.cfg.Store.DEP(ctx, t.ID, kind, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		return d, problem(404, "D1.Exists", "check the name or GUID (ck dep list)", "tenant %s has no %s DEP %q", t.Name, kind, idOrName)
	}
	return d, err
}

func depJSON(d store.DEP) DEP {
	out := DEP{ID: d.ID, Name: d.Name, Description: d.Description, Kind: d.Kind, AzureKeyIDs: d.KeyURIs[:], Enabled: d.Enabled, Created: d.Created, Updated: d.Updated, WrappedWith: []string{}}
	var k keyring.DEP
	if k.UnmarshalKeys(d.Keys) == nil {
		out.WrappedWith = []string{k.CustomerKeys[0].KeyID, k.CustomerKeys[1].KeyID}
	}
	return out
}

// endOfTime is the only expiry Customer Key accepts (12/31/9999).
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// newDEP checks the name and both keys, creates the DEP (its key wrapped
// by both customer keys and a new availability key), proves both keys can
// unwrap it, and stores it.
func (s *Server) newDEP(ctx context.Context, t store.ServiceTenant, kind string, k keyring.Kind, name, description string, keyURIs []string, max int) (DEP, error) {
	w, ok := s.cfg.Workloads[kind]
	if !ok {
		return DEP{}, problem(503, "Service.Workload", "the operator must configure this workload", "the service is not configured to reach customer keys for %s DEPs", kind)
	}
	if !depNameRE.MatchString(name) {
		return DEP{}, problem(400, "D1.Name", "use 1-64 letters, digits, '.', '_' or '-', without spaces, e.g. Contoso-EXO-DEP-1", "DEP name %q is invalid", name)
	}
	if len(keyURIs) != 2 {
		return DEP{}, problem(400, "D1.TwoKeys", "give exactly two key URIs, one in each of two vaults (ck vault key show VAULT KEY -o json | jq -r .key.kid)", "a DEP needs two customer keys, %d given", len(keyURIs))
	}
	var vaults [2]string
	for i, uri := range keyURIs {
		v, _, _, err := kms.ParseKeyURI(uri)
		if err != nil {
			return DEP{}, problem(400, "D1.KeyURI", "give key URIs as https://{vault}/keys/{name}[/{version}]", "key %d: %v", i+1, err)
		}
		vaults[i] = v
	}
	if vaults[0] == vaults[1] {
		return DEP{}, problem(400, "D1.TwoVaults", "put the two keys in two different vaults, ideally in two regions", "both keys are in vault %s", vaults[0])
	}
	if _, err := s.cfg.Store.DEP(ctx, t.ID, kind, name); err == nil {
		return DEP{}, problem(409, "D1.UniqueName", "choose another name", "tenant %s already has a %s DEP named %q", t.Name, kind, name)
	}
	if ds, err := s.cfg.Store.ListDEPs(ctx, t.ID, kind); err != nil {
		return DEP{}, err
	} else if len(ds) >= max {
		return DEP{}, problem(400, "D1.Limit", "reuse or remove one of the existing DEPs", "tenant %s has %d %s DEPs, the most allowed", t.Name, len(ds), kind)
	}
	for i, uri := range keyURIs {
		info, err := w.KMS.Get(ctx, uri)
		if err != nil {
			return DEP{}, keyProblem(i, uri, w.App, err)
		}
		switch {
		case !info.Enabled:
			return DEP{}, problem(400, "Key.Enabled", "enable it: ck vault key update VAULT KEY --enabled=true", "key %d %s is disabled", i+1, uri)
		case info.Expires != nil && !info.Expires.Equal(endOfTime):
			return DEP{}, problem(400, "Key.NeverExpires", "remove the need for an expiry, or move it to 12/31/9999: ck vault key update VAULT KEY --expires 9999-12-31", "key %d %s expires on %s", i+1, uri, info.Expires.Format("2006-01-02"))
		case !slices.Contains(info.Ops, "wrapKey") || !slices.Contains(info.Ops, "unwrapKey"):
			return DEP{}, problem(400, "Key.Operations", "allow wrapKey and unwrapKey in the key's key_ops: ck vault key update VAULT KEY --ops wrapKey,unwrapKey,...", "key %d %s does not allow wrapKey and unwrapKey (key_ops %v)", i+1, uri, info.Ops)
		}
	}
	id := uuid.NewString()
	req := keyring.Request{Initiator: keyring.User, Reason: "New-DataEncryptionPolicy " + name + " by " + tenant.Caller(ctx).Subject}
	kd, err := w.Ring.NewDEP(ctx, t.ID, id, k, [2]string{keyURIs[0], keyURIs[1]}, req)
	if err != nil {
		var ke *kms.Error
		if errors.As(err, &ke) {
			return DEP{}, keyProblem(slices.Index(keyURIs, ke.KeyURI), ke.KeyURI, w.App, err)
		}
		return DEP{}, err
	}
	// Both keys must also unwrap: the service reads with either.
	for i, rec := range kd.CustomerKeys {
		if _, err := w.KMS.Unwrap(ctx, rec.KeyID, rec.Data); err != nil {
			w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "DEP "+id+" not created: key "+rec.KeyID+" cannot unwrap")
			return DEP{}, keyProblem(i, rec.KeyID, w.App, err)
		}
	}
	now := s.cfg.Now().UTC()
	d := store.DEP{ID: id, Tenant: t.ID, Kind: kind, Name: name, Description: description, KeyURIs: [2]string{keyURIs[0], keyURIs[1]}, Enabled: true, Keys: kd.MarshalKeys(), Created: now, Updated: now}
	if err := s.cfg.Store.CreateDEP(ctx, d, max); err != nil {
		w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "DEP "+id+" not stored: "+err.Error())
		switch {
		case errors.Is(err, store.ErrLimit):
			return DEP{}, problem(400, "D1.Limit", "reuse or remove one of the existing DEPs", "tenant %s has reached the limit of %d %s DEPs", t.Name, max, kind)
		case errors.Is(err, store.ErrConflict):
			return DEP{}, problem(409, "D1.UniqueName", "choose another name", "tenant %s already has a %s DEP named %q", t.Name, kind, name)
		}
		return DEP{}, err
	}
	s.cfg.Logger.Info("api: DEP created", "tenant", t.ID, "dep", id, "name", name, "kind", kind, "by", tenant.Caller(ctx).Subject)
	return depJSON(d), nil
}

// keyProblem explains why customer key i cannot serve, by failure class.
func keyProblem(i int, uri, app string, err error) *Problem {
	var ke *kms.Error
	if !errors.As(err, &ke) {
		return problem(500, "Internal", "retry; if it persists the operator should read the log", "key %d %s: %v", i+1, uri, err)
	}
	switch {
	case ke.Class == kms.Transient:
		return problem(503, "Key.Reachable", "check that the vault is up and reachable, then retry", "key %d %s: %s", i+1, uri, ke.Cause)
	case ke.Code == "KeyDisabled":
		return problem(400, "Key.Enabled", "enable it: ck vault key update VAULT KEY --enabled=true", "key %d %s is disabled: %s", i+1, uri, ke.Cause)
	case ke.Status == http.StatusNotFound:
		return problem(400, "Key.Exists", "check the key URI; if the key was deleted, recover it (ck vault key recover VAULT KEY)", "key %d %s: %s", i+1, uri, ke.Cause)
	case ke.Class == kms.Denied && (ke.Status == 401 || ke.Status == 403) && strings.HasPrefix(ke.Cause, "access removed"):
		return problem(400, "KeyAccessPermissions", "grant the workload's service principal "+app+" get, wrapKey and unwrapKey on the key's vault (ck vault access-policy set VAULT --spn "+app+" --key-permissions get,wrapKey,unwrapKey, or the Key Vault Crypto Service Encryption User role)", "key %d %s: %s", i+1, uri, ke.Cause)
	}
	return problem(400, "Key.Usable", "make the key usable for wrapKey and unwrapKey", "key %d %s: %s", i+1, uri, ke.Cause)
}

// DEPHealth is a DEP's health with each customer key's answer.
type DEPHealth struct {
	DEP   string         `json:"dep"`
	Name  string         `json:"name"`
	State string         `json:"state" enum:"healthy,degraded,unhealthy,unknown"`
	Cause string         `json:"cause,omitempty"`
	Since *time.Time     `json:"since,omitempty" doc:"When the DEP entered this state, as this service instance saw it"`
	Keys  []DEPKeyHealth `json:"keys"`
}

// DEPKeyHealth is one customer key's answer to the probe.
type DEPKeyHealth struct {
	KeyID string `json:"keyId"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type depHealthOutput struct{ Body DEPHealth }

// depHealth probes a DEP's customer keys (after evicting its key from the
// cache if evict) and reports its health. The operator may always ask.
func (s *Server) depHealth(ctx context.Context, k depKind, in *depPath, roles []string, evict bool) (*depHealthOutput, error) {
	t, err := s.tenants.Get(ctx, in.Tenant)
	if err != nil {
		return nil, err
	}
	if tenant.Caller(ctx).Role != tenant.RoleOperator {
		if t, err = s.tenantRole(ctx, in.Tenant, roles...); err != nil {
			return nil, err
		}
	}
	d, err := s.dep(ctx, t, k.kind, in.DEP)
	if err != nil {
		return nil, err
	}
	w, kd, err := s.ringDEP(d)
	if err != nil {
		return nil, err
	}
	reason := "DEP health check by " + tenant.Caller(ctx).Subject
	if evict {
		w.Ring.Evict(d.ID)
		reason = "revocation signal from " + tenant.Caller(ctx).Subject
	}
	h, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: reason})
	out := &depHealthOutput{Body: DEPHealth{DEP: d.ID, Name: d.Name, State: string(h.State), Cause: h.Cause}}
	if !h.Since.IsZero() {
		out.Body.Since = &h.Since
	}
	for i, ck := range kd.CustomerKeys {
		kh := DEPKeyHealth{KeyID: ck.KeyID, OK: errs[i] == nil}
		if errs[i] != nil {
			kh.Error = errs[i].Error()
		}
		out.Body.Keys = append(out.Body.Keys, kh)
	}
	return out, nil
}

package api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// route is one operation of the API, with everything about it in one
// place: who may call it (roles), how large its body may be and how long
// it may take. The authorize middleware enforces roles from here; no
// handler checks a role itself.
type route struct {
	id      string // OpenAPI operation ID (the cmdlet's name where there is one)
	method  string
	path    string
	summary string
	tag     string
	// roles may call it; nil: no token needed. On a path with {tenant},
	// a tenant admin reaches only its own tenant (others are not found).
	roles   []string
	status  int           // success status; 200 if 0
	maxBody int64         // request body limit; 1 MiB if 0
	timeout time.Duration // 2 min if 0
	action  string        // what a refused caller may not do, for the refusal's words
	params  []string      // the path's parameters, checked by checkParams (add fills it in)
}

// Who may call what.
var (
	operator     = []string{tenant.RoleOperator}
	everyone     = append([]string{tenant.RoleOperator}, tenant.Roles...)
	tenantAdmins = tenant.Roles
	exchange     = []string{tenant.RoleGlobalAdmin, tenant.RoleExchangeAdmin}
	sharepoint   = []string{tenant.RoleGlobalAdmin, tenant.RoleSharePointAdmin}
	compliance   = []string{tenant.RoleGlobalAdmin, tenant.RoleComplianceAdmin}
	globalAdmin  = []string{tenant.RoleGlobalAdmin}
	tokenIssuers = []string{tenant.RoleOperator, tenant.RoleGlobalAdmin} // the operator: only a tenant's first global admin (T5)
	requesters   = []string{tenant.RoleOperator, tenant.RoleGlobalAdmin} // access requests: the operator asks, a global admin grants
	auditReaders = []string{tenant.RoleOperator, tenant.RoleGlobalAdmin, tenant.RoleComplianceAdmin}
	// mdep admins are the compliance roles (New-M365DataAtRestEncryptionPolicy).
	mdepAdmins = compliance
)

const (
	// streamWait bounds a streamed read or write of content; each read
	// and write of its body has its own idle deadline (content.go).
	streamWait  = 24 * time.Hour
	defaultWait = 2 * time.Minute
	// indexWait: a search catches the index up first, and a rebuild reads
	// every item of the mailbox; both may take long on a large one.
	indexWait = 30 * time.Minute
)

// routes is the API: every operation, in one table.
func (s *Server) routes() {
	const t = "/v1/tenants/{tenant}"
	add(s, route{id: "health", method: "GET", path: "/healthz", summary: "Liveness", tag: "service"}, s.health)
	add(s, route{id: "ready", method: "GET", path: "/readyz", summary: "Readiness: the database answers a query and the keystore its current version; else 503 naming what is down", tag: "service", timeout: 10 * time.Second}, s.ready)
	add(s, route{id: "metrics", method: "GET", path: "/metrics", summary: "Prometheus metrics of this node: keyring, HTTP, jobs, vault calls, events (operator)", tag: "service", roles: operator}, s.metrics)
	add(s, route{id: "whoami", method: "GET", path: "/v1/me", summary: "Who the token belongs to", tag: "service", roles: everyone}, s.whoami)
	add(s, route{id: "verify-shred-certificate", method: "POST", path: "/v1/service/certificates/verify", summary: "Verify a crypto-shred certificate file (the body, as downloaded) against the service's signing key, with every officer's signature over the purge it states; valid false says why (no token needed; offline: ck dep purge verify FILE)", tag: "service", maxBody: 1 << 20}, s.verifyCertificate)
	add(s, route{id: "get-service-signing-key", method: "GET", path: "/v1/service/signing-key", summary: "The service's Ed25519 public key, which verifies crypto-shred certificates (no token needed)", tag: "service"}, s.signingKey)

	// Tenants, tokens, plans and licences.
	add(s, route{id: "create-tenant", method: "POST", path: "/v1/tenants", summary: "Create a tenant (operator)", tag: "tenants", roles: operator, status: 201}, s.createTenant)
	add(s, route{id: "list-tenants", method: "GET", path: "/v1/tenants", summary: "List tenants: all for the operator, your own otherwise", tag: "tenants", roles: everyone}, s.listTenants)
	add(s, route{id: "get-tenant", method: "GET", path: t, summary: "Get a tenant", tag: "tenants", roles: everyone}, s.getTenant)
	add(s, route{id: "create-token", method: "POST", path: t + "/tokens", summary: "Issue an API token for a tenant's admin: the tenant's global admin issues every kind; the operator only the tenant's first global admin's, while it never had one (T5)", tag: "tenants", roles: tokenIssuers, status: 201, action: "issue tokens"}, s.createToken)
	add(s, route{id: "list-tokens", method: "GET", path: t + "/tokens", summary: "The tenant's tokens, revoked and expired ones included: ID, subject, role, created, expires, revoked, last used; never a secret (T6)", tag: "tenants", roles: globalAdmin}, s.listTokens)
	add(s, route{id: "revoke-token", method: "POST", path: t + "/tokens/{token}/revoke", summary: "Revoke one of the tenant's tokens: it is refused from the next request on (T6)", tag: "tenants", roles: globalAdmin}, s.revokeToken)

	// Access requests: the tenant's consent to an operator action on its data (T5).
	add(s, route{id: "new-access-request", method: "POST", path: t + "/accessRequests", summary: "Ask the tenant for an operator action on its data (operator: Pending until a global admin decides), or grant one at once (the tenant's global admin, e.g. the recovery of a DEP whose keys it lost)", tag: "access requests", roles: requesters, status: 201}, s.newAccessRequest)
	add(s, route{id: "list-access-requests", method: "GET", path: t + "/accessRequests", summary: "The tenant's access requests, newest first", tag: "access requests", roles: requesters}, s.listAccessRequests)
	add(s, route{id: "get-access-request", method: "GET", path: t + "/accessRequests/{request}", summary: "One access request", tag: "access requests", roles: requesters}, s.getAccessRequest)
	add(s, route{id: "approve-access-request", method: "POST", path: t + "/accessRequests/{request}/approve", summary: "Approve a pending access request: the operator may then run that action, on that DEP and target, once, until it expires", tag: "access requests", roles: globalAdmin}, s.approveAccessRequest)
	add(s, route{id: "deny-access-request", method: "POST", path: t + "/accessRequests/{request}/deny", summary: "Deny a pending access request", tag: "access requests", roles: globalAdmin}, s.denyAccessRequest)
	add(s, route{id: "set-plans", method: "PUT", path: t + "/plans", summary: "Set a tenant's service plans (operator); Customer Key needs one of " + strings.Join(onboarding.CustomerKeyPlans, ", "), tag: "tenants", roles: operator}, s.setPlans)
	add(s, route{id: "set-licence", method: "PUT", path: t + "/licences/{user}", summary: "Give a user a licence (plan); empty removes it. Only users licensed for Customer Key get customer DEPs (O1)", tag: "tenants", roles: tokenIssuers, action: "assign licences"}, s.setLicence)
	add(s, route{id: "get-licence", method: "GET", path: t + "/licences/{user}", summary: "A user's licence", tag: "tenants", roles: tenantAdmins}, s.getLicence)

	// Onboarding.
	add(s, route{id: "new-customerkeyonboardingrequest", method: "POST", path: t + "/onboardingRequests", summary: "New-CustomerKeyOnboardingRequest: validate, prepare or enable a scenario", tag: "onboarding", roles: globalAdmin, status: 201}, s.newOnboardingRequest)
	add(s, route{id: "get-customerkeyonboardingrequests", method: "GET", path: t + "/onboardingRequests", summary: "Get-CustomerKeyOnboardingRequest: the tenant's requests", tag: "onboarding", roles: tenantAdmins}, s.listOnboardingRequests)
	add(s, route{id: "get-customerkeyonboardingrequest", method: "GET", path: t + "/onboardingRequests/{id}", summary: "Get-CustomerKeyOnboardingRequest -RequestID: one request with every rule", tag: "onboarding", roles: tenantAdmins}, s.getOnboardingRequest)

	// Mailbox DEPs and multi-workload DEPs: the same operations.
	for _, k := range depKinds {
		s.depRoutes(k)
	}
	add(s, route{id: "set-m365dataatrestencryptionpolicyassignment", method: "PUT", path: t + "/m365DataAtRestEncryptionPolicyAssignment", summary: "Set-M365DataAtRestEncryptionPolicyAssignment: one DEP for all multi-workload data of the tenant", tag: "multi-workload DEPs", roles: mdepAdmins}, s.assignMDEP)
	add(s, route{id: "get-m365dataatrestencryptionpolicyassignment", method: "GET", path: t + "/m365DataAtRestEncryptionPolicyAssignment", summary: "Get-M365DataAtRestEncryptionPolicyAssignment", tag: "multi-workload DEPs", roles: tenantAdmins}, s.getMDEPAssignment)
	add(s, route{id: "rollback-m365dataatrestencryptionpolicy", method: "POST", path: t + "/m365DataAtRestEncryptionPolicies/{dep}/rollback", summary: "Roll back from a multi-workload DEP to service-managed keys (operator, with an access request the tenant approved for it, used once): unassign it and re-wrap every workload container in the background", tag: "multi-workload DEPs", roles: operator, status: 202}, s.rollbackMDEP)
	add(s, route{id: "recover-dataencryptionpolicy", method: "POST", path: t + "/dataEncryptionPolicies/{dep}/recover", summary: "Key-loss recovery (operator, with an access request the tenant approved for this DEP and target, used once): move every mailbox of a DEP whose customer keys are both lost to another DEP, through the availability key, in the background", tag: "mailbox DEPs", roles: operator, status: 202}, s.recoverDEP)
	add(s, route{id: "get-dataencryptionpolicy-purge", method: "GET", path: t + "/dataEncryptionPolicies/{dep}/purge", summary: "A mailbox DEP's purge request: state, approvals and, once purged, the crypto-shred certificate (also after the DEP is deleted)", tag: "mailbox DEPs", roles: everyone}, s.getPurge)
	add(s, route{id: "approve-dataencryptionpolicy-purge", method: "POST", path: t + "/dataEncryptionPolicies/{dep}/purge/approve", summary: "An authorised officer's approval of the purge: the officer's Ed25519 signature over the canonical purge request (docs/format.md), checked against the officer's registered key; the token only carries it (T7). With enough approvals the purge runs in the background", tag: "mailbox DEPs", roles: tenantAdmins}, s.approvePurge)
	add(s, route{id: "list-officers", method: "GET", path: t + "/officers", summary: "The authorised officers designated at onboarding (O7), each with the fingerprint of the key that signs their purge approvals (T7)", tag: "onboarding", roles: tenantAdmins}, s.listOfficers)
	add(s, route{id: "register-officer-key", method: "PUT", path: t + "/officers/{officer}/key", summary: "Register or replace an authorised officer's Ed25519 public key (the tenant's global admin; audited; refused while a purge request is open). A key signs approvals only once the service operator confirmed it", tag: "onboarding", roles: globalAdmin, action: "register officer keys"}, s.registerOfficerKey)
	add(s, route{id: "confirm-officer-key", method: "POST", path: t + "/officers/{officer}/key/confirm", summary: "The service operator confirms an officer's registered key by the fingerprint the officer gave out of band (T7: the global admin who registers keys cannot sign in an officer's name alone; audited; allowed under an open purge request, whose approvals still take only a key registered before it)", tag: "onboarding", roles: operator, action: "confirm officer keys"}, s.confirmOfficerKey)

	// Mailboxes and their items.
	add(s, route{id: "new-mailbox", method: "POST", path: t + "/mailboxes", summary: "Create a user mailbox or a mail user, on a DEP or on service-managed keys", tag: "mailboxes", roles: exchange, status: 201}, s.newMailbox)
	add(s, route{id: "set-mailbox", method: "PATCH", path: t + "/mailboxes/{mailbox}", summary: "Set-Mailbox / Set-MailUser -DataEncryptionPolicy: assign a DEP, or none for service-managed keys; the mailbox key is re-wrapped in the background (202 with the job), and the statistics show the new DEP once it is done", tag: "mailboxes", roles: exchange}, s.setMailbox)
	add(s, route{id: "get-mailboxstatistics", method: "GET", path: t + "/mailboxes/{mailbox}/statistics", summary: "Get-MailboxStatistics: IsEncrypted and DataEncryptionPolicyID", tag: "mailboxes", roles: exchange}, s.mailboxStatistics)
	add(s, route{id: "put-item", method: "PUT", path: t + "/mailboxes/{mailbox}/items/{item}", summary: "Write an item (a new version); it is sealed under a fresh item key before it is stored", tag: "mailbox data", roles: exchange, timeout: streamWait}, s.putItem)
	add(s, route{id: "get-item", method: "GET", path: t + "/mailboxes/{mailbox}/items/{item}", summary: "Read an item: unwrapped through the keyring as a user-initiated request", tag: "mailbox data", roles: exchange, timeout: streamWait}, s.getItem)
	add(s, route{id: "list-items", method: "GET", path: t + "/mailboxes/{mailbox}/items", summary: "List a mailbox's items (IDs, kinds, versions, sizes; no content)", tag: "mailbox data", roles: exchange}, s.listItems)
	add(s, route{id: "delete-item", method: "DELETE", path: t + "/mailboxes/{mailbox}/items/{item}", summary: "Delete an item", tag: "mailbox data", roles: exchange, status: 204}, s.deleteItem)
	add(s, route{id: "search-mailbox", method: "GET", path: t + "/mailboxes/{mailbox}/search", summary: "Search a mailbox's items by word (reads the service-built index as the user)", tag: "mailbox data", roles: exchange, timeout: indexWait}, s.searchMailbox)
	add(s, route{id: "reindex-mailbox", method: "POST", path: t + "/mailboxes/{mailbox}/search/reindex", summary: "Rebuild a mailbox's search index: taken as a read is (K3: refused when a customer key refuses; in an outage the availability key serves it), then built as the service's work", tag: "mailbox data", roles: exchange, timeout: indexWait}, s.reindexMailbox)

	// Multi-workload records.
	const rec = t + "/records/{workload}"
	add(s, route{id: "put-record", method: "PUT", path: rec + "/{record}", summary: "Write a multi-workload record (sealed under the tenant's multi-workload DEP)", tag: "multi-workload data", roles: compliance, timeout: streamWait}, s.putRecord)
	add(s, route{id: "get-record", method: "GET", path: rec + "/{record}", summary: "Read a multi-workload record", tag: "multi-workload data", roles: compliance, timeout: streamWait}, s.getRecord)
	add(s, route{id: "list-records", method: "GET", path: rec, summary: "List a workload's records (no content)", tag: "multi-workload data", roles: compliance}, s.listRecords)
	add(s, route{id: "delete-record", method: "DELETE", path: rec + "/{record}", summary: "Delete a multi-workload record", tag: "multi-workload data", roles: compliance, status: 204}, s.deleteRecord)

	// Site DEPs per geo, sites and their files.
	const spo = t + "/spoDataEncryptionPolicies"
	add(s, route{id: "register-spodataencryptionpolicy", method: "POST", path: spo, summary: "Register-SPODataEncryptionPolicy: a geo's TIK on a primary and a secondary key; wraps the geo's sites in the background", tag: "site DEPs", roles: sharepoint, status: 202}, s.registerGeo)
	add(s, route{id: "update-spodataencryptionpolicy", method: "PATCH", path: spo + "/{geo}", summary: "Update-SPODataEncryptionPolicy: roll the geo's primary or secondary key to a new vault, key or version; the geo is Rolling while every site is re-wrapped in the background", tag: "site DEPs", roles: sharepoint, status: 202}, s.updateGeo)
	add(s, route{id: "recover-spodataencryptionpolicy", method: "POST", path: spo + "/{geo}/recover", summary: "Key-loss recovery of a geo (operator, with an access request the tenant approved for this geo and these keys, used once): both keys of the geo's site DEP are lost; every site moves to a new site DEP on new keys, through the availability key", tag: "site DEPs", roles: operator, status: 202}, s.recoverGeo)
	add(s, route{id: "get-spodataencryptionpolicy-health", method: "GET", path: spo + "/{geo}/health", summary: "A geo's health (R5): each customer key of each of its site DEPs is asked to unwrap the TIK now, with the revocation state", tag: "site DEPs", roles: everyone}, s.geoHealth)
	add(s, route{id: "signal-spodataencryptionpolicy-revocation", method: "POST", path: spo + "/{geo}/revocation", summary: "Revocation signal for a geo (T1): the tenant removed access to its keys; its site DEPs are revoked and their keys leave the caches at once, then the keys are probed. Sites never fall back to the availability key; a customer key that unwraps again clears the revocation", tag: "site DEPs", roles: append([]string{tenant.RoleOperator}, sharepoint...)}, s.signalGeoRevocation)
	add(s, route{id: "list-dep-health", method: "GET", path: t + "/health", summary: "Every customer DEP of the tenant (mailbox, multi-workload, site) with its health as the service last saw it and its revocation state, without asking any vault (the console's overview): unknown until a DEP's key is used or checked, and no key's own answer (keys is empty). A DEP's own /health route asks its keys now", tag: "service", roles: everyone}, s.depHealths)
	add(s, route{id: "get-spodataencryptionpolicy", method: "GET", path: spo, summary: "Get-SPODataEncryptionPolicy: each geo's key URIs, state and % of sites done", tag: "site DEPs", roles: tenantAdmins}, s.getGeos)
	add(s, route{id: "new-site", method: "POST", path: t + "/sites", summary: "Create a site in a geo (under the geo's TIK when registered, else service-managed keys)", tag: "sites", roles: sharepoint, status: 201}, s.newSite)
	const file = t + "/sites/{site}/files"
	add(s, route{id: "put-file", method: "PUT", path: file + "/{file}", summary: "Write a new version of a file", tag: "site data", roles: sharepoint, timeout: streamWait}, s.putFile)
	add(s, route{id: "get-file", method: "GET", path: file + "/{file}", summary: "Read a file: the latest version, or ?version=N; a Range is answered 206 from the chunks that hold it", tag: "site data", roles: sharepoint, timeout: streamWait}, s.getFile)
	add(s, route{id: "list-files", method: "GET", path: file, summary: "List a site's files with their versions (no content)", tag: "site data", roles: sharepoint}, s.listFiles)
	const upload = file + "/{file}/uploads"
	add(s, route{id: "new-file-upload", method: "POST", path: upload, summary: "Begin a resumable upload of a file of more than 64 KiB: send its parts with put-file-upload-part", tag: "site data", roles: sharepoint, status: 201}, s.newUpload)
	add(s, route{id: "get-file-upload", method: "GET", path: upload + "/{upload}", summary: "An upload in progress: where the next part starts", tag: "site data", roles: sharepoint}, s.getUpload)
	add(s, route{id: "put-file-upload-part", method: "PUT", path: upload + "/{upload}", summary: "Send a part of an upload from ?offset= (where it stands): whole 64 KiB chunks, or the rest of the file, which commits it", tag: "site data", roles: sharepoint, timeout: streamWait}, s.putUploadPart)
	add(s, route{id: "cancel-file-upload", method: "DELETE", path: upload + "/{upload}", summary: "Cancel an upload and delete what it stored", tag: "site data", roles: sharepoint, status: 204}, s.cancelUpload)
	add(s, route{id: "delete-file", method: "DELETE", path: file + "/{file}", summary: "Delete a file with all its versions", tag: "site data", roles: sharepoint, status: 204}, s.deleteFile)

	// Jobs and audit.
	add(s, route{id: "list-jobs", method: "GET", path: t + "/jobs", summary: "The tenant's background jobs (re-wraps, rolls, recoveries, purges), newest first, with progress", tag: "jobs", roles: everyone}, s.listJobs)
	add(s, route{id: "get-job", method: "GET", path: t + "/jobs/{job}", summary: "One background job, with its progress", tag: "jobs", roles: everyone}, s.getJob)
	add(s, route{id: "get-audit-head", method: "GET", path: t + "/audit/head", summary: "The service's signed statement of where the tenant's audit chain ends now: keep it, and a later copy cut short is caught (ck audit verify --head)", tag: "audit", roles: auditReaders}, s.auditHead)
	add(s, route{id: "get-audit", method: "GET", path: t + "/audit", summary: "Read a tenant's audit log: key accesses and admin actions, hash-chained (global or compliance admin, or the operator)", tag: "audit", roles: auditReaders}, s.readAudit)
}

var bearerAuth = []map[string][]string{{"bearer": {}}}

// add registers a route's handler; its domain errors become problems.
func add[I, O any](s *Server, r route, h func(context.Context, *I) (*O, error)) {
	op := huma.Operation{OperationID: r.id, Method: r.method, Path: r.path, Summary: r.summary, Tags: []string{r.tag},
		DefaultStatus: r.status, MaxBodyBytes: r.maxBody, Metadata: map[string]any{"route": r}}
	if r.roles != nil {
		op.Security = bearerAuth
	}
	streamDoc(&op, reflect.TypeFor[I](), reflect.TypeFor[O]())
	timeout := r.timeout
	if timeout == 0 {
		timeout = defaultWait
	}
	r.params = pathParams(r.path)
	op.Metadata["route"] = r
	s.table = append(s.table, r)
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := h(ctx, in)
		if err != nil {
			p := s.problemOf(ctx, err)
			if he, ok := err.(huma.HeadersError); ok { // e.g. a 416's Content-Range
				return nil, huma.ErrorWithHeaders(p, he.GetHeaders())
			}
			if after, ok := retryAfter[p.Rule]; ok {
				h := http.Header{"Retry-After": {after}}
				if closesUnread(ctx) { // a refused write: its body is not read
					h.Set("Connection", "close")
				}
				return nil, huma.ErrorWithHeaders(p, h)
			}
			return nil, p
		}
		return out, nil
	})
}

// retryAfter is the Retry-After (seconds) of the refusals that last only
// a moment: a node's or a tenant's transfers all taken.
var retryAfter = map[string]string{client.RuleContentStreams: "1", client.RuleContentStreamsNode: "1"}

// streamDoc describes what huma cannot see of a streamed operation (its
// input has no Body field, its output is a StreamResponse): the request's
// binary body, and the content answered whole (200) or in part (206).
func streamDoc(op *huma.Operation, in, out reflect.Type) {
	binary := map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}
	if in.Kind() == reflect.Struct && (hasField(in, "BodyIn") || hasField(in, "StreamIn")) {
		op.RequestBody = &huma.RequestBody{Required: true, Description: "The content, streamed", Content: binary}
	}
	if out == reflect.TypeFor[huma.StreamResponse]() {
		op.Responses = map[string]*huma.Response{
			"200":     {Description: "The content (Content-Length, Repr-Digest: its SHA-256, ETag: its version)", Content: binary},
			"206":     {Description: "The range asked for (Range; Content-Range says where it lies)", Content: binary},
			"default": {Description: "Error", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}}}},
		}
	}
}

func hasField(t reflect.Type, name string) bool {
	f, ok := t.FieldByName(name)
	return ok && f.Anonymous
}

// Route is an operation of the route table as others may read it (the
// tests that try every route with every role).
type Route struct {
	ID, Method, Path string
	Roles            []string // nil: no token needed
}

// Routes lists every operation of the route table.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.table))
	for i, r := range s.table {
		out[i] = Route{ID: r.id, Method: r.method, Path: r.path, Roles: r.roles}
	}
	return out
}

type tenantKey struct{}

// tenantOf is the tenant a route's {tenant} names, as authorize found it.
func tenantOf(ctx context.Context) store.ServiceTenant {
	t, _ := ctx.Value(tenantKey{}).(store.ServiceTenant)
	return t
}

// authorize enforces a route's roles: the caller must hold one, and on a
// tenant's path the tenant must be one the caller may see (its own; any
// for the operator). It runs after authenticate.
func (s *Server) authorize(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil {
		next(ctx)
		return
	}
	r, ok := op.Metadata["route"].(route)
	if !ok && len(op.Security) > 0 { // registered outside the table: refuse, never serve unchecked
		s.writeProblem(ctx, s.problemOf(ctx.Context(), errors.New("api: operation "+op.OperationID+" is not in the route table")))
		return
	}
	if !ok || r.roles == nil {
		next(ctx)
		return
	}
	c := ctx.Context()
	if name := ctx.Param("tenant"); name != "" {
		t, err := s.tenants.Get(c, name)
		if err != nil {
			s.writeProblem(ctx, s.problemOf(c, err))
			return
		}
		c = context.WithValue(c, tenantKey{}, t)
	}
	if err := tenant.RequireRole(c, r.roles); err != nil {
		if e, ok := rule.As(err); ok && r.action != "" {
			err = rule.New(e.Kind, e.Rule, e.Fix, "role %s may not %s for tenant %s", tenant.Caller(c).Role, r.action, tenantOf(c).Name)
		}
		s.writeProblem(ctx, s.problemOf(c, err))
		return
	}
	next(huma.WithContext(ctx, c))
}

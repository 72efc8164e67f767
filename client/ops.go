package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Every operation of the service API, one method each. tenant is always
// a tenant's ID or name; a DEP is named by its name or GUID.

// ---- the service ----

// Health is the service's liveness answer (no token needed).
func (c *Client) Health(ctx context.Context) (Health, error) {
	return call[Health](ctx, c, http.MethodGet, "/healthz", nil)
}

// Me tells whose token the client acts with.
func (c *Client) Me(ctx context.Context) (Me, error) {
	return call[Me](ctx, c, http.MethodGet, servicePath("me"), nil)
}

// SigningKey is the service's public key, which verifies crypto-shred
// certificates and audit heads (no token needed).
func (c *Client) SigningKey(ctx context.Context) (SigningKey, error) {
	return call[SigningKey](ctx, c, http.MethodGet, servicePath("service", "signing-key"), nil)
}

// VerifyCertificate has the service check a crypto-shred certificate file
// against its signing key and the officers' signatures in it; a file that
// does not verify is an answer (Valid false, and why), not an error.
func (c *Client) VerifyCertificate(ctx context.Context, file []byte) (CertificateCheck, error) {
	var f CertificateFile
	if err := json.Unmarshal(file, &f); err != nil {
		return CertificateCheck{Error: "not a certificate file: " + err.Error()}, nil
	}
	return call[CertificateCheck](ctx, c, http.MethodPost, servicePath("service", "certificates", "verify"), f)
}

// ---- tenants, tokens, plans, licences ----

// CreateTenant creates a tenant (operator).
func (c *Client) CreateTenant(ctx context.Context, req CreateTenantRequest) (Tenant, error) {
	return call[Tenant](ctx, c, http.MethodPost, servicePath("tenants"), req)
}

// Tenants lists the tenants: all of them for the operator, the caller's
// own otherwise.
func (c *Client) Tenants(ctx context.Context) ([]Tenant, error) {
	return All(ctx, Page{}, c.TenantsPage)
}

// TenantsPage is one page of Tenants, by name.
func (c *Client) TenantsPage(ctx context.Context, p Page) (List[Tenant], error) {
	return listPage[Tenant](ctx, c, servicePath("tenants"), p)
}

// Tenant reads a tenant.
func (c *Client) Tenant(ctx context.Context, tenant string) (Tenant, error) {
	return call[Tenant](ctx, c, http.MethodGet, tenantPath(tenant), nil)
}

// CreateToken issues an API token for one of a tenant's admins: the
// tenant's global admin issues every kind; the operator only the tenant's
// first global admin's (SPEC T5).
func (c *Client) CreateToken(ctx context.Context, tenant string, req CreateTokenRequest) (Token, error) {
	return call[Token](ctx, c, http.MethodPost, tenantPath(tenant, "tokens"), req)
}

// Tokens lists a tenant's tokens, revoked and expired ones included,
// without their secrets (the tenant's global admin).
func (c *Client) Tokens(ctx context.Context, tenant string) ([]TokenInfo, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[TokenInfo], error) { return c.TokensPage(ctx, tenant, p) })
}

// TokensPage is one page of Tokens, oldest first.
func (c *Client) TokensPage(ctx context.Context, tenant string, p Page) (List[TokenInfo], error) {
	return listPage[TokenInfo](ctx, c, tenantPath(tenant, "tokens"), p)
}

// RevokeToken revokes one of a tenant's tokens by its ID (the tenant's
// global admin): it stops working on the next request.
func (c *Client) RevokeToken(ctx context.Context, tenant, id string) (TokenInfo, error) {
	return call[TokenInfo](ctx, c, http.MethodPost, tenantPath(tenant, "tokens", id, "revoke"), nil)
}

// ---- access requests (T5) ----

// NewAccessRequest asks the tenant for an operator action on its data
// (operator: Pending until a global admin decides), or grants one at once
// (the tenant's global admin).
func (c *Client) NewAccessRequest(ctx context.Context, tenant string, req NewAccessRequest) (AccessRequest, error) {
	return call[AccessRequest](ctx, c, http.MethodPost, tenantPath(tenant, "accessRequests"), req)
}

// AccessRequests lists a tenant's access requests, newest first.
func (c *Client) AccessRequests(ctx context.Context, tenant string) ([]AccessRequest, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[AccessRequest], error) {
		return c.AccessRequestsPage(ctx, tenant, p)
	})
}

// AccessRequestsPage is one page of AccessRequests, newest first.
func (c *Client) AccessRequestsPage(ctx context.Context, tenant string, p Page) (List[AccessRequest], error) {
	return listPage[AccessRequest](ctx, c, tenantPath(tenant, "accessRequests"), p)
}

// AccessRequest reads one access request.
func (c *Client) AccessRequest(ctx context.Context, tenant, id string) (AccessRequest, error) {
	return call[AccessRequest](ctx, c, http.MethodGet, tenantPath(tenant, "accessRequests", id), nil)
}

// ApproveAccessRequest approves a pending access request (the tenant's
// global admin).
func (c *Client) ApproveAccessRequest(ctx context.Context, tenant, id string) (AccessRequest, error) {
	return call[AccessRequest](ctx, c, http.MethodPost, tenantPath(tenant, "accessRequests", id, "approve"), nil)
}

// DenyAccessRequest denies a pending access request (the tenant's global
// admin).
func (c *Client) DenyAccessRequest(ctx context.Context, tenant, id string) (AccessRequest, error) {
	return call[AccessRequest](ctx, c, http.MethodPost, tenantPath(tenant, "accessRequests", id, "deny"), nil)
}

// SetPlans sets a tenant's service plans (operator); E5 includes
// Customer Key.
func (c *Client) SetPlans(ctx context.Context, tenant string, plans []string) (TenantPlans, error) {
	return call[TenantPlans](ctx, c, http.MethodPut, tenantPath(tenant, "plans"), SetPlansRequest{Plans: plans})
}

// SetLicence gives a user a licence (plan); "" removes it. Only users
// licensed for Customer Key get customer DEPs (SPEC O1).
func (c *Client) SetLicence(ctx context.Context, tenant, user, plan string) (Licence, error) {
	return call[Licence](ctx, c, http.MethodPut, tenantPath(tenant, "licences", user), SetLicenceRequest{Plan: plan})
}

// Licence reads a user's licence.
func (c *Client) Licence(ctx context.Context, tenant, user string) (Licence, error) {
	return call[Licence](ctx, c, http.MethodGet, tenantPath(tenant, "licences", user), nil)
}

// ---- onboarding ----

// NewOnboardingRequest is New-CustomerKeyOnboardingRequest: it validates,
// prepares or enables a scenario and reports every rule.
func (c *Client) NewOnboardingRequest(ctx context.Context, tenant string, req OnboardingRequest) (OnboardingResult, error) {
	return call[OnboardingResult](ctx, c, http.MethodPost, tenantPath(tenant, "onboardingRequests"), req)
}

// OnboardingResults is Get-CustomerKeyOnboardingRequest: every request of
// the tenant.
func (c *Client) OnboardingResults(ctx context.Context, tenant string) ([]OnboardingResult, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[OnboardingResult], error) {
		return c.OnboardingResultsPage(ctx, tenant, p)
	})
}

// OnboardingResultsPage is one page of OnboardingResults, oldest first.
func (c *Client) OnboardingResultsPage(ctx context.Context, tenant string, p Page) (List[OnboardingResult], error) {
	return listPage[OnboardingResult](ctx, c, tenantPath(tenant, "onboardingRequests"), p)
}

// OnboardingResult is Get-CustomerKeyOnboardingRequest -RequestID: one
// request with every rule.
func (c *Client) OnboardingResult(ctx context.Context, tenant, id string) (OnboardingResult, error) {
	return call[OnboardingResult](ctx, c, http.MethodGet, tenantPath(tenant, "onboardingRequests", id), nil)
}

// ---- DEPs ----

// NewDEP is New-DataEncryptionPolicy (or New-M365DataAtRestEncryptionPolicy):
// a DEP on two customer keys in two vaults.
func (c *Client) NewDEP(ctx context.Context, tenant string, kind DEPKind, req NewDEPRequest) (DEP, error) {
	p, err := depPath(tenant, kind)
	if err != nil {
		return DEP{}, err
	}
	return call[DEP](ctx, c, http.MethodPost, p, req)
}

// DEPs is Get-DataEncryptionPolicy (or Get-M365DataAtRestEncryptionPolicy)
// without identity: all of the kind.
func (c *Client) DEPs(ctx context.Context, tenant string, kind DEPKind) ([]DEP, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[DEP], error) { return c.DEPsPage(ctx, tenant, kind, p) })
}

// DEPsPage is one page of DEPs, by name.
func (c *Client) DEPsPage(ctx context.Context, tenant string, kind DEPKind, p Page) (List[DEP], error) {
	path, err := depPath(tenant, kind)
	if err != nil {
		return List[DEP]{}, err
	}
	return listPage[DEP](ctx, c, path, p)
}

// DEP is Get-DataEncryptionPolicy (or Get-M365DataAtRestEncryptionPolicy)
// -Identity: one DEP by name or GUID.
func (c *Client) DEP(ctx context.Context, tenant string, kind DEPKind, dep string) (DEP, error) {
	p, err := depPath(tenant, kind, dep)
	if err != nil {
		return DEP{}, err
	}
	return call[DEP](ctx, c, http.MethodGet, p, nil)
}

// SetDEP is Set-DataEncryptionPolicy (or Set-M365DataAtRestEncryptionPolicy):
// enable or disable, describe, refresh after a key roll, or request the
// purge (mailbox DEPs).
func (c *Client) SetDEP(ctx context.Context, tenant string, kind DEPKind, dep string, req SetDEPRequest) (DEP, error) {
	p, err := depPath(tenant, kind, dep)
	if err != nil {
		return DEP{}, err
	}
	return call[DEP](ctx, c, http.MethodPatch, p, req)
}

// DEPHealths lists every customer DEP of a tenant with its health as the
// service last saw it, without asking any vault (DEPHealth asks now).
func (c *Client) DEPHealths(ctx context.Context, tenant string) ([]DEPHealth, error) {
	l, err := call[DEPHealths](ctx, c, http.MethodGet, tenantPath(tenant, "health"), nil)
	return l.Value, err
}

// DEPHealth asks each customer key of a DEP to unwrap its key now.
func (c *Client) DEPHealth(ctx context.Context, tenant string, kind DEPKind, dep string) (DEPHealth, error) {
	p, err := depPath(tenant, kind, dep, "health")
	if err != nil {
		return DEPHealth{}, err
	}
	return call[DEPHealth](ctx, c, http.MethodGet, p, nil)
}

// SignalRevocation tells the service that access to a DEP's keys was
// removed: the DEP key leaves its caches at once, then the keys are
// probed.
func (c *Client) SignalRevocation(ctx context.Context, tenant string, kind DEPKind, dep string) (DEPHealth, error) {
	p, err := depPath(tenant, kind, dep, "revocation")
	if err != nil {
		return DEPHealth{}, err
	}
	return call[DEPHealth](ctx, c, http.MethodPost, p, nil)
}

// RecoverDEP moves every mailbox of a mailbox DEP whose two customer keys
// are lost to another DEP, through the availability key (operator, with
// an access request the tenant approved). It returns the job that does it.
func (c *Client) RecoverDEP(ctx context.Context, tenant, dep string, req RecoverDEPRequest) (Job, error) {
	p, _ := depPath(tenant, MailboxDEPs, dep, "recover")
	return call[Job](ctx, c, http.MethodPost, p, req)
}

// RollbackMDEP rolls a tenant back from its multi-workload DEP to
// service-managed keys (operator, with an access request the tenant
// approved). It returns the job that does it.
func (c *Client) RollbackMDEP(ctx context.Context, tenant, dep string, req RollbackRequest) (Job, error) {
	p, _ := depPath(tenant, MultiWorkloadDEPs, dep, "rollback")
	return call[Job](ctx, c, http.MethodPost, p, req)
}

// AssignMDEP is Set-M365DataAtRestEncryptionPolicyAssignment: one DEP for
// all multi-workload data of the tenant.
func (c *Client) AssignMDEP(ctx context.Context, tenant, dep string) (Assignment, error) {
	return call[Assignment](ctx, c, http.MethodPut, tenantPath(tenant, "m365DataAtRestEncryptionPolicyAssignment"), AssignMDEPRequest{DataEncryptionPolicy: dep})
}

// MDEPAssignment is Get-M365DataAtRestEncryptionPolicyAssignment.
func (c *Client) MDEPAssignment(ctx context.Context, tenant string) (Assignment, error) {
	return call[Assignment](ctx, c, http.MethodGet, tenantPath(tenant, "m365DataAtRestEncryptionPolicyAssignment"), nil)
}

// Purge reads a mailbox DEP's purge request: its state, approvals and,
// once purged, the crypto-shred certificate.
func (c *Client) Purge(ctx context.Context, tenant, dep string) (PurgeRequest, error) {
	p, _ := depPath(tenant, MailboxDEPs, dep, "purge")
	return call[PurgeRequest](ctx, c, http.MethodGet, p, nil)
}

// ApprovePurge sends an authorised officer's signed approval of a purge
// (SPEC T7): sign PurgeRequest.Statement with the officer's key
// (SignPurge). With enough approvals the purge runs.
func (c *Client) ApprovePurge(ctx context.Context, tenant, dep string, req ApprovePurgeRequest) (PurgeRequest, error) {
	p, _ := depPath(tenant, MailboxDEPs, dep, "purge", "approve")
	return call[PurgeRequest](ctx, c, http.MethodPost, p, req)
}

// Officers lists the tenant's authorised officers and their registered
// keys.
func (c *Client) Officers(ctx context.Context, tenant string) (Officers, error) {
	all, err := All(ctx, Page{}, func(ctx context.Context, p Page) (List[Officer], error) { return c.OfficersPage(ctx, tenant, p) })
	return Officers{Value: all}, err
}

// OfficersPage is one page of Officers, by officer.
func (c *Client) OfficersPage(ctx context.Context, tenant string, p Page) (Officers, error) {
	return listPage[Officer](ctx, c, tenantPath(tenant, "officers"), p)
}

// RegisterOfficerKey registers an authorised officer's public key, or
// replaces it (the tenant's global admin; refused while a purge request
// is open).
func (c *Client) RegisterOfficerKey(ctx context.Context, tenant, officer string, req RegisterOfficerKeyRequest) (Officer, error) {
	return call[Officer](ctx, c, http.MethodPut, tenantPath(tenant, "officers", officer, "key"), req)
}

// ConfirmOfficerKey is the service operator's confirmation of an
// officer's registered key, by the fingerprint the officer gave out of
// band; only a confirmed key signs purge approvals (T7).
func (c *Client) ConfirmOfficerKey(ctx context.Context, tenant, officer string, req ConfirmOfficerKeyRequest) (Officer, error) {
	return call[Officer](ctx, c, http.MethodPost, tenantPath(tenant, "officers", officer, "key", "confirm"), req)
}

// ---- mailboxes ----

// NewMailbox creates a user mailbox or a mail user, on a DEP or on
// service-managed keys.
func (c *Client) NewMailbox(ctx context.Context, tenant string, req NewMailboxRequest) (Statistics, error) {
	return call[Statistics](ctx, c, http.MethodPost, tenantPath(tenant, "mailboxes"), req)
}

// SetMailbox is Set-Mailbox / Set-MailUser -DataEncryptionPolicy: dep is
// a DEP's name or GUID, or "" for service-managed keys. The mailbox key is
// re-wrapped in the background by the job the answer names (none if the
// mailbox is on that DEP already).
func (c *Client) SetMailbox(ctx context.Context, tenant, mailbox, dep string) (SetMailboxResult, error) {
	return call[SetMailboxResult](ctx, c, http.MethodPatch, tenantPath(tenant, "mailboxes", mailbox), SetMailboxRequest{DataEncryptionPolicy: dep})
}

// MailboxStatistics is Get-MailboxStatistics.
func (c *Client) MailboxStatistics(ctx context.Context, tenant, mailbox string) (Statistics, error) {
	return call[Statistics](ctx, c, http.MethodGet, tenantPath(tenant, "mailboxes", mailbox, "statistics"), nil)
}

// PutItem writes a new version of a mailbox item; kind is message,
// attachment or calendar ("" for message).
func (c *Client) PutItem(ctx context.Context, tenant, mailbox, item, kind string, content []byte) (ItemInfo, error) {
	return putRaw[ItemInfo](ctx, c, withQuery(tenantPath(tenant, "mailboxes", mailbox, "items", item), "kind", kind), content)
}

// Item reads an item's content.
func (c *Client) Item(ctx context.Context, tenant, mailbox, item string) ([]byte, error) {
	return c.getRaw(ctx, tenantPath(tenant, "mailboxes", mailbox, "items", item))
}

// Items lists a mailbox's items (no content).
func (c *Client) Items(ctx context.Context, tenant, mailbox string) ([]ItemInfo, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[ItemInfo], error) { return c.ItemsPage(ctx, tenant, mailbox, p) })
}

// ItemsPage is one page of Items, by ID.
func (c *Client) ItemsPage(ctx context.Context, tenant, mailbox string, p Page) (List[ItemInfo], error) {
	return listPage[ItemInfo](ctx, c, tenantPath(tenant, "mailboxes", mailbox, "items"), p)
}

// DeleteItem deletes an item.
func (c *Client) DeleteItem(ctx context.Context, tenant, mailbox, item string) error {
	return c.Do(ctx, http.MethodDelete, tenantPath(tenant, "mailboxes", mailbox, "items", item), nil, nil)
}

// Search finds a mailbox's items that hold word.
// It reads every page of the answer; SearchPage reads one.
func (c *Client) Search(ctx context.Context, tenant, mailbox, word string) ([]string, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (SearchResult, error) {
		return c.SearchPage(ctx, tenant, mailbox, word, p)
	})
}

// SearchPage is one page of Search's answer: item IDs in ID order.
func (c *Client) SearchPage(ctx context.Context, tenant, mailbox, word string, p Page) (SearchResult, error) {
	return listPage[string](ctx, c, tenantPath(tenant, "mailboxes", mailbox, "search"), p, "q", word)
}

// Reindex rebuilds a mailbox's search index.
func (c *Client) Reindex(ctx context.Context, tenant, mailbox string) (ReindexResult, error) {
	return call[ReindexResult](ctx, c, http.MethodPost, tenantPath(tenant, "mailboxes", mailbox, "search", "reindex"), nil)
}

// ---- multi-workload records ----

// PutRecord writes a new version of a workload's record.
func (c *Client) PutRecord(ctx context.Context, tenant, workload, record string, content []byte) (RecordInfo, error) {
	return putRaw[RecordInfo](ctx, c, tenantPath(tenant, "records", workload, record), content)
}

// Record reads a record's content.
func (c *Client) Record(ctx context.Context, tenant, workload, record string) ([]byte, error) {
	return c.getRaw(ctx, tenantPath(tenant, "records", workload, record))
}

// Records lists a workload's records (no content).
func (c *Client) Records(ctx context.Context, tenant, workload string) ([]RecordInfo, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[RecordInfo], error) {
		return c.RecordsPage(ctx, tenant, workload, p)
	})
}

// RecordsPage is one page of Records, by ID.
func (c *Client) RecordsPage(ctx context.Context, tenant, workload string, p Page) (List[RecordInfo], error) {
	return listPage[RecordInfo](ctx, c, tenantPath(tenant, "records", workload), p)
}

// DeleteRecord deletes a record.
func (c *Client) DeleteRecord(ctx context.Context, tenant, workload, record string) error {
	return c.Do(ctx, http.MethodDelete, tenantPath(tenant, "records", workload, record), nil, nil)
}

// ---- sites ----

// RegisterSPODEP is Register-SPODataEncryptionPolicy: a geo's site DEP on
// a primary and a secondary key; the geo's sites are wrapped in the
// background.
func (c *Client) RegisterSPODEP(ctx context.Context, tenant string, req RegisterSPODEPRequest) (SPODEP, error) {
	return call[SPODEP](ctx, c, http.MethodPost, tenantPath(tenant, "spoDataEncryptionPolicies"), req)
}

// UpdateSPODEP is Update-SPODataEncryptionPolicy: roll a geo's primary or
// secondary key.
func (c *Client) UpdateSPODEP(ctx context.Context, tenant, geo string, req UpdateSPODEPRequest) (SPODEP, error) {
	return call[SPODEP](ctx, c, http.MethodPatch, tenantPath(tenant, "spoDataEncryptionPolicies", geo), req)
}

// SPODEPs is Get-SPODataEncryptionPolicy: each registered geo, or the one
// geo if not "".
func (c *Client) SPODEPs(ctx context.Context, tenant, geo string) ([]SPODEP, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[SPODEP], error) { return c.SPODEPsPage(ctx, tenant, geo, p) })
}

// SPODEPsPage is one page of SPODEPs, by geo.
func (c *Client) SPODEPsPage(ctx context.Context, tenant, geo string, p Page) (List[SPODEP], error) {
	return listPage[SPODEP](ctx, c, tenantPath(tenant, "spoDataEncryptionPolicies"), p, "geo", geo)
}

// SPODEPHealth asks each customer key of each of a geo's site DEPs to
// unwrap the TIK now (R5), with the revocation state.
func (c *Client) SPODEPHealth(ctx context.Context, tenant, geo string) ([]DEPHealth, error) {
	l, err := call[List[DEPHealth]](ctx, c, http.MethodGet, tenantPath(tenant, "spoDataEncryptionPolicies", geo, "health"), nil)
	return l.Value, err
}

// SignalSPORevocation is the tenant's revocation signal for a geo (T1):
// its site DEPs are revoked and their keys leave the service's caches at
// once; then the keys are probed.
func (c *Client) SignalSPORevocation(ctx context.Context, tenant, geo string) ([]DEPHealth, error) {
	l, err := call[List[DEPHealth]](ctx, c, http.MethodPost, tenantPath(tenant, "spoDataEncryptionPolicies", geo, "revocation"), nil)
	return l.Value, err
}

// RecoverSPODEP moves every site of a geo whose two keys are lost to new
// keys, through the availability key (operator, with an access request the
// tenant approved).
func (c *Client) RecoverSPODEP(ctx context.Context, tenant, geo string, req RecoverSPODEPRequest) (Job, error) {
	return call[Job](ctx, c, http.MethodPost, tenantPath(tenant, "spoDataEncryptionPolicies", geo, "recover"), req)
}

// NewSite creates a site in a geo.
func (c *Client) NewSite(ctx context.Context, tenant string, req NewSiteRequest) (SiteInfo, error) {
	return call[SiteInfo](ctx, c, http.MethodPost, tenantPath(tenant, "sites"), req)
}

// PutFile writes a new version of a site's file held in memory (see
// PutFileFrom and UploadFile for large ones).
func (c *Client) PutFile(ctx context.Context, tenant, site, file string, content []byte) (ItemInfo, error) {
	return c.PutFileFrom(ctx, tenant, site, file, bytes.NewReader(content), int64(len(content)), nil)
}

// File reads a version of a file (0: the latest) into memory, checked
// against its digest (see OpenFile to stream a large one).
func (c *Client) File(ctx context.Context, tenant, site, file string, version int) ([]byte, error) {
	f, err := c.OpenFile(ctx, tenant, site, file, version, nil)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err == nil {
		err = f.Verify()
	}
	return b, err
}

// Files lists a site's files with their versions (no content).
func (c *Client) Files(ctx context.Context, tenant, site string) ([]ItemInfo, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[ItemInfo], error) { return c.FilesPage(ctx, tenant, site, p) })
}

// FilesPage is one page of Files, by name then version.
func (c *Client) FilesPage(ctx context.Context, tenant, site string, p Page) (List[ItemInfo], error) {
	return listPage[ItemInfo](ctx, c, tenantPath(tenant, "sites", site, "files"), p)
}

// DeleteFile deletes a file with all its versions.
func (c *Client) DeleteFile(ctx context.Context, tenant, site, file string) error {
	return c.Do(ctx, http.MethodDelete, tenantPath(tenant, "sites", site, "files", file), nil, nil)
}

// ---- jobs ----

// Jobs lists the tenant's background jobs, newest first (every page).
func (c *Client) Jobs(ctx context.Context, tenant string) ([]Job, error) {
	return All(ctx, Page{}, func(ctx context.Context, p Page) (List[Job], error) { return c.JobsPage(ctx, tenant, p) })
}

// JobsPage is one page of Jobs, newest first.
func (c *Client) JobsPage(ctx context.Context, tenant string, p Page) (List[Job], error) {
	return listPage[Job](ctx, c, tenantPath(tenant, "jobs"), p)
}

// Job reads a background job and its progress.
func (c *Client) Job(ctx context.Context, tenant, id string) (Job, error) {
	return call[Job](ctx, c, http.MethodGet, tenantPath(tenant, "jobs", id), nil)
}

// ---- audit ----

// Audit reads one page of a tenant's audit log, oldest first (AuditLog
// reads all of it). With actions, the page holds only records of those
// actions among the next records of the chain (it may hold fewer than
// the page size, even none), and NextCursor says where to go on.
func (c *Client) Audit(ctx context.Context, tenant string, p Page, actions ...string) (AuditPage, error) {
	return listPage[AuditRecord](ctx, c, tenantPath(tenant, "audit"), p, "action", strings.Join(actions, ","))
}

// AuditHead is the service's signed statement of where the tenant's audit
// chain ends now.
func (c *Client) AuditHead(ctx context.Context, tenant string) (AuditHead, error) {
	return call[AuditHead](ctx, c, http.MethodGet, tenantPath(tenant, "audit", "head"), nil)
}

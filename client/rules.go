package client

// Rule IDs: every Problem the service answers names the rule it broke
// (Problem.Rule). The IDs are stable; branch on them with errors.As:
//
//	var p *client.Problem
//	if errors.As(err, &p) && p.Rule == client.RuleTenantUnique { ... }
//
// The prefix is the SPEC requirement the rule comes from (D1, R6, ...),
// or the resource it concerns.
const (
	// Requests and authentication.
	RuleRequest                  = "Request"                   // the request does not match the API (Problem.Errors says where)
	RuleInternal                 = "Internal"                  // a fault of the service; the operator reads its log
	RuleRequestPath              = "Request.Path"              // no operation at that path
	RuleRequestMethod            = "Request.Method"            // the path does not take that method
	RuleRequestParameter         = "Request.Parameter"         // a path parameter is empty, too long, not UTF-8 or holds a control character
	RuleRequestCanceled          = "Request.Canceled"          // the client went away
	RuleServiceReady             = "S5.Ready"                  // /readyz: a dependency of the node (database, keystore) is down
	RuleServiceTimeout           = "Service.Timeout"           // the request took longer than its route allows
	RuleAuthentication           = "Authentication"            // no token, an unknown one, or an expired one
	RuleAuthorizationOperator    = "Authorization.Operator"    // the operator's action
	RuleAuthorizationRole        = "Authorization.Role"        // the token's role may not do this
	RuleAuthorizationTenantAdmin = "Authorization.TenantAdmin" // the tenant's global admin (or the operator) only
	RuleServiceWorkload          = "Service.Workload"          // the operator has not configured this workload
	RulePageSize                 = "D9.PageSize"               // a listing's pageSize is outside 1-1000
	RulePageCursor               = "D9.Cursor"                 // a listing's cursor is not one that listing gave
	RuleSearchTerm               = "D9.SearchTerm"             // a search names no word, or more than one

	// Tenants, tokens, plans and licences.
	RuleTenantExists            = "Tenant.Exists"
	RuleTenantID                = "Tenant.ID"
	RuleTenantName              = "Tenant.Name"
	RuleTenantPlan              = "Tenant.Plan"
	RuleTenantUnique            = "Tenant.Unique"
	RuleTokenRole               = "Token.Role"
	RuleTokenSubject            = "Token.Subject"
	RuleTokenValidFor           = "Token.ValidFor"
	RuleTokenExists             = "Token.Exists"
	RuleTokenRevoked            = "Token.Revoked"       // revoked already
	RuleTokenFirstGlobalAdmin   = "T5.FirstGlobalAdmin" // the operator issues only a tenant's first global admin token
	RuleLicencePlan             = "Licence.Plan"
	RuleLicenceUser             = "Licence.User"
	RuleLicence                 = "O1.Licence"   // the mailbox's user has no licence that includes Customer Key
	RuleOnboarded               = "O3.Onboarded" // the tenant is not onboarded for the scenario
	RuleOnboardingRequestExists = "O5.Exists"    // no such onboarding request
	RuleOfficer                 = "O7.Officer"   // an authorised officer must be named by UPN

	// Data encryption policies.
	RuleDEPExists                = "D1.Exists"
	RuleDEPKeyURI                = "D1.KeyURI"
	RuleDEPLimit                 = "D1.Limit"
	RuleDEPName                  = "D1.Name"
	RuleDEPSet                   = "D1.Set" // nothing to change
	RuleDEPTwoKeys               = "D1.TwoKeys"
	RuleDEPTwoVaults             = "D1.TwoVaults"
	RuleDEPUniqueName            = "D1.UniqueName"
	RuleDEPDescription           = "D1.Description"    // one line of plain text: no control, bidirectional or invisible characters
	RuleDEPJobRunning            = "D1.JobRunning"     // a job is moving the DEP's containers off it (key-loss recovery, rollback): not enabled until it ends
	RuleDEPDisabled              = "D2.Enabled"        // a disabled DEP cannot be assigned
	RuleDEPAssignPurgeRequested  = "D2.PurgeRequested" // a DEP with a purge request can never be assigned again
	RuleSiteDEPGeo               = "D4.Geo"
	RuleSiteDEPKeyVersion        = "D4.KeyVersion"
	RuleSiteDEPOnePerGeo         = "D4.OnePerGeo"
	RuleSiteDEPRegistered        = "D4.Registered"
	RuleSiteDEPVault             = "D4.Vault"
	RuleMDEPDisableAfterUnassign = "D6.DisableAfterUnassign"

	// Customer keys.
	RuleKeyAccessPermissions = "KeyAccessPermissions" // the workload may not get, wrap or unwrap with the key
	RuleKeyEnabled           = "Key.Enabled"
	RuleKeyExists            = "Key.Exists"
	RuleKeyNeverExpires      = "Key.NeverExpires"
	RuleKeyOperations        = "Key.Operations"
	RuleKeyReachable         = "Key.Reachable"
	RuleKeyUsable            = "Key.Usable"
	RuleKeyOwnDirectory      = "T4.OwnKeys"             // the key's vault is not in the tenant's own directory
	RuleKeyVaultHost         = "T4.KnownHosts"          // the key URI names a host outside the vault domains the service connects to
	RuleCustomerKeysRefused  = "K3.CustomerKeysRefused" // both customer keys refused deliberately: the DEP is revoked
	RuleVaultsUnavailable    = "K3.VaultsUnavailable"   // neither vault answered; retry later

	// Trust: what holds whatever the provider does.
	RuleRevoked = "T1.Revoked" // the DEP is revoked: the availability key serves nothing until a customer key unwraps again
	// T7: officers sign their purge approvals.
	RuleOfficerPublicKey      = "T7.PublicKey"      // not an Ed25519 public key in an accepted form
	RuleOfficerKeyUnique      = "T7.KeyUnique"      // another officer of the tenant has registered that key
	RuleOfficerKeyMissing     = "T7.KeyRegistered"  // the officer has no registered key
	RuleOfficerKeyDuringPurge = "T7.KeyDuringPurge" // keys do not change while a purge request is open
	RuleOfficerKeyUnconfirmed = "T7.KeyConfirmed"   // the operator has not confirmed the officer's key with the officer
	RuleOfficerKeyFingerprint = "T7.KeyFingerprint" // the key registered is not the one whose fingerprint the operator confirms
	RuleApprovalSignature     = "T7.Signature"      // the approval is not the officer's signature over this purge request

	// Lifecycle: rolls, recovery, rollback, purge.
	RuleRefresh               = "R1.Refresh"
	RuleRollKeyType           = "R1.KeyType"
	RuleRollNewKey            = "R1.NewKey"
	RuleOneRollPerGeo         = "R2.OneRollPerGeo"
	RuleRecoveryKeysNotLost   = "R3.KeysNotLost"
	RuleRecoveryRevoked       = "R3.Revoked" // revoked (signal, refusal) before its keys were lost: T1 holds until a customer key unwraps again
	RuleRecoveryTarget        = "R3.Target"
	RuleRollbackKeysUsable    = "R4.CustomerKeysUsable"
	RuleMDEPRollback          = "R4.MDEPRollback"
	RuleRollbackNotForSites   = "R4.NotForSites" // sites stay on customer keys
	RuleRollbackMailboxes     = "R4.Mailboxes"   // mailboxes roll back by being assigned no DEP
	RulePurgeAlone            = "R6.Alone"
	RulePurgeContact          = "R6.Contact" // 1-256 bytes, one line of plain text (no control, format or bidi characters)
	RulePurgeDistinctOfficers = "R6.DistinctOfficers"
	RulePurgeJobRunning       = "R6.JobRunning"  // a job moves the DEP's containers off it (key-loss recovery): no purge request until it ends
	RulePurgeKeysRevoked      = "R6.KeysRevoked" // remove the workload's access to both keys first
	RulePurgeNotForMDEP       = "R6.NotForMDEP"
	RulePurgeNotForSites      = "R6.NotForSites"
	RulePurgeOfficer          = "R6.Officer"
	RulePurgeOfficers         = "R6.Officers"
	RuleDEPPurgeRequested     = "R6.PurgeRequested" // nothing moves to or off a DEP with a purge request
	RulePurged                = "R6.Purged"         // the data was purged
	RulePurgeReason           = "R6.Reason"         // 1-512 bytes, one line of plain text (no control, format or bidi characters)
	RulePurgeRequested        = "R6.Requested"      // a purge request exists already, or none does
	RulePurgeSigner           = "R6.Signer"
	RulePurgeState            = "R6.State"
	RuleAuditSigner           = "R8.Signer"

	// Access requests: the tenant's consent to an operator action on its data (T5).
	RuleAccessRequest         = "T5.AccessRequest" // the operator's action needs an approved access request
	RuleAccessRequestExists   = "T5.Exists"
	RuleAccessRequestAction   = "T5.Action"
	RuleAccessRequestReason   = "T5.Reason"
	RuleAccessRequestValidFor = "T5.ValidFor"
	RuleAccessRequestTarget   = "T5.Target"
	RuleAccessRequestState    = "T5.State"   // not pending (decide), not approved (use), or used already
	RuleAccessRequestExpired  = "T5.Expired" // past its end
	RuleAccessRequestScope    = "T5.Scope"   // it was approved for another action, DEP or target

	// Containers and their contents.
	RuleMailboxConcurrent  = "Mailbox.Concurrent"
	RuleMailboxDEP         = "Mailbox.DEP"
	RuleMailboxExists      = "Mailbox.Exists"
	RuleMailboxID          = "Mailbox.ID"
	RuleMailboxKind        = "Mailbox.Kind"
	RuleMailboxUnique      = "Mailbox.Unique"
	RuleContainerIntegrity = "Container.Integrity"
	RuleContainerDEPKind   = "Container.DEPKind" // a DEP wraps the containers of its own workload only
	RuleItemExists         = "Item.Exists"
	RuleItemID             = "Item.ID"
	RuleItemIntegrity      = "Item.Integrity"
	RuleRecordExists       = "Record.Exists"
	RuleRecordID           = "Record.ID"
	RuleRecordWorkload     = "Record.Workload"
	RuleSiteExists         = "Site.Exists"
	RuleSiteName           = "Site.Name"
	RuleSiteUnique         = "Site.Unique"
	RuleFileExists         = "File.Exists"
	RuleFileName           = "File.Name"

	// Content of any size (SPEC D8).
	RuleContentDigest      = "Content.Digest"      // the content's SHA-256 is not the one the writer declared
	RuleContentTooLarge    = "Content.TooLarge"    // larger than the route's limit
	RuleContentRange       = "Content.Range"       // a Range the content cannot satisfy
	RuleContentStreams     = "Content.Streams"     // 429: the tenant has its share of transfers open on the node; retry after Retry-After
	RuleContentStreamsNode = "Content.StreamsNode" // 503: the node runs as many transfers as it may; retry after Retry-After
	RuleUploadExists       = "Upload.Exists"
	RuleUploadSize         = "Upload.Size"
	RuleUploadOffset       = "Upload.Offset" // a part must start where the upload stands
	RuleUploadBusy         = "Upload.Busy"   // another part is being written
	RuleUploadPart         = "Upload.Part"   // parts cover whole chunks, and a retry gives the same bytes
	RuleUploadNewer        = "Upload.Newer"  // a newer version was written meanwhile
	RuleUploadMoved        = "Upload.Moved"  // the container moved to another DEP since the upload began
	RuleUploadsOpen        = "Upload.Open"   // at most 16 uploads in progress per item, 10,000 per tenant (429)

	// Jobs.
	RuleJobBusy         = "Job.Busy"
	RuleJobExists       = "Job.Exists"
	RuleJobOnePerTarget = "Job.OnePerTarget"
)

// Onboarding rules (OnboardingRule.Name), as New-CustomerKeyOnboardingRequest
// reports them (SPEC O4).
const (
	CheckSubscriptionsCountPerScenario      = "SubscriptionsCountPerScenario"
	CheckSubscriptionUniquePerScenario      = "SubscriptionUniquePerScenario"
	CheckOrganizationHasRequiredServicePlan = "OrganizationHasRequiredServicePlan"
	CheckOnboardedForEXOorMDEP              = "OnboardedForEXOorMDEP"
	CheckSubscriptionInRequestOrganization  = "SubscriptionInRequestOrganization"
	CheckSubscriptionIsPaid                 = "SubscriptionIsPaid"
	CheckMandatoryRetentionPeriodState      = "MandatoryRetentionPeriodState"
	CheckVaultExistsInSubscription          = "VaultExistsInSubscription"
	CheckVaultInRequestOrganization         = "VaultInRequestOrganization" // the vault names the tenant's directory (SPEC T4), asked before any key call
	CheckSoftDeleteRetention                = "SoftDeleteRetention"
	CheckKeyAccessPermissions               = "KeyAccessPermissions"
	CheckRecoveryLevel                      = "RecoveryLevel"
	CheckKeyOperationsSupported             = "KeyOperationsSupported"
	CheckKeyNeverExpires                    = "KeyNeverExpires"
	CheckDistinctVaults                     = "DistinctVaults"
	CheckVaultsInDifferentRegions           = "VaultsInDifferentRegions"
	CheckAuthorisedOfficers                 = "AuthorisedOfficers"
	CheckServicePrincipalRegistered         = "ServicePrincipalRegistered"
)

// Roles of the service API's tokens.
const (
	RoleOperator        = "operator" // the service provider
	RoleGlobalAdmin     = "global-admin"
	RoleExchangeAdmin   = "exchange-admin"
	RoleSharePointAdmin = "sharepoint-admin"
	RoleComplianceAdmin = "compliance-admin"
)

// TenantRoles are the roles a tenant's admins' tokens may have.
var TenantRoles = []string{RoleGlobalAdmin, RoleExchangeAdmin, RoleSharePointAdmin, RoleComplianceAdmin}

// Well-known application IDs of the service's workloads (SPEC V4): the
// service principals a tenant registers and grants get, wrapKey and
// unwrapKey on its keys.
const (
	ExchangeApp   = "00000002-0000-0ff1-ce00-000000000000" // Office 365 Exchange Online: mailbox DEPs
	SharePointApp = "00000003-0000-0ff1-ce00-000000000000" // Office 365 SharePoint Online: site DEPs
	M365App       = "c066d759-24ae-40e7-a56f-027002b5d3e4" // M365DataAtRestEncryption: the multi-workload DEP
)

// Onboarding scenarios and modes (OnboardingRequest).
const (
	ScenarioMDEP = "MDEP" // multi-workload
	ScenarioEXO  = "EXO"  // Exchange mailboxes
	ScenarioSPO  = "SPO"  // SharePoint and OneDrive sites

	ModeValidate = "Validate"
	ModePrepare  = "Prepare"
	ModeEnable   = "Enable"
)

// Mailbox kinds (NewMailboxRequest.Kind, Statistics.Kind).
const (
	UserMailbox = "UserMailbox"
	MailUser    = "MailUser" // not yet migrated: its data is encrypted as it arrives
)

// Job states (Job.State).
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// DEP health states (DEPHealth.State).
const (
	Healthy   = "healthy"
	Degraded  = "degraded"
	Unhealthy = "unhealthy"
)

// Purge request states (PurgeRequest.State).
const (
	PurgeRequested = "Requested"
	PurgeApproved  = "Approved"
	PurgePurged    = "Purged"
)

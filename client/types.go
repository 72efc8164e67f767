package client

import (
	"encoding/json"
	"time"
)

// Types of the service API (docs/openapi.json). The service declares its
// operations with these types, so their JSON names and their doc, enum and
// limit tags are the API's schema: change one and the OpenAPI document
// changes with it.

// List is the shape of every list answer: one page of a listing (SPEC
// D9). Ask for the next page with ?cursor=NextCursor (and the same
// pageSize); the last page has no NextCursor. Pages stay stable while
// others write: a row written or deleted meanwhile never makes another
// row repeat or go missing.
type List[T any] struct {
	Value      []T    `json:"value"`
	NextCursor string `json:"nextCursor,omitempty" doc:"Opaque: pass as cursor= for the next page; absent on the last page"`
}

// Page asks for one page of a listing: PageSize 0 is the default (100);
// Cursor "" is the first page.
type Page struct {
	PageSize int
	Cursor   string
}

// Default and largest page sizes of every listing.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Health is the liveness answer.
type Health struct {
	Status string `json:"status"`
}

// Me is who a token belongs to.
type Me struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Tenant  string    `json:"tenant,omitempty" doc:"Empty for the service operator"`
	Expires time.Time `json:"expires"`
}

// SigningKey is the service's Ed25519 public key, which verifies
// crypto-shred certificates and audit heads.
type SigningKey struct {
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"publicKey" doc:"base64"`
	PEM       string `json:"pem"`
}

// ---- tenants, tokens, plans, licences ----

// Tenant is a customer organisation of the service.
type Tenant struct {
	ID      string    `json:"id" doc:"The tenant's directory ID (a GUID)"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// CreateTenantRequest creates a tenant (operator).
type CreateTenantRequest struct {
	Name string `json:"name" doc:"Display name, 1-64 characters"`
	ID   string `json:"id,omitempty" doc:"Directory ID (GUID); a new one if empty"`
}

// CreateTokenRequest issues an API token for one of a tenant's admins.
type CreateTokenRequest struct {
	Subject  string `json:"subject" doc:"The admin's UPN"`
	Role     string `json:"role" enum:"global-admin,exchange-admin,sharepoint-admin,compliance-admin"`
	ValidFor string `json:"validFor,omitempty" doc:"Lifetime as a Go duration, 1h to 2160h (90 days); default 168h (7 days)"`
}

// Token is an issued API token; its value is shown once.
type Token struct {
	Token   string    `json:"token" doc:"Shown once; the service keeps only its hash"`
	ID      string    `json:"id" doc:"The token's handle, to list and revoke it"`
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Tenant  string    `json:"tenant"`
	Expires time.Time `json:"expires"`
}

// TokenInfo is an issued token as a list shows it: never its secret.
type TokenInfo struct {
	ID       string     `json:"id" doc:"The token's handle (ck tenant token revoke ID)"`
	Subject  string     `json:"subject"`
	Role     string     `json:"role"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	Revoked  *time.Time `json:"revoked,omitempty" doc:"When it was revoked; it authenticates nothing since"`
	LastUsed *time.Time `json:"lastUsed,omitempty" doc:"When it last authenticated a request (to the minute)"`
}

// Actions an access request grants the operator (SPEC T5).
const (
	AccessRecover    = "recover"     // key-loss recovery of a mailbox DEP
	AccessRecoverGeo = "recover-geo" // key-loss recovery of a geo's site DEP
	AccessRollback   = "rollback"    // a multi-workload DEP back to service-managed keys
)

// NewAccessRequest asks the tenant for one operator action on its data
// (the operator), or grants it at once (a tenant's global admin, e.g. for
// the recovery of a DEP whose keys it lost).
type NewAccessRequest struct {
	Action   string   `json:"action" enum:"recover,recover-geo,rollback"`
	DEP      string   `json:"dep" doc:"recover, rollback: the DEP's name or GUID; recover-geo: the geo"`
	To       string   `json:"to,omitempty" doc:"recover: the DEP, on new keys, to move the mailboxes to"`
	Keys     []string `json:"keys,omitempty" maxItems:"2" doc:"recover-geo: the new primary and secondary key URIs, with versions"`
	Reason   string   `json:"reason" maxLength:"512" doc:"Why, for the tenant to decide: ticket, who asked, what happened"`
	ValidFor string   `json:"validFor,omitempty" doc:"How long it may be approved and used, a Go duration from 15m to 168h; default 8h"`
}

// AccessRequest is the tenant's consent, asked or given, to one operator
// action on its data.
type AccessRequest struct {
	ID          string     `json:"id"`
	Action      string     `json:"action" enum:"recover,recover-geo,rollback"`
	DEP         string     `json:"dep" doc:"The DEP's GUID, or the geo"`
	DEPName     string     `json:"depName"`
	Target      string     `json:"target,omitempty" doc:"recover: the target DEP's GUID; recover-geo: the new key URIs, comma-separated"`
	TargetName  string     `json:"targetName,omitempty"`
	Reason      string     `json:"reason"`
	RequestedBy string     `json:"requestedBy"`
	Requested   time.Time  `json:"requested"`
	Expires     time.Time  `json:"expires" doc:"It may be approved and used until then"`
	State       string     `json:"state" enum:"Pending,Approved,Denied,Used"`
	Expired     bool       `json:"expired"`
	DecidedBy   string     `json:"decidedBy,omitempty"`
	Decided     *time.Time `json:"decided,omitempty"`
	UsedBy      string     `json:"usedBy,omitempty"`
	Used        *time.Time `json:"used,omitempty"`
}

// SetPlansRequest sets a tenant's service plans (operator).
type SetPlansRequest struct {
	Plans []string `json:"plans"`
}

// TenantPlans is the answer to SetPlans. (Its one field is "Plans", with
// a capital P, as the service has always sent it.)
type TenantPlans struct {
	Plans []string
}

// SetLicenceRequest gives a user a plan; an empty plan removes it.
type SetLicenceRequest struct {
	Plan string `json:"plan" doc:"e.g. E5 (includes Customer Key) or E3; empty to remove"`
}

// Licence is a user's plan and whether it covers Customer Key.
type Licence struct {
	User        string `json:"user"`
	Plan        string `json:"plan"`
	CustomerKey bool   `json:"customerKey" doc:"Whether the plan includes Customer Key"`
}

// ---- onboarding ----

// OnboardingRequest is New-CustomerKeyOnboardingRequest's parameters.
type OnboardingRequest struct {
	Scenario      string    `json:"scenario" enum:"MDEP,EXO,SPO"`
	Mode          string    `json:"mode" enum:"Validate,Prepare,Enable"`
	Subscriptions [2]string `json:"subscriptions" doc:"Subscription1 and Subscription2"`
	Vaults        [2]string `json:"vaults" doc:"VaultName1 and VaultName2"`
	Keys          [2]string `json:"keys" doc:"KeyName1 and KeyName2"`
	Officers      []string  `json:"officers,omitempty" doc:"UPNs of the authorised officers who must approve a data purge (O7)"`
}

// OnboardingRule is one check's outcome.
type OnboardingRule struct {
	Name     string `json:"ruleName"`
	Expected string `json:"expectedValue"`
	Actual   string `json:"actualValue"`
	Scope    string `json:"scope,omitempty" doc:"The first five characters of the subscription ID"`
	Details  string `json:"details"`
	Passed   bool   `json:"passed"`
	Advisory bool   `json:"advisory,omitempty" doc:"Reported, but does not block enablement"`
}

// ValidationResult is every rule of an onboarding request.
type ValidationResult struct {
	Status string           `json:"status" enum:"Passed,Failed"`
	Rules  []OnboardingRule `json:"rules"`
}

// OnboardingResult is New-/Get-CustomerKeyOnboardingRequest's output.
type OnboardingResult struct {
	ID               string            `json:"id"`
	CreatedDate      time.Time         `json:"createdDate"`
	Organization     string            `json:"organization"`
	Request          OnboardingRequest `json:"request"`
	ValidationResult ValidationResult  `json:"validationResult"`
	EnablementResult string            `json:"enablementResult" enum:"Success,Failed,NotAttempted"`
}

// ---- data encryption policies ----

// DEP is a data encryption policy.
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

// NewDEPRequest is New-DataEncryptionPolicy (and
// New-M365DataAtRestEncryptionPolicy).
type NewDEPRequest struct {
	Name        string   `json:"name" doc:"No spaces; letters, digits, . _ -"`
	Description string   `json:"description,omitempty" maxLength:"512"`
	AzureKeyIDs []string `json:"azureKeyIDs" doc:"Exactly two key URIs, in two different vaults"`
}

// SetDEPRequest is Set-DataEncryptionPolicy (and
// Set-M365DataAtRestEncryptionPolicy): what is not nil or set changes.
type SetDEPRequest struct {
	Enabled     *bool   `json:"enabled,omitempty"`
	Description *string `json:"description,omitempty" maxLength:"512"`
	Refresh     bool    `json:"refresh,omitempty" doc:"After rolling a customer key in its vault: re-wrap the DEP key with the current version of both keys (R1; -Refresh)"`
	Purge       bool    `json:"permanentDataPurgeRequested,omitempty" doc:"Mailbox DEPs only: request the permanent data purge (R6), after removing the workload's wrap and unwrap permissions on both keys"`
	Reason      string  `json:"permanentDataPurgeReason,omitempty" doc:"With permanentDataPurgeRequested: why, 1-512 bytes of one-line plain text: no control, format or bidirectional-text characters (R6.Reason; the officers read it before they sign)"`
	Contact     string  `json:"permanentDataPurgeContact,omitempty" doc:"With permanentDataPurgeRequested: who to contact, 1-256 bytes of one-line plain text: no control, format or bidirectional-text characters (R6.Contact)"`
}

// DEPHealth is a DEP's health with each customer key's answer.
type DEPHealth struct {
	DEP   string         `json:"dep"`
	Name  string         `json:"name"`
	State string         `json:"state" enum:"healthy,degraded,unhealthy,unknown"`
	Cause string         `json:"cause,omitempty"`
	Since *time.Time     `json:"since,omitempty" doc:"When the DEP entered this state, as this service instance saw it"`
	Keys  []DEPKeyHealth `json:"keys"`
	// Revoked is set while the DEP is revoked (T1): the availability key
	// serves nothing for it until a customer key unwraps again.
	Revoked *Revocation `json:"revoked,omitempty" doc:"Set while the DEP is revoked: nothing is served with the availability key until a customer key unwraps again"`
	Kind    string      `json:"kind,omitempty" enum:"mailbox,site,mdep"`
}

// DEPHealths is every customer DEP of a tenant with its health as the
// service last saw it, without asking the vaults (the console's
// overview); a DEP's /health route asks its keys now.
type DEPHealths struct {
	Value []DEPHealth `json:"value"`
}

// CertificateFile is a crypto-shred certificate file as the service
// issues it (docs/format.md): the certificate and the service's Ed25519
// signature over its compact JSON.
type CertificateFile struct {
	Certificate json.RawMessage `json:"certificate,omitempty"`
	Signature   string          `json:"signature,omitempty" doc:"base64"`
}

// CertificateCheck is the service's verification of a crypto-shred
// certificate file: its signature by the service's key and every
// officer's signature over the purge request it states (SPEC R6, T7).
type CertificateCheck struct {
	Valid     bool   `json:"valid"`
	Error     string `json:"error,omitempty" doc:"Why it does not verify"`
	PublicKey string `json:"publicKey" doc:"The service key it was checked against, base64 (GET /v1/service/signing-key)"`
	Serial    string `json:"serial,omitempty"`
	DEP       string `json:"dataEncryptionPolicyID,omitempty"`
	DEPName   string `json:"dataEncryptionPolicy,omitempty"`
	Approvals int    `json:"approvals" doc:"Officers' approvals whose signatures verify"`
}

// Revocation is a revoked DEP's state (T1).
type Revocation struct {
	Since time.Time `json:"since" doc:"When the DEP was revoked"`
	Cause string    `json:"cause" doc:"The tenant's revocation signal, or both customer keys refusing deliberately"`
}

// DEPKeyHealth is one customer key's answer to the probe.
type DEPKeyHealth struct {
	KeyID string `json:"keyId"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// AssignMDEPRequest is Set-M365DataAtRestEncryptionPolicyAssignment.
type AssignMDEPRequest struct {
	DataEncryptionPolicy string `json:"dataEncryptionPolicy" doc:"An enabled multi-workload DEP's name or GUID (to roll back to service-managed keys, ask the operator: R4)"`
}

// Assignment is Get-M365DataAtRestEncryptionPolicyAssignment.
type Assignment struct {
	DataEncryptionPolicy   string    `json:"dataEncryptionPolicy,omitempty" doc:"The assigned DEP's name; empty when none"`
	DataEncryptionPolicyID string    `json:"dataEncryptionPolicyID,omitempty"`
	Assigned               time.Time `json:"assigned,omitempty"`
}

// RecoverDEPRequest is a key-loss recovery of a mailbox DEP (operator).
type RecoverDEPRequest struct {
	To      string `json:"to" doc:"The healthy DEP, on new keys, to move the mailboxes to"`
	Request string `json:"request" doc:"The ID of the access request the tenant approved for this recovery (T5); used once"`
}

// RollbackRequest rolls a tenant back from its multi-workload DEP to
// service-managed keys (operator).
type RollbackRequest struct {
	Request string `json:"request" doc:"The ID of the access request the tenant approved for this rollback (T5); used once"`
}

// PurgeApproval is an authorised officer's approval of a purge: the
// officer's signature over the purge's canonical statement (SPEC T7).
type PurgeApproval struct {
	Officer       string     `json:"officer"`
	At            time.Time  `json:"at"`
	Fingerprint   string     `json:"fingerprint,omitempty" doc:"The officer's registered key that signed, SHA256:... as ssh-keygen -l prints it"`
	PublicKey     string     `json:"publicKey,omitempty" doc:"That Ed25519 public key, base64"`
	KeyRegistered *time.Time `json:"keyRegistered,omitempty" doc:"When that key was registered"`
	Signature     string     `json:"signature,omitempty" doc:"The Ed25519 signature over the canonical purge statement (docs/format.md), base64"`
	SubmittedBy   string     `json:"submittedBy,omitempty" doc:"Whose token sent the signature"`
}

// PurgeRequest is a mailbox DEP's purge request (R6).
type PurgeRequest struct {
	Tenant            string          `json:"tenant" doc:"The tenant's ID"`
	DEP               string          `json:"dataEncryptionPolicyID"`
	Name              string          `json:"dataEncryptionPolicy"`
	State             string          `json:"state" enum:"Requested,Approved,Purged"`
	Reason            string          `json:"reason"`
	Contact           string          `json:"contact"`
	RequestedBy       string          `json:"requestedBy"`
	Requested         string          `json:"requested" doc:"When, UTC, to the millisecond (as signed)"`
	Containers        []string        `json:"containers" doc:"The containers the purge deletes, by ID, sorted: fixed when it was requested"`
	ApprovalsRequired int             `json:"approvalsRequired"`
	Approvals         []PurgeApproval `json:"approvals"`
	Certificate       string          `json:"certificate,omitempty" doc:"Once Purged: the signed crypto-shred certificate file, base64"`
}

// ApprovePurgeRequest is an officer's signed approval (SPEC T7): the
// officer's Ed25519 signature over PurgeRequest.Statement(officer). The
// caller's token only authenticates the call; the signature approves.
type ApprovePurgeRequest struct {
	Officer   string `json:"officer" minLength:"3" maxLength:"256" doc:"The authorised officer who signed (designated at onboarding)"`
	Signature string `json:"signature" minLength:"1" maxLength:"256" doc:"base64 Ed25519 signature over the canonical purge statement (docs/format.md)"`
}

// Officer is an authorised officer designated at onboarding (O7) and the
// public key that signs the officer's purge approvals (T7).
type Officer struct {
	Officer      string     `json:"officer"`
	Fingerprint  string     `json:"fingerprint,omitempty" doc:"SHA256:... of the registered key; empty: no key registered"`
	PublicKey    string     `json:"publicKey,omitempty" doc:"The registered Ed25519 public key, as an ssh-ed25519 line"`
	Registered   *time.Time `json:"registered,omitempty"`
	RegisteredBy string     `json:"registeredBy,omitempty"`
	Replaced     string     `json:"replaced,omitempty" doc:"On a replacement: the fingerprint of the key it replaced"`
	Confirmed    *time.Time `json:"confirmed,omitempty" doc:"When the service operator confirmed the key with the officer; a key signs approvals only once confirmed (T7)"`
	ConfirmedBy  string     `json:"confirmedBy,omitempty"`
}

// ConfirmOfficerKeyRequest is the service operator's confirmation of an
// officer's registered key: its fingerprint, as the officer read it out
// to the operator (out of band).
type ConfirmOfficerKeyRequest struct {
	Fingerprint string `json:"fingerprint" minLength:"1" maxLength:"128" doc:"SHA256:... of the officer's public key, as the officer gave it (ck officer keygen prints it)"`
}

// Officers lists a tenant's authorised officers.
type Officers = List[Officer]

// RegisterOfficerKeyRequest registers (or replaces) an officer's public
// key: an ssh-ed25519 line, PEM, or 32 bytes base64.
type RegisterOfficerKeyRequest struct {
	PublicKey string `json:"publicKey" minLength:"1" maxLength:"4096" doc:"Ed25519 public key: ssh-ed25519 line, PEM (SubjectPublicKeyInfo), or 32 bytes base64"`
}

// ---- mailboxes and their items ----

// NewMailboxRequest creates a user mailbox or a mail user.
type NewMailboxRequest struct {
	ID                   string `json:"id" doc:"The user's UPN"`
	Kind                 string `json:"kind,omitempty" enum:"UserMailbox,MailUser" default:"UserMailbox"`
	DataEncryptionPolicy string `json:"dataEncryptionPolicy,omitempty" doc:"A mailbox DEP's name or GUID; empty for service-managed keys"`
}

// SetMailboxRequest is Set-Mailbox / Set-MailUser -DataEncryptionPolicy.
type SetMailboxRequest struct {
	DataEncryptionPolicy string `json:"dataEncryptionPolicy" doc:"A mailbox DEP's name or GUID, or empty for none (service-managed keys)"`
}

// Statistics is Get-MailboxStatistics.
type Statistics struct {
	Identity               string `json:"identity"`
	Kind                   string `json:"kind"`
	IsEncrypted            bool   `json:"isEncrypted" doc:"True when a customer DEP protects the mailbox"`
	DataEncryptionPolicyID string `json:"dataEncryptionPolicyID,omitempty" doc:"The GUID of the DEP whose keys protect the mailbox now"`
	Pending                string `json:"pendingDataEncryptionPolicyID,omitempty" doc:"The GUID of the DEP assigned, while the mailbox key is being re-wrapped under it"`
	ItemCount              int    `json:"itemCount"`
}

// SetMailboxResult is Set-Mailbox's answer: the statistics now (the old
// DEP until the re-wrap is done) and the re-wrap's job.
type SetMailboxResult struct {
	Statistics
	Job *Job `json:"job,omitempty" doc:"The background re-wrap; absent when the mailbox is already on the DEP"`
}

// ItemInfo describes a stored item, file version or record (never its
// content).
type ItemInfo struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Version uint32    `json:"version"`
	Size    int64     `json:"size" doc:"The content's size in bytes"`
	Created time.Time `json:"created"`
}

// SearchResult is one page of a mailbox search's answer: the IDs of the
// items holding the word, in ID order.
type SearchResult = List[string]

// ReindexResult is a rebuilt search index's size.
type ReindexResult struct {
	Indexed int `json:"indexed"`
	Words   int `json:"words"`
}

// ---- multi-workload records ----

// RecordInfo describes a stored record (never its content).
type RecordInfo struct {
	Workload string `json:"workload"`
	ItemInfo
}

// ---- sites ----

// SPODEP is Get-SPODataEncryptionPolicy's output for one geo.
type SPODEP struct {
	Geo             string  `json:"geo"`
	State           string  `json:"state" enum:"Unregistered,Registering,Registered,Rolling"`
	PercentComplete float64 `json:"percentComplete"`
	PrimaryKeyURI   string  `json:"primaryKeyURI,omitempty"`
	SecondaryKeyURI string  `json:"secondaryKeyURI,omitempty"`
	DEPID           string  `json:"dataEncryptionPolicyID,omitempty"`
	Sites           int     `json:"sites" doc:"Sites of the geo to wrap"`
	Done            int     `json:"done" doc:"Sites wrapped under the geo's key"`
}

// RegisterSPODEPRequest is Register-SPODataEncryptionPolicy.
type RegisterSPODEPRequest struct {
	Geo              string `json:"geo" doc:"Three letters, e.g. NAM"`
	PrimaryVault     string `json:"primaryVaultName"`
	PrimaryKey       string `json:"primaryKeyName"`
	PrimaryVersion   string `json:"primaryKeyVersion"`
	SecondaryVault   string `json:"secondaryVaultName"`
	SecondaryKey     string `json:"secondaryKeyName"`
	SecondaryVersion string `json:"secondaryKeyVersion"`
}

// UpdateSPODEPRequest is Update-SPODataEncryptionPolicy.
type UpdateSPODEPRequest struct {
	KeyType                     string `json:"keyType,omitempty" enum:"Primary,Secondary" doc:"Which of the geo's two keys to replace"`
	VaultName                   string `json:"vaultName,omitempty"`
	KeyName                     string `json:"keyName,omitempty"`
	KeyVersion                  string `json:"keyVersion,omitempty"`
	PermanentDataPurgeRequested bool   `json:"permanentDataPurgeRequested,omitempty" doc:"Not supported for sites (R6): always refused"`
}

// RecoverSPODEPRequest is a key-loss recovery of a geo (operator).
type RecoverSPODEPRequest struct {
	PrimaryKeyURI   string `json:"primaryKeyURI" doc:"The new primary key, with its version"`
	SecondaryKeyURI string `json:"secondaryKeyURI" doc:"The new secondary key, with its version"`
	Request         string `json:"request" doc:"The ID of the access request the tenant approved for this recovery (T5); used once"`
}

// NewSiteRequest creates a site in a geo.
type NewSiteRequest struct {
	Name string `json:"name" doc:"Lower-case letters, digits, -"`
	Geo  string `json:"geo"`
}

// SiteInfo describes a site.
type SiteInfo struct {
	Name  string `json:"name"`
	Geo   string `json:"geo"`
	DEPID string `json:"dataEncryptionPolicyID"`
	Kind  string `json:"keys" enum:"customer,service-managed"`
}

// ---- jobs ----

// Job is a background job with its progress.
type Job struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind" enum:"rewrap-sites,recover,rollback-mdep,purge,reassociate-mdep,reassign-mailboxes"`
	Target          string    `json:"target" doc:"What it works on: a geo or a DEP"`
	State           string    `json:"state" enum:"queued,running,succeeded,failed"`
	PercentComplete float64   `json:"percentComplete"`
	Done            int       `json:"done"`
	Total           int       `json:"total"`
	Attempts        int       `json:"attempts"`
	Error           string    `json:"error,omitempty" doc:"The last failure; a queued job with an error will be retried"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
}

// ---- audit ----

// AuditRecord is one record of a tenant's audit log; hashes are hex.
// `ck audit verify` recomputes the chain from these fields.
type AuditRecord struct {
	Tenant  string    `json:"tenant"`
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	KeyID   string    `json:"keyId,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Outcome string    `json:"outcome"`
	Prev    string    `json:"prev,omitempty" doc:"Hash of the record before, hex; empty for the first"`
	Hash    string    `json:"hash" doc:"SHA-256 chain hash of this record, hex (docs/format.md)"`
}

// AuditPage is one page of a tenant's audit log, oldest first.
type AuditPage = List[AuditRecord]

// AuditHead is the service's signed statement of where a tenant's audit
// chain ends (docs/format.md); byte fields are base64 in JSON.
type AuditHead struct {
	Tenant    string    `json:"tenant"`
	Seq       int64     `json:"seq" doc:"The last record's number (0: empty)"`
	Hash      []byte    `json:"hash" doc:"The last record's hash"`
	Time      time.Time `json:"time"`
	PublicKey []byte    `json:"publicKey" doc:"The service's Ed25519 public key"`
	Signature []byte    `json:"signature" doc:"Ed25519 over the head's fields (docs/format.md)"`
}

// NewUploadRequest begins a resumable upload of a file (SPEC D8).
type NewUploadRequest struct {
	Size   int64  `json:"size" doc:"The file's size in bytes (more than 65536)"`
	SHA256 string `json:"sha256,omitempty" doc:"The file's SHA-256 in hex: the file is stored only if it matches"`
}

// Upload is a resumable upload in progress: send parts of whole chunks
// (multiples of ChunkSize bytes, but the last) from Received on.
type Upload struct {
	ID        string    `json:"id"`
	File      string    `json:"file"`
	Version   uint32    `json:"version" doc:"The version the file will have"`
	Size      int64     `json:"size"`
	Received  int64     `json:"received" doc:"Bytes stored so far: the next part starts here"`
	ChunkSize int64     `json:"chunkSize" doc:"Parts but the last are multiples of this"`
	Updated   time.Time `json:"updated"`
	Expires   time.Time `json:"expires" doc:"Without a part until then, the upload is deleted"`
}

// UploadPart answers a part: the upload, and the file once the last part
// has committed it.
type UploadPart struct {
	Upload Upload    `json:"upload"`
	File   *ItemInfo `json:"file,omitempty"`
}

// Package store defines the storage interfaces the rest of customerkey
// consumes, and the records they hold. Implementations live in sub-packages
// (sqlstore: SQLite as the embedded default, PostgreSQL for scale); every
// implementation passes the same conformance suite in storetest.
//
// Only public or sealed material reaches a store: private keys arrive here
// already encrypted under the vault master key.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every implementation returns (wrapped) so callers can branch.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrLimit    = errors.New("limit reached")
)

// Tenant is a customer organisation (an Entra tenant in Azure terms).
type Tenant struct {
	ID      string
	Name    string
	Created time.Time
}

// Subscription kinds and states.
const (
	SubscriptionPaid  = "paid"
	SubscriptionTrial = "trial"

	SubscriptionActive    = "Active"
	SubscriptionCancelled = "Cancelled"
)

// Subscription is a billing and ownership container for vaults.
type Subscription struct {
	ID       string
	TenantID string
	Name     string
	Kind     string // paid | trial
	Owner    string // principal name (UPN) that created it; may manage it
	State    string
	Created  time.Time
}

// Feature is a preview-feature registration on a subscription. Its state is
// derived from the times by the caller (Registering until RegisteredAt).
type Feature struct {
	SubscriptionID string
	Namespace      string
	Name           string
	RequestedAt    time.Time
	RegisteredAt   time.Time
}

// Provider is a resource-provider registration on a subscription.
type Provider struct {
	SubscriptionID string
	Namespace      string
	State          string
	Updated        time.Time
}

// Principal kinds.
const (
	PrincipalUser    = "User"
	PrincipalService = "ServicePrincipal"
)

// Principal is a user (UPN) or a service principal (application ID) of a tenant.
type Principal struct {
	TenantID    string
	Name        string // UPN or application ID, as given
	Kind        string
	DisplayName string
	Created     time.Time
}

// Vault permission models.
const (
	ModelAccessPolicy = "accessPolicy"
	ModelRBAC         = "rbac"
)

// Vault is a key vault. Name is lower case and globally unique, soft-deleted
// vaults included.
type Vault struct {
	Name            string
	SubscriptionID  string
	TenantID        string
	Region          string
	SKU             string
	RetentionDays   int
	PurgeProtection bool
	PermissionModel string
	Created         time.Time
	DeletedAt       *time.Time
	PurgeAt         *time.Time
}

// AccessPolicy grants key permissions to one principal on one vault (legacy model).
type AccessPolicy struct {
	Vault       string
	Principal   string
	Permissions []string
	Updated     time.Time
}

// RoleAssignment grants an RBAC role to one principal on one vault.
type RoleAssignment struct {
	ID        string
	Vault     string
	Principal string
	Role      string
	Created   time.Time
}

// Key is the versionless state of a key name in a vault.
type Key struct {
	Vault     string
	Name      string
	DeletedAt *time.Time
	PurgeAt   *time.Time
}

// KeyVersion is one version of a key. Sealed holds the private key encrypted
// under the vault master key; N and E are the public key.
type KeyVersion struct {
	Vault     string
	Name      string
	Version   string
	Seq       int64 // order of creation within the key, 1-based
	Kty       string
	Size      int
	Ops       []string
	Enabled   bool
	NotBefore *time.Time
	Expires   *time.Time
	Created   time.Time
	Updated   time.Time
	Tags      map[string]string
	N, E      []byte
	Sealed    []byte

	// KeyDeletedAt and KeyPurgeAt are the key's soft-delete state, read
	// with the version (ignored on writes).
	KeyDeletedAt *time.Time
	KeyPurgeAt   *time.Time
}

// KeyItem is a key name with its latest version, as listed.
type KeyItem struct {
	Key    Key
	Latest KeyVersion
}

// Op is one entry of the vault operation log (SPEC V11).
type Op struct {
	ID        int64
	Time      time.Time
	Principal string
	Tenant    string
	Operation string
	Vault     string
	Key       string
	Version   string
	Status    int
	Code      string
	ClientIP  string
}

// OpFilter selects operation-log entries; zero fields do not filter.
type OpFilter struct {
	Vault   string
	Vaults  []OpVault // if non-nil, only these vaults, each from its Since
	Since   time.Time
	AfterID int64
	Limit   int
}

// OpVault is a vault whose operations a listing takes from Since on: a
// vault's log starts when it was created, not with an earlier vault of
// the same name (purged, perhaps another tenant's).
type OpVault struct {
	Name  string
	Since time.Time
}

// Directory holds tenants, subscriptions and principals.
type Directory interface {
	CreateTenant(ctx context.Context, t Tenant) error
	Tenant(ctx context.Context, idOrName string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	CreateSubscription(ctx context.Context, s Subscription) error
	Subscription(ctx context.Context, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context, tenantID string) ([]Subscription, error)
	UpdateSubscription(ctx context.Context, s Subscription) error

	PutFeature(ctx context.Context, f Feature) error
	Feature(ctx context.Context, subscriptionID, namespace, name string) (Feature, error)
	ListFeatures(ctx context.Context, subscriptionID string) ([]Feature, error)
	PutProvider(ctx context.Context, p Provider) error
	ListProviders(ctx context.Context, subscriptionID string) ([]Provider, error)

	CreatePrincipal(ctx context.Context, p Principal) error
	Principal(ctx context.Context, tenantID, name string) (Principal, error)
	ListPrincipals(ctx context.Context, tenantID string) ([]Principal, error)
	// DeletePrincipal removes a principal from its tenant's directory
	// (ErrNotFound if it is not there).
	DeletePrincipal(ctx context.Context, tenantID, name string) error
}

// Vaults holds vaults and who may use them.
type Vaults interface {
	CreateVault(ctx context.Context, v Vault) error
	Vault(ctx context.Context, name string) (Vault, error)
	ListVaults(ctx context.Context) ([]Vault, error)
	UpdateVault(ctx context.Context, v Vault) error
	// PurgeVault removes a vault with its keys, policies and assignments.
	PurgeVault(ctx context.Context, name string) error

	PutAccessPolicy(ctx context.Context, p AccessPolicy) error
	DeleteAccessPolicy(ctx context.Context, vault, principal string) error
	AccessPolicies(ctx context.Context, vault string) ([]AccessPolicy, error)

	CreateRoleAssignment(ctx context.Context, a RoleAssignment) error
	DeleteRoleAssignment(ctx context.Context, vault, id string) error
	RoleAssignments(ctx context.Context, vault string) ([]RoleAssignment, error)
}

// Keys holds keys and their versions. Key names compare case-insensitively.
type Keys interface {
	// AddKeyVersion stores a new version, creating the key if needed. It
	// returns ErrConflict if the key exists in the deleted state.
	AddKeyVersion(ctx context.Context, v KeyVersion) (KeyVersion, error)
	Key(ctx context.Context, vault, name string) (Key, error)
	// KeyVersion returns one version; version "" means the latest.
	KeyVersion(ctx context.Context, vault, name, version string) (KeyVersion, error)
	// ListKeys lists keys by name after the given name; deleted selects
	// soft-deleted keys instead of live ones.
	ListKeys(ctx context.Context, vault string, deleted bool, after string, limit int) ([]KeyItem, error)
	// ListKeyVersions lists versions in creation order after the given sequence.
	ListKeyVersions(ctx context.Context, vault, name string, afterSeq int64, limit int) ([]KeyVersion, error)
	UpdateKeyVersion(ctx context.Context, v KeyVersion) error
	SetKeyDeleted(ctx context.Context, vault, name string, deletedAt, purgeAt *time.Time) error
	PurgeKey(ctx context.Context, vault, name string) error
	// RestoreKey stores a key with all its versions at once; ErrConflict if
	// the name exists, live or deleted.
	RestoreKey(ctx context.Context, vault, name string, versions []KeyVersion) error
}

// OpLog is the append-only vault operation log.
type OpLog interface {
	// AppendOps appends entries in order, all or none.
	AppendOps(ctx context.Context, ops []Op) error
	ListOps(ctx context.Context, f OpFilter) ([]Op, error)
	// PruneOps deletes, in the order appended and at most limit, the
	// entries older than before (the log's retention), up to the first
	// one that is not: an entry stamped after ahead (a node whose clock
	// ran fast) is passed over and goes with the older ones appended after
	// it, looking up to 16 limits on. It says how many it deleted.
	PruneOps(ctx context.Context, before, ahead time.Time, limit int) (int, error)
}

// AvailabilityKey is a DEP's availability key (SPEC D7): sealed under a
// version of the key-encryption key in the keystore (internal/keystore),
// which KEKVersion names (0: the old service master key); Sealed is nil
// once the key is destroyed, which cannot be undone.
type AvailabilityKey struct {
	ID          string
	Tenant      string
	DEP         string
	Sealed      []byte
	KEKVersion  uint32
	Created     time.Time
	DestroyedAt *time.Time
	DestroyedBy string
	Reason      string
}

// AvailabilityKeys is the service keystore. Tenants never reach it: no
// vault or tenant API reads it.
type AvailabilityKeys interface {
	CreateAvailabilityKey(ctx context.Context, k AvailabilityKey) error
	AvailabilityKey(ctx context.Context, id string) (AvailabilityKey, error)
	// DestroyAvailabilityKey wipes the sealed key and records who, when and
	// why; ErrNotFound if it does not exist, ErrConflict if already destroyed.
	DestroyAvailabilityKey(ctx context.Context, id string, at time.Time, by, reason string) error
	// AvailabilityKeysSealedUnder lists the keys not destroyed whose
	// KEKVersion is at most max, with an ID after after, by ID, at most
	// limit: the rows a KEK rotation re-seals, in batches.
	AvailabilityKeysSealedUnder(ctx context.Context, max uint32, after string, limit int) ([]AvailabilityKey, error)
	// ResealAvailabilityKeys stores new sealings, in one transaction. Each
	// row changes only if it is not destroyed and still sealed under From
	// (another re-sealer or a destroy may have come first); it returns how
	// many changed.
	ResealAvailabilityKeys(ctx context.Context, rs []Reseal) (int, error)
}

// Reseal is an availability key sealed again under another KEK version.
type Reseal struct {
	ID       string
	From, To uint32
	Sealed   []byte
}

// ServiceTenant is a customer organisation of the Customer Key service.
type ServiceTenant struct {
	ID      string
	Name    string
	Created time.Time
}

// APIToken is a bearer token of the service API, kept only as its SHA-256.
type APIToken struct {
	ID       string // the token's public handle (list, revoke): the first 16 hex digits of Hash
	Hash     string // hex SHA-256 of the token
	Tenant   string // "" for the service operator
	Role     string
	Subject  string // who holds it (UPN, or "operator")
	Created  time.Time
	Expires  time.Time
	Revoked  *time.Time // set once revoked; a revoked token authenticates nothing
	LastUsed *time.Time // when it last authenticated a request (to the minute); nil if never
}

// DEP is a data encryption policy as stored. Keys holds the wrapped DEP key
// (customer-key and availability-key records, encoded by the keyring).
type DEP struct {
	ID          string // GUID
	Tenant      string
	Kind        string // mailbox | site | mdep
	Name        string
	Description string
	KeyURIs     [2]string // as the tenant gave them
	Enabled     bool
	Keys        []byte
	Created     time.Time
	Updated     time.Time
	// Revoked is when the DEP was revoked (SPEC T1; zero: it is not), and
	// RevokedCause why: the tenant's signal, or both customer keys
	// refusing deliberately. Set by SetDEPRevocation, cleared by
	// ClearDEPRevocation only.
	Revoked      time.Time
	RevokedCause string
}

// PageKey is where a keyset page starts (SPEC D9): the sort key of the last
// row of the page before. Listings sorted by time sort ties by ID; those
// sorted by a name or an ID use ID only. The zero PageKey is the first page.
// A page asks "after this key", never "skip n rows", so it costs the same
// deep in a listing as at its start, and rows written meanwhile neither
// repeat nor hide the rows of the next page.
type PageKey struct {
	Time time.Time
	ID   string
}

// ItemWrite is one write of WriteItems: Item, if the stored item is
// still at version Prev (0: there is none); or, with Delete, the removal
// of the item (Tenant, Mailbox, ID) at version Prev; or, with Put, Item
// whatever is stored (PutItem's write, Prev unused).
type ItemWrite struct {
	Item   Item
	Prev   uint32
	Delete bool
	Put    bool
}

// IsZero reports whether k is the start of a listing.
func (k PageKey) IsZero() bool { return k.Time.IsZero() && k.ID == "" }

// Mailbox is a user mailbox or a mail user (or another container).
// ContainerKey is version KeyVersion of its key, wrapped by the key of DEP
// (an envelope record); PriorKeys are its earlier versions, each wrapped
// under the current one (envelope.PriorKeys: a move to another DEP makes
// a new version).
type Mailbox struct {
	Tenant       string
	ID           string // lower-case UPN
	Kind         string // UserMailbox | MailUser
	DEP          string // the DEP whose key wraps ContainerKey
	Target       string // the DEP assigned while the key is re-wrapped under it; "" when none is pending
	ContainerKey []byte
	KeyVersion   int
	PriorKeys    []byte // nil: none
	Created      time.Time
	Updated      time.Time
}

// Item is one item of a mailbox: its latest version, sealed.
type Item struct {
	Tenant  string
	Mailbox string
	ID      string
	Kind    string // message | attachment | calendar
	Version uint32
	Sealed  []byte // nil when listed without content; the header alone when Blob is set
	Size    int    // bytes of Sealed
	Created time.Time
	// A large item (SPEC D8) keeps its sealed chunks in blob Blob of its
	// container (internal/blob) and its sealed summary (size, SHA-256);
	// both are empty for an item sealed in one piece.
	Blob    string
	Summary []byte
	// ContentSize is the content's size in bytes (-1 if not recorded:
	// items written before it was).
	ContentSize int64
	// KeyVersion, on a write (WriteItems, CommitUpload), is the version of
	// the container's key the item is sealed under: the write happens
	// only while the container is at that version, in the same
	// transaction (ErrConflict otherwise: a move gave it a new version
	// meanwhile, and what is written after a move must not open with the
	// keys from before it, SPEC T8). Zero: no condition. Not stored.
	KeyVersion int
}

// Upload is a write of a large item in progress: a resumable upload
// session, or a streamed write until it commits (SPEC D8). Its sealed
// chunks go to blob Blob as they come.
type Upload struct {
	Tenant     string
	ID         string
	Container  string
	Item       string // the item's stored ID
	Kind       string
	Version    uint32
	Blob       string
	Header     []byte // the chunked ciphertext's header (item key wrapped)
	Size       int64  // the content's size, declared when the upload began
	Received   int64  // bytes sealed and stored so far
	Written    int64  // bytes whose chunks may have been sealed (>= Received)
	State      []byte // the running SHA-256 of what was received, sealed
	WantSHA256 []byte // the digest the uploader declared, sealed under the item key (envelope.Stream.SealNote); nil: none
	By         string
	Created    time.Time
	Updated    time.Time
}

// OnboardingRequest is a stored onboarding request; Body is its JSON
// (parameters, ValidationResult with every rule, EnablementResult).
type OnboardingRequest struct {
	ID       string
	Tenant   string
	Scenario string
	Created  time.Time
	Body     []byte
}

// Onboarding records that a tenant is onboarded for a scenario, by which
// request, and who the authorised officers are (O7).
type Onboarding struct {
	Tenant    string
	Scenario  string
	RequestID string
	Officers  []string
	Enabled   time.Time
}

// SiteRegistration is a geo's site DEP registration (SPEC D4/D5): state
// Registering or Registered (Rolling comes with key rolls), and progress.
type SiteRegistration struct {
	Tenant  string
	Geo     string
	DEP     string
	State   string
	Total   int
	Done    int
	Started time.Time
	Updated time.Time
}

// Service holds the Customer Key service's own records.
type Service interface {
	// SetLicence gives a user a plan ("" removes the licence).
	SetLicence(ctx context.Context, tenant, user, plan string) error
	// Licence returns a user's plan, "" if unlicensed.
	Licence(ctx context.Context, tenant, user string) (string, error)

	PutSiteRegistration(ctx context.Context, r SiteRegistration) error
	SiteRegistration(ctx context.Context, tenant, geo string) (SiteRegistration, error)
	ListSiteRegistrations(ctx context.Context, tenant string) ([]SiteRegistration, error)

	// SetAssignment assigns a DEP tenant-wide for a scenario (mdep); dep ""
	// removes the assignment.
	SetAssignment(ctx context.Context, tenant, scenario, dep string, at time.Time) error
	// Assignment returns the assigned DEP ("" if none) and since when.
	Assignment(ctx context.Context, tenant, scenario string) (string, time.Time, error)

	SetPlans(ctx context.Context, tenant string, plans []string) error
	Plans(ctx context.Context, tenant string) ([]string, error)
	CreateOnboardingRequest(ctx context.Context, r OnboardingRequest) error
	OnboardingRequest(ctx context.Context, tenant, id string) (OnboardingRequest, error)
	ListOnboardingRequests(ctx context.Context, tenant string) ([]OnboardingRequest, error)
	// ListOnboardingRequestsAfter is one keyset page of
	// ListOnboardingRequests (oldest first, by creation time and ID).
	ListOnboardingRequestsAfter(ctx context.Context, tenant string, after PageKey, limit int) ([]OnboardingRequest, error)
	SetOnboarded(ctx context.Context, o Onboarding) error
	Onboarded(ctx context.Context, tenant string) ([]Onboarding, error)

	CreateMailbox(ctx context.Context, m Mailbox) error
	Mailbox(ctx context.Context, tenant, id string) (Mailbox, error)
	ListMailboxes(ctx context.Context, tenant string) ([]Mailbox, error)
	// ContainersOnDEP lists the tenant's containers (mailboxes, sites,
	// workload containers) whose key is wrapped by DEP dep, by ID.
	ContainersOnDEP(ctx context.Context, tenant, dep string) ([]Mailbox, error)
	// ContainersOfKind lists the tenant's containers of one kind, by ID.
	ContainersOfKind(ctx context.Context, tenant, kind string) ([]Mailbox, error)
	// UpdateMailbox re-points a mailbox at another DEP with its key (a
	// new version, with the earlier ones), if it is still on prevDEP at
	// key version prevKeyVersion (ErrConflict otherwise); reaching its
	// Target clears the Target.
	UpdateMailbox(ctx context.Context, m Mailbox, prevDEP string, prevKeyVersion int) error
	// SetMailboxTarget records the DEP a mailbox is assigned, to be
	// re-wrapped under in the background ("" if it is already on it), and
	// reports whether a re-wrap is pending: decided on the row as it is,
	// so an assignment made just as a re-wrap to that DEP ended is none.
	SetMailboxTarget(ctx context.Context, tenant, id, dep string) (bool, error)
	// TenantsWithPendingMailboxes lists the tenants with a mailbox that has a Target.
	TenantsWithPendingMailboxes(ctx context.Context) ([]string, error)
	// PendingMailboxes lists a tenant's mailboxes with a Target, at most limit.
	PendingMailboxes(ctx context.Context, tenant string, limit int) ([]Mailbox, error)
	CountItems(ctx context.Context, tenant, mailbox string) (int, error)

	PutItem(ctx context.Context, it Item) error
	Item(ctx context.Context, tenant, mailbox, id string) (Item, error)
	ListItems(ctx context.Context, tenant, mailbox string) ([]Item, error)
	// ItemHeadsWithPrefix lists, without their content, a mailbox's items
	// whose ID starts with prefix, by ID in byte order (the versions of
	// a site's file, FILE@...): it reads those rows alone, whatever the
	// database's collation.
	ItemHeadsWithPrefix(ctx context.Context, tenant, mailbox, prefix string) ([]Item, error)
	// ListItemHeadsAfter lists a mailbox's items without their content,
	// one keyset page: at most
	// limit items with an ID above after, by ID.
	ListItemHeadsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]Item, error)
	// ItemsAfter is ListItemHeadsAfter with each item's content: for
	// small rows read in order (a search index's pages).
	ItemsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]Item, error)
	// WriteItems writes and deletes items in one transaction, each only
	// from the version its ItemWrite names: all of them, or none and
	// ErrConflict.
	WriteItems(ctx context.Context, ws []ItemWrite) error
	// MailboxItemVersion reads a mailbox with the version of one of its
	// items (0 if it has none) in one query: what a write needs.
	// The blob is that version's (a large item's; "" for none).
	MailboxItemVersion(ctx context.Context, tenant, mailbox, item string) (Mailbox, uint32, string, error)
	// MailboxItem reads a mailbox with one of its items in one query:
	// what a read needs. ErrNotFound if the mailbox is not there; a
	// mailbox without that item comes with a zero Item (ID "").
	MailboxItem(ctx context.Context, tenant, mailbox, item string) (Mailbox, Item, error)
	// ItemVersion returns an item's version (ErrNotFound if none).
	// (and when it was written: a version number comes again after a
	// delete).
	ItemVersion(ctx context.Context, tenant, mailbox, id string) (uint32, time.Time, error)
	DeleteItem(ctx context.Context, tenant, mailbox, id string) error

	// CreateUpload stores a new upload; ErrConflict if the tenant has one
	// of that ID, or one writing the same item version.
	CreateUpload(ctx context.Context, u Upload) error
	Upload(ctx context.Context, tenant, id string) (Upload, error)
	// ClaimUpload lets one part write to an upload: if it has from bytes
	// and no live claim (ErrConflict otherwise), it records claim until
	// until and raises Written to upTo, and returns the upload as it was
	// before (its Written says which chunks a cut-off part may have left).
	ClaimUpload(ctx context.Context, tenant, id string, from, upTo int64, claim string, until, now time.Time) (Upload, error)
	// RenewClaim extends a claim the caller holds, and marks the upload
	// updated (ErrConflict if it lost the claim).
	RenewClaim(ctx context.Context, tenant, id, claim string, until time.Time) error
	// AdvanceUpload records that u.Received bytes are stored (with its
	// State and Updated) and releases the claim, if the caller holds it
	// (ErrConflict otherwise).
	AdvanceUpload(ctx context.Context, u Upload, claim string) error
	// CommitUpload writes the item an upload made and deletes the upload,
	// in one transaction (ErrNotFound if the upload is gone; ErrConflict if
	// a version as new is stored). It returns the blob of the version it
	// replaced ("" for none), read in that transaction: the caller drops
	// it, whatever other writes did meanwhile.
	//
	// Ending an upload (commit, cancel, cleanup, a write given up) takes
	// its claim first; the row goes only with the claim named, and
	// whoever removed it owns the blob (ErrNotFound: someone else did).
	CommitUpload(ctx context.Context, it Item, upload, claim string) (string, error)
	// DeleteUpload deletes an upload if claim holds it ("": no claim was
	// ever taken); ErrNotFound otherwise.
	DeleteUpload(ctx context.Context, tenant, id, claim string) error
	// StaleUploads lists uploads of every tenant not updated since before
	// and with no live claim, oldest first, at most limit.
	StaleUploads(ctx context.Context, before time.Time, limit int) ([]Upload, error)
	// UploadVersions lists the item versions uploads are writing for one
	// item of a container.
	UploadVersions(ctx context.Context, tenant, container, item string) ([]uint32, error)
	// CountUploads counts a tenant's uploads in progress.
	CountUploads(ctx context.Context, tenant string) (int, error)

	// CreateDEP stores a new DEP unless the tenant already has max DEPs of
	// its kind (ErrLimit) or one of that name (ErrConflict).
	CreateDEP(ctx context.Context, d DEP, max int) error
	// DEP finds a tenant's DEP of a kind by GUID or name.
	DEP(ctx context.Context, tenant, kind, idOrName string) (DEP, error)
	// DEPByID finds a tenant's DEP of any kind by GUID.
	DEPByID(ctx context.Context, tenant, id string) (DEP, error)
	ListDEPs(ctx context.Context, tenant, kind string) ([]DEP, error)
	// UpdateDEP writes d's description, enabled flag and keys if the
	// stored DEP is still the one last updated at prev, the Updated it
	// was read with (ErrConflict: another change landed since, which
	// this one would undo; ErrNotFound: no such DEP). d.Updated must be
	// after prev, to the millisecond: it is the next change's prev.
	UpdateDEP(ctx context.Context, d DEP, prev time.Time) error
	// SetDEPRevocation stores a DEP's revocation (T1): revoked at at for
	// cause. ErrNotFound if no such DEP.
	SetDEPRevocation(ctx context.Context, tenant, id string, at time.Time, cause string) error
	// ClearDEPRevocation clears a DEP's revocation if it is the one
	// recorded at over (to the millisecond; zero: none), the one a
	// customer key's unwrap answered. Another, recorded since (a node
	// revoked the DEP while that answer was on its way) stands:
	// ErrConflict. ErrNotFound if no such DEP.
	ClearDEPRevocation(ctx context.Context, tenant, id string, over time.Time) error
	// DeleteDEP removes a DEP and its wrapped keys (the purge path, R6);
	// ErrNotFound if it does not exist.
	DeleteDEP(ctx context.Context, tenant, id string) error
	// DeleteMailbox removes a mailbox, its wrapped key and all its items,
	// with the blob chunks a database blob store keeps for the container
	// (sqlstore.DB.Blobs, blob.Ref.Container = id); ErrNotFound if it
	// does not exist. A blob store elsewhere (a directory) is purged by
	// its own DeleteContainer.
	DeleteMailbox(ctx context.Context, tenant, id string) error

	CreateServiceTenant(ctx context.Context, t ServiceTenant) error
	ServiceTenant(ctx context.Context, idOrName string) (ServiceTenant, error)
	ListServiceTenants(ctx context.Context) ([]ServiceTenant, error)
	// ListServiceTenantsAfter is one keyset page of ListServiceTenants:
	// at most limit tenants whose lower-case name is above after.ID.
	ListServiceTenantsAfter(ctx context.Context, after PageKey, limit int) ([]ServiceTenant, error)

	// CreateToken stores a token (ID and Hash unique: ErrConflict).
	CreateToken(ctx context.Context, t APIToken) error
	Token(ctx context.Context, hash string) (APIToken, error)
	// ListTokens lists a tenant's tokens, revoked ones included, oldest first.
	ListTokens(ctx context.Context, tenant string) ([]APIToken, error)
	// ListTokensAfter is one keyset page of ListTokens: at most limit
	// tokens after the one whose creation time and ID are after.
	ListTokensAfter(ctx context.Context, tenant string, after PageKey, limit int) ([]APIToken, error)
	// RevokeToken marks a tenant's token revoked at at and returns it;
	// ErrNotFound if the tenant has no token id, ErrConflict if it is
	// revoked already.
	RevokeToken(ctx context.Context, tenant, id string, at time.Time) (APIToken, error)
	// TouchToken records that a token was used at at.
	TouchToken(ctx context.Context, hash string, at time.Time) error
}

// Store is everything customerkey persists.
type Store interface {
	Directory
	Vaults
	Keys
	OpLog
	AvailabilityKeys
	Service
	AuditLog
	Jobs
	Purges
	AccessRequests
	OfficerKeys
	Events
	ClusterSecrets
	Locks
	Close() error
}

// Locks are named locks that every process sharing the database takes in
// turn: work that must not run on two nodes at once, whatever store rows
// it touches (a key-encryption key's rotation, made in a keystore outside
// the database). On PostgreSQL a lock is a session's (an advisory lock on
// a connection of its own), so a node that dies lets go of it; SQLite
// serves one process, and its locks are that process's.
type Locks interface {
	// Lock waits until it holds the lock name (or ctx ends: its error),
	// and returns what lets go of it (once, however often called).
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// Event is one recorded change that other nodes' caches act on (package
// events): a DEP revoked or cleared, disabled or purged, a token revoked,
// containers moved, a vault's access changed. Seq orders them.
type Event struct {
	Seq    int64
	Kind   string
	Tenant string
	Ref    string // what changed: a DEP ID, a token ID, a vault name
	Detail string // e.g. the revocation's cause
	Node   string // the node that published it
	At     time.Time
}

// Events is the log of events every node reads after a lost notification
// (a sequence check). On PostgreSQL AppendEvent also notifies the channel
// EventsChannel in the same transaction, and events commit in Seq order
// (a reader that saw Seq n never later finds an event below n).
type Events interface {
	// AppendEvent records e (Seq and At are assigned) and returns its Seq.
	AppendEvent(ctx context.Context, e Event) (int64, error)
	// EventsAfter returns up to limit events with Seq > after, in order.
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastEventSeq is the highest Seq recorded (0 if none).
	LastEventSeq(ctx context.Context) (int64, error)
	// PruneEvents deletes events recorded before t (by when they were
	// recorded, not by their At).
	PruneEvents(ctx context.Context, before time.Time) error
}

// EventsChannel is the PostgreSQL NOTIFY channel of AppendEvent.
const EventsChannel = "ck_events"

// ClusterSecrets records what identifies the secrets every node over one
// database must share (SPEC S1): the signing key's public-key fingerprint,
// a check value of the keystore, the operator token's hash. Never a
// secret itself. The first node records; later nodes compare.
type ClusterSecrets interface {
	// RecordClusterSecret stores value under name unless a value is
	// stored already, and returns the value stored now: value if this
	// call recorded it, the earlier one otherwise.
	RecordClusterSecret(ctx context.Context, name, value string) (string, error)
	// ReplaceClusterSecret replaces name's value old with value;
	// ErrConflict if the stored value is no longer old (or none is).
	ReplaceClusterSecret(ctx context.Context, name, old, value string) error
}

// AuditRecord is one entry of a tenant's hash-chained audit log (SPEC R8):
// a key access by the service or an admin action. Prev is the Hash of the
// record before it in the same tenant's chain (nil for the first); package
// audit computes Hash.
type AuditRecord struct {
	Tenant  string // "" for the service's own chain
	Seq     int64  // 1, 2, ... per tenant
	Time    time.Time
	Actor   string // who: an admin's UPN and role, or the service workload
	Action  string // what: wrap, unwrap, availability-key-use, create-dep, ...
	Target  string // on what: a DEP ID, an API path
	KeyID   string // the key used, if any
	Reason  string
	Outcome string // "ok", or the error or HTTP status
	Prev    []byte
	Hash    []byte
}

// AuditLog is the append-only audit log: the store refuses to change or
// delete records.
type AuditLog interface {
	// AppendAudit appends a record to tenant's chain in one transaction:
	// seal gets the tenant's last record (zero if none) and returns the new
	// one, whose Seq must follow it.
	AppendAudit(ctx context.Context, tenant string, seal func(last AuditRecord) AuditRecord) (AuditRecord, error)
	// ListAudit returns tenant's records with Seq > after, in order, at
	// most limit (at most 10000).
	ListAudit(ctx context.Context, tenant string, after int64, limit int) ([]AuditRecord, error)
	// LastAudit returns tenant's last record, the zero record if none.
	LastAudit(ctx context.Context, tenant string) (AuditRecord, error)
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is a durable background job (re-wrap, roll, registration, recovery,
// purge). A runner claims a job by taking its lease and must renew the
// lease while it works; a job whose lease has run out (its runner died)
// is claimed again and resumes. Handlers are idempotent: they derive what
// is left from the data, so a job may run any number of times.
type Job struct {
	ID       string
	Tenant   string
	Kind     string // what to run: register-sites, roll-sites, recover, purge, ...
	Target   string // what it works on: at most one queued or running job per tenant and target
	Args     []byte // JSON, the handler's
	State    string
	Total    int
	Done     int
	Attempts int
	Error    string // the last failure
	Owner    string // the runner holding the lease
	Until    time.Time
	Created  time.Time
	Updated  time.Time
}

// Jobs is the durable job queue.
type Jobs interface {
	// CreateJob queues a job; ErrConflict if the tenant has a queued or
	// running job on the same target.
	CreateJob(ctx context.Context, j Job) error
	// ClaimJob leases the oldest job that is queued and due, or running
	// with an expired lease, to owner until until; ErrNotFound if none.
	ClaimJob(ctx context.Context, owner string, now, until time.Time) (Job, error)
	// UpdateJob records progress and renews the lease of a job owner
	// still holds; ErrConflict if the lease was lost.
	UpdateJob(ctx context.Context, id, owner string, done, total int, until, now time.Time) error
	// FinishJob sets a held job's final state (or JobQueued with a retry
	// time in until) and its error; ErrConflict if the lease was lost.
	FinishJob(ctx context.Context, id, owner, state, errMsg string, until, now time.Time) error
	// AgainJob asks the tenant's active job on target to run once more
	// when it succeeds (it goes back to the queue); ErrConflict if there
	// is no active job on target.
	AgainJob(ctx context.Context, tenant, target string) error
	// ActiveJob returns the tenant's queued or running job on target
	// (ErrNotFound if none).
	ActiveJob(ctx context.Context, tenant, target string) (Job, error)
	// Job reads one of a tenant's jobs.
	Job(ctx context.Context, tenant, id string) (Job, error)
	// ListJobsOn lists a tenant's jobs on target, newest first, at most
	// limit.
	ListJobsOn(ctx context.Context, tenant, target string, limit int) ([]Job, error)
	// ListJobsBefore is one keyset page of a tenant's jobs, newest first:
	// at most limit jobs older than before (creation time, then ID); the
	// zero PageKey starts at the newest.
	ListJobsBefore(ctx context.Context, tenant string, before PageKey, limit int) ([]Job, error)
}

// Purge request states (SPEC R6).
const (
	PurgeRequested = "Requested" // waiting for officer approvals
	PurgeApproved  = "Approved"  // approved; the purge job is running
	PurgePurged    = "Purged"    // done: the certificate is issued
)

// PurgeApproval is one officer's approval of a purge: the officer's
// Ed25519 signature over the purge's canonical statement, with the
// registered key that verified it (SPEC T7). Approvals stored before
// signed approvals have no signature.
type PurgeApproval struct {
	Officer       string    `json:"officer"`
	At            time.Time `json:"at"`
	Signature     []byte    `json:"signature,omitempty"`
	PublicKey     []byte    `json:"publicKey,omitempty"`
	KeyRegistered time.Time `json:"keyRegistered,omitzero"`
	SubmittedBy   string    `json:"submittedBy,omitempty"`
}

// Purge is a permanent data purge request on a mailbox DEP, kept after the
// DEP is deleted, with the signed crypto-shred certificate once done.
type Purge struct {
	Tenant      string
	DEP         string // the DEP's GUID
	Name        string // the DEP's name
	Reason      string
	Contact     string
	RequestedBy string
	Requested   time.Time
	Required    int // approvals needed
	// Containers are the IDs of the containers the purge deletes, fixed
	// when it is requested (what the officers sign); nil for a request
	// stored before they were (migration 0019).
	Containers  []string
	Approvals   []PurgeApproval
	State       string
	Certificate []byte // signed JSON, once Purged
	Updated     time.Time
}

// OfficerKey is the Ed25519 public key an authorised officer signs purge
// approvals with (SPEC T7).
type OfficerKey struct {
	Tenant       string
	Officer      string // lower case
	PublicKey    []byte // 32 bytes
	Registered   time.Time
	RegisteredBy string
	// Confirmed is when the service operator confirmed the key with the
	// officer (zero: not yet; a key registered again is not).
	Confirmed   time.Time
	ConfirmedBy string
}

// OfficerKeys holds the officers' public keys.
type OfficerKeys interface {
	// PutOfficerKey registers or replaces an officer's key unless the
	// tenant has a purge request that is Requested or Approved
	// (ErrConflict): keys do not change under an open purge.
	PutOfficerKey(ctx context.Context, k OfficerKey) error
	// OfficerKey reads an officer's key; ErrNotFound if none.
	OfficerKey(ctx context.Context, tenant, officer string) (OfficerKey, error)
	// ListOfficerKeys lists a tenant's officer keys, by officer.
	ListOfficerKeys(ctx context.Context, tenant string) ([]OfficerKey, error)
	// ConfirmOfficerKey marks the officer's key confirmed if it is still
	// publicKey (ErrNotFound otherwise).
	ConfirmOfficerKey(ctx context.Context, tenant, officer string, publicKey []byte, at time.Time, by string) error
}

// Purges holds purge requests.
type Purges interface {
	// CreatePurge stores a request; ErrConflict if the DEP has one.
	CreatePurge(ctx context.Context, p Purge) error
	// Purge reads the request on a DEP (by GUID).
	Purge(ctx context.Context, tenant, dep string) (Purge, error)
	ListPurges(ctx context.Context, tenant string) ([]Purge, error)
	// UpdatePurge stores a request's approvals, state and certificate if
	// it is still prev, as read: in its state, last updated at its
	// Updated (ErrConflict otherwise: an approval or a state landed
	// since, which this one would undo). p.Updated must be after
	// prev.Updated, to the millisecond (After).
	UpdatePurge(ctx context.Context, p Purge, prev Purge) error
}

// After is the Updated of a change made at now to a record last
// updated at prev: now to the millisecond the store keeps, or a
// millisecond after prev if the clock is not past it. A record's
// Updated is thus the version a conditional update checks
// (UpdateDEP, UpdatePurge).
func After(prev, now time.Time) time.Time {
	now = now.UTC().Truncate(time.Millisecond)
	if next := prev.UTC().Truncate(time.Millisecond).Add(time.Millisecond); now.Before(next) {
		return next
	}
	return now
}

// Access request states (SPEC T5). An approved request is used once.
const (
	AccessPending  = "Pending"  // the operator asked; a tenant global admin must decide
	AccessApproved = "Approved" // may be used once until it expires
	AccessDenied   = "Denied"
	AccessUsed     = "Used"
)

// AccessRequest is the tenant's consent to one operator action on its
// data (key-loss recovery, rollback), like Microsoft's Customer Lockbox:
// who asked, for what action on which DEP or geo and target, why, and
// until when; who decided and when; when it was used.
type AccessRequest struct {
	ID          string
	Tenant      string
	Action      string // recover | recover-geo | rollback
	DEP         string // the DEP's GUID (recover, rollback) or the geo (recover-geo)
	DEPName     string // the DEP's name, or the geo, as shown
	Target      string // recover: the target DEP's GUID; recover-geo: the two new key URIs, comma-separated; rollback: ""
	TargetName  string // recover: the target DEP's name; otherwise as Target
	Reason      string
	RequestedBy string // tenant.Actor: "subject (role, token ID)"
	Requested   time.Time
	Expires     time.Time // the request can be approved and used until then
	State       string
	DecidedBy   string
	Decided     *time.Time
	UsedBy      string
	Used        *time.Time
}

// AccessRequests holds access requests.
type AccessRequests interface {
	// CreateAccessRequest stores a request; ErrConflict if its ID exists.
	CreateAccessRequest(ctx context.Context, r AccessRequest) error
	// AccessRequest reads one of a tenant's requests.
	AccessRequest(ctx context.Context, tenant, id string) (AccessRequest, error)
	// ListAccessRequestsBefore lists a tenant's requests, newest first
	// (request time, then ID): one keyset page of at most limit older than
	// before (zero: the newest).
	ListAccessRequestsBefore(ctx context.Context, tenant string, before PageKey, limit int) ([]AccessRequest, error)
	// UpdateAccessRequest stores a request's state, decision and use if
	// it is still in state prev; ErrConflict otherwise (decided or used
	// by someone else meanwhile).
	UpdateAccessRequest(ctx context.Context, r AccessRequest, prev string) error
}

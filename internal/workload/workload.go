// Package workload is the one container model behind every kind of tenant
// data: user mailboxes and mail users (Exchange), sites (SharePoint, one
// per site, under the geo's site DEP) and the multi-workload containers
// (one per workload such as teams, under the tenant's multi-workload DEP).
//
// A container has a key of its own, wrapped by its DEP's key (K1, K2);
// each item in it is sealed under a fresh item key wrapped by the
// container key, bound to tenant, container, item and version (K8).
// Moving a container to another DEP re-wraps its key only (K7).
//
// A Ref names a container as the API does (a mailbox's UPN, a site's name,
// a workload's name); Put, Open, List and DeleteItem work on the items
// of any kind of container the same way.
package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/google/uuid"
)

// Container kinds, as stored.
const (
	UserMailbox   = client.UserMailbox
	MailUser      = client.MailUser // not yet migrated: its data is encrypted as it arrives
	MultiWorkload = "MultiWorkload"
	sitePrefix    = "Site:" // + geo
)

// SiteKind is the container kind of the sites of geo.
func SiteKind(geo string) string { return sitePrefix + geo }

// Store is the slice of the store this package uses.
type Store interface {
	CreateMailbox(ctx context.Context, m store.Mailbox) error
	Mailbox(ctx context.Context, tenant, id string) (store.Mailbox, error)
	ContainersOnDEP(ctx context.Context, tenant, dep string) ([]store.Mailbox, error)
	ContainersOfKind(ctx context.Context, tenant, kind string) ([]store.Mailbox, error)
	UpdateMailbox(ctx context.Context, m store.Mailbox, prevDEP string, prevKeyVersion int) error
	DeleteMailbox(ctx context.Context, tenant, id string) error
	SetMailboxTarget(ctx context.Context, tenant, id, dep string) (bool, error)
	PendingMailboxes(ctx context.Context, tenant string, limit int) ([]store.Mailbox, error)
	TenantsWithPendingMailboxes(ctx context.Context) ([]string, error)
	CountItems(ctx context.Context, tenant, mailbox string) (int, error)
	PutItem(ctx context.Context, it store.Item) error
	Item(ctx context.Context, tenant, mailbox, id string) (store.Item, error)
	ItemHeadsWithPrefix(ctx context.Context, tenant, mailbox, prefix string) ([]store.Item, error)
	ListItemHeadsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]store.Item, error)
	ItemsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]store.Item, error)
	WriteItems(ctx context.Context, ws []store.ItemWrite) error
	MailboxItemVersion(ctx context.Context, tenant, mailbox, item string) (store.Mailbox, uint32, string, error)
	MailboxItem(ctx context.Context, tenant, mailbox, item string) (store.Mailbox, store.Item, error)
	ItemVersion(ctx context.Context, tenant, mailbox, id string) (uint32, time.Time, error)
	DeleteItem(ctx context.Context, tenant, mailbox, id string) error
	CreateUpload(ctx context.Context, u store.Upload) error
	Upload(ctx context.Context, tenant, id string) (store.Upload, error)
	ClaimUpload(ctx context.Context, tenant, id string, from, upTo int64, claim string, until, now time.Time) (store.Upload, error)
	RenewClaim(ctx context.Context, tenant, id, claim string, until time.Time) error
	AdvanceUpload(ctx context.Context, u store.Upload, claim string) error
	CommitUpload(ctx context.Context, it store.Item, upload, claim string) (string, error)
	DeleteUpload(ctx context.Context, tenant, id, claim string) error
	StaleUploads(ctx context.Context, before time.Time, limit int) ([]store.Upload, error)
	UploadVersions(ctx context.Context, tenant, container, item string) ([]uint32, error)
	CountUploads(ctx context.Context, tenant string) (int, error)
}

// Licences checks that a user may have a customer DEP (O1).
type Licences interface {
	RequireLicence(ctx context.Context, t store.ServiceTenant, user string) error
}

// Config configures the container service.
type Config struct {
	Store    Store
	Blobs    blob.Store // the sealed chunks of large items
	DEPs     *dep.Service
	Licences Licences
	// Tokens re-checks the caller of a stream of content (guard.go): a
	// token revoked meanwhile stops it. Nil: only the DEP is re-checked.
	Tokens Tokens
	Now    func() time.Time
	Logger *slog.Logger
	// Streams bounds the transfers of content the node runs at once.
	Streams Streams
}

// Service manages containers and their items.
type Service struct {
	st    Store
	blobs blob.Store
	deps  *dep.Service
	lic   Licences
	toks  Tokens
	now   func() time.Time
	log   *slog.Logger
	index indexer
	// writing serialises this process's small writes of one item kept
	// in place, so that only writers on other nodes race for its next
	// version. A lock per item: a write waiting on a slow vault holds up
	// the writers of its own item only, never another tenant's.
	writing itemLocks
	streams *streamSlots
}

// itemLocks are locks by name, each kept only while someone holds or
// awaits it (so a lock per item or mailbox costs nothing once idle).
type itemLocks struct {
	mu    sync.Mutex
	locks map[string]*itemLock
}

type itemLock struct {
	sync.Mutex
	users int // holding or waiting
}

// tryLock takes name's lock if no one holds it (ok), without waiting.
func (l *itemLocks) tryLock(name string) (unlock func(), ok bool) {
	l.mu.Lock()
	if l.locks[name] != nil {
		l.mu.Unlock()
		return nil, false // held, or waited for
	}
	return l.lockLocked(name), true
}

// lock takes name's lock; the function it returns releases it.
func (l *itemLocks) lock(name string) (unlock func()) {
	l.mu.Lock()
	return l.lockLocked(name)
}

// lockLocked is lock with l.mu held, which it releases.
func (l *itemLocks) lockLocked(name string) (unlock func()) {
	if l.locks == nil {
		l.locks = map[string]*itemLock{}
	}
	il := l.locks[name]
	if il == nil {
		il = &itemLock{}
		l.locks[name] = il
	}
	il.users++
	l.mu.Unlock()
	il.Lock()
	return func() {
		il.Unlock()
		l.mu.Lock()
		if il.users--; il.users == 0 {
			delete(l.locks, name)
		}
		l.mu.Unlock()
	}
}

// New returns the container service.
func New(cfg Config) *Service {
	return &Service{st: cfg.Store, blobs: cfg.Blobs, deps: cfg.DEPs, lic: cfg.Licences, toks: cfg.Tokens, now: cfg.Now, log: cfg.Logger,
		index: indexer{node: uuid.NewString(), workers: make(chan struct{}, indexWorkers())}, streams: newStreamSlots(cfg.Streams)}
}

var (
	itemIDRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	siteRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	workloadRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
)

// KeyID names a container key version in sealed items.
func KeyID(m store.Mailbox) string { return m.ID + "#" + strconv.Itoa(m.KeyVersion) }

// ---- creating containers ----

// newContainer wraps a new container key under d's key and stores the
// container; the key is returned to the caller, who destroys it.
func (s *Service) newContainer(ctx context.Context, t store.ServiceTenant, id, kind string, d store.DEP, why string) (store.Mailbox, *envelope.Key, error) {
	if !fits(kind, d) {
		return store.Mailbox{}, nil, errDEPKind(id, kind, d)
	}
	depKey, err := s.deps.Key(ctx, d, keyring.Request{Initiator: keyring.Service, Reason: why})
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	ck := envelope.NewKey()
	rec, err := envelope.WrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: d.ID, ID: id}, ck)
	if err != nil {
		ck.Destroy()
		return store.Mailbox{}, nil, err
	}
	now := s.now().UTC()
	m := store.Mailbox{Tenant: t.ID, ID: id, Kind: kind, DEP: d.ID, ContainerKey: rec.Marshal(), KeyVersion: 1, Created: now, Updated: now}
	if err := s.st.CreateMailbox(ctx, m); err != nil {
		ck.Destroy()
		return m, nil, err
	}
	return m, ck, nil
}

// CreateMailbox creates a user mailbox or a mail user on a mailbox DEP
// (by name or GUID), or on service-managed keys for "". A customer DEP
// needs the user's Customer Key licence (O1).
func (s *Service) CreateMailbox(ctx context.Context, t store.ServiceTenant, upn, kind, depName string) (Stats, error) {
	m, err := s.createMailbox(ctx, t, upn, kind, depName)
	if err != nil {
		return Stats{}, err
	}
	return s.Statistics(ctx, m)
}

func (s *Service) createMailbox(ctx context.Context, t store.ServiceTenant, upn, kind, depName string) (store.Mailbox, error) {
	if !tenant.ValidUPN(upn) {
		return store.Mailbox{}, rule.Invalid(client.RuleMailboxID, "give the user's principal name, e.g. alice@contoso.com", "mailbox %q is not a UPN", upn)
	}
	if kind == "" {
		kind = UserMailbox
	}
	if !spaces[Mailboxes].holds(kind) { // the API's enum says so too; the domain does not rely on it
		return store.Mailbox{}, rule.Invalid(client.RuleMailboxKind, "give UserMailbox or MailUser: sites and workload containers are not made here", "%q is not a kind of mailbox", kind)
	}
	if depName != "" {
		if err := s.lic.RequireLicence(ctx, t, upn); err != nil {
			return store.Mailbox{}, err
		}
	}
	d, err := s.deps.Assignable(ctx, t, dep.Mailbox, depName)
	if err != nil {
		return store.Mailbox{}, err
	}
	id := strings.ToLower(upn)
	m, ck, err := s.newContainer(ctx, t, id, kind, d, "new mailbox "+id)
	if errors.Is(err, store.ErrConflict) {
		return m, rule.Conflict(client.RuleMailboxUnique, "use the existing mailbox", "mailbox %s exists", id)
	} else if err != nil {
		return m, err
	}
	ck.Destroy()
	return m, nil
}

// CreateSite creates a site in a geo: under the geo's site DEP when the
// geo is registered, else under service-managed keys.
func (s *Service) CreateSite(ctx context.Context, t store.ServiceTenant, name, geo string) (store.Mailbox, store.DEP, error) {
	geo = strings.ToUpper(geo)
	if !siteRE.MatchString(name) || !dep.GeoRE.MatchString(geo) {
		return store.Mailbox{}, store.DEP{}, rule.Invalid(client.RuleSiteName, "name the site with lower-case letters, digits and -, and give a three-letter geo", "site %q in geo %q is invalid", name, geo)
	}
	d, err := s.siteDEP(ctx, t, geo)
	if err != nil {
		return store.Mailbox{}, d, err
	}
	id := siteID(name)
	m, ck, err := s.newContainer(ctx, t, id, SiteKind(geo), d, "new site "+name)
	if errors.Is(err, store.ErrConflict) {
		return m, d, rule.Conflict(client.RuleSiteUnique, "choose another name", "site %s exists", name)
	} else if err != nil {
		return m, d, err
	}
	defer ck.Destroy()
	// A roll of the geo that started meanwhile may already be past this
	// site: move it to the geo's current DEP with the key in hand (its old
	// DEP may be retired as soon as no site uses it).
	if now, err := s.siteDEP(ctx, t, geo); err == nil && now.ID != d.ID {
		newKey, err := s.deps.Key(ctx, now, keyring.Request{Initiator: keyring.Service, Reason: "new site " + name + " during a roll"})
		if err != nil {
			return m, d, err
		}
		if err := s.rewrapKey(ctx, t, m, d, ck, now, newKey); err != nil && !rule.Is(err, rule.KindConflict) {
			return m, d, err
		}
		m.DEP, d = now.ID, now
	}
	return m, d, nil
}

// siteDEP is the DEP new sites of geo go under.
func (s *Service) siteDEP(ctx context.Context, t store.ServiceTenant, geo string) (store.DEP, error) {
	g, err := s.deps.Geo(ctx, t, geo)
	if err != nil {
		return store.DEP{}, err
	}
	if g.State == dep.Unregistered {
		return s.deps.ServiceDEP(ctx, t)
	}
	return s.deps.Get(ctx, t, dep.Site, g.DEP)
}

// Box returns a workload's container under the tenant's current
// multi-workload DEP: made on first use, re-wrapped if the assignment
// changed since.
func (s *Service) Box(ctx context.Context, t store.ServiceTenant, workload string) (store.Mailbox, error) {
	want, err := s.deps.ForMultiWorkload(ctx, t)
	if err != nil {
		return store.Mailbox{}, err
	}
	id := workloadID(workload)
	m, err := s.find(ctx, t, RecordsRef(workload))
	if rule.Is(err, rule.KindNotFound) {
		_, ck, err := s.newContainer(ctx, t, id, MultiWorkload, want, "new "+workload+" container")
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return m, err
		}
		if ck != nil {
			ck.Destroy()
		}
		return s.st.Mailbox(ctx, t.ID, id)
	}
	if err != nil {
		return m, err
	}
	if m.DEP != want.ID {
		if err := s.Rewrap(ctx, t, m, want, tenant.Caller(ctx).Subject); err != nil && !rule.Is(err, rule.KindConflict) {
			return m, err
		}
		return s.st.Mailbox(ctx, t.ID, id)
	}
	return m, nil
}

// ---- finding containers ----

func siteID(name string) string     { return "site:" + name }
func workloadID(name string) string { return "workload:" + name }

// Mailbox finds a user mailbox or mail user.
func (s *Service) Mailbox(ctx context.Context, t store.ServiceTenant, upn string) (store.Mailbox, error) {
	return s.find(ctx, t, MailboxRef(upn))
}

// OnDEP lists the containers whose key a DEP wraps.
func (s *Service) OnDEP(ctx context.Context, t store.ServiceTenant, depID string) ([]store.Mailbox, error) {
	return s.st.ContainersOnDEP(ctx, t.ID, depID)
}

// OfKind lists the containers of one kind.
func (s *Service) OfKind(ctx context.Context, t store.ServiceTenant, kind string) ([]store.Mailbox, error) {
	return s.st.ContainersOfKind(ctx, t.ID, kind)
}

// Delete deletes a container with its items (the purge).
func (s *Service) Delete(ctx context.Context, t store.ServiceTenant, id string) error {
	// The blobs first: a deletion cut off is run again, and finds the
	// container's rows still there to say what it was.
	if _, err := s.blobs.DeleteContainer(ctx, t.ID, strings.ToLower(id)); err != nil {
		return err
	}
	if err := s.st.DeleteMailbox(ctx, t.ID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// Stats is Get-MailboxStatistics.
type Stats struct {
	Mailbox     store.Mailbox
	IsEncrypted bool   // a customer DEP protects it
	DEP         string // the GUID of that DEP
	Pending     string // the DEP assigned, while the key is re-wrapped under it
	Items       int
}

// MailboxStatistics is Get-MailboxStatistics.
func (s *Service) MailboxStatistics(ctx context.Context, t store.ServiceTenant, upn string) (Stats, error) {
	m, err := s.Mailbox(ctx, t, upn)
	if err != nil {
		return Stats{}, err
	}
	return s.Statistics(ctx, m)
}

// Statistics returns a mailbox's statistics.
func (s *Service) Statistics(ctx context.Context, m store.Mailbox) (Stats, error) {
	n, err := s.st.CountItems(ctx, m.Tenant, m.ID)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Mailbox: m, Items: n, Pending: m.Target}
	if d, err := s.deps.Get(ctx, store.ServiceTenant{ID: m.Tenant}, dep.Mailbox, m.DEP); err == nil {
		st.IsEncrypted, st.DEP = true, d.ID
	}
	return st, nil
}

// ---- keys ----

// Key unwraps a container's key with its DEP's key, got through the
// keyring for req. The caller destroys it.
func (s *Service) Key(ctx context.Context, t store.ServiceTenant, m store.Mailbox, req keyring.Request) (*envelope.Key, error) {
	// Fast path: the DEP key is cached (and not due for a refresh); the
	// DEP's record is needed only to unwrap it.
	if depKey, ok := s.deps.Cached(m.DEP); ok {
		return s.unwrap(t, m, depKey)
	}
	d, err := s.deps.ByID(ctx, t, m.DEP)
	if err != nil {
		// A roll may have moved the container and retired its old DEP
		// since m was read: read it again. The key is still m's version
		// (the caller seals or opens with KeyID(m)): the current one's,
		// or an earlier one kept under it.
		if m2, err2 := s.st.Mailbox(ctx, t.ID, m.ID); err2 == nil && m2.DEP != m.DEP {
			ck, err := s.Key(ctx, t, m2, req)
			if err != nil || m2.KeyVersion == m.KeyVersion {
				return ck, err
			}
			defer ck.Destroy()
			return s.prior(t, m2, ck, KeyID(m))
		}
		return nil, err
	}
	depKey, err := s.deps.Key(ctx, d, req)
	if err != nil {
		return nil, err
	}
	return s.unwrap(t, m, depKey)
}

// unwrap opens m's container key with its DEP's key.
func (s *Service) unwrap(t store.ServiceTenant, m store.Mailbox, depKey *envelope.Key) (*envelope.Key, error) {
	rec, err := envelope.ParseRecord(m.ContainerKey)
	if err == nil {
		var ck *envelope.Key
		if ck, err = envelope.UnwrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: m.DEP, ID: m.ID}, rec); err == nil {
			return ck, nil
		}
	}
	return nil, s.integrity(t, m, err)
}

// integrity is the error of a container key (or an earlier version of
// it) that does not open: logged for the operator, without the key.
func (s *Service) integrity(t store.ServiceTenant, m store.Mailbox, err error) error {
	s.log.Error("workload: container key does not open", "tenant", t.ID, "container", m.ID, "err", err)
	return rule.Internal(client.RuleContainerIntegrity, "the operator should read the service log", "the key of %s failed its integrity check", m.ID)
}

// keyFor is the version of m's key that sealed ciphertext: ck (m's
// current key, which the caller keeps) or, for one sealed before a move,
// the earlier version it names, unwrapped with ck. done destroys what
// keyFor made.
func (s *Service) keyFor(t store.ServiceTenant, m store.Mailbox, ck *envelope.Key, ciphertext []byte) (key *envelope.Key, done func(), err error) {
	kid, err := envelope.KeyIDOf(ciphertext)
	if err != nil || kid == KeyID(m) {
		return ck, func() {}, nil // not a ciphertext: opening it says so
	}
	if v, err := strconv.Atoi(kid[strings.LastIndexByte(kid, '#')+1:]); err == nil && v > m.KeyVersion && strings.HasPrefix(kid, m.ID+"#") {
		// Sealed after m was read, under a version a move made since.
		return nil, nil, rule.Conflict(client.RuleMailboxConcurrent, "read it again", "%s moved to another DEP while it was read", m.ID)
	}
	prior, err := s.prior(t, m, ck, kid)
	if err != nil {
		return nil, nil, err
	}
	return prior, prior.Destroy, nil
}

// prior unwraps the earlier version kid of m's key with ck, m's current
// key (a new key the caller destroys).
func (s *Service) prior(t store.ServiceTenant, m store.Mailbox, ck *envelope.Key, kid string) (*envelope.Key, error) {
	priors, err := envelope.ParsePriorKeys(m.PriorKeys)
	if err != nil {
		return nil, s.integrity(t, m, err)
	}
	r, ok := priors[kid]
	if !ok {
		return nil, s.integrity(t, m, fmt.Errorf("no key %s among its versions (current %s)", kid, KeyID(m)))
	}
	prior, err := envelope.UnwrapPrior(ck, envelope.Prior{Tenant: t.ID, Current: KeyID(m), ID: kid}, r)
	if err != nil {
		return nil, s.integrity(t, m, err)
	}
	return prior, nil
}

// Rewrap moves a container to another DEP: its key is unwrapped with the
// old DEP's key and wrapped with the new one (K7: content is untouched).
// It reports the new DEP only once that is stored (D3).
func (s *Service) Rewrap(ctx context.Context, t store.ServiceTenant, m store.Mailbox, to store.DEP, by string) error {
	from, err := s.deps.ByID(ctx, t, m.DEP)
	if err != nil {
		return err
	}
	// Off its DEP with a customer key only (T2); onto the new one as
	// service work.
	why := "re-wrap " + m.ID + " under DEP " + to.Name + " for " + by
	oldKey, err := s.deps.Key(ctx, from, keyring.Request{Initiator: keyring.Move, Reason: why})
	if err != nil {
		return err
	}
	newKey, err := s.deps.Key(ctx, to, keyring.Request{Initiator: keyring.Service, Reason: why})
	if err != nil {
		return err
	}
	return s.Move(ctx, t, m, from, oldKey, to, newKey)
}

// Move re-wraps m's key from one DEP's key to another's and stores it if
// the container is still on from (a conflict otherwise). The DEP keys are
// the caller's.
func (s *Service) Move(ctx context.Context, t store.ServiceTenant, m store.Mailbox, from store.DEP, oldKey *envelope.Key, to store.DEP, newKey *envelope.Key) error {
	rec, err := envelope.ParseRecord(m.ContainerKey)
	if err != nil {
		return err
	}
	ck, err := envelope.UnwrapContainerKey(oldKey, envelope.Container{Tenant: t.ID, DEP: from.ID, ID: m.ID}, rec)
	if err != nil {
		return err
	}
	defer ck.Destroy()
	return s.rewrapKey(ctx, t, m, from, ck, to, newKey)
}

// rewrapKey moves m from one DEP to another, if it is still on from at
// its key version: it gets a new version of its key, wrapped under to's
// key, and keeps the earlier ones (ck, the current, among them) wrapped
// under the new one. What it holds from now on is sealed under a key only
// to's key opens: a copy of the database from before the move, with a
// key the service still holds (the service-managed DEP's, the old DEP's
// availability key), does not open it, nor anything once to is purged
// (SPEC T8). Content is not touched (K7): items keep the version they
// were sealed under, read through PriorKeys.
func (s *Service) rewrapKey(ctx context.Context, t store.ServiceTenant, m store.Mailbox, from store.DEP, ck *envelope.Key, to store.DEP, newKey *envelope.Key) error {
	if !fits(m.Kind, to) {
		return errDEPKind(m.ID, m.Kind, to)
	}
	next := m
	next.KeyVersion = m.KeyVersion + 1
	nk := envelope.NewKey()
	defer nk.Destroy()
	priors, err := envelope.ParsePriorKeys(m.PriorKeys)
	if err != nil {
		return s.integrity(t, m, err)
	}
	if len(priors) >= envelope.MaxPriorKeys {
		return rule.Conflict(client.RuleMailboxConcurrent, "the operator should read the service log", "%s has moved %d times: no more key versions can be kept", m.ID, len(priors))
	}
	moved := envelope.PriorKeys{}
	for id, r := range priors {
		old, err := envelope.UnwrapPrior(ck, envelope.Prior{Tenant: t.ID, Current: KeyID(m), ID: id}, r)
		if err != nil {
			return s.integrity(t, m, err)
		}
		moved[id], err = envelope.WrapPrior(nk, envelope.Prior{Tenant: t.ID, Current: KeyID(next), ID: id}, old)
		old.Destroy()
		if err != nil {
			return err
		}
	}
	if moved[KeyID(m)], err = envelope.WrapPrior(nk, envelope.Prior{Tenant: t.ID, Current: KeyID(next), ID: KeyID(m)}, ck); err != nil {
		return err
	}
	nrec, err := envelope.WrapContainerKey(newKey, envelope.Container{Tenant: t.ID, DEP: to.ID, ID: m.ID}, nk)
	if err != nil {
		return err
	}
	next.DEP, next.ContainerKey, next.PriorKeys, next.Updated = to.ID, nrec.Marshal(), moved.Marshal(), s.now().UTC()
	if err := s.st.UpdateMailbox(ctx, next, from.ID, m.KeyVersion); errors.Is(err, store.ErrConflict) {
		return rule.Conflict(client.RuleMailboxConcurrent, "read the mailbox again and retry", "mailbox %s was moved to another DEP meanwhile", m.ID)
	} else if err != nil {
		return err
	}
	s.log.Info("workload: container re-wrapped", "tenant", t.ID, "container", m.ID, "from", from.ID, "to", to.ID)
	return nil
}

// ---- assignments (Set-Mailbox) ----

// Assign stores the DEP a mailbox is assigned (a customer DEP, or "" for
// service-managed keys); a job re-wraps it (lifecycle). It reports whether
// the mailbox must move.
func (s *Service) Assign(ctx context.Context, t store.ServiceTenant, m store.Mailbox, depName string) (store.Mailbox, bool, error) {
	if depName != "" {
		if err := s.lic.RequireLicence(ctx, t, m.ID); err != nil {
			return m, false, err
		}
	}
	to, err := s.deps.Assignable(ctx, t, dep.Mailbox, depName)
	if err != nil {
		return m, false, err
	}
	if to.ID != m.DEP {
		from, err := s.deps.ByID(ctx, t, m.DEP)
		if err != nil {
			return m, false, err
		}
		if err := s.deps.RequirePurgeFree(ctx, t, from); err != nil {
			return m, false, err
		}
	}
	// Assigning the DEP it is on cancels a pending assignment.
	pending, err := s.st.SetMailboxTarget(ctx, t.ID, m.ID, to.ID)
	if err != nil {
		return m, false, err
	}
	if !pending {
		if to.ID != m.DEP { // its re-wrap to that DEP ended meanwhile: as it is now
			if now, err := s.st.Mailbox(ctx, t.ID, m.ID); err == nil {
				m = now
			}
		}
		m.Target = ""
		return m, false, nil
	}
	m.Target = to.ID
	return m, true, nil
}

// Pending lists up to limit of the tenant's mailboxes whose assignment
// waits for its re-wrap.
func (s *Service) Pending(ctx context.Context, t store.ServiceTenant, limit int) ([]store.Mailbox, error) {
	return s.st.PendingMailboxes(ctx, t.ID, limit)
}

// TenantsWithPending lists the tenants with pending assignments.
func (s *Service) TenantsWithPending(ctx context.Context) ([]string, error) {
	return s.st.TenantsWithPendingMailboxes(ctx)
}

// DropAssignment drops a mailbox's pending assignment.
func (s *Service) DropAssignment(ctx context.Context, t store.ServiceTenant, m store.Mailbox) error {
	_, err := s.st.SetMailboxTarget(ctx, t.ID, m.ID, m.DEP)
	return err
}

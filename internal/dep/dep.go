// Package dep holds data encryption policies (DEPs): the rules for making
// one on two customer keys (SPEC D1), their health and revocation signal
// (R5), assignment (D2, D6), purge requests and their approval by the
// tenant's officers (R6), and the translation of a stored DEP into a
// keyring request for its key.
//
// A DEP has a Kind: a mailbox DEP (Exchange Online), a multi-workload DEP
// (M365DataAtRestEncryption), a site DEP (the TIK of a SharePoint geo), or
// the tenant's service-managed DEP. Each kind but the service-managed one
// reaches customer keys as its workload's service principal (Workload).
package dep

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"crypto/ed25519"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Kind is the kind of a DEP, as stored.
type Kind string

// Kinds of DEP.
const (
	Mailbox        Kind = "mailbox" // New-DataEncryptionPolicy: Exchange mailboxes
	MDEP           Kind = "mdep"    // New-M365DataAtRestEncryptionPolicy: multi-workload data
	Site           Kind = "site"    // Register-SPODataEncryptionPolicy: a geo's TIK
	ServiceManaged Kind = "service" // the tenant's service-managed keys
)

// Well-known application IDs of the service's workloads (SPEC V4): the
// service principals a tenant registers and grants get, wrapKey and
// unwrapKey on its keys.
const (
	ExchangeApp   = client.ExchangeApp   // Office 365 Exchange Online: mailbox DEPs
	SharePointApp = client.SharePointApp // Office 365 SharePoint Online: site DEPs
	M365App       = client.M365App       // M365DataAtRestEncryption: the multi-workload DEP
)

// Workload is how the service reaches customer keys as one workload's
// service principal.
type Workload struct {
	App  string // application ID
	KMS  kms.Client
	Ring *keyring.Keyring
}

// MaxMailboxDEPs per tenant (SPEC D1), also the bound on multi-workload DEPs.
const MaxMailboxDEPs = 50

// MaxSiteDEPs bounds a tenant's site DEPs: one per geo, plus those of
// rolls in progress (retired site DEPs are deleted).
const MaxSiteDEPs = 100

// ServiceName is the name of a tenant's service-managed DEP.
const ServiceName = "service-managed"

// Store is the slice of the store this package uses.
type Store interface {
	CreateDEP(ctx context.Context, d store.DEP, max int) error
	DEP(ctx context.Context, tenant, kind, idOrName string) (store.DEP, error)
	DEPByID(ctx context.Context, tenant, id string) (store.DEP, error)
	ListDEPs(ctx context.Context, tenant, kind string) ([]store.DEP, error)
	UpdateDEP(ctx context.Context, d store.DEP, prev time.Time) error
	SetDEPRevocation(ctx context.Context, tenant, id string, at time.Time, cause string) error
	ClearDEPRevocation(ctx context.Context, tenant, id string, unwrapped time.Time) error
	DeleteDEP(ctx context.Context, tenant, id string) error
	Onboarded(ctx context.Context, tenant string) ([]store.Onboarding, error)
	SetAssignment(ctx context.Context, tenant, scenario, dep string, at time.Time) error
	Assignment(ctx context.Context, tenant, scenario string) (string, time.Time, error)
	CreatePurge(ctx context.Context, p store.Purge) error
	Purge(ctx context.Context, tenant, dep string) (store.Purge, error)
	ListPurges(ctx context.Context, tenant string) ([]store.Purge, error)
	UpdatePurge(ctx context.Context, p store.Purge, prev store.Purge) error
	SiteRegistration(ctx context.Context, tenant, geo string) (store.SiteRegistration, error)
	ListSiteRegistrations(ctx context.Context, tenant string) ([]store.SiteRegistration, error)
	ContainersOnDEP(ctx context.Context, tenant, dep string) ([]store.Mailbox, error)
	ActiveJob(ctx context.Context, tenant, target string) (store.Job, error)
	store.OfficerKeys
}

// Config configures the DEP service.
type Config struct {
	Store     Store
	Workloads map[Kind]Workload // mailbox, site, mdep
	// Azure is where vaults are looked up by name (site DEP keys).
	Azure onboarding.Azure
	// Signer signs crypto-shred certificates; without it purges are refused.
	Signer ed25519.PrivateKey
	// PurgeApprovals is how many distinct officers approve a purge (≥ 1).
	PurgeApprovals int
	// Events tells the other nodes what changes what they may serve: a
	// revocation set or cleared, a DEP disabled, deleted or its purge
	// requested (nil: one node, nothing to tell). OnEvent acts on them.
	Events events.Bus
	Now    func() time.Time
	Logger *slog.Logger
}

// Service manages a tenant's DEPs.
type Service struct {
	cfg Config
	st  Store
	// workloadOf remembers the workload of each DEP whose key was asked
	// for, so a cached key is looked up in one keyring only.
	workloadOf sync.Map // DEP ID -> Kind
}

// New returns the DEP service.
func New(cfg Config) *Service {
	if cfg.PurgeApprovals <= 0 {
		cfg.PurgeApprovals = 1
	}
	s := &Service{cfg: cfg, st: cfg.Store}
	seen := map[*keyring.Keyring]bool{}
	for _, w := range cfg.Workloads {
		if w.Ring == nil || seen[w.Ring] {
			continue
		}
		seen[w.Ring] = true
		w.Ring.OnRevoke(func(kd keyring.DEP) {
			// However the keyring saw it (a cache refresh among others),
			// the revocation is stored and told to the other nodes.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if d, err := s.st.DEPByID(ctx, kd.Tenant, kd.ID); err == nil {
				s.keepRevocation(ctx, w, d)
			}
		})
	}
	return s
}

// Workload returns the workload that reaches DEPs of kind k.
func (s *Service) Workload(k Kind) (Workload, bool) {
	w, ok := s.cfg.Workloads[k]
	return w, ok
}

// Signer is the key that signs crypto-shred certificates (nil if none).
func (s *Service) Signer() ed25519.PrivateKey { return s.cfg.Signer }

// Get finds a tenant's DEP of kind k by GUID or name.
func (s *Service) Get(ctx context.Context, t store.ServiceTenant, k Kind, idOrName string) (store.DEP, error) {
	d, err := s.st.DEP(ctx, t.ID, string(k), idOrName)
	if errors.Is(err, store.ErrNotFound) {
		return d, rule.NotFound(client.RuleDEPExists, "check the name or GUID (ck dep list)", "tenant %s has no %s DEP %q", t.Name, k, idOrName)
	}
	return d, err
}

// List returns a tenant's DEPs of kind k.
func (s *Service) List(ctx context.Context, t store.ServiceTenant, k Kind) ([]store.DEP, error) {
	return s.st.ListDEPs(ctx, t.ID, string(k))
}

// ByID finds a DEP of any kind by its GUID (a container's DEP).
func (s *Service) ByID(ctx context.Context, t store.ServiceTenant, id string) (store.DEP, error) {
	d, err := s.st.DEPByID(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		if p, err := s.st.Purge(ctx, t.ID, id); err == nil { // mid-purge: the DEP goes first
			return d, rule.Gone(client.RulePurged, "the data of this DEP is being purged, at the tenant's request, and cannot be read", "DEP %s is %s", p.Name, strings.ToLower(p.State)).Because(store.ErrNotFound)
		}
		return d, rule.Internal(client.RuleMailboxDEP, "the operator should read the service log", "the DEP %s of a container is missing", id).Because(store.ErrNotFound)
	}
	return d, err
}

// Ring returns the workload that reaches a DEP's keys and the DEP as its
// keyring knows it (the service-managed DEP needs no customer key; the
// mailbox keyring reaches it).
func (s *Service) Ring(d store.DEP) (Workload, keyring.DEP, error) {
	k := Kind(d.Kind)
	wk := k
	if k == ServiceManaged {
		wk = Mailbox
	}
	w, ok := s.cfg.Workloads[wk]
	if !ok {
		return w, keyring.DEP{}, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure the service's key vaults", "the service cannot reach keys")
	}
	kd := keyring.DEP{ID: d.ID, Tenant: d.Tenant, Kind: keyring.Mailbox,
		Revoked: keyring.Revocation{Revoked: !d.Revoked.IsZero(), Since: d.Revoked, Cause: d.RevokedCause}}
	switch k {
	case ServiceManaged:
		kd.Kind = keyring.ServiceManaged
	case Site:
		kd.Kind = keyring.Site // the TIK: hedged, never the availability key (K5)
	}
	s.workloadOf.Store(d.ID, wk)
	return w, kd, kd.UnmarshalKeys(d.Keys)
}

// Key gets a DEP's key through the keyring of its workload, for req.
func (s *Service) Key(ctx context.Context, d store.DEP, req keyring.Request) (*envelope.Key, error) {
	w, kd, err := s.Ring(d)
	if err != nil {
		return nil, err
	}
	key, err := w.Ring.DEPKey(ctx, kd, req)
	s.keepRevocation(ctx, w, d)
	var de *keyring.DEPError
	var re *keyring.RevokedError
	switch {
	case errors.As(err, &re):
		return nil, revokedRule(d.Name, err)
	case errors.As(err, &de) && de.Deliberate():
		return nil, rule.Refused(client.RuleCustomerKeysRefused, "the tenant's key administrators must restore the workload's access to at least one of the DEP's keys (or recover them)", "%v", err)
	case errors.As(err, &de):
		return nil, rule.Unavailable(client.RuleVaultsUnavailable, "retry later: the tenant's key vaults cannot be reached", "%v", err)
	case errors.Is(err, keyring.ErrAvailabilityKeyDestroyed):
		return nil, rule.Gone(client.RulePurged, "the data of this DEP was purged and cannot be read", "%v", err)
	}
	return key, err
}

// revokedRule is T1's refusal of a revoked DEP's key (name: the DEP's
// name or GUID).
func revokedRule(name string, err error) error {
	return rule.Refused(client.RuleRevoked, "the tenant's key administrators must restore the workload's access to at least one of the DEP's keys; the revocation clears when a customer key unwraps again (ck dep health "+name+")", "%v", err)
}

// Epoch says where DEP id stands in this node's keyrings: it moves on
// whenever one of them revokes the DEP or drops its key (the tenant's
// revocation signal, both customer keys refusing, the DEP disabled,
// deleted, retired or its purge requested: here, or on another node
// through its event, SPEC S2). Work that holds a key the DEP gave for
// long (a stream of content) takes it before it asks for the key, and
// compares it now and then: in memory, without a store or vault call.
func (s *Service) Epoch(id string) uint64 {
	var n uint64
	for _, w := range s.cfg.Workloads {
		if w.Ring != nil {
			n += w.Ring.Generation(id)
		}
	}
	return n
}

// CheckRevoked refuses DEP id (T1.Revoked) if a keyring of this node
// holds it revoked now: in memory, for work already under way with the
// DEP's key (a stream of content), which a revocation must stop too.
func (s *Service) CheckRevoked(id string) error {
	for _, w := range s.cfg.Workloads {
		if w.Ring == nil {
			continue
		}
		if r, ok := w.Ring.Revocation(id); ok && r.Revoked {
			return revokedRule(id, &keyring.RevokedError{DEP: id, Since: r.Since, Cause: r.Cause})
		}
	}
	return nil
}

// keepRevocation stores d's revocation state when its keyring saw it
// change (T1): revoked when both customer keys refused deliberately or
// the tenant signalled it, cleared when a customer key unwrapped again.
func (s *Service) keepRevocation(ctx context.Context, w Workload, d store.DEP) {
	r, ok := w.Ring.Revocation(d.ID)
	// Clear only the stored revocation the unwrap answered, never one
	// recorded since.
	changed := func(d store.DEP) bool {
		return ok && r.Revoked != !d.Revoked.IsZero() && (r.Revoked || r.Answers(d.Revoked))
	}
	// A revocation held here is checked against the record as it is now,
	// whatever d says (it may be older): the record holding one, the
	// keyring learns it is stored; holding none, another node's clear
	// answered it, and a refusal seen here since is a new revocation
	// (keyring.Renew). Only a revoked DEP's requests pay the read, and
	// each of them asks the customer keys anyway.
	if ok && r.Revoked {
		fresh, err := s.st.DEPByID(ctx, d.Tenant, d.ID)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.cfg.Logger.Warn("dep: reading a revoked DEP's record", "tenant", d.Tenant, "dep", d.ID, "err", err)
			}
			return
		}
		if !fresh.Revoked.IsZero() {
			w.Ring.StoredRevocation(d.ID)
			return
		}
		// Renewed, or this keyring's own not yet stored: stored below.
		nr, answered := w.Ring.Renew(d.ID)
		if answered {
			return // cleared by another node, and nothing refused here since
		}
		r, d = nr, fresh
	} else {
		if !changed(d) {
			return
		}
		// d may be older than the record (the keyring's OnRevoke stored
		// it meanwhile): the record as it is now decides, so that one
		// change is stored and told once.
		if fresh, err := s.st.DEPByID(ctx, d.Tenant, d.ID); err == nil {
			if d = fresh; !changed(d) {
				return
			}
		}
	}
	var err error
	if r.Revoked {
		err = s.st.SetDEPRevocation(context.WithoutCancel(ctx), d.Tenant, d.ID, r.Since, r.Cause)
	} else {
		// Only the revocation the unwrap answered: the record read
		// above may already hold another node's, recorded since.
		err = s.st.ClearDEPRevocation(context.WithoutCancel(ctx), d.Tenant, d.ID, r.Over)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		s.cfg.Logger.Info("dep: revocation not cleared: it was recorded after the record the unwrap that answered was asked with", "tenant", d.Tenant, "dep", d.ID, "err", err)
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.cfg.Logger.Error("dep: storing the revocation state", "tenant", d.Tenant, "dep", d.ID, "revoked", r.Revoked, "err", err)
		return
	}
	if r.Revoked {
		w.Ring.StoredRevocation(d.ID)
		s.cfg.Logger.Warn("dep: revoked; the availability key serves nothing for it until a customer key unwraps again", "tenant", d.Tenant, "dep", d.ID, "cause", r.Cause)
		s.publish(ctx, events.Event{Kind: events.DEPRevoked, Tenant: d.Tenant, Ref: d.ID, Detail: r.Cause, At: r.Since})
	} else {
		s.cfg.Logger.Info("dep: revocation cleared: a customer key unwraps again", "tenant", d.Tenant, "dep", d.ID)
		s.publish(ctx, events.Event{Kind: events.DEPCleared, Tenant: d.Tenant, Ref: d.ID, At: r.Over}) // At: the revocation it answered
	}
}

// publish tells the other nodes of e (their caches act on it, OnEvent),
// trying again in the background while it cannot be recorded.
func (s *Service) publish(ctx context.Context, e events.Event) {
	events.Tell(ctx, s.cfg.Events, e, s.cfg.Logger, "a DEP's change")
}

// OnEvent acts on an event of any node (its own included: the actions
// are idempotent). A revoked DEP is revoked in every keyring (its key
// dropped, the availability key refused, T1) and a cleared one cleared;
// a DEP disabled, deleted or being purged leaves every keyring's cache.
func (s *Service) OnEvent(e events.Event) {
	switch e.Kind {
	case events.DEPRevoked:
		kd := keyring.DEP{ID: e.Ref, Tenant: e.Tenant, Revoked: keyring.Revocation{Revoked: true, Since: e.At, Cause: e.Detail}}
		for _, w := range s.cfg.Workloads {
			// A revocation a clear this keyring holds answered is stale
			// (its publish was retried, events.Tell, and recorded after
			// the clear's): a customer key answered after it.
			if r, ok := w.Ring.Revocation(e.Ref); ok && r.Answers(e.At) {
				continue
			}
			w.Ring.Revoke(kd, e.Detail)
		}
	case events.DEPCleared:
		for _, w := range s.cfg.Workloads {
			w.Ring.ClearRevocation(e.Ref, e.At)
		}
	case events.DEPChanged:
		for _, w := range s.cfg.Workloads {
			w.Ring.Evict(e.Ref)
		}
		s.workloadOf.Delete(e.Ref)
	}
}

// Cached returns the key of DEP id if its keyring holds it (and it is not
// due for a refresh): a read needs the DEP's record only otherwise.
func (s *Service) Cached(id string) (*envelope.Key, bool) {
	k, ok := s.workloadOf.Load(id)
	if !ok {
		return nil, false
	}
	w, ok := s.cfg.Workloads[k.(Kind)]
	if !ok {
		return nil, false
	}
	return w.Ring.Cached(id)
}

// WrappedWith are the key versions that wrap the DEP key (none if the
// record does not parse).
func WrappedWith(d store.DEP) []string {
	var k keyring.DEP
	if k.UnmarshalKeys(d.Keys) == nil && len(k.CustomerKeys) == 2 {
		return []string{k.CustomerKeys[0].KeyID, k.CustomerKeys[1].KeyID}
	}
	return []string{}
}

// RequireOnboarded refuses work for a scenario the tenant has not enabled
// through onboarding (O3): any of scenarios will do.
func (s *Service) RequireOnboarded(ctx context.Context, t store.ServiceTenant, scenarios ...string) error {
	ons, err := s.st.Onboarded(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, o := range ons {
		for _, sc := range scenarios {
			if o.Scenario == sc {
				return nil
			}
		}
	}
	return rule.Invalid(client.RuleOnboarded, "onboard the tenant first: ck onboarding new --scenario "+scenarios[0]+" --mode Enable ... (after Validate and Prepare pass)",
		"tenant %s is not onboarded for %s", t.Name, strings.Join(scenarios, " or "))
}

// Answer is what a probe's error says ("ok" for none).
func Answer(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

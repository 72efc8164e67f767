// Package keyring gets a usable DEP key (TIK for sites) for a data
// encryption policy, and decides when it must refuse (SPEC K3-K6).
//
// A DEP key is wrapped three times: by each of the tenant's two customer
// keys (in two vaults) and by the DEP's availability key (held by the
// service). To get it:
//
//   - Mailbox and multi-workload DEPs (K3): one customer key chosen at
//     random, then the other. If both fail and both failures are transient
//     (the vaults are unreachable, slow, throttled or failing), the
//     availability key serves the request. If either failure is a
//     deliberate customer action (access removed, key disabled, deleted or
//     not found), the request is refused and the DEP marked unhealthy.
//   - Service-initiated work (K4) may use the availability key whenever both
//     customer keys fail, until that key is destroyed.
//   - Sites (K5): both vaults are asked, the second after a short offset;
//     the first success wins and the other request is cancelled. The
//     availability key is never used automatically for sites.
//
// Unwrapped keys live only in memory (K6), for a TTL, refreshed ahead of
// expiry; one unwrap per DEP is in flight however many callers wait; if
// refreshes keep failing an alert goes out well before the key expires;
// Evict drops a key at once (a revocation signal).
package keyring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
)

// Kind is the kind of a DEP, which decides its unwrap strategy.
type Kind int

const (
	// Mailbox: Exchange mailbox DEPs and the multi-workload DEP.
	Mailbox Kind = iota + 1
	// Site: SharePoint/OneDrive site DEPs (the TIK).
	Site
	// ServiceManaged: the tenant's default DEP, whose only root is a key the
	// service holds (kept like an availability key).
	ServiceManaged
)

func (k Kind) String() string {
	switch k {
	case Site:
		return "site"
	case ServiceManaged:
		return "service-managed"
	}
	return "mailbox"
}

// Initiator says who asks for a key.
type Initiator int

const (
	// User: a request on behalf of a user (reading mail, opening a file).
	User Initiator = iota + 1
	// Service: work the service does by itself (indexing, re-wraps under
	// new key versions, new containers).
	Service
	// Move: taking containers off this DEP (Set-Mailbox, an MDEP
	// assignment, a rollback). Only a customer key may give the DEP key
	// for it (T2): the availability key never moves data off its keys.
	Move
)

func (i Initiator) String() string {
	switch i {
	case Service:
		return "service"
	case Move:
		return "move"
	}
	return "user"
}

// Request describes why a key is wanted; it goes into the audit trail.
type Request struct {
	Initiator Initiator
	Reason    string
}

// DEP is a data encryption policy as the keyring needs it. The service
// stores it; the records are safe to store (they are wrapped keys).
type DEP struct {
	ID           string
	Tenant       string
	Kind         Kind
	CustomerKeys [2]envelope.Record // AlgCustomerKey; KeyID is the versioned key URI
	// Former are the versioned key URIs each customer key wrapped the DEP
	// key under before a roll (Refresh): copies of the DEP from before
	// (a backup) open with them, so a purge asks them too (ProbeFormer).
	Former            [2][]string
	AvailabilityKeyID string
	Availability      envelope.Record // AlgAvailabilityKey
	// Revoked is the DEP's stored revocation state (T1): while set, the
	// availability key serves nothing for it.
	Revoked Revocation
}

func (d DEP) ref() envelope.DEP { return envelope.DEP{Tenant: d.Tenant, ID: d.ID} }

// Config tunes a Keyring. Zero values take the defaults.
type Config struct {
	TTL          time.Duration // how long an unwrapped key is kept (default 24h)
	RefreshAhead time.Duration // refresh starts this long before expiry (default 2h)
	RefreshRetry time.Duration // at most one refresh attempt per DEP this often (default 1m)
	DegradedTTL  time.Duration // keep a key got with the availability key this long (default 1m)
	HedgeDelay   time.Duration // sites: second request after this (default 200ms)
	// AttemptTimeout bounds each customer-key attempt of the failover
	// strategy, so a slow vault hands over to the other (default 3s).
	AttemptTimeout time.Duration
	FetchTimeout   time.Duration // bound on one fetch (default 30s)
	Now            func() time.Time
	Rand           func(n int) int // picks the first key (default math/rand/v2)
	Logger         *slog.Logger
	Metrics        *Metrics // default: NewMetrics(nil)
	Audit          func(Event)
}

// Keyring gets DEP keys.
type Keyring struct {
	kms kms.Client
	ks  *Keystore
	cfg Config

	mu      sync.Mutex
	entries map[string]*entry
	flights map[string]*flight
	gens    map[string]uint64 // bumped by Evict
	health  map[string]Health
	revoked map[string]Revocation // DEPs seen revoked (T1)
	// stored marks, per DEP, the revocation in revoked as known to be in
	// the DEP's record (read from it, or stored: StoredRevocation), and
	// refused the first deliberate refusal (or signal) seen after that
	// mark; Renew. seq orders the two.
	stored  map[string]mark
	refused map[string]mark
	seq     uint64
	// onRevoke hears of each DEP this keyring sees revoked (OnRevoke).
	onRevoke []func(DEP)
}

type entry struct {
	key          *envelope.Key
	expires      time.Time
	refreshing   bool
	lastAttempt  time.Time
	failures     int
	alerted      bool
	availability bool // got with the availability key
	dep          DEP  // the DEP it was unwrapped for (the revocation probe asks its keys)
}

type flight struct {
	done chan struct{}
	gen  uint64 // the DEP's generation when the flight began
	key  *envelope.Key
	errs [2]error // per customer key, when both failed
	err  error    // set when both failed

	// The availability-key unwrap, done once for all waiters allowed to use it.
	avkOnce sync.Once
	avkKey  *envelope.Key
	avkErr  error
}

// New returns a keyring using c for customer keys and ks for availability keys.
func New(c kms.Client, ks *Keystore, cfg Config) *Keyring {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TTL, 24*time.Hour)
	def(&cfg.RefreshAhead, 2*time.Hour)
	def(&cfg.RefreshRetry, time.Minute)
	def(&cfg.DegradedTTL, time.Minute)
	def(&cfg.HedgeDelay, 200*time.Millisecond)
	def(&cfg.AttemptTimeout, 3*time.Second)
	def(&cfg.FetchTimeout, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.IntN
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Audit == nil {
		cfg.Audit = func(Event) {}
	}
	return &Keyring{kms: c, ks: ks, cfg: cfg, entries: map[string]*entry{}, flights: map[string]*flight{}, gens: map[string]uint64{}, health: map[string]Health{}, revoked: map[string]Revocation{}, stored: map[string]mark{}, refused: map[string]mark{}}
}

// NewDEP creates a DEP (D7): a fresh DEP key wrapped by both customer keys
// in their vaults and by a new availability key. Both customer keys must be
// usable for wrapping now.
func (k *Keyring) NewDEP(ctx context.Context, tenant, id string, kind Kind, keyURIs [2]string, req Request) (DEP, error) {
	if keyURIs[0] == "" || keyURIs[1] == "" {
		return DEP{}, errors.New("a DEP needs two customer keys")
	}
	depKey := envelope.NewKey()
	defer depKey.Destroy()
	raw := depKey.Bytes()
	defer clear(raw)
	d := DEP{ID: id, Tenant: tenant, Kind: kind}
	for i, uri := range keyURIs {
		w, err := k.kms.Wrap(ctx, uri, raw)
		k.audit(Event{Action: "wrap", DEP: id, Tenant: tenant, KeyURI: uri, Initiator: req.Initiator, Reason: req.Reason, Err: err})
		if err != nil {
			return DEP{}, fmt.Errorf("DEP %s: customer key %d: %w", id, i+1, err)
		}
		if d.CustomerKeys[i], err = envelope.CustomerKeyRecord(w.KeyURI, w.Data); err != nil {
			return DEP{}, err
		}
	}
	avkID, avk, err := k.ks.create(ctx, tenant, id, store.AvailabilityKey{Created: k.cfg.Now().UTC()})
	if err != nil {
		return DEP{}, err
	}
	defer avk.Destroy()
	d.AvailabilityKeyID = avkID
	if d.Availability, err = envelope.WrapWithAvailabilityKey(avk, avkID, d.ref(), depKey); err != nil {
		return DEP{}, err
	}
	k.audit(Event{Action: "availability-key-create", DEP: id, Tenant: tenant, KeyURI: avkID, Initiator: req.Initiator, Reason: req.Reason})
	return d, nil
}

// NewServiceDEP creates a tenant's service-managed DEP: a fresh DEP key
// wrapped only by a root key the service holds.
func (k *Keyring) NewServiceDEP(ctx context.Context, tenant, id string) (DEP, error) {
	depKey := envelope.NewKey()
	defer depKey.Destroy()
	d := DEP{ID: id, Tenant: tenant, Kind: ServiceManaged}
	rootID, root, err := k.ks.create(ctx, tenant, id, store.AvailabilityKey{Created: k.cfg.Now().UTC()})
	if err != nil {
		return DEP{}, err
	}
	defer root.Destroy()
	d.AvailabilityKeyID = rootID
	if d.Availability, err = envelope.WrapWithAvailabilityKey(root, rootID, d.ref(), depKey); err != nil {
		return DEP{}, err
	}
	return d, nil
}

// DestroyAvailabilityKey destroys a DEP's availability key, irreversibly,
// and drops the DEP's cached key.
func (k *Keyring) DestroyAvailabilityKey(ctx context.Context, d DEP, by, reason string) error {
	err := k.ks.st.DestroyAvailabilityKey(ctx, d.AvailabilityKeyID, k.cfg.Now().UTC(), by, reason)
	k.audit(Event{Action: "availability-key-destroy", DEP: d.ID, Tenant: d.Tenant, KeyURI: d.AvailabilityKeyID, Initiator: Service, Reason: reason + " (by " + by + ")", Err: err})
	if err != nil {
		return fmt.Errorf("destroy availability key of DEP %s: %w", d.ID, err)
	}
	k.cfg.Logger.Warn("keyring: availability key destroyed", "dep", d.ID, "tenant", d.Tenant, "key", d.AvailabilityKeyID, "by", by, "reason", reason)
	k.Evict(d.ID)
	return nil
}

// ShredAvailabilityKey destroys a DEP's availability key (if it is not
// yet) and shreds it (Keystore.Shred): the surviving availability keys are
// sealed again under a new key-encryption key version and the version that
// sealed this one is destroyed, so no earlier copy of the database opens
// it. It returns the destroyed KEK version. Safe to run again after a
// crash at any point.
func (k *Keyring) ShredAvailabilityKey(ctx context.Context, d DEP, by, reason string) (uint32, error) {
	if err := k.DestroyAvailabilityKey(ctx, d, by, reason); err != nil && !errors.Is(err, store.ErrConflict) {
		return 0, err
	}
	v, err := k.ks.Shred(ctx, d.AvailabilityKeyID)
	k.audit(Event{Action: "key-encryption-key-destroy", DEP: d.ID, Tenant: d.Tenant, KeyURI: fmt.Sprintf("kek-v%d", v), Initiator: Service,
		Reason: "availability key " + d.AvailabilityKeyID + " shredded: the other availability keys re-sealed under a new version (by " + by + ")", Err: err})
	if err != nil {
		return 0, fmt.Errorf("shred availability key of DEP %s: %w", d.ID, err)
	}
	k.cfg.Logger.Warn("keyring: key-encryption key destroyed", "dep", d.ID, "key", d.AvailabilityKeyID, "kek version", v)
	return uint32(v), nil
}

// Keystore is the keystore of availability keys the keyring uses.
func (k *Keyring) Keystore() *Keystore { return k.ks }

// RecoveryKey unwraps d's key with its availability key alone, for the
// key-loss recovery an operator runs on the tenant's request (SPEC R3):
// the one path by which the availability key serves a site DEP (K5). The
// key is not cached; the caller destroys it.
func (k *Keyring) RecoveryKey(ctx context.Context, d DEP, req Request) (*envelope.Key, error) {
	if d.Kind == ServiceManaged {
		return nil, fmt.Errorf("DEP %s is service-managed: it has no customer keys to lose", d.ID)
	}
	return k.unwrapAvailability(ctx, d, req, errors.New("customer keys lost (key-loss recovery)"), false, 0)
}

// Cached returns a DEP's key if the cache holds it and it is not yet due
// for a refresh: the fast path of a read that has only the DEP's ID.
// Otherwise callers take DEPKey, which also starts the refresh. The key
// is shared: callers must not destroy it.
func (k *Keyring) Cached(depID string) (*envelope.Key, bool) {
	now := k.cfg.Now()
	k.mu.Lock()
	e, ok := k.entries[depID]
	ok = ok && now.Before(e.expires.Add(-k.cfg.RefreshAhead)) && !k.revoked[depID].Revoked
	k.mu.Unlock()
	if !ok {
		return nil, false
	}
	k.cfg.Metrics.cacheHits.Inc()
	return e.key, true
}

// DEPKey returns the DEP's key, from the cache or by unwrapping. The key is
// shared: callers must not destroy it.
func (k *Keyring) DEPKey(ctx context.Context, d DEP, req Request) (*envelope.Key, error) {
	now := k.cfg.Now()
	_, revoked := k.isRevoked(d)
	k.mu.Lock()
	// A revoked DEP is asked of its customer keys every time (they clear
	// the revocation when one unwraps); a move never takes a key that the
	// availability key gave.
	if e, ok := k.entries[d.ID]; ok && now.Before(e.expires) && !revoked && !(e.availability && req.Initiator == Move) {
		if !e.refreshing && !now.Before(e.expires.Add(-k.cfg.RefreshAhead)) && now.Sub(e.lastAttempt) >= k.cfg.RefreshRetry {
			e.refreshing, e.lastAttempt = true, now
			go k.refresh(d, k.gens[d.ID])
		}
		key := e.key
		k.mu.Unlock()
		k.cfg.Metrics.cacheHits.Inc()
		return key, nil
	}
	k.cfg.Metrics.cacheMisses.Inc()
	if d.Kind == ServiceManaged {
		gen := k.gens[d.ID]
		k.mu.Unlock()
		key, err := k.ks.get(ctx, d.AvailabilityKeyID)
		if err == nil {
			defer key.Destroy()
			var depKey *envelope.Key
			if depKey, err = envelope.UnwrapWithAvailabilityKey(key, d.ref(), d.Availability); err == nil {
				k.mu.Lock()
				if k.gens[d.ID] == gen { // not evicted meanwhile (the DEP changed, say)
					k.entries[d.ID] = &entry{key: depKey, expires: k.cfg.Now().Add(k.cfg.TTL)}
				}
				k.mu.Unlock()
				return depKey, nil
			}
		}
		return nil, fmt.Errorf("service-managed DEP %s: %w", d.ID, err)
	}
	f, leader := k.flights[d.ID], false
	if f == nil {
		f, leader = &flight{done: make(chan struct{}), gen: k.gens[d.ID]}, true
		k.flights[d.ID] = f
	}
	gen := k.gens[d.ID]
	k.mu.Unlock()

	if leader {
		go k.fly(d, f, gen, req)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err == nil {
		return f.key, nil
	}
	return k.fallback(ctx, d, f, req)
}

// fly unwraps with the customer keys for everyone waiting on f.
func (k *Keyring) fly(d DEP, f *flight, gen uint64, req Request) {
	ctx, cancel := context.WithTimeout(context.Background(), k.cfg.FetchTimeout)
	defer cancel()
	f.key, f.errs, f.err = k.unwrapCustomer(ctx, d, req)
	if _, revoked := k.isRevoked(d); f.err != nil && d.Kind == Mailbox && outage(f.errs) && !revoked && req.Initiator != Move {
		// In an outage every caller may have the availability key: unwrap
		// (and cache) it before the flight ends, so that no caller arriving
		// in between starts a second flight and a second unwrap.
		f.avkOnce.Do(func() { f.avkKey, f.avkErr = k.unwrapAvailability(ctx, d, req, f.err, true, gen) })
	}
	k.mu.Lock()
	delete(k.flights, d.ID)
	if f.err == nil && k.gens[d.ID] == gen {
		k.entries[d.ID] = &entry{key: f.key, expires: k.cfg.Now().Add(k.cfg.TTL), dep: answered(d)}
	}
	k.mu.Unlock()
	close(f.done)
}

// answered is d as a cache entry keeps it once a customer key unwrapped
// its key: no longer revoked (the record d was read with may say so).
func answered(d DEP) DEP {
	d.Revoked = Revocation{}
	return d
}

// outage: both customer keys failed for a passing reason, not by the
// customer's decision.
func outage(errs [2]error) bool {
	return kms.ClassOf(errs[0]) == kms.Transient && kms.ClassOf(errs[1]) == kms.Transient
}

// fallback decides, after both customer keys failed, whether the
// availability key may serve this caller.
func (k *Keyring) fallback(ctx context.Context, d DEP, f *flight, req Request) (*envelope.Key, error) {
	if r, revoked := k.isRevoked(d); revoked {
		k.setHealth(d.ID, Unhealthy, "revoked: "+r.Cause)
		k.cfg.Metrics.revokedRefusals.Inc()
		return nil, &RevokedError{DEP: d.ID, Since: r.Since, Cause: r.Cause, Err: f.err}
	}
	transient := outage(f.errs)
	allowed := d.Kind == Mailbox && (req.Initiator == Service || (transient && req.Initiator == User))
	if !allowed {
		k.setHealth(d.ID, Unhealthy, f.err.Error())
		return nil, f.err
	}
	f.avkOnce.Do(func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.FetchTimeout) // shared: not bound to the first caller
		defer cancel()
		// Cache the key only after an outage, when users may have it too;
		// after a refusal it serves this service-initiated work alone.
		f.avkKey, f.avkErr = k.unwrapAvailability(actx, d, req, f.err, transient, f.gen)
	})
	key, err := f.avkKey, f.avkErr
	if err != nil {
		k.setHealth(d.ID, Unhealthy, f.err.Error()+"; "+err.Error())
		return nil, fmt.Errorf("%w; the availability key could not serve either: %w", f.err, err)
	}
	if !transient {
		k.setHealth(d.ID, Unhealthy, "customer keys refused (only service-initiated work is served, with the availability key): "+f.err.Error())
	} else {
		k.setHealth(d.ID, Degraded, "both customer keys unavailable, served with the availability key: "+f.err.Error())
	}
	return key, nil
}

// unwrapAvailability unwraps d's key with its availability key, for req,
// after the customer keys failed (why). With cache, the key is kept (for
// DegradedTTL) unless d left the cache since gen (an eviction or a
// revocation while this ran: it stands).
func (k *Keyring) unwrapAvailability(ctx context.Context, d DEP, req Request, why error, cache bool, gen uint64) (*envelope.Key, error) {
	avk, err := k.ks.get(ctx, d.AvailabilityKeyID)
	if err == nil {
		var key *envelope.Key
		key, err = envelope.UnwrapWithAvailabilityKey(avk, d.ref(), d.Availability)
		avk.Destroy()
		if err == nil {
			k.cfg.Metrics.availabilityUses.WithLabelValues(req.Initiator.String()).Inc()
			k.audit(Event{Action: "availability-key-use", DEP: d.ID, Tenant: d.Tenant, KeyURI: d.AvailabilityKeyID, Initiator: req.Initiator, Reason: req.Reason + "; customer keys: " + why.Error()})
			k.cfg.Logger.Warn("keyring: served with the availability key", "dep", d.ID, "tenant", d.Tenant, "initiator", req.Initiator.String(), "reason", req.Reason, "cause", why.Error())
			if cache {
				k.mu.Lock()
				if _, ok := k.entries[d.ID]; !ok && k.gens[d.ID] == gen {
					k.entries[d.ID] = &entry{key: key, expires: k.cfg.Now().Add(k.cfg.DegradedTTL), availability: true}
				}
				k.mu.Unlock()
			}
			return key, nil
		}
	}
	k.audit(Event{Action: "availability-key-use", DEP: d.ID, Tenant: d.Tenant, KeyURI: d.AvailabilityKeyID, Initiator: req.Initiator, Reason: req.Reason, Err: err})
	return nil, err
}

// refresh re-unwraps a cached key ahead of expiry. A refresh that fails
// transiently keeps the cached key until it expires and raises an alert; a
// refusal by the customer drops the key now (the revocation is seen).
func (k *Keyring) refresh(d DEP, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), k.cfg.FetchTimeout)
	defer cancel()
	req := Request{Initiator: Service, Reason: "cache refresh"}
	key, errs, err := k.unwrapCustomer(ctx, d, req)
	k.audit(Event{Action: "refresh", DEP: d.ID, Tenant: d.Tenant, Initiator: Service, Reason: req.Reason, Err: err})
	if err != nil {
		k.cfg.Metrics.refreshFailures.Inc()
	}
	var alert *Event
	defer func() { // after the unlock below: the audit hook may write to a database
		if alert != nil {
			k.audit(*alert)
		}
	}()
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.entries[d.ID]
	if !ok || k.gens[d.ID] != gen {
		return
	}
	e.refreshing = false
	if err == nil {
		*e = entry{key: key, expires: k.cfg.Now().Add(k.cfg.TTL), dep: answered(d)}
		return
	}
	if kms.ClassOf(errs[0]) == kms.Denied && kms.ClassOf(errs[1]) == kms.Denied { // revoked already dropped it; kept as a guard
		delete(k.entries, d.ID)
		k.gens[d.ID]++
		k.cfg.Logger.Warn("keyring: refresh refused by the customer; key dropped", "dep", d.ID, "err", err)
		return
	}
	e.failures++
	if !e.alerted {
		e.alerted = true
		left := e.expires.Sub(k.cfg.Now()).Round(time.Second)
		k.cfg.Metrics.alerts.Inc()
		msg := fmt.Sprintf("DEP %s: refreshing the cached key failed; it expires in %s: %v", d.ID, left, err)
		k.cfg.Logger.Error("keyring: ALERT refresh failing before expiry", "dep", d.ID, "tenant", d.Tenant, "expiresIn", left.String(), "err", err)
		alert = &Event{Action: "alert", DEP: d.ID, Tenant: d.Tenant, Initiator: Service, Reason: msg}
	}
}

// Evict drops a DEP's cached key at once (a revocation signal); a fetch in
// flight will not put it back.
func (k *Keyring) Evict(depID string) {
	k.mu.Lock()
	delete(k.entries, depID)
	k.gens[depID]++
	k.mu.Unlock()
	k.audit(Event{Action: "evict", DEP: depID, Initiator: Service, Reason: "revocation signal"})
}

func (k *Keyring) audit(e Event) {
	e.Time = k.cfg.Now().UTC()
	if e.Err != nil {
		e.Result = "error"
		e.Error = e.Err.Error()
	} else {
		e.Result = "ok"
	}
	k.cfg.Audit(e)
}

// Event is one key access or decision, handed to the audit hook (R8).
type Event struct {
	Time      time.Time
	Action    string // wrap, unwrap, availability-key-use, availability-key-check, availability-key-create, availability-key-destroy, refresh, alert, evict
	DEP       string
	Tenant    string
	KeyURI    string
	Initiator Initiator
	Reason    string
	Result    string // ok | error
	Error     string
	Err       error `json:"-"`
}

// DEPError is a refusal: it names the DEP, both keys and why each failed.
type DEPError struct {
	DEP    string
	Keys   [2]string
	Errs   [2]error
	Hedged bool
}

func (e *DEPError) Error() string {
	var parts []string
	for i := range e.Keys {
		parts = append(parts, fmt.Sprintf("key %d %s: %s", i+1, e.Keys[i], causeOf(e.Errs[i])))
	}
	return fmt.Sprintf("DEP %s: no customer key can unwrap its key (%s)", e.DEP, strings.Join(parts, "; "))
}

// Deliberate reports whether a customer action (not an outage) is behind it.
func (e *DEPError) Deliberate() bool {
	return kms.ClassOf(e.Errs[0]) == kms.Denied || kms.ClassOf(e.Errs[1]) == kms.Denied
}

// Reasons says why each customer key failed (kms.AccessRemoved,
// kms.KeyDisabled, kms.Unreachable, ...), for callers to branch on without
// reading the message; 0 where the failure did not come from kms.
func (e *DEPError) Reasons() [2]kms.Reason {
	return [2]kms.Reason{kms.ReasonOf(e.Errs[0]), kms.ReasonOf(e.Errs[1])}
}

func causeOf(err error) string {
	var ke *kms.Error
	if errors.As(err, &ke) {
		return ke.Class.String() + ": " + ke.Cause
	}
	return err.Error()
}

// Refresh re-wraps d's DEP key with the current version of each of its
// customer keys (SPEC R1: after a roll in the vault). The DEP key does not
// change, so nothing wrapped under it is touched; older key versions stay
// in the vault for data and backups wrapped under them. Both customer keys
// must wrap now, and the DEP key is got as req says (a refused customer
// key refuses the refresh).
func (k *Keyring) Refresh(ctx context.Context, d DEP, req Request) (DEP, error) {
	key, err := k.DEPKey(ctx, d, req) // shared with the cache: not destroyed here
	if err != nil {
		return DEP{}, err
	}
	raw := key.Bytes()
	defer clear(raw)
	out := d
	for i, rec := range d.CustomerKeys {
		vault, name, _, err := kms.ParseKeyURI(rec.KeyID)
		if err != nil {
			return DEP{}, err
		}
		current := vault + "/keys/" + name
		w, err := k.kms.Wrap(ctx, current, raw)
		k.audit(Event{Action: "wrap", DEP: d.ID, Tenant: d.Tenant, KeyURI: current, Initiator: req.Initiator, Reason: req.Reason, Err: err})
		if err != nil {
			return DEP{}, fmt.Errorf("DEP %s: customer key %d: %w", d.ID, i+1, err)
		}
		if out.CustomerKeys[i], err = envelope.CustomerKeyRecord(w.KeyURI, w.Data); err != nil {
			return DEP{}, err
		}
		if w.KeyURI != rec.KeyID && !slices.Contains(d.Former[i], rec.KeyID) {
			out.Former[i] = append(slices.Clone(d.Former[i]), rec.KeyID)
		}
	}
	return out, nil
}

// Former is one earlier version of a customer key (DEP.Former) and what
// it answered when asked to unwrap.
type Former struct {
	KeyURI string
	Err    error
}

// ProbeFormer asks every earlier version of d's customer keys to unwrap
// the DEP key as it is wrapped now (which an earlier version cannot
// open): a version that refuses deliberately (kms.Denied: access removed,
// disabled, deleted) opens no copy of the DEP from before its roll
// either; any other answer says the version is still usable, and a
// backup from before the roll would open with it. Each call is audited.
func (k *Keyring) ProbeFormer(ctx context.Context, d DEP, req Request) []Former {
	var out []Former
	for i, uris := range d.Former {
		for _, uri := range uris {
			raw, err := k.kms.Unwrap(ctx, uri, d.CustomerKeys[i].Data)
			clear(raw) // the DEP key, should it open: only the answer matters
			k.audit(Event{Action: "unwrap", DEP: d.ID, Tenant: d.Tenant, KeyURI: uri, Initiator: req.Initiator, Reason: req.Reason + " (an earlier key version)", Err: err})
			out = append(out, Former{KeyURI: uri, Err: err})
		}
	}
	return out
}

package keyring

import (
	"context"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/internal/kms"
)

// Revocation is sticky (SPEC T1): once a DEP is revoked, by the tenant's
// signal or because both customer keys refused deliberately, its
// availability key serves nothing for it (no user read, no
// service-initiated work, no move) whatever happens to the vaults after:
// an outage cannot undo a revocation. Only a customer key that unwraps
// again clears it. The service stores the state (DEP.Revoked) so that it
// holds across restarts; the keyring keeps its own copy so that it holds
// from the moment it is seen, whatever DEP record a caller passes.

// Revocation is a DEP's revocation state as this keyring knows it.
type Revocation struct {
	Revoked bool
	Since   time.Time
	Cause   string
	// Over, on a clear, is the revocation the unwrap that cleared it
	// answered: the one in the DEP record its caller read before it
	// began (zero: the record said not revoked). A revocation recorded
	// after that read, by any node, is not what the unwrap answered and
	// stands, whatever the clocks: the key may have answered just before
	// the tenant removed access, and the answer reached this node late.
	Over time.Time
}

// Answers reports whether r, a clear, answered the revocation recorded
// at at (or a later one): that revocation is over. Times compare to the
// millisecond, as the store keeps them.
func (r Revocation) Answers(at time.Time) bool {
	return !r.Revoked && !r.Over.IsZero() && r.Over.UnixMilli() >= at.UnixMilli()
}

// RevokedError refuses a key for a revoked DEP: the availability key was
// not asked, and the customer keys did not unwrap.
type RevokedError struct {
	DEP   string
	Since time.Time
	Cause string // why it is revoked
	Err   error  // the customer keys' answers now (nil if not asked)
}

func (e *RevokedError) Error() string {
	msg := fmt.Sprintf("DEP %s is revoked since %s (%s): the availability key serves nothing while a DEP is revoked", e.DEP, e.Since.UTC().Format(time.RFC3339), e.Cause)
	if e.Err != nil {
		msg += "; the customer keys now: " + e.Err.Error()
	}
	return msg
}

func (e *RevokedError) Unwrap() error { return e.Err }

// Revoke is the tenant's revocation signal: the DEP is revoked now and its
// cached key dropped; a fetch in flight will not put it back.
func (k *Keyring) Revoke(d DEP, cause string) {
	k.revoke(d, cause, false) // the signal's caller stores it
	k.Evict(d.ID)
}

// Revocation returns what this keyring last saw of a DEP's revocation
// and when (Since: when it was revoked, or when the unwrap began by which
// a customer key last cleared it); ok is false if it saw nothing.
func (k *Keyring) Revocation(depID string) (r Revocation, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok = k.revoked[depID]
	return r, ok
}

// Generation counts how often DEP depID's key left this keyring's cache
// by a revocation or an eviction (a revocation signal, a refusal, the DEP
// changed, deleted or purged: never a mere expiry). Work that holds a
// key the DEP gave for long (a stream of content) compares it now and
// then, in memory, to learn that something happened to the DEP since.
func (k *Keyring) Generation(depID string) uint64 { return k.begin(depID).gen }

// isRevoked reports d's revocation: by its record (stored, so it holds
// across restarts) or as this keyring saw it. Either is enough: a record
// not yet updated after a customer key unwrapped again only costs a
// customer-key attempt first.
func (k *Keyring) isRevoked(d DEP) (Revocation, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.revoked[d.ID]
	if r.Revoked {
		return r, true
	}
	if d.Revoked.Revoked && r.Answers(d.Revoked.Since) {
		return r, false // a record older than the clear this keyring holds
	}
	return d.Revoked, d.Revoked.Revoked
}

// revoke marks d revoked (keeping the first cause and time) and drops its
// cached key. A refusal or signal while a revocation is held is noted as
// evidence of a new one, should the record turn out to have none (Renew).
func (k *Keyring) revoke(d DEP, cause string, seen bool) {
	k.mu.Lock()
	var tell []func(DEP)
	if cur := k.revoked[d.ID]; !cur.Revoked {
		if seen {
			tell = k.onRevoke
		}
		// Dated by d's record only if that is a revocation still standing
		// here: a record from before a clear this keyring holds (a cached
		// one, say) is over, and this is a new revocation, now. Dated
		// with the old time, it read as the one the clear answered, and
		// the other nodes dropped it.
		since := d.Revoked.Since
		if !d.Revoked.Revoked || cur.Answers(d.Revoked.Since) {
			since = k.after(cur)
		} else {
			cause = d.Revoked.Cause
			k.seq++
			k.stored[d.ID] = mark{since: since, seq: k.seq}
		}
		k.revoked[d.ID] = Revocation{Revoked: true, Since: since, Cause: cause}
		k.cfg.Logger.Warn("keyring: DEP revoked", "dep", d.ID, "tenant", d.Tenant, "cause", cause)
	} else if m, ok := k.stored[d.ID]; ok && m.is(cur) && (seen || !d.Revoked.Revoked) {
		// Evidence is a refusal seen here, or the tenant's signal (its
		// caller's record carries no revocation); news of a revocation
		// from another node (an event, whose record carries it) is not:
		// taken for one, a node holding a revocation another node had
		// since cleared stored a new one in an outage.
		if rf, ok := k.refused[d.ID]; !ok || rf.seq < m.seq {
			k.seq++
			k.refused[d.ID] = mark{cause: cause, seq: k.seq}
		}
	}
	delete(k.entries, d.ID)
	k.gens[d.ID]++
	k.mu.Unlock()
	k.cfg.Metrics.revocations.Inc()
	for _, f := range tell {
		f(d)
	}
}

// mark is a point in a keyring's sequence of revocation news: a held
// revocation known to be in the DEP's record (since), or a refusal seen
// after that (cause).
type mark struct {
	since time.Time
	cause string
	seq   uint64
}

func (m mark) is(r Revocation) bool {
	return r.Revoked && m.since.UnixMilli() == r.Since.UnixMilli()
}

// StoredRevocation tells the keyring that the DEP's record holds a
// revocation now (its own, or another node's that covers it): a refusal
// seen before this is accounted for.
func (k *Keyring) StoredRevocation(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.revoked[id]; r.Revoked {
		k.seq++
		k.stored[id] = mark{since: r.Since, seq: k.seq}
	}
}

// Renew is for a DEP whose record, read now, holds no revocation while
// this keyring holds one: another node's clear answered it (its event not
// here yet). If a customer key refused (or the tenant signalled) since
// the revocation was known to be in the record, that is a new revocation:
// it is dated after the old one and returned, for the caller to store and
// tell. Kept with the old time, it was stored and told as the revocation
// the clear had answered: the other nodes ignored it, this one cleared on
// the late event, and a probe erased it from the store. With no refusal
// since, the clear stands (answered: the caller stores nothing; its event
// clears this keyring). A revocation not yet known to be in the record is
// this keyring's own, returned as it is to be stored.
func (k *Keyring) Renew(id string) (r Revocation, answered bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := k.revoked[id]
	m, ok := k.stored[id]
	if !cur.Revoked || !ok || !m.is(cur) {
		return cur, false
	}
	rf, ok := k.refused[id]
	if !ok || rf.seq < m.seq {
		return cur, true
	}
	r = Revocation{Revoked: true, Since: k.after(cur), Cause: rf.cause}
	k.revoked[id] = r
	delete(k.stored, id)
	delete(k.refused, id)
	k.cfg.Logger.Warn("keyring: DEP revoked again after another node's clear", "dep", id, "cause", rf.cause)
	return r, false
}

// after dates a new revocation: now, but later, to the millisecond the
// store keeps, than the revocation r holds or answered. A node's clock
// behind the one that dated those would otherwise date the new one at or
// before them, and the nodes whose clear answered them would take it for
// that one and ignore it.
func (k *Keyring) after(r Revocation) time.Time {
	at, last := k.cfg.Now().UTC(), r.Over // a clear: the revocation it answered
	if r.Revoked {
		last = r.Since
	}
	if min := last.Truncate(time.Millisecond).Add(time.Millisecond); !last.IsZero() && at.Before(min) {
		at = min
	}
	return at
}

// OnRevoke calls f with each DEP this keyring newly sees revoked by its
// customer keys' refusals, however it asked them (a request, the probe,
// a cache refresh), before whatever asked goes on; a signal (Revoke) is
// its caller's to store. The service stores the revocation and tells the
// other nodes (SPEC T1, S2): a revocation only this keyring knew of was
// lost with a restart, and the availability key then served the DEP in
// an outage.
func (k *Keyring) OnRevoke(f func(DEP)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onRevoke = append(k.onRevoke, f)
}

// restore clears d's revocation: a customer key unwrapped its key, in an
// unwrap that began at b, for a caller that read d. One that began before
// a revocation (or an eviction) here clears nothing: the key may have
// answered just before the tenant removed access, and a revocation signal
// racing an unwrap in flight must stand. The clear names the revocation
// it answered (Over: d's), so that the service clears only that one from
// the store: another node's, recorded after d was read, stands.
func (k *Keyring) restore(d DEP, b began) {
	k.mu.Lock()
	if k.gens[d.ID] != b.gen {
		k.mu.Unlock()
		return
	}
	was := k.revoked[d.ID].Revoked
	var over time.Time
	if d.Revoked.Revoked {
		over = d.Revoked.Since
	}
	k.revoked[d.ID] = Revocation{Since: b.at, Over: over}
	k.mu.Unlock()
	if was || d.Revoked.Revoked {
		k.cfg.Logger.Info("keyring: DEP revocation cleared: a customer key unwraps again", "dep", d.ID, "tenant", d.Tenant)
	}
}

// ProbeCached is the revocation probe (SPEC S3): without a signal, a
// tenant that removes the workload's access would otherwise be seen only
// when a cached key is refreshed, hours later. Each DEP whose key this
// keyring holds from a customer key is asked of one customer key (chosen
// at random); if that key refuses deliberately, of the other. Both
// refusing revokes the DEP here and drops its key (T1); the DEPs so
// revoked are returned for the caller to store. An outage changes
// nothing (the cache is for outages). calls is how many unwraps reached
// the vaults: one per DEP while the keys answer.
func (k *Keyring) ProbeCached(ctx context.Context) (calls int, revoked []DEP) {
	req := Request{Initiator: Service, Reason: "revocation probe"}
	for _, d := range k.CachedFromCustomerKeys() {
		b := k.begin(d.ID)
		first := k.cfg.Rand(2)
		var errs [2]error
		for _, i := range [2]int{first, 1 - first} {
			actx, cancel := context.WithTimeout(ctx, k.cfg.AttemptTimeout)
			key, err := k.unwrapOne(actx, d, i, req)
			cancel()
			calls++
			k.cfg.Metrics.probes.WithLabelValues(probeResult(err)).Inc()
			if err == nil {
				key.Destroy()
				k.restore(d, b)
				break
			}
			errs[i] = err
			if kms.ClassOf(err) != kms.Denied {
				break // an outage, or a bad request: not a revocation
			}
		}
		if kms.ClassOf(errs[0]) == kms.Denied && kms.ClassOf(errs[1]) == kms.Denied {
			err := k.refusal(d, errs, false) // revokes and drops the key
			k.setHealth(d.ID, Unhealthy, "revoked: the revocation probe was refused: "+err.Error())
			revoked = append(revoked, d)
		}
	}
	return calls, revoked
}

// CachedFromCustomerKeys are the DEPs (as they were when cached) whose
// key this keyring holds from a customer key.
func (k *Keyring) CachedFromCustomerKeys() []DEP {
	k.mu.Lock()
	defer k.mu.Unlock()
	var ds []DEP
	for _, e := range k.entries {
		if !e.availability && e.dep.ID != "" && e.dep.Kind != ServiceManaged {
			ds = append(ds, e.dep)
		}
	}
	return ds
}

func probeResult(err error) string {
	if err == nil {
		return "ok"
	}
	return kms.ClassOf(err).String()
}

// ClearRevocation is another node's news that a customer key unwrapped
// DEP depID again, answering the revocation recorded at over: this
// keyring no longer holds that one (the DEP's record, read on the next
// fetch, says so too). A revocation seen here after it stands.
func (k *Keyring) ClearRevocation(depID string, over time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r, ok := k.revoked[depID]; ok && r.Revoked && r.Since.UnixMilli() > over.UnixMilli() {
		return
	}
	k.revoked[depID] = Revocation{Since: k.cfg.Now().UTC(), Over: over}
}

package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/kms"
)

// unwrapCustomer gets the DEP key from the customer keys with the DEP
// kind's strategy. On failure it returns both errors and a *DEPError.
func (k *Keyring) unwrapCustomer(ctx context.Context, d DEP, req Request) (*envelope.Key, [2]error, error) {
	b := k.begin(d.ID)
	if d.Kind == Site {
		return k.hedged(ctx, d, req, b)
	}
	return k.failover(ctx, d, req, b)
}

// began is when an unwrap began: the DEP's generation then (bumped by
// Evict and by a revocation) and the time. An unwrap that began before a
// revocation this keyring saw (the generation moved) clears nothing; one
// another node stored is kept by the clear's Over (restore).
type began struct {
	gen uint64
	at  time.Time
}

func (k *Keyring) begin(depID string) began {
	k.mu.Lock()
	defer k.mu.Unlock()
	return began{k.gens[depID], k.cfg.Now().UTC()}
}

// failover (K3): one key at random, then the other.
func (k *Keyring) failover(ctx context.Context, d DEP, req Request, b began) (*envelope.Key, [2]error, error) {
	first := k.cfg.Rand(2)
	order := [2]int{first, 1 - first}
	var errs [2]error
	for _, i := range order {
		actx, cancel := context.WithTimeout(ctx, k.cfg.AttemptTimeout)
		key, err := k.unwrapOne(actx, d, i, req)
		cancel()
		if err == nil {
			k.noteSuccess(d, i, errs, b)
			return key, errs, nil
		}
		errs[i] = err
	}
	return nil, errs, k.refusal(d, errs, false)
}

// hedged (K5): the first key now, the second after HedgeDelay (or as soon
// as the first fails); the first success wins and the other is cancelled.
func (k *Keyring) hedged(ctx context.Context, d DEP, req Request, b began) (*envelope.Key, [2]error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i   int
		key *envelope.Key
		err error
	}
	results := make(chan result, 2)
	start := func(i int) {
		go func() {
			key, err := k.unwrapOne(ctx, d, i, req)
			results <- result{i, key, err}
		}()
	}
	start(0)
	hedge := time.NewTimer(k.cfg.HedgeDelay)
	defer hedge.Stop()
	started, pending := 1, 1
	var errs [2]error
	for pending > 0 || started < 2 {
		select {
		case <-hedge.C:
			if started < 2 {
				start(1)
				started, pending = 2, pending+1
			}
		case r := <-results:
			pending--
			if r.err == nil {
				cancel() // the other request is no longer needed
				k.noteSuccess(d, r.i, errs, b)
				return r.key, errs, nil
			}
			errs[r.i] = r.err
			if started < 2 {
				start(1)
				started, pending = 2, pending+1
			}
		}
	}
	return nil, errs, k.refusal(d, errs, true)
}

// unwrapOne asks customer key i to unwrap the DEP key.
func (k *Keyring) unwrapOne(ctx context.Context, d DEP, i int, req Request) (*envelope.Key, error) {
	rec := d.CustomerKeys[i]
	start := time.Now()
	raw, err := k.kms.Unwrap(ctx, rec.KeyID, rec.Data)
	elapsed := time.Since(start)
	vault, _, _, _ := kms.ParseKeyURI(rec.KeyID)
	result := "ok"
	if err != nil {
		if ctx.Err() == context.Canceled && kms.ClassOf(err) == kms.Transient {
			result = "cancelled"
		} else {
			result = kms.ClassOf(err).String()
		}
	}
	k.cfg.Metrics.unwraps.WithLabelValues(vault, result).Inc()
	k.cfg.Metrics.latency.WithLabelValues(vault).Observe(elapsed.Seconds())
	k.audit(Event{Action: "unwrap", DEP: d.ID, Tenant: d.Tenant, KeyURI: rec.KeyID, Initiator: req.Initiator, Reason: req.Reason, Err: err})
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	key, err := envelope.KeyFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("customer key %s unwrapped something that is not a DEP key: %w", rec.KeyID, err)
	}
	if _, revoked := k.isRevoked(d); revoked {
		if err := k.verify(ctx, d, key, req); err != nil {
			key.Destroy()
			return nil, fmt.Errorf("customer key %s: %w", rec.KeyID, err)
		}
	}
	return key, nil
}

// errNotDEPKey: a vault answered an unwrap with bytes that are not the
// DEP's key.
var errNotDEPKey = errors.New("the vault's answer is not the DEP's key: a revocation clears only with the DEP's own key")

// verify checks that what a vault unwrapped for a revoked DEP is the
// DEP's key, against the DEP key's copy under its availability key,
// before that unwrap may clear the revocation (T1): whoever answers in a
// vault's place (the provider, intercepting its own traffic) cannot clear
// a revocation with other bytes, then block the vaults so that the
// availability key serves the DEP again. Only a revoked DEP pays it.
func (k *Keyring) verify(ctx context.Context, d DEP, key *envelope.Key, req Request) error {
	avk, err := k.ks.get(ctx, d.AvailabilityKeyID)
	if err != nil {
		return fmt.Errorf("the unwrapped key could not be checked: %w", err)
	}
	defer avk.Destroy()
	want, err := envelope.UnwrapWithAvailabilityKey(avk, d.ref(), d.Availability)
	if err != nil {
		return fmt.Errorf("the unwrapped key could not be checked: %w", err)
	}
	defer want.Destroy()
	k.audit(Event{Action: "availability-key-check", DEP: d.ID, Tenant: d.Tenant, KeyURI: d.AvailabilityKeyID, Initiator: req.Initiator, Reason: "check that a customer key unwrapped the revoked DEP's own key: " + req.Reason})
	if !key.Equal(want) {
		k.cfg.Logger.Error("keyring: a vault answered a revoked DEP's unwrap with another key; the revocation stands", "dep", d.ID, "tenant", d.Tenant)
		return errNotDEPKey
	}
	return nil
}

// noteSuccess records health after a successful unwrap: healthy, or
// degraded if the other key failed on the way.
func (k *Keyring) noteSuccess(d DEP, ok int, errs [2]error, b began) {
	k.restore(d, b)
	if other := errs[1-ok]; other != nil {
		k.setHealth(d.ID, Degraded, fmt.Sprintf("customer key %d %s failed (%s); served by key %d", 2-ok, d.CustomerKeys[1-ok].KeyID, causeOf(other), ok+1))
		return
	}
	k.setHealth(d.ID, Healthy, "")
}

func refusedCause(a, b kms.Reason) string {
	return "both customer keys refused: " + a.String() + ", " + b.String()
}

// ByLoss reports whether a revocation's cause is both customer keys
// answering that they do not exist: lost keys (R3), which recovery
// through the availability key is for. Any other revocation (the
// tenant's signal, access removed, a key disabled) holds until a
// customer key unwraps again, recovery included (T1), whatever became
// of the keys since.
func ByLoss(cause string) bool { return cause == refusedCause(kms.KeyNotFound, kms.KeyNotFound) }

func (k *Keyring) refusal(d DEP, errs [2]error, hedged bool) error {
	if kms.ClassOf(errs[0]) == kms.Denied && kms.ClassOf(errs[1]) == kms.Denied {
		k.revoke(d, refusedCause(kms.ReasonOf(errs[0]), kms.ReasonOf(errs[1])), true)
	}
	return &DEPError{DEP: d.ID, Keys: [2]string{d.CustomerKeys[0].KeyID, d.CustomerKeys[1].KeyID}, Errs: errs, Hedged: hedged}
}

package keyring

import (
	"context"
	"time"
)

// State of a DEP.
type State string

const (
	Healthy   State = "healthy"
	Degraded  State = "degraded"
	Unhealthy State = "unhealthy"
	Unknown   State = "unknown"
)

// Health is a DEP's state as last seen by this keyring, with the cause.
type Health struct {
	State State
	Cause string
	Since time.Time
}

func (k *Keyring) setHealth(dep string, s State, cause string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h := k.health[dep]
	if h.State != s || h.Cause != cause {
		k.health[dep] = Health{State: s, Cause: cause, Since: k.cfg.Now().UTC()}
	}
}

// Health returns what this keyring last saw of a DEP.
func (k *Keyring) Health(dep string) Health {
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.health[dep]; ok {
		return h
	}
	return Health{State: Unknown}
}

// Probe asks each customer key of d to unwrap the DEP key, bypassing the
// cache, records the DEP's health from the answers and returns it with
// each key's error. It is how an admin checks a DEP on demand, and how a
// revocation shows at once.
func (k *Keyring) Probe(ctx context.Context, d DEP, req Request) (Health, [2]error) {
	b := k.begin(d.ID)
	var errs [2]error
	for i := range d.CustomerKeys {
		key, err := k.unwrapOne(ctx, d, i, req)
		if key != nil {
			key.Destroy()
		}
		errs[i] = err
	}
	switch {
	case errs[0] == nil && errs[1] == nil:
		k.noteSuccess(d, 0, errs, b)
	case errs[0] == nil:
		k.noteSuccess(d, 0, errs, b)
	case errs[1] == nil:
		k.noteSuccess(d, 1, errs, b)
	default:
		k.setHealth(d.ID, Unhealthy, k.refusal(d, errs, false).Error())
	}
	return k.Health(d.ID), errs
}

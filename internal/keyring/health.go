package keyring

import "time"

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

package vault

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/customerkey/customerkey/internal/store"
)

// authzSnapshot keeps each vault's access policies and role assignments in
// memory, so that a key operation does not read them from the database
// (SPEC V5, S2). Any management write (which may change them) drops it:
// on this node around the write itself, and on every other vault node by
// the events.VaultAccess event the write publishes. While a write is in
// flight nothing is kept, so a request answered after the write's reply
// never sees the old access.
type authzSnapshot struct {
	mu       sync.Mutex
	gen      uint64
	writing  atomic.Int64
	policies map[string][]store.AccessPolicy
	roles    map[string][]store.RoleAssignment
}

func newAuthzSnapshot() *authzSnapshot {
	return &authzSnapshot{policies: map[string][]store.AccessPolicy{}, roles: map[string][]store.RoleAssignment{}}
}

// invalidate drops everything.
func (a *authzSnapshot) invalidate() {
	a.mu.Lock()
	a.gen++
	clear(a.policies)
	clear(a.roles)
	a.mu.Unlock()
}

// write runs fn (a management write) with the snapshot off.
func (a *authzSnapshot) write(fn func()) {
	a.writing.Add(1)
	a.invalidate()
	defer func() {
		a.writing.Add(-1)
		a.invalidate()
	}()
	fn()
}

func (a *authzSnapshot) accessPolicies(ctx context.Context, st store.Store, vault string) ([]store.AccessPolicy, error) {
	return load(a, a.policies, vault, func() ([]store.AccessPolicy, error) { return st.AccessPolicies(ctx, vault) })
}

func (a *authzSnapshot) roleAssignments(ctx context.Context, st store.Store, vault string) ([]store.RoleAssignment, error) {
	return load(a, a.roles, vault, func() ([]store.RoleAssignment, error) { return st.RoleAssignments(ctx, vault) })
}

func load[T any](a *authzSnapshot, m map[string][]T, vault string, read func() ([]T, error)) ([]T, error) {
	a.mu.Lock()
	v, ok := m[vault]
	gen := a.gen
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen && a.writing.Load() == 0 {
		m[vault] = v
	}
	a.mu.Unlock()
	return v, nil
}

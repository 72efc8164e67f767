package vault

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// snapshot keeps in memory what a key operation would otherwise read from
// the database on every call (SPEC V5, S2): each live vault's record, its
// access policies and role assignments, and the live key versions asked
// for (by name and version, "" for the latest). Deleted vaults and keys are
// never kept, so what their retention does is always read afresh.
//
// Whatever may change these drops the whole snapshot:
//   - on this node, around the write itself (write): management writes and
//     the keys API's writes (create, import, rotate, update, delete,
//     recover, purge, restore). While a write is in flight nothing is kept,
//     so a request answered after the write's reply never sees the old
//     state;
//   - on every other vault node, through the events.VaultAccess event the
//     write publishes;
//   - and, where vault nodes are separate processes over one PostgreSQL
//     (events.Shared), by the sequence of the last recorded event, read
//     at the start of every request (observe): a node that finds an event
//     it has not seen yet drops everything first. The writer records its
//     event before it answers, so a request that another node receives
//     after that answer never uses what the write changed, even before the
//     notification arrives. A write whose event could not be recorded
//     (the database away, or the writing node gone, between the write and
//     its event: events.Tell tries again meanwhile) is seen when the
//     snapshot is snapshotMaxAge old: it is then dropped anyway.
//
// The time-dependent rules (a key's nbf and exp, a deleted key's purge
// date) are checked against the clock on every call, not cached.
type snapshot struct {
	mu       sync.Mutex
	gen      uint64
	seen     int64     // the last recorded event observed (shared bus only)
	dropped  time.Time // when observe last dropped everything
	writing  atomic.Int64
	vaults   map[string]store.Vault
	keys     map[string]store.KeyVersion
	policies map[string][]store.AccessPolicy
	roles    map[string][]store.RoleAssignment
}

// snapshotMax bounds each map; a full map is emptied (keys change rarely,
// and a vault serves few keys compared with this).
const snapshotMax = 4096

// snapshotMaxAge bounds how long vault nodes over one database keep what
// they read: a few reads per vault every few seconds, against a write of
// another node that no event announced.
var snapshotMaxAge = 5 * time.Second

func newSnapshot() *snapshot {
	return &snapshot{vaults: map[string]store.Vault{}, keys: map[string]store.KeyVersion{},
		policies: map[string][]store.AccessPolicy{}, roles: map[string][]store.RoleAssignment{}}
}

// invalidate drops everything.
func (a *snapshot) invalidate() {
	a.mu.Lock()
	a.dropLocked()
	a.mu.Unlock()
}

func (a *snapshot) dropLocked() {
	a.gen++
	clear(a.vaults)
	clear(a.keys)
	clear(a.policies)
	clear(a.roles)
}

// observe drops everything if head (the sequence of the last recorded
// event) is newer than any seen before, or if it was last dropped
// snapshotMaxAge ago.
func (a *snapshot) observe(head int64, now time.Time) {
	a.mu.Lock()
	if head > a.seen || now.Sub(a.dropped) >= snapshotMaxAge {
		a.seen = max(a.seen, head)
		a.dropped = now
		a.dropLocked()
	}
	a.mu.Unlock()
}

// write runs fn (a write that may change what the snapshot holds) with
// the snapshot off.
func (a *snapshot) write(fn func()) {
	a.writing.Add(1)
	a.invalidate()
	defer func() {
		a.writing.Add(-1)
		a.invalidate()
	}()
	fn()
}

func (a *snapshot) accessPolicies(ctx context.Context, st store.Store, vault string) ([]store.AccessPolicy, error) {
	return load(a, a.policies, strings.ToLower(vault), func() ([]store.AccessPolicy, bool, error) {
		v, err := st.AccessPolicies(ctx, vault)
		return v, true, err
	})
}

func (a *snapshot) roleAssignments(ctx context.Context, st store.Store, vault string) ([]store.RoleAssignment, error) {
	return load(a, a.roles, strings.ToLower(vault), func() ([]store.RoleAssignment, bool, error) {
		v, err := st.RoleAssignments(ctx, vault)
		return v, true, err
	})
}

// vault is a vault's record; only a live (not deleted) one is kept.
func (a *snapshot) vault(ctx context.Context, st store.Store, name string) (store.Vault, error) {
	return load(a, a.vaults, strings.ToLower(name), func() (store.Vault, bool, error) {
		v, err := st.Vault(ctx, name)
		return v, err == nil && v.DeletedAt == nil, err
	})
}

// keyVersion is a version of a key ("" the latest); only a version of a
// live (not deleted) key is kept. Callers must not change what the
// returned value's slices and maps hold (they are shared).
func (a *snapshot) keyVersion(ctx context.Context, st store.Store, vault, name, version string) (store.KeyVersion, error) {
	id := strings.ToLower(vault + "/" + name + "/" + version)
	return load(a, a.keys, id, func() (store.KeyVersion, bool, error) {
		kv, err := st.KeyVersion(ctx, vault, name, version)
		return kv, err == nil && kv.KeyDeletedAt == nil, err
	})
}

// load returns m[id], or reads it and keeps it if read says it may be
// kept and nothing dropped the snapshot meanwhile.
func load[T any](a *snapshot, m map[string]T, id string, read func() (T, bool, error)) (T, error) {
	a.mu.Lock()
	v, ok := m[id]
	gen := a.gen
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	v, keep, err := read()
	if err != nil || !keep {
		return v, err
	}
	a.mu.Lock()
	if a.gen == gen && a.writing.Load() == 0 {
		if len(m) >= snapshotMax {
			clear(m)
		}
		m[id] = v
	}
	a.mu.Unlock()
	return v, nil
}

package dep_test

import (
	"context"
	"sync"
	"testing"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
)

type countBus struct {
	mu sync.Mutex
	ev []events.Event
}

func (b *countBus) Publish(_ context.Context, e events.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ev = append(b.ev, e)
	return nil
}
func (b *countBus) Subscribe(func(events.Event)) func() { return func() {} }

// TestRevocationToldOnce: a revocation found by a read (both keys
// refuse) is stored and told to the other nodes once: by the keyring's
// OnRevoke, not again by the read with the DEP record it held from
// before (each node would revoke and evict twice).
func TestRevocationToldOnce(t *testing.T) {
	bus := &countBus{}
	e := deptest.StartWith(t, deptest.Options{Events: bus})
	ctx, deps, seed, v := e.Ctx, e.DEPs, e.Seed, e.Vault
	w, _ := deps.Workload(dep.Mailbox)
	ring := w.Ring
	d, err := deps.Create(ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	removeUnwrap(t, v, seed)
	ring.Evict(d.ID)
	if _, err = deps.Key(ctx, d, keyring.Request{Initiator: keyring.User, Reason: "read"}); err == nil {
		t.Fatal("a read with the access removed got the key")
	}
	n := 0
	bus.mu.Lock()
	for _, e := range bus.ev {
		if e.Kind == events.DEPRevoked {
			n++
		}
	}
	bus.mu.Unlock()
	if n != 1 {
		t.Errorf("%d dep.revoked events for one revocation", n)
	}
}

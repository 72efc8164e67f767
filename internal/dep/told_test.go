package dep_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
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
	v := vaulttest.Start(t, vaulttest.Options{})
	seed, err := v.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	master, err := keystore.OpenFile(filepath.Join(t.TempDir(), "ks.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.Local(v.Client, dep.ExchangeApp)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring.New(c, keyring.NewKeystore(v.Store, master), keyring.Config{})
	w := dep.Workload{App: dep.ExchangeApp, KMS: c, Ring: ring}
	bus := &countBus{}
	deps := dep.New(dep.Config{Store: v.Store, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w, dep.MDEP: w, dep.Site: w},
		Azure: onboarding.VaultDirectory{C: v.Client}, Events: bus, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	tn := store.ServiceTenant{ID: seed.Tenant, Name: "Contoso", Created: time.Now()}
	if err := v.Store.CreateServiceTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	ctx := tenant.WithCaller(context.Background(), store.APIToken{Tenant: tn.ID, Subject: "exo@contoso.com", Role: tenant.RoleExchangeAdmin})
	d, err := deps.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	for _, vv := range seed.Vaults {
		if err := v.Client.Do(ctx, "PUT", "/vaults/"+vv.Name+"/accessPolicies/"+seed.Workload, map[string]any{"permissions": map[string]any{"keys": []string{"get"}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
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

package keyring_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// forging is the built-in vault reached through the official client, with
// its unwrap answers replaced while on: whoever answers in the vault's
// place (the provider, intercepting its own traffic to the vaults).
type forging struct {
	kms.Client
	on atomic.Bool
}

func (f *forging) Unwrap(ctx context.Context, keyURI string, wrapped []byte) ([]byte, error) {
	if f.on.Load() {
		b := make([]byte, 32)
		rand.Read(b)
		return b, nil
	}
	return f.Client.Unwrap(ctx, keyURI, wrapped)
}

// ringOver starts the built-in vault with the seed tenant and returns a
// keyring that reaches the customer keys through wrap(the official
// client).
func ringOver(t *testing.T, wrap func(kms.Client) kms.Client) (*vaulttest.Env, vaulttest.Seed, *keyring.Keyring) {
	env := vaulttest.Start(t, vaulttest.Options{})
	seed, err := env.SeedTenant()
	must(t, err)
	real, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 3 * time.Second})
	must(t, err)
	master, err := keystore.OpenFile(filepath.Join(t.TempDir(), "service-keystore.json"))
	must(t, err)
	return env, seed, keyring.New(wrap(real), keyring.NewKeystore(env.Store, master), keyring.Config{})
}

// TestForgedUnwrapClearsNoRevocation (T1): a revoked DEP's revocation
// clears only when a customer key unwraps the DEP's own key. Vaults that
// answer with other bytes leave it revoked (the provider cannot clear it,
// then block the vaults so that the availability key serves the DEP);
// the real answer clears it.
func TestForgedUnwrapClearsNoRevocation(t *testing.T) {
	ctx := context.Background()
	f := &forging{}
	_, seed, ring := ringOver(t, func(c kms.Client) kms.Client { f.Client = c; return f })
	d, err := ring.NewDEP(ctx, "contoso", "dep-1", keyring.Mailbox, seed.KeyURIs, user)
	must(t, err)
	ring.Revoke(d, "the tenant's signal")

	f.on.Store(true)
	for _, ask := range []func() error{
		func() error { _, errs := ring.Probe(ctx, d, service); return errors.Join(errs[0], errs[1]) },
		func() error { _, err := ring.DEPKey(ctx, d, user); return err },
	} {
		if err := ask(); err == nil {
			t.Fatal("a forged answer was taken for the DEP's key")
		}
		if r, _ := ring.Revocation(d.ID); !r.Revoked {
			t.Fatalf("a forged answer cleared the revocation: %+v", r)
		}
	}
	var re *keyring.RevokedError
	if _, err := ring.DEPKey(ctx, d, user); !errors.As(err, &re) {
		t.Fatalf("after forged answers: %v, want the DEP revoked", err)
	}

	f.on.Store(false) // the customer keys answer for themselves
	if _, errs := ring.Probe(ctx, d, service); errs[0] != nil || errs[1] != nil {
		t.Fatalf("the real answers: %v", errs)
	}
	if r, _ := ring.Revocation(d.ID); r.Revoked {
		t.Fatalf("the DEP's own key did not clear the revocation: %+v", r)
	}
}

// TestNewRevocationAfterTheLast (T1, S2): a new revocation is dated after
// the one this keyring holds or last saw cleared, whatever its clock. A
// node whose clock is behind the one that dated those dated it at or
// before them, and the nodes whose clear answered them ignored it.
func TestNewRevocationAfterTheLast(t *testing.T) {
	ahead := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond) // the other node's clock
	behind := func() time.Time { return ahead.Add(-2 * time.Hour) }
	d := keyring.DEP{ID: "dep-1", Tenant: "contoso", Kind: keyring.Mailbox}
	for _, tc := range []struct {
		name string
		last func(*keyring.Keyring) // what the keyring knows of the DEP
	}{
		{"after a clear", func(r *keyring.Keyring) { r.ClearRevocation(d.ID, ahead) }},
		{"while it holds one the store no longer does", func(r *keyring.Keyring) {
			r.Revoke(keyring.DEP{ID: d.ID, Tenant: d.Tenant, Revoked: keyring.Revocation{Revoked: true, Since: ahead, Cause: "earlier"}}, "earlier")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := keyring.New(nil, nil, keyring.Config{Now: behind})
			tc.last(ring)
			ring.Revoke(d, "the tenant's signal") // d: the record says none is stored
			ring.Renew(d.ID)                      // as dep does, having read the record: none
			r, _ := ring.Revocation(d.ID)
			if !r.Revoked || !r.Since.After(ahead) || r.Cause != "the tenant's signal" {
				t.Fatalf("new revocation %+v, want one dated after %s", r, ahead)
			}
		})
	}
}

// evicting evicts one DEP from ring while its customer keys are asked,
// once armed: an eviction (a dep.changed event, the DEP disabled or
// deleted on another node) that lands while the keyring fills its cache.
type evicting struct {
	kms.Client
	ring  *keyring.Keyring
	dep   string
	armed atomic.Bool
	calls atomic.Int32
}

func (e *evicting) Unwrap(ctx context.Context, keyURI string, wrapped []byte) ([]byte, error) {
	e.calls.Add(1)
	if e.armed.CompareAndSwap(true, false) {
		e.ring.Evict(e.dep)
	}
	return e.Client.Unwrap(ctx, keyURI, wrapped)
}

// TestEvictionDuringAnAvailabilityFill (S2): in an outage the availability
// key serves a mailbox DEP's reads and its key is cached; an eviction
// while that fill ran stands. It was undone: the fill cached the key
// whatever happened meanwhile, for the degraded lifetime (a minute).
func TestEvictionDuringAnAvailabilityFill(t *testing.T) {
	ctx := context.Background()
	ev := &evicting{}
	env, seed, ring := ringOver(t, func(c kms.Client) kms.Client { ev.Client = c; return ev })
	ev.ring = ring
	d, err := ring.NewDEP(ctx, "contoso", "dep-1", keyring.Mailbox, seed.KeyURIs, user)
	must(t, err)
	ev.dep = d.ID
	ring.Evict(d.ID)
	for _, r := range []string{"eastus", "westus"} {
		must(t, env.Fault(r, "failing", 0, time.Minute))
	}
	ev.armed.Store(true)
	// Three reads: the first fills the cache while the eviction lands;
	// the second must ask the customer keys again (and fills the cache);
	// the third is served from the cache.
	for i, wantAsked := range []bool{true, true, false} {
		before := ev.calls.Load()
		if _, err := ring.DEPKey(ctx, d, user); err != nil {
			t.Fatalf("read %d in an outage: %v, want the availability key's answer", i+1, err)
		}
		if asked := ev.calls.Load() > before; asked != wantAsked {
			t.Fatalf("read %d asked the customer keys: %v, want %v (read 2 from the cache: the fill during the eviction cached the key)", i+1, asked, wantAsked)
		}
	}
}

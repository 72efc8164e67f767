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

// TestForgedUnwrapClearsNoRevocation (T1): a revoked DEP's revocation
// clears only when a customer key unwraps the DEP's own key. Vaults that
// answer with other bytes leave it revoked (the provider cannot clear it,
// then block the vaults so that the availability key serves the DEP);
// the real answer clears it.
func TestForgedUnwrapClearsNoRevocation(t *testing.T) {
	ctx := context.Background()
	env := vaulttest.Start(t, vaulttest.Options{})
	seed, err := env.SeedTenant()
	must(t, err)
	real, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 3 * time.Second})
	must(t, err)
	master, err := keystore.OpenFile(filepath.Join(t.TempDir(), "service-keystore.json"))
	must(t, err)
	f := &forging{Client: real}
	ring := keyring.New(f, keyring.NewKeystore(env.Store, master), keyring.Config{})
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

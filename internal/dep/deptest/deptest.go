// Package deptest starts the DEP service of a test over real parts: a
// built-in vault (two HTTPS regions) reached through the official azkeys
// client, and the vault's SQLite store, with the seed tenant (Contoso)
// created in both and a caller (an Exchange admin) in the context.
package deptest

import (
	"context"
	"log/slog"
	"path/filepath"
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

// Env is a running DEP service.
type Env struct {
	DEPs   *dep.Service
	Vault  *vaulttest.Env
	Seed   vaulttest.Seed
	Tenant store.ServiceTenant
	Ctx    context.Context // carries the caller
}

// Start starts a DEP service whose three workloads reach the keys as the
// Exchange Online principal (the seed tenant grants only that one).
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// Options change what Start starts.
type Options struct {
	Events events.Bus // what the DEP service tells other nodes (nil: none)
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	v := vaulttest.Start(t, vaulttest.Options{})
	seed, err := v.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	master, err := keystore.OpenFile(filepath.Join(t.TempDir(), "service-keystore.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.Local(v.Client, dep.ExchangeApp)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring.New(c, keyring.NewKeystore(v.Store, master), keyring.Config{})
	w := dep.Workload{App: dep.ExchangeApp, KMS: c, Ring: ring}
	deps := dep.New(dep.Config{Store: v.Store, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w, dep.MDEP: w, dep.Site: w},
		Azure: onboarding.VaultDirectory{C: v.Client}, Events: opts.Events, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	tn := store.ServiceTenant{ID: seed.Tenant, Name: "Contoso", Created: time.Now()}
	if err := v.Store.CreateServiceTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	ctx := tenant.WithCaller(context.Background(), store.APIToken{Tenant: tn.ID, Subject: "exo@contoso.com", Role: tenant.RoleExchangeAdmin})
	return &Env{DEPs: deps, Vault: v, Seed: seed, Tenant: tn, Ctx: ctx}
}

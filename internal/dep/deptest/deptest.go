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

	master keystore.Keystore
}

// Start starts a DEP service whose three workloads reach the keys as the
// Exchange Online principal (the seed tenant grants only that one).
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// Options change what Start starts.
type Options struct {
	Events events.Bus // what the DEP service tells other nodes (nil: none)
	// KMS wraps the client by which the DEP service reaches the vault
	// (a test's fault on the way); nil: as it is.
	KMS func(kms.Client) kms.Client
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
	e := &Env{Vault: v, Seed: seed, master: master}
	e.DEPs = e.Node(t, opts)
	e.Tenant = store.ServiceTenant{ID: seed.Tenant, Name: "Contoso", Created: time.Now()}
	if err := v.Store.CreateServiceTenant(context.Background(), e.Tenant); err != nil {
		t.Fatal(err)
	}
	e.Ctx = tenant.WithCaller(context.Background(), store.APIToken{Tenant: e.Tenant.ID, Subject: "exo@contoso.com", Role: tenant.RoleExchangeAdmin})
	return e
}

// Node starts another DEP service over the same vault, store and
// keystore, with a keyring of its own: another node of the service.
func (e *Env) Node(t testing.TB, opts Options) *dep.Service {
	t.Helper()
	var c kms.Client
	c, err := kms.Local(e.Vault.WorkloadClient, dep.ExchangeApp)
	if err != nil {
		t.Fatal(err)
	}
	if opts.KMS != nil {
		c = opts.KMS(c)
	}
	ring := keyring.New(c, keyring.NewKeystore(e.Vault.Store, e.master), keyring.Config{})
	w := dep.Workload{App: dep.ExchangeApp, KMS: c, Ring: ring}
	return dep.New(dep.Config{Store: e.Vault.Store, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w, dep.MDEP: w, dep.Site: w},
		Azure: onboarding.VaultDirectory{C: e.Vault.WorkloadClient}, Events: opts.Events, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
}

package dep_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// SPEC T4, own keys only: Fabrikam, a tenant with its own directory in
// which the same workload application is registered (as in Microsoft
// 365), names Contoso's keys, which grant that application get, wrapKey
// and unwrapKey. Every DEP kind is refused; Fabrikam's own keys are not.
func TestOwnKeysOnly(t *testing.T) {
	e := start(t)
	fab, err := e.vault.SeedTenantNamed("Fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	ft := store.ServiceTenant{ID: fab.Tenant, Name: "Fabrikam", Created: time.Now()}
	if err := e.vault.Store.CreateServiceTenant(e.ctx, ft); err != nil {
		t.Fatal(err)
	}
	ctx := tenant.WithCaller(e.ctx, store.APIToken{Tenant: ft.ID, Subject: "eve@fabrikam.com", Role: tenant.RoleGlobalAdmin})
	contoso, own := e.seed.KeyURIs, fab.KeyURIs
	for _, tc := range []struct {
		name string
		kind dep.Kind
		keys []string
		rule string // "" for created
	}{
		{"mailbox DEP on the other tenant's keys", dep.Mailbox, contoso[:], "T4.OwnKeys"},
		{"multi-workload DEP on the other tenant's keys", dep.MDEP, contoso[:], "T4.OwnKeys"},
		{"site DEP on the other tenant's keys", dep.Site, contoso[:], "T4.OwnKeys"},
		{"one own key, one of the other tenant", dep.Mailbox, []string{own[0], contoso[1]}, "T4.OwnKeys"},
		{"the other tenant's key first", dep.MDEP, []string{contoso[0], own[1]}, "T4.OwnKeys"},
		{"mailbox DEP on own keys", dep.Mailbox, own[:], ""},
		{"multi-workload DEP on own keys", dep.MDEP, own[:], ""},
		{"site DEP on own keys", dep.Site, own[:], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.NewReplacer(" ", "-", "'", "", ",", "").Replace(tc.name)
			d, err := e.deps.Create(ctx, ft, dep.Spec{Kind: tc.kind, Name: name, KeyURIs: tc.keys})
			if tc.rule == "" {
				if err != nil || d.Tenant != ft.ID {
					t.Fatalf("got %+v %v, want a DEP of Fabrikam", d, err)
				}
				return
			}
			wantRule(t, tc.name, err, rule.KindInvalid, tc.rule)
			if e, _ := rule.As(err); !strings.Contains(e.Detail, "another directory") || !strings.Contains(e.Fix, ft.ID) {
				t.Fatalf("refusal does not say why and how: %+v", e)
			}
			if ds, _ := e.deps.List(ctx, ft, tc.kind); slicesHas(ds, name) {
				t.Fatalf("the refused DEP %s was stored", name)
			}
		})
	}
	// Contoso still uses its own keys.
	if _, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "Contoso-own", KeyURIs: contoso[:]}); err != nil {
		t.Fatalf("Contoso on its own keys: %v", err)
	}
}

func slicesHas(ds []store.DEP, name string) bool {
	for _, d := range ds {
		if d.Name == name {
			return true
		}
	}
	return false
}

// SPEC T4, known hosts only: a key URI whose host is not a vault of the
// configured domains (here the built-in vault's regions) is refused
// before any connection: a loopback listener that counts accepts sees
// none, whatever the host names.
func TestKnownHostsOnly(t *testing.T) {
	e := start(t)
	l := vaulttest.Listen(t, vaulttest.PlainTCP, 0)
	region := e.seed.Vaults[0].URI[strings.LastIndex(e.seed.Vaults[0].URI, ":")+1:] // a vault region's port
	for _, tc := range []struct{ name, host string }{
		{"an IP address", fmt.Sprintf("127.0.0.1:%d", l.Port)},
		{"a vault name on another port", fmt.Sprintf("contoso-eastus.localhost:%d", l.Port)},
		{"the bare domain", fmt.Sprintf("localhost:%d", l.Port)},
		{"two labels under the domain", "a.contoso-eastus.localhost:" + region},
		{"another domain", fmt.Sprintf("vault.example.localhost.test:%d", l.Port)},
		{"no port (443)", "contoso-eastus.localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := "https://" + tc.host + "/keys/key"
			for _, kind := range []dep.Kind{dep.Mailbox, dep.MDEP, dep.Site} {
				_, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: kind, Name: "hosts", KeyURIs: []string{uri, e.seed.KeyURIs[1]}})
				wantRule(t, tc.name, err, rule.KindInvalid, "T4.KnownHosts")
			}
		})
	}
	if n := l.Accepts(); n != 0 {
		t.Fatalf("the listener accepted %d connections, want none", n)
	}
}

// movedSubscription is the service's vault directory, except that every
// subscription belongs to another directory.
type movedSubscription struct{ onboarding.VaultDirectory }

func (m movedSubscription) Subscription(ctx context.Context, id string) (onboarding.Subscription, error) {
	s, err := m.VaultDirectory.Subscription(ctx, id)
	s.TenantID = "00000000-0000-4000-8000-000000000000"
	return s, err
}

// The vault's subscription must belong to the tenant too, where the
// service's vault directory knows the vault: the second opinion refuses
// even a vault whose challenge names the tenant.
func TestOwnKeysSubscription(t *testing.T) {
	e := start(t)
	w, _ := e.deps.Workload(dep.Mailbox)
	deps := dep.New(dep.Config{Store: e.vault.Store, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w},
		Azure: movedSubscription{onboarding.VaultDirectory{C: e.vault.Client}}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	_, err := deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "moved", KeyURIs: e.seed.KeyURIs[:]})
	wantRule(t, "a vault whose subscription is another directory's", err, rule.KindInvalid, "T4.OwnKeys")
}

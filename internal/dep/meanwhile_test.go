package dep_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
)

// hookKMS runs meanwhile, once armed, while the first wrap after it is
// on its way to the vault: another change of the DEP lands then (another
// caller, another node).
type hookKMS struct {
	kms.Client
	armed     atomic.Bool
	meanwhile func()
}

func (h *hookKMS) Directory(ctx context.Context, uri string) (string, error) {
	return h.Client.(kms.DirectoryReader).Directory(ctx, uri)
}

func (h *hookKMS) Wrap(ctx context.Context, uri string, key []byte) (kms.Wrapped, error) {
	if h.armed.CompareAndSwap(true, false) {
		h.meanwhile()
	}
	return h.Client.Wrap(ctx, uri, key)
}

// roll makes a new version of each of the seed's keys in the vault.
func roll(t *testing.T, e *deptest.Env) {
	t.Helper()
	for i := range e.Seed.Keys {
		if _, err := e.Seed.Keys[i].CreateKey(context.Background(), "key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// versions reads which key versions a DEP is wrapped under now and
// which it was before (DEP.Former, what a purge asks, T8).
func versions(t *testing.T, e *deptest.Env, name string) (now [2]string, former [2][]string, enabled bool) {
	t.Helper()
	d, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, name)
	if err != nil {
		t.Fatal(err)
	}
	var kd keyring.DEP
	if err := kd.UnmarshalKeys(d.Keys); err != nil {
		t.Fatal(err)
	}
	for i, rec := range kd.CustomerKeys {
		now[i] = rec.KeyID
	}
	return now, kd.Former, d.Enabled
}

// TestChangesMeanwhileStay: a change of a DEP lands only on the DEP as
// it was read. A disable that landed while a refresh asked the vault was
// undone by the refresh, which wrote back the enabled flag it had read;
// and a disable made from a DEP read before a refresh put back the keys
// from before it, so the refresh's wrap and its record of the earlier
// key versions (which a purge asks, T8) were lost.
func TestChangesMeanwhileStay(t *testing.T) {
	hook := &hookKMS{}
	e := deptest.StartWith(t, deptest.Options{KMS: func(c kms.Client) kms.Client { hook.Client = c; return hook }})
	_, err := e.DEPs.Create(e.Ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.Seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := versions(t, e, "DEP-1")

	// A disable while a refresh is at the vault.
	roll(t, e)
	off := false
	hook.meanwhile = func() {
		if _, err := e.DEPs.Set(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1", dep.Change{Enabled: &off}); err != nil {
			t.Error(err)
		}
	}
	hook.armed.Store(true)
	if _, err := e.DEPs.Set(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1", dep.Change{Refresh: true}); err != nil {
		t.Fatal(err)
	}
	second, former, enabled := versions(t, e, "DEP-1")
	if enabled {
		t.Error("the disable that landed during the refresh was undone")
	}
	for i := range second {
		if second[i] == first[i] || !slices.Contains(former[i], first[i]) {
			t.Errorf("key %d after the refresh: wrapped under %s, earlier %v; want a new version and %s among the earlier", i+1, second[i], former[i], first[i])
		}
	}

	// A disable from the DEP as read before a second roll's refresh.
	stale, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := e.DEPs.Set(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1", dep.Change{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	roll(t, e)
	if _, err := e.DEPs.Set(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1", dep.Change{Refresh: true}); err != nil {
		t.Fatal(err)
	}
	third, _, _ := versions(t, e, "DEP-1")
	if _, err := e.DEPs.Disable(e.Ctx, stale); err != nil {
		t.Fatal(err)
	}
	now, former, enabled := versions(t, e, "DEP-1")
	if enabled || now != third {
		t.Errorf("after a disable from a DEP read before the refresh: enabled %v, wrapped under %v; want disabled, under %v", enabled, now, third)
	}
	for i := range now {
		if !slices.Contains(former[i], first[i]) || !slices.Contains(former[i], second[i]) {
			t.Errorf("key %d: earlier versions %v; want %s and %s", i+1, former[i], first[i], second[i])
		}
	}
}

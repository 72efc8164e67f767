package dep_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// The DEP rules, tested on the domain package alone: a real built-in vault
// over HTTPS through the official client and a real SQLite store, no API.

type env struct {
	deps  *dep.Service
	vault *vaulttest.Env
	seed  vaulttest.Seed
	t     store.ServiceTenant
	ctx   context.Context
}

func start(t *testing.T) *env {
	e := deptest.Start(t)
	return &env{deps: e.DEPs, vault: e.Vault, seed: e.Seed, t: e.Tenant, ctx: e.Ctx}
}

var keyringService = keyring.Request{Initiator: keyring.Service, Reason: "test"}

// wantRule fails unless err is a domain error of rule id and kind.
func wantRule(t *testing.T, what string, err error, kind rule.Kind, id string) {
	t.Helper()
	e, ok := rule.As(err)
	if !ok || e.Rule != id || e.Kind != kind {
		t.Fatalf("%s: got %v (%#v), want rule %s (%v)", what, err, e, id, kind)
	}
	if e.Fix == "" || e.Detail == "" {
		t.Fatalf("%s: rule %s without a fix or a detail: %+v", what, id, e)
	}
}

func TestCreateRules(t *testing.T) {
	e := start(t)
	keys := e.seed.KeyURIs[:]
	if _, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: keys}); err != nil {
		t.Fatal(err)
	}
	noVault := strings.Replace(keys[0], "contoso-eastus", "nowhere", 1)
	otherPort := "https://contoso-eastus.localhost:1/keys/key" // loopback, not a vault region's port
	for _, tc := range []struct {
		name string
		spec dep.Spec
		kind rule.Kind
		rule string
	}{
		{"a space in the name", dep.Spec{Kind: dep.Mailbox, Name: "my dep", KeyURIs: keys}, rule.KindInvalid, "D1.Name"},
		{"one key", dep.Spec{Kind: dep.Mailbox, Name: "one", KeyURIs: keys[:1]}, rule.KindInvalid, "D1.TwoKeys"},
		{"three keys", dep.Spec{Kind: dep.Mailbox, Name: "three", KeyURIs: append(keys, keys[0])}, rule.KindInvalid, "D1.TwoKeys"},
		{"not a key URI", dep.Spec{Kind: dep.Mailbox, Name: "uri", KeyURIs: []string{"contoso-eastus/key", keys[1]}}, rule.KindInvalid, "D1.KeyURI"},
		{"both keys in one vault", dep.Spec{Kind: dep.Mailbox, Name: "one-vault", KeyURIs: []string{keys[0], keys[0] + "2"}}, rule.KindInvalid, "D1.TwoVaults"},
		{"a name taken", dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: keys}, rule.KindConflict, "D1.UniqueName"},
		{"a key that does not exist", dep.Spec{Kind: dep.Mailbox, Name: "missing", KeyURIs: []string{keys[0] + "-none", keys[1]}}, rule.KindInvalid, "Key.Exists"},
		{"a vault that does not exist", dep.Spec{Kind: dep.Mailbox, Name: "novault", KeyURIs: []string{noVault, keys[1]}}, rule.KindInvalid, "Key.Exists"},
		{"a port that is not a vault region's", dep.Spec{Kind: dep.Mailbox, Name: "port", KeyURIs: []string{otherPort, keys[1]}}, rule.KindInvalid, "T4.KnownHosts"},
		{"a kind without a workload", dep.Spec{Kind: dep.ServiceManaged, Name: "svc", KeyURIs: keys}, rule.KindUnavailable, "Service.Workload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.deps.Create(e.ctx, e.t, tc.spec)
			wantRule(t, tc.name, err, tc.kind, tc.rule)
		})
	}
	// A vault that does not answer.
	if err := e.vault.Fault("eastus", "outage", 0, 0); err != nil {
		t.Fatal(err)
	}
	_, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "down", KeyURIs: keys})
	wantRule(t, "a vault that does not answer", err, rule.KindUnavailable, "Key.Reachable")
	if err := e.vault.Fault("eastus", "off", 0, 0); err != nil {
		t.Fatal(err)
	}
	// The same name is free in another kind.
	if _, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.MDEP, Name: "DEP-1", KeyURIs: keys}); err != nil {
		t.Fatalf("a multi-workload DEP named like a mailbox DEP: %v", err)
	}
}

func TestKeyRules(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	keys := e.seed.KeyURIs[:]
	// A key that expires, a disabled one, one without wrapKey.
	kc := e.seed.Keys[0]
	exp := time.Now().Add(24 * time.Hour)
	mk := func(name string, p azkeys.CreateKeyParameters) string {
		p.Kty, p.KeySize = to.Ptr(azkeys.KeyTypeRSAHSM), to.Ptr[int32](2048)
		if _, err := kc.CreateKey(ctx, name, p, nil); err != nil {
			t.Fatal(err)
		}
		return e.seed.Vaults[0].URI + "/keys/" + name
	}
	expiring := mk("expiring", azkeys.CreateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: &exp}})
	disabled := mk("disabled", azkeys.CreateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}})
	signOnly := mk("sign-only", azkeys.CreateKeyParameters{KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationSign)}})
	for _, tc := range []struct {
		name, uri, rule string
	}{
		{"an expiry other than 12/31/9999", expiring, "Key.NeverExpires"},
		{"a disabled key", disabled, "Key.Enabled"},
		{"no wrapKey or unwrapKey", signOnly, "Key.Operations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "k", KeyURIs: []string{tc.uri, keys[1]}})
			wantRule(t, tc.name, err, rule.KindInvalid, tc.rule)
		})
	}
}

func TestSetAssignAndOnboarding(t *testing.T) {
	e := start(t)
	keys := e.seed.KeyURIs[:]
	wantRule(t, "not onboarded", e.deps.RequireOnboarded(e.ctx, e.t, "EXO"), rule.KindInvalid, "O3.Onboarded")
	d, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: keys})
	if err != nil {
		t.Fatal(err)
	}
	for _, idOrName := range []string{d.ID, "DEP-1", "dep-1"} {
		if got, err := e.deps.Get(e.ctx, e.t, dep.Mailbox, idOrName); err != nil || got.ID != d.ID {
			t.Errorf("Get(%q) = %v, %v; want DEP %s", idOrName, got.ID, err, d.ID)
		}
	}
	_, err = e.deps.Get(e.ctx, e.t, dep.MDEP, "DEP-1")
	wantRule(t, "a mailbox DEP asked as a multi-workload one", err, rule.KindNotFound, "D1.Exists")
	off := false
	for _, tc := range []struct {
		name   string
		kind   dep.Kind
		change dep.Change
		k      rule.Kind
		rule   string
	}{
		{"nothing to change", dep.Mailbox, dep.Change{}, rule.KindInvalid, "D1.Set"},
		{"a purge with other changes", dep.Mailbox, dep.Change{Purge: true, Enabled: &off, PurgeReason: "r", PurgeContact: "c"}, rule.KindInvalid, "R6.Alone"},
		{"a purge without a reason", dep.Mailbox, dep.Change{Purge: true, PurgeContact: "c"}, rule.KindInvalid, "R6.Reason"},
		{"a purge without a contact", dep.Mailbox, dep.Change{Purge: true, PurgeReason: "r"}, rule.KindInvalid, "R6.Contact"},
		{"a purge without a signing key", dep.Mailbox, dep.Change{Purge: true, PurgeReason: "r", PurgeContact: "c"}, rule.KindUnavailable, "R6.Signer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.deps.Set(e.ctx, e.t, tc.kind, "DEP-1", tc.change)
			wantRule(t, tc.name, err, tc.k, tc.rule)
		})
	}
	m, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.MDEP, Name: "MDEP-1", KeyURIs: keys})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.deps.Set(e.ctx, e.t, dep.MDEP, m.Name, dep.Change{Purge: true, PurgeReason: "r", PurgeContact: "c"})
	wantRule(t, "a purge of a multi-workload DEP", err, rule.KindInvalid, "R6.NotForMDEP")

	// Disabled: not assignable, with the command that enables it.
	if _, err := e.deps.Set(e.ctx, e.t, dep.Mailbox, "DEP-1", dep.Change{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deps.Assignable(e.ctx, e.t, dep.Mailbox, "DEP-1")
	wantRule(t, "a disabled DEP assigned", err, rule.KindInvalid, "D2.Enabled")
	if e, _ := rule.As(err); !strings.Contains(e.Fix, "ck dep set DEP-1 --enabled=true") {
		t.Errorf("fix %q does not name the command that enables it", e.Fix)
	}
	// The multi-workload DEP: assigned, then it cannot be disabled.
	if _, err := e.deps.AssignMDEP(e.ctx, e.t, "MDEP-1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.deps.Set(e.ctx, e.t, dep.MDEP, "MDEP-1", dep.Change{Enabled: &off})
	wantRule(t, "disabling the assigned MDEP", err, rule.KindInvalid, "D6.DisableAfterUnassign")
	_, err = e.deps.AssignMDEP(e.ctx, e.t, "")
	wantRule(t, "unassigning the MDEP", err, rule.KindInvalid, "R4.MDEPRollback")
	a, err := e.deps.MDEPAssignment(e.ctx, e.t)
	if err != nil || a.DEP.ID != m.ID {
		t.Fatalf("assignment = %+v, %v; want %s", a, err, m.ID)
	}
	// Service-managed keys: one DEP per tenant, made once.
	s1, err := e.deps.Assignable(e.ctx, e.t, dep.Mailbox, "")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := e.deps.ServiceDEP(e.ctx, e.t)
	if err != nil || s2.ID != s1.ID || s1.Kind != string(dep.ServiceManaged) {
		t.Fatalf("service-managed DEP %+v then %+v (%v): want one", s1, s2, err)
	}
}

// TestRevocationSeenByTheKeyringIsKept: a revocation the keyring sees on
// its own (a cache refresh, here a fetch of its own) is stored in the
// DEP's record at once, without a request through the DEP service: a
// node restarted after it, or another node, still refuses the DEP, and
// an outage cannot make the availability key serve it (T1).
func TestRevocationSeenByTheKeyringIsKept(t *testing.T) {
	e := start(t)
	d, err := e.deps.Create(e.ctx, e.t, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	removeUnwrap(t, e.vault, e.seed) // the tenant removes the workload's access
	w, kd, err := e.deps.Ring(d)
	if err != nil {
		t.Fatal(err)
	}
	w.Ring.Evict(d.ID)
	if _, err := w.Ring.DEPKey(e.ctx, kd, keyringService); err == nil {
		t.Fatal("a fetch with the access removed got the key")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := e.vault.Store.DEPByID(e.ctx, e.t.ID, d.ID)
		if err == nil && !got.Revoked.IsZero() {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the DEP's record after the keyring saw it revoked: %+v, %v", got, err)
		}
	}
}

// removeUnwrap leaves the workload only "get" on the seed's keys, in both
// vaults: both customer keys refuse to wrap and unwrap.
func removeUnwrap(t *testing.T, v *vaulttest.Env, seed vaulttest.Seed) {
	t.Helper()
	setWorkloadKeys(t, v, seed, "get")
}

// grantUnwrap gives the workload back what the seed gave it.
func grantUnwrap(t *testing.T, v *vaulttest.Env, seed vaulttest.Seed) {
	t.Helper()
	setWorkloadKeys(t, v, seed, "get", "wrapKey", "unwrapKey")
}

func setWorkloadKeys(t *testing.T, v *vaulttest.Env, seed vaulttest.Seed, perms ...string) {
	t.Helper()
	for _, vault := range seed.Vaults {
		if err := v.Client.Do(context.Background(), "PUT", "/vaults/"+vault.Name+"/accessPolicies/"+seed.Workload, map[string]any{"permissions": map[string]any{"keys": perms}}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// Package storetest is the conformance suite every store.Store
// implementation must pass. An implementation's test calls Run with a
// function that opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// Run exercises every method of store.Store against stores opened by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Directory", testDirectory},
		{"Vaults", testVaults},
		{"KeyVersions", testKeyVersions},
		{"KeyDeleteRestore", testKeyDeleteRestore},
		{"KeyPaging", testKeyPaging},
		{"OpLog", testOpLog},
		{"PurgeVault", testPurgeVault},
		{"AvailabilityKeys", testAvailabilityKeys},
		{"Service", testService},
		{"DEPs", testDEPs},
		{"Mailboxes", testMailboxes},
		{"Onboarding", testOnboarding},
		{"SiteRegistrations", testSiteRegistrations},
		{"AuditLog", testAuditLog},
		{"Jobs", testJobs},
		{"Purges", testPurges},
		{"Tokens", testTokens},
		{"AccessRequests", testAccessRequests},
		{"OfficerKeys", testOfficerKeys},
		{"Events", testEvents},
		{"ClusterSecrets", testClusterSecrets},
		{"Locks", testLocks},
		{"Uploads", testUploads},
		{"Pages", testPages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// now is truncated to milliseconds, the precision stores must keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// seed creates a tenant, a subscription and a vault named v.
func seed(t *testing.T, s store.Store, v string) store.Vault {
	t.Helper()
	ten := store.Tenant{ID: "tid-" + v, Name: "tenant-" + v, Created: now()}
	must(t, s.CreateTenant(ctx, ten))
	sub := store.Subscription{ID: "sub-" + v, TenantID: ten.ID, Name: "s", Kind: store.SubscriptionPaid, Owner: "o@x", State: store.SubscriptionActive, Created: now()}
	must(t, s.CreateSubscription(ctx, sub))
	vault := store.Vault{Name: v, SubscriptionID: sub.ID, TenantID: ten.ID, Region: "eastus", SKU: "premium", RetentionDays: 90, PermissionModel: store.ModelAccessPolicy, Created: now()}
	must(t, s.CreateVault(ctx, vault))
	return vault
}

func testDirectory(t *testing.T, s store.Store) {
	ten := store.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "Contoso", Created: now()}
	must(t, s.CreateTenant(ctx, ten))
	wantErr(t, s.CreateTenant(ctx, store.Tenant{ID: "other", Name: "Contoso", Created: now()}), store.ErrConflict)
	for _, key := range []string{ten.ID, "Contoso", "contoso"} {
		got, err := s.Tenant(ctx, key)
		must(t, err)
		equal(t, "tenant by "+key, got, ten)
	}
	_, err := s.Tenant(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	ts, err := s.ListTenants(ctx)
	must(t, err)
	equal(t, "tenants", ts, []store.Tenant{ten})

	sub := store.Subscription{ID: "sub1", TenantID: ten.ID, Name: "CK1", Kind: store.SubscriptionPaid, Owner: "admin@contoso.com", State: store.SubscriptionActive, Created: now()}
	must(t, s.CreateSubscription(ctx, sub))
	wantErr(t, s.CreateSubscription(ctx, sub), store.ErrConflict)
	sub.State = store.SubscriptionCancelled
	must(t, s.UpdateSubscription(ctx, sub))
	got, err := s.Subscription(ctx, "sub1")
	must(t, err)
	equal(t, "subscription", got, sub)
	wantErr(t, s.UpdateSubscription(ctx, store.Subscription{ID: "missing"}), store.ErrNotFound)
	subs, err := s.ListSubscriptions(ctx, ten.ID)
	must(t, err)
	equal(t, "subscriptions", subs, []store.Subscription{sub})
	subs, err = s.ListSubscriptions(ctx, "other-tenant")
	must(t, err)
	equal(t, "other tenant's subscriptions", len(subs), 0)

	f := store.Feature{SubscriptionID: "sub1", Namespace: "Microsoft.Resources", Name: "mandatoryRetentionPeriodEnabled", RequestedAt: now(), RegisteredAt: now().Add(time.Minute)}
	must(t, s.PutFeature(ctx, f))
	f.RegisteredAt = f.RegisteredAt.Add(time.Hour)
	must(t, s.PutFeature(ctx, f)) // upsert
	gf, err := s.Feature(ctx, "sub1", f.Namespace, f.Name)
	must(t, err)
	equal(t, "feature", gf, f)
	fs, err := s.ListFeatures(ctx, "sub1")
	must(t, err)
	equal(t, "features", fs, []store.Feature{f})
	_, err = s.Feature(ctx, "sub1", f.Namespace, "other")
	wantErr(t, err, store.ErrNotFound)

	p := store.Provider{SubscriptionID: "sub1", Namespace: "Microsoft.KeyVault", State: "Registered", Updated: now()}
	must(t, s.PutProvider(ctx, p))
	must(t, s.PutProvider(ctx, p))
	ps, err := s.ListProviders(ctx, "sub1")
	must(t, err)
	equal(t, "providers", ps, []store.Provider{p})

	pr := store.Principal{TenantID: ten.ID, Name: "Admin@Contoso.com", Kind: store.PrincipalUser, DisplayName: "Admin", Created: now()}
	must(t, s.CreatePrincipal(ctx, pr))
	wantErr(t, s.CreatePrincipal(ctx, store.Principal{TenantID: ten.ID, Name: "admin@contoso.com", Kind: store.PrincipalUser, Created: now()}), store.ErrConflict)
	gp, err := s.Principal(ctx, ten.ID, "admin@CONTOSO.com")
	must(t, err)
	equal(t, "principal (case-insensitive lookup)", gp, pr)
	_, err = s.Principal(ctx, "other", "admin@contoso.com")
	wantErr(t, err, store.ErrNotFound)
	prs, err := s.ListPrincipals(ctx, ten.ID)
	must(t, err)
	equal(t, "principals", prs, []store.Principal{pr})
	wantErr(t, s.DeletePrincipal(ctx, "other", "admin@contoso.com"), store.ErrNotFound)
	must(t, s.DeletePrincipal(ctx, ten.ID, "ADMIN@contoso.com"))
	_, err = s.Principal(ctx, ten.ID, "admin@contoso.com")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeletePrincipal(ctx, ten.ID, "admin@contoso.com"), store.ErrNotFound)
	must(t, s.CreatePrincipal(ctx, pr)) // the name may be used again
}

func testVaults(t *testing.T, s store.Store) {
	v := seed(t, s, "contosoekv01")
	upper := v
	upper.Name = "ContosoEKV01"
	wantErr(t, s.CreateVault(ctx, upper), store.ErrConflict) // names are global and case-insensitive
	got, err := s.Vault(ctx, "CONTOSOEKV01")
	must(t, err)
	equal(t, "vault", got, v)
	del, purge := now(), now().Add(90*24*time.Hour)
	v.PurgeProtection, v.PermissionModel, v.DeletedAt, v.PurgeAt = true, store.ModelRBAC, &del, &purge
	must(t, s.UpdateVault(ctx, v))
	got, err = s.Vault(ctx, v.Name)
	must(t, err)
	equal(t, "updated vault", got, v)
	vs, err := s.ListVaults(ctx)
	must(t, err)
	equal(t, "vaults", vs, []store.Vault{v})

	ap := store.AccessPolicy{Vault: v.Name, Principal: "admin@contoso.com", Permissions: []string{"get", "wrapKey"}, Updated: now()}
	must(t, s.PutAccessPolicy(ctx, ap))
	ap.Permissions = []string{"get", "wrapKey", "unwrapKey"}
	must(t, s.PutAccessPolicy(ctx, ap))
	aps, err := s.AccessPolicies(ctx, v.Name)
	must(t, err)
	equal(t, "access policies", aps, []store.AccessPolicy{ap})
	must(t, s.DeleteAccessPolicy(ctx, v.Name, "ADMIN@contoso.com"))
	wantErr(t, s.DeleteAccessPolicy(ctx, v.Name, "admin@contoso.com"), store.ErrNotFound)

	ra := store.RoleAssignment{ID: "ra1", Vault: v.Name, Principal: "app", Role: "Key Vault Crypto User", Created: now()}
	must(t, s.CreateRoleAssignment(ctx, ra))
	dup := ra
	dup.ID = "ra2"
	wantErr(t, s.CreateRoleAssignment(ctx, dup), store.ErrConflict)
	ras, err := s.RoleAssignments(ctx, v.Name)
	must(t, err)
	equal(t, "role assignments", ras, []store.RoleAssignment{ra})
	must(t, s.DeleteRoleAssignment(ctx, v.Name, "ra1"))
	wantErr(t, s.DeleteRoleAssignment(ctx, v.Name, "ra1"), store.ErrNotFound)
}

func version(v, name string, i int) store.KeyVersion {
	exp := now().Add(time.Duration(i) * time.Hour)
	return store.KeyVersion{Vault: v, Name: name, Version: fmt.Sprintf("%032x", i), Kty: "RSA-HSM", Size: 2048,
		Ops: []string{"wrapKey", "unwrapKey"}, Enabled: true, Expires: &exp, Created: now(), Updated: now(),
		Tags: map[string]string{"i": fmt.Sprint(i)}, N: []byte{1, 2, byte(i)}, E: []byte{1, 0, 1}, Sealed: []byte("sealed")}
}

func testKeyVersions(t *testing.T, s store.Store) {
	v := seed(t, s, "kv")
	v1, err := s.AddKeyVersion(ctx, version(v.Name, "ContosoKey", 1))
	must(t, err)
	equal(t, "first seq", v1.Seq, int64(1))
	v2, err := s.AddKeyVersion(ctx, version(v.Name, "contosokey", 2))
	must(t, err)
	equal(t, "second seq", v2.Seq, int64(2))
	equal(t, "name keeps first spelling", v2.Name, "ContosoKey")

	latest, err := s.KeyVersion(ctx, v.Name, "CONTOSOKEY", "")
	must(t, err)
	equal(t, "latest", latest, v2)
	got, err := s.KeyVersion(ctx, v.Name, "contosokey", v1.Version)
	must(t, err)
	equal(t, "by version", got, v1)
	_, err = s.KeyVersion(ctx, v.Name, "contosokey", fmt.Sprintf("%032x", 9))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.KeyVersion(ctx, v.Name, "other", "")
	wantErr(t, err, store.ErrNotFound)

	v1.Enabled, v1.Expires, v1.Ops, v1.Tags, v1.Updated = false, nil, []string{"unwrapKey"}, nil, now().Add(time.Second)
	must(t, s.UpdateKeyVersion(ctx, v1))
	got, err = s.KeyVersion(ctx, v.Name, "contosokey", v1.Version)
	must(t, err)
	v1.Tags = map[string]string{}
	equal(t, "updated version", got, v1)

	vs, err := s.ListKeyVersions(ctx, v.Name, "contosokey", 0, 10)
	must(t, err)
	equal(t, "versions", vs, []store.KeyVersion{v1, v2})
	vs, err = s.ListKeyVersions(ctx, v.Name, "contosokey", 1, 10)
	must(t, err)
	equal(t, "versions after 1", vs, []store.KeyVersion{v2})
}

func testKeyDeleteRestore(t *testing.T, s store.Store) {
	v := seed(t, s, "kdr")
	a, err := s.AddKeyVersion(ctx, version(v.Name, "k", 1))
	must(t, err)
	b, err := s.AddKeyVersion(ctx, version(v.Name, "k", 2))
	must(t, err)
	del, purge := now(), now().Add(time.Hour)
	must(t, s.SetKeyDeleted(ctx, v.Name, "K", &del, &purge))
	k, err := s.Key(ctx, v.Name, "k")
	must(t, err)
	equal(t, "deleted key", k, store.Key{Vault: v.Name, Name: "k", DeletedAt: &del, PurgeAt: &purge})
	_, err = s.AddKeyVersion(ctx, version(v.Name, "k", 3))
	wantErr(t, err, store.ErrConflict)
	live, err := s.ListKeys(ctx, v.Name, false, "", 10)
	must(t, err)
	equal(t, "live keys while deleted", len(live), 0)
	dead, err := s.ListKeys(ctx, v.Name, true, "", 10)
	must(t, err)
	deadB := b
	deadB.KeyDeletedAt, deadB.KeyPurgeAt = &del, &purge
	equal(t, "deleted keys", dead, []store.KeyItem{{Key: k, Latest: deadB}})
	got, err := s.KeyVersion(ctx, v.Name, "k", a.Version)
	must(t, err)
	equal(t, "a version of a deleted key carries the key's state", []*time.Time{got.KeyDeletedAt, got.KeyPurgeAt}, []*time.Time{&del, &purge})

	must(t, s.SetKeyDeleted(ctx, v.Name, "k", nil, nil)) // recover
	wantErr(t, s.RestoreKey(ctx, v.Name, "k", []store.KeyVersion{a, b}), store.ErrConflict)
	must(t, s.PurgeKey(ctx, v.Name, "k"))
	_, err = s.Key(ctx, v.Name, "k")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.PurgeKey(ctx, v.Name, "k"), store.ErrNotFound)

	must(t, s.RestoreKey(ctx, v.Name, "k", []store.KeyVersion{a, b}))
	vs, err := s.ListKeyVersions(ctx, v.Name, "k", 0, 10)
	must(t, err)
	equal(t, "restored versions keep IDs and order", vs, []store.KeyVersion{a, b})
	c, err := s.AddKeyVersion(ctx, version(v.Name, "k", 3))
	must(t, err)
	equal(t, "seq after restore", c.Seq, int64(3))
}

func testKeyPaging(t *testing.T, s store.Store) {
	v := seed(t, s, "paging")
	var names []string
	for i := range 7 {
		name := fmt.Sprintf("key-%02d", i)
		names = append(names, name)
		_, err := s.AddKeyVersion(ctx, version(v.Name, name, i))
		must(t, err)
	}
	var got []string
	after := ""
	for {
		page, err := s.ListKeys(ctx, v.Name, false, after, 3)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, it := range page {
			got = append(got, it.Key.Name)
		}
		after = page[len(page)-1].Key.Name
	}
	equal(t, "paged names", got, names)
}

func testOpLog(t *testing.T, s store.Store) {
	t0 := time.Now().UTC()
	var batch []store.Op
	for i := range 5 {
		vault := "a"
		if i%2 == 1 {
			vault = "b"
		}
		batch = append(batch, store.Op{Time: t0.Add(time.Duration(i) * time.Second), Principal: "p", Tenant: "t", Operation: "KeyGet", Vault: vault, Key: "k", Version: "v", Status: 200 + i, ClientIP: "127.0.0.1"})
	}
	must(t, s.AppendOps(ctx, batch[:2]))
	must(t, s.AppendOps(ctx, batch[2:]))
	must(t, s.AppendOps(ctx, nil))
	all, err := s.ListOps(ctx, store.OpFilter{})
	must(t, err)
	equal(t, "all ops", len(all), 5)
	if !all[0].Time.Equal(t0) || all[4].Status != 204 || all[0].ID >= all[1].ID {
		t.Fatalf("ops not in order or altered: %+v", all)
	}
	b, err := s.ListOps(ctx, store.OpFilter{Vault: "B"})
	must(t, err)
	equal(t, "ops for vault b", len(b), 2)
	since, err := s.ListOps(ctx, store.OpFilter{Since: t0.Add(3 * time.Second)})
	must(t, err)
	equal(t, "ops since", len(since), 2)
	after, err := s.ListOps(ctx, store.OpFilter{AfterID: all[3].ID, Limit: 10})
	must(t, err)
	equal(t, "ops after id", after, all[4:])
	none, err := s.ListOps(ctx, store.OpFilter{Vaults: []store.OpVault{}})
	must(t, err)
	equal(t, "ops for no vaults", len(none), 0)
	some, err := s.ListOps(ctx, store.OpFilter{Vaults: []store.OpVault{{Name: "a"}}, Limit: 2})
	must(t, err)
	equal(t, "ops for vault list with limit", len(some), 2)
	// Each vault from its own time: b's from its second op on (a vault of
	// that name before it is not its log), a's from after its last.
	from, err := s.ListOps(ctx, store.OpFilter{Vaults: []store.OpVault{{Name: "a", Since: t0.Add(100 * time.Second)}, {Name: "B", Since: all[3].Time}}})
	must(t, err)
	equal(t, "ops of vaults each from its time", from, all[3:4])

	// Pruning: the oldest first, a limit at a time, none from before on.
	n, err := s.PruneOps(ctx, t0.Add(2500*time.Millisecond), t0.Add(time.Hour), 2)
	must(t, err)
	equal(t, "pruned, limit 2", n, 2)
	n, err = s.PruneOps(ctx, t0.Add(2500*time.Millisecond), t0.Add(time.Hour), 2)
	must(t, err)
	equal(t, "pruned up to before", n, 1)
	n, err = s.PruneOps(ctx, t0.Add(2500*time.Millisecond), t0.Add(time.Hour), 2)
	must(t, err)
	equal(t, "pruned again", n, 0)
	left, err := s.ListOps(ctx, store.OpFilter{})
	must(t, err)
	equal(t, "ops left", left, all[3:])

	// Clocks that disagree. Each case starts from an empty log, appends
	// entries stamped at these offsets from t0, prunes with before t0+60s
	// (the retention) and ahead t0+1h (the pruning node's time and a
	// margin), and says which entries stay.
	op := func(at time.Duration) store.Op {
		return store.Op{Time: t0.Add(at), Principal: "p", Tenant: "t", Operation: "KeyGet", Vault: "a", Key: "k", Version: "v", Status: 200, ClientIP: "127.0.0.1"}
	}
	const sec, day = time.Second, 24 * time.Hour
	for _, tc := range []struct {
		name    string
		stamped []time.Duration
		limit   int
		stay    []time.Duration
	}{
		{"a fast clock's entry goes with the older ones after it", []time.Duration{10 * sec, day, 20 * sec, 30 * sec, 90 * sec}, 10, []time.Duration{90 * sec}},
		{"a slow clock's entry takes no newer one with it", []time.Duration{10 * sec, 70 * sec, 80 * sec, -2 * day, 90 * sec}, 10, []time.Duration{70 * sec, 80 * sec, -2 * day, 90 * sec}},
		{"more entries ahead than a limit", []time.Duration{2 * day, 3 * day, 4 * day, 40 * sec, 90 * sec}, 1, []time.Duration{90 * sec}},
		{"entries ahead at the log's end stay", []time.Duration{10 * sec, day, day}, 10, []time.Duration{day, day}},
	} {
		for {
			n, err := s.PruneOps(ctx, t0.Add(1000*day), t0.Add(2000*day), 1000)
			must(t, err)
			if n == 0 {
				break
			}
		}
		var ops []store.Op
		for _, at := range tc.stamped {
			ops = append(ops, op(at))
		}
		must(t, s.AppendOps(ctx, ops))
		for {
			n, err := s.PruneOps(ctx, t0.Add(60*sec), t0.Add(time.Hour), tc.limit)
			must(t, err)
			if n < tc.limit {
				break
			}
		}
		left, err := s.ListOps(ctx, store.OpFilter{})
		must(t, err)
		var stay []time.Duration
		for _, o := range left {
			stay = append(stay, o.Time.Sub(t0))
		}
		equal(t, tc.name, stay, tc.stay)
	}
}

func testPurgeVault(t *testing.T, s store.Store) {
	v := seed(t, s, "gone")
	_, err := s.AddKeyVersion(ctx, version(v.Name, "k", 1))
	must(t, err)
	must(t, s.PutAccessPolicy(ctx, store.AccessPolicy{Vault: v.Name, Principal: "p", Permissions: []string{"get"}, Updated: now()}))
	must(t, s.CreateRoleAssignment(ctx, store.RoleAssignment{ID: "r", Vault: v.Name, Principal: "p", Role: "x", Created: now()}))
	must(t, s.PurgeVault(ctx, v.Name))
	_, err = s.Vault(ctx, v.Name)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.KeyVersion(ctx, v.Name, "k", "")
	wantErr(t, err, store.ErrNotFound)
	// The name is free again, with nothing left over.
	must(t, s.CreateVault(ctx, v))
	aps, err := s.AccessPolicies(ctx, v.Name)
	must(t, err)
	equal(t, "policies after purge", len(aps), 0)
	wantErr(t, s.PurgeVault(ctx, "never-existed"), store.ErrNotFound)
}

func testAvailabilityKeys(t *testing.T, s store.Store) {
	k := store.AvailabilityKey{ID: "avk-1", Tenant: "t1", DEP: "dep-1", Sealed: []byte("sealed"), Created: now()}
	must(t, s.CreateAvailabilityKey(ctx, k))
	wantErr(t, s.CreateAvailabilityKey(ctx, store.AvailabilityKey{ID: "avk-2", Tenant: "t1", DEP: "dep-1", Sealed: []byte("x"), Created: now()}), store.ErrConflict) // one per DEP
	got, err := s.AvailabilityKey(ctx, "avk-1")
	must(t, err)
	equal(t, "availability key", got, k)
	at := now()
	must(t, s.DestroyAvailabilityKey(ctx, "avk-1", at, "operator@provider", "purge of DEP dep-1 approved"))
	got, err = s.AvailabilityKey(ctx, "avk-1")
	must(t, err)
	equal(t, "destroyed key", got, store.AvailabilityKey{ID: "avk-1", Tenant: "t1", DEP: "dep-1", Created: k.Created, DestroyedAt: &at, DestroyedBy: "operator@provider", Reason: "purge of DEP dep-1 approved"})
	wantErr(t, s.DestroyAvailabilityKey(ctx, "avk-1", at, "x", "y"), store.ErrConflict)
	wantErr(t, s.DestroyAvailabilityKey(ctx, "nope", at, "x", "y"), store.ErrNotFound)
	_, err = s.AvailabilityKey(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	// Re-sealing under KEK versions, in batches, compare-and-swap.
	for i, v := range []uint32{1, 1, 2, 3, 1} {
		must(t, s.CreateAvailabilityKey(ctx, store.AvailabilityKey{ID: fmt.Sprintf("avk-r%d", i), Tenant: "t1", DEP: fmt.Sprintf("dep-r%d", i), Sealed: []byte{byte(i)}, KEKVersion: v, Created: now()}))
	}
	must(t, s.DestroyAvailabilityKey(ctx, "avk-r4", at, "x", "y"))
	ids := func(ks []store.AvailabilityKey) (out []string) {
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	ks, err := s.AvailabilityKeysSealedUnder(ctx, 2, "", 10)
	must(t, err)
	equal(t, "sealed under <= 2", ids(ks), []string{"avk-r0", "avk-r1", "avk-r2"})
	equal(t, "version of avk-r2", ks[2].KEKVersion, uint32(2))
	ks, err = s.AvailabilityKeysSealedUnder(ctx, 2, "avk-r0", 1)
	must(t, err)
	equal(t, "next page", ids(ks), []string{"avk-r1"})
	n, err := s.ResealAvailabilityKeys(ctx, []store.Reseal{
		{ID: "avk-r0", From: 1, To: 4, Sealed: []byte("new0")},
		{ID: "avk-r1", From: 2, To: 4, Sealed: []byte("stale")}, // it is under 1, not 2: unchanged
		{ID: "avk-r4", From: 1, To: 4, Sealed: []byte("dead")},  // destroyed: unchanged
		{ID: "nope", From: 1, To: 4, Sealed: []byte("x")},
	})
	must(t, err)
	equal(t, "re-sealed", n, 1)
	got, err = s.AvailabilityKey(ctx, "avk-r0")
	must(t, err)
	equal(t, "re-sealed row", [2]any{got.KEKVersion, string(got.Sealed)}, [2]any{uint32(4), "new0"})
	got, err = s.AvailabilityKey(ctx, "avk-r1")
	must(t, err)
	equal(t, "row not re-sealed", [2]any{got.KEKVersion, string(got.Sealed)}, [2]any{uint32(1), "\x01"})
	got, err = s.AvailabilityKey(ctx, "avk-r4")
	must(t, err)
	equal(t, "destroyed row", [2]any{got.KEKVersion, got.Sealed == nil}, [2]any{uint32(1), true})
}

func testService(t *testing.T, s store.Store) {
	ten := store.ServiceTenant{ID: "6f1c2b3a-0000-4000-8000-000000000001", Name: "Contoso", Created: now()}
	must(t, s.CreateServiceTenant(ctx, ten))
	wantErr(t, s.CreateServiceTenant(ctx, store.ServiceTenant{ID: "other", Name: "CONTOSO", Created: now()}), store.ErrConflict)
	for _, key := range []string{ten.ID, "contoso", "Contoso"} {
		got, err := s.ServiceTenant(ctx, key)
		must(t, err)
		equal(t, "service tenant by "+key, got, ten)
	}
	_, err := s.ServiceTenant(ctx, "fabrikam")
	wantErr(t, err, store.ErrNotFound)
	ts, err := s.ListServiceTenants(ctx)
	must(t, err)
	equal(t, "service tenants", ts, []store.ServiceTenant{ten})

	tok := store.APIToken{ID: strings.Repeat("ab", 8), Hash: strings.Repeat("ab", 32), Tenant: ten.ID, Role: "global-admin", Subject: "admin@contoso.com", Created: now(), Expires: now().Add(time.Hour)}
	must(t, s.CreateToken(ctx, tok))
	wantErr(t, s.CreateToken(ctx, tok), store.ErrConflict)
	got, err := s.Token(ctx, tok.Hash)
	must(t, err)
	equal(t, "token", got, tok)
	_, err = s.Token(ctx, strings.Repeat("cd", 32))
	wantErr(t, err, store.ErrNotFound)
}

func testDEPs(t *testing.T, s store.Store) {
	d := store.DEP{ID: "0a0b0c0d-0000-4000-8000-000000000001", Tenant: "t1", Kind: "mailbox", Name: "EXO-DEP-1", Description: "first",
		KeyURIs: [2]string{"https://a.localhost/keys/k", "https://b.localhost/keys/k"}, Enabled: true, Keys: []byte("records"), Created: now(), Updated: now()}
	must(t, s.CreateDEP(ctx, d, 2))
	dup := d
	dup.ID = "0a0b0c0d-0000-4000-8000-000000000002"
	dup.Name = "exo-dep-1"
	wantErr(t, s.CreateDEP(ctx, dup, 2), store.ErrConflict)
	d2 := d
	d2.ID, d2.Name = "0a0b0c0d-0000-4000-8000-000000000003", "EXO-DEP-2"
	must(t, s.CreateDEP(ctx, d2, 2))
	d3 := d
	d3.ID, d3.Name = "0a0b0c0d-0000-4000-8000-000000000004", "EXO-DEP-3"
	wantErr(t, s.CreateDEP(ctx, d3, 2), store.ErrLimit)
	other := d3
	other.Tenant = "t2" // the limit is per tenant
	must(t, s.CreateDEP(ctx, other, 2))
	for _, key := range []string{d.ID, "exo-dep-1", "EXO-DEP-1"} {
		got, err := s.DEP(ctx, "t1", "mailbox", key)
		must(t, err)
		equal(t, "DEP by "+key, got, d)
	}
	got, err := s.DEPByID(ctx, "t1", d.ID)
	must(t, err)
	equal(t, "DEP by ID", got, d)
	_, err = s.DEPByID(ctx, "t2", d.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DEP(ctx, "t2", "mailbox", d.ID)
	wantErr(t, err, store.ErrNotFound) // another tenant's DEP is not found
	_, err = s.DEP(ctx, "t1", "site", d.ID)
	wantErr(t, err, store.ErrNotFound)
	// An update lands only on the DEP as it was read (its Updated): one
	// made from an earlier read would undo the change since.
	read := d
	d.Enabled, d.Description, d.Updated = false, "disabled", now().Add(time.Second)
	must(t, s.UpdateDEP(ctx, d, read.Updated))
	stale := read
	stale.Keys, stale.Updated = []byte("keys read before"), now().Add(2*time.Second)
	wantErr(t, s.UpdateDEP(ctx, stale, read.Updated), store.ErrConflict)
	ds, err := s.ListDEPs(ctx, "t1", "mailbox")
	must(t, err)
	equal(t, "DEPs", ds, []store.DEP{d, d2}) // not the stale one
	if err := s.UpdateDEP(ctx, d, d.Updated); err == nil || errors.Is(err, store.ErrConflict) {
		t.Fatalf("an update whose Updated is not after the one it read: %v, want refused", err)
	}
	wrongTenant := d
	wrongTenant.Tenant, wrongTenant.Updated = "t2", d.Updated.Add(time.Second)
	wantErr(t, s.UpdateDEP(ctx, wrongTenant, d.Updated), store.ErrNotFound)

	// Revocation is set and cleared on its own; an update of the DEP's
	// other fields leaves it.
	at := now().Add(2 * time.Second)
	must(t, s.SetDEPRevocation(ctx, "t1", d.ID, at, "revocation signal"))
	wantErr(t, s.SetDEPRevocation(ctx, "t2", d.ID, at, "x"), store.ErrNotFound)
	prev := d.Updated
	d.Updated = prev.Add(time.Second)
	must(t, s.UpdateDEP(ctx, d, prev))
	got, err = s.DEPByID(ctx, "t1", d.ID)
	must(t, err)
	equal(t, "revoked", []any{got.Revoked, got.RevokedCause}, []any{at, "revocation signal"})
	// A clear of another revocation (none, or an earlier one: another
	// node revoked the DEP since the unwrap's caller read it) leaves it;
	// a clear of this one, to the millisecond, clears it.
	wantErr(t, s.ClearDEPRevocation(ctx, "t1", d.ID, time.Time{}), store.ErrConflict)
	wantErr(t, s.ClearDEPRevocation(ctx, "t1", d.ID, at.Add(-time.Second)), store.ErrConflict)
	wantErr(t, s.ClearDEPRevocation(ctx, "t2", d.ID, at), store.ErrNotFound)
	got, err = s.DEPByID(ctx, "t1", d.ID)
	must(t, err)
	equal(t, "revoked after a refused clear", []any{got.Revoked, got.RevokedCause}, []any{at, "revocation signal"})
	must(t, s.ClearDEPRevocation(ctx, "t1", d.ID, at.Add(300*time.Microsecond))) // the same millisecond
	must(t, s.ClearDEPRevocation(ctx, "t1", d.ID, at))                           // not revoked: nothing to clear
	got, err = s.DEP(ctx, "t1", "mailbox", d.Name)
	must(t, err)
	equal(t, "revocation cleared", got, d)

	wantErr(t, s.DeleteDEP(ctx, "t2", d.ID), store.ErrNotFound) // not another tenant's
	must(t, s.DeleteDEP(ctx, "t1", d.ID))
	_, err = s.DEP(ctx, "t1", "mailbox", d.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteDEP(ctx, "t1", d.ID), store.ErrNotFound)
}

func testMailboxes(t *testing.T, s store.Store) {
	m := store.Mailbox{Tenant: "t1", ID: "alice@contoso.com", Kind: "UserMailbox", DEP: "dep-a", ContainerKey: []byte("wrapped-a"), KeyVersion: 1, Created: now(), Updated: now()}
	must(t, s.CreateMailbox(ctx, m))
	wantErr(t, s.CreateMailbox(ctx, m), store.ErrConflict)
	got, err := s.Mailbox(ctx, "t1", "ALICE@contoso.com")
	must(t, err)
	equal(t, "mailbox", got, m)
	_, err = s.Mailbox(ctx, "t2", "alice@contoso.com")
	wantErr(t, err, store.ErrNotFound)

	// An assignment waits as the mailbox's Target until the re-wrap.
	isPending, err := s.SetMailboxTarget(ctx, "t1", "Alice@contoso.com", "dep-b")
	must(t, err)
	equal(t, "an assignment to another DEP is pending", isPending, true)
	_, err = s.SetMailboxTarget(ctx, "t2", "alice@contoso.com", "dep-b")
	wantErr(t, err, store.ErrNotFound)
	pending, err := s.PendingMailboxes(ctx, "t1", 10)
	must(t, err)
	if len(pending) != 1 || pending[0].Target != "dep-b" || pending[0].DEP != "dep-a" {
		t.Fatalf("pending: %+v", pending)
	}
	ts, err := s.TenantsWithPendingMailboxes(ctx)
	must(t, err)
	equal(t, "tenants with pending assignments", ts, []string{"t1"})
	if p2, _ := s.PendingMailboxes(ctx, "t2", 10); len(p2) != 0 {
		t.Fatalf("another tenant's pending: %+v", p2)
	}
	moved := m
	moved.DEP, moved.ContainerKey, moved.KeyVersion, moved.PriorKeys, moved.Updated = "dep-b", []byte("wrapped-b"), 2, []byte("prior-1"), now().Add(time.Second)
	must(t, s.UpdateMailbox(ctx, moved, "dep-a", 1))
	pending, err = s.PendingMailboxes(ctx, "t1", 10)
	must(t, err)
	equal(t, "pending after the re-wrap", len(pending), 0)
	isPending, err = s.SetMailboxTarget(ctx, "t1", "alice@contoso.com", "dep-b") // already there: nothing pending
	must(t, err)
	equal(t, "an assignment to the DEP it is on is pending", isPending, false)
	pending, _ = s.PendingMailboxes(ctx, "t1", 10)
	equal(t, "pending for the DEP it is on", len(pending), 0)
	stale := moved
	stale.DEP = "dep-c"
	wantErr(t, s.UpdateMailbox(ctx, stale, "dep-a", 1), store.ErrConflict) // someone moved it first
	// A move from a copy read before the mailbox went away and back again
	// (on dep-b, but at another key version) would drop the versions
	// between: refused.
	wantErr(t, s.UpdateMailbox(ctx, stale, "dep-b", 1), store.ErrConflict)
	wantErr(t, s.UpdateMailbox(ctx, store.Mailbox{Tenant: "t1", ID: "nobody@contoso.com"}, "dep-a", 1), store.ErrNotFound)
	ms, err := s.ListMailboxes(ctx, "t1")
	must(t, err)
	equal(t, "mailboxes", ms, []store.Mailbox{moved})
	site := store.Mailbox{Tenant: "t1", ID: "site:finance", Kind: "Site:NAM", DEP: "dep-b", ContainerKey: []byte("wrapped-s"), KeyVersion: 1, Created: now(), Updated: now()}
	must(t, s.CreateMailbox(ctx, site))
	other := store.Mailbox{Tenant: "t2", ID: "site:finance", Kind: "Site:NAM", DEP: "dep-b", ContainerKey: []byte("wrapped-o"), KeyVersion: 1, Created: now(), Updated: now()}
	must(t, s.CreateMailbox(ctx, other))
	onB, err := s.ContainersOnDEP(ctx, "t1", "dep-b")
	must(t, err)
	equal(t, "containers on dep-b", onB, []store.Mailbox{moved, site})
	onA, err := s.ContainersOnDEP(ctx, "t1", "dep-a")
	must(t, err)
	equal(t, "containers on dep-a (moved off)", len(onA), 0)
	sites, err := s.ContainersOfKind(ctx, "t1", "Site:NAM")
	must(t, err)
	equal(t, "sites of t1", sites, []store.Mailbox{site})
	users, err := s.ContainersOfKind(ctx, "t1", "UserMailbox")
	must(t, err)
	equal(t, "user mailboxes of t1", len(users), 1)
	must(t, s.DeleteMailbox(ctx, "t1", site.ID))
	must(t, s.DeleteMailbox(ctx, "t2", other.ID))

	it := store.Item{Tenant: "t1", Mailbox: "alice@contoso.com", ID: "msg-1", Kind: "message", Version: 1, Sealed: []byte("sealed-1"), Created: now()}
	must(t, s.PutItem(ctx, it))
	it.Version, it.Sealed = 2, []byte("sealed-2")
	must(t, s.PutItem(ctx, it)) // a new version replaces the old
	it.Size = len(it.Sealed)    // set on reads
	gi, err := s.Item(ctx, "t1", "Alice@Contoso.com", "msg-1")
	must(t, err)
	equal(t, "item", gi, it)
	n, err := s.CountItems(ctx, "t1", "alice@contoso.com")
	must(t, err)
	equal(t, "item count", n, 1)
	_, err = s.Item(ctx, "t2", "alice@contoso.com", "msg-1")
	wantErr(t, err, store.ErrNotFound)
	items, err := s.ListItems(ctx, "t1", "alice@contoso.com")
	must(t, err)
	equal(t, "items", items, []store.Item{it})
	heads, err := s.ListItemHeadsAfter(ctx, "t1", "ALICE@contoso.com", "", 10)
	must(t, err)
	head := it
	head.Sealed = nil
	equal(t, "item heads", heads, []store.Item{head})
	// A site file's versions by the prefix of their IDs, alone: not the
	// IDs a linguistic collation would sort among them ("a-b", "A@").
	for _, id := range []string{"a@000002", "a", "a-b@000001", "a@000001", "A@000001", "aa@000001", "a@", "a@x", "a?"} {
		must(t, s.PutItem(ctx, store.Item{Tenant: "t1", Mailbox: "site:prefix", ID: id, Kind: "file", Version: 1, Sealed: []byte("s"), Created: now()}))
	}
	must(t, s.PutItem(ctx, store.Item{Tenant: "t2", Mailbox: "site:prefix", ID: "a@000003", Kind: "file", Version: 1, Sealed: []byte("s"), Created: now()}))
	heads, err = s.ItemHeadsWithPrefix(ctx, "t1", "Site:prefix", "a@")
	must(t, err)
	var ids []string
	for _, h := range heads {
		if h.Sealed != nil || h.Size != 1 {
			t.Fatalf("a head with content or without its size: %+v", h)
		}
		ids = append(ids, h.ID)
	}
	equal(t, "IDs with the prefix a@", ids, []string{"a@", "a@000001", "a@000002", "a@x"})
	mb, v, b, err := s.MailboxItemVersion(ctx, "t1", "Alice@contoso.com", it.ID)
	must(t, err)
	equal(t, "mailbox and item version", []any{mb.ID, mb.DEP, v, b}, []any{"alice@contoso.com", moved.DEP, it.Version, ""})
	_, v, _, err = s.MailboxItemVersion(ctx, "t1", "alice@contoso.com", "no-such-item")
	must(t, err)
	equal(t, "version of no item", v, uint32(0))
	large := store.Item{Tenant: "t1", Mailbox: "alice@contoso.com", ID: "large", Kind: "attachment", Version: 2, Sealed: []byte("header"), Created: now(), Blob: "b-large", Summary: []byte("s"), ContentSize: 1 << 20}
	must(t, s.PutItem(ctx, large))
	_, v, b, err = s.MailboxItemVersion(ctx, "t1", "alice@contoso.com", "large")
	must(t, err)
	equal(t, "a large item's version and blob", []any{v, b}, []any{uint32(2), "b-large"})
	must(t, s.DeleteItem(ctx, "t1", "alice@contoso.com", "large"))
	_, _, _, err = s.MailboxItemVersion(ctx, "t2", "alice@contoso.com", it.ID)
	wantErr(t, err, store.ErrNotFound)
	mbi, gotItem, err := s.MailboxItem(ctx, "t1", "Alice@contoso.com", it.ID)
	must(t, err)
	equal(t, "mailbox and item", []any{mbi.ID, mbi.DEP, gotItem}, []any{"alice@contoso.com", moved.DEP, it})
	mbi, gotItem, err = s.MailboxItem(ctx, "t1", "alice@contoso.com", "no-such-item")
	must(t, err)
	equal(t, "mailbox without the item", []any{mbi.ID, gotItem}, []any{"alice@contoso.com", store.Item{}})
	_, _, err = s.MailboxItem(ctx, "t2", "alice@contoso.com", it.ID)
	wantErr(t, err, store.ErrNotFound)
	v, created, err := s.ItemVersion(ctx, "t1", "alice@contoso.com", it.ID)
	must(t, err)
	equal(t, "item version", []any{v, created.UnixMilli()}, []any{it.Version, it.Created.UnixMilli()})
	_, _, err = s.ItemVersion(ctx, "t2", "alice@contoso.com", it.ID)
	wantErr(t, err, store.ErrNotFound)
	must(t, s.DeleteItem(ctx, "t1", "alice@contoso.com", "msg-1"))
	wantErr(t, s.DeleteItem(ctx, "t1", "alice@contoso.com", "msg-1"), store.ErrNotFound)
	must(t, s.PutItem(ctx, it))
	index := store.Item{Tenant: "t1", Mailbox: "~index:alice@contoso.com", ID: "~index", Kind: "index", Version: 1, Sealed: []byte("sealed-index"), Created: now()}
	must(t, s.PutItem(ctx, index))
	wantErr(t, s.DeleteMailbox(ctx, "t2", "alice@contoso.com"), store.ErrNotFound)
	must(t, s.DeleteMailbox(ctx, "t1", "ALICE@contoso.com"))
	_, err = s.Item(ctx, "t1", index.Mailbox, index.ID)
	wantErr(t, err, store.ErrNotFound) // the search index goes with the mailbox
	_, err = s.Mailbox(ctx, "t1", "alice@contoso.com")
	wantErr(t, err, store.ErrNotFound)
	n, err = s.CountItems(ctx, "t1", "alice@contoso.com")
	must(t, err)
	equal(t, "items of a deleted mailbox", n, 0)
}

func testOnboarding(t *testing.T, s store.Store) {
	plans, err := s.Plans(ctx, "t1")
	must(t, err)
	equal(t, "no plans", plans, []string{})
	must(t, s.SetPlans(ctx, "t1", []string{"E5"}))
	must(t, s.SetPlans(ctx, "t1", []string{"E3", "E5"}))
	plans, err = s.Plans(ctx, "t1")
	must(t, err)
	equal(t, "plans", plans, []string{"E3", "E5"})

	r1 := store.OnboardingRequest{ID: "r1", Tenant: "t1", Scenario: "EXO", Created: now(), Body: []byte(`{"mode":"Validate"}`)}
	r2 := store.OnboardingRequest{ID: "r2", Tenant: "t1", Scenario: "EXO", Created: now().Add(time.Second), Body: []byte(`{"mode":"Enable"}`)}
	must(t, s.CreateOnboardingRequest(ctx, r1))
	must(t, s.CreateOnboardingRequest(ctx, r2))
	wantErr(t, s.CreateOnboardingRequest(ctx, r1), store.ErrConflict)
	got, err := s.OnboardingRequest(ctx, "t1", "r2")
	must(t, err)
	equal(t, "request", got, r2)
	_, err = s.OnboardingRequest(ctx, "t2", "r2")
	wantErr(t, err, store.ErrNotFound)
	rs, err := s.ListOnboardingRequests(ctx, "t1")
	must(t, err)
	equal(t, "requests", rs, []store.OnboardingRequest{r1, r2})

	o := store.Onboarding{Tenant: "t1", Scenario: "EXO", RequestID: "r2", Officers: []string{"cso@contoso.com"}, Enabled: now()}
	must(t, s.SetOnboarded(ctx, o))
	os, err := s.Onboarded(ctx, "t1")
	must(t, err)
	equal(t, "onboarded", os, []store.Onboarding{o})
	os, err = s.Onboarded(ctx, "t2")
	must(t, err)
	equal(t, "other tenant onboarded", len(os), 0)

	dep, _, err := s.Assignment(ctx, "t1", "mdep")
	must(t, err)
	equal(t, "no assignment", dep, "")
	at := now()
	must(t, s.SetAssignment(ctx, "t1", "mdep", "dep-1", at))
	must(t, s.SetAssignment(ctx, "t1", "mdep", "dep-2", at))
	dep, when, err := s.Assignment(ctx, "t1", "mdep")
	must(t, err)
	equal(t, "assignment", []any{dep, when}, []any{"dep-2", at})
	dep, _, err = s.Assignment(ctx, "t2", "mdep")
	must(t, err)
	equal(t, "other tenant's assignment", dep, "")
	must(t, s.SetAssignment(ctx, "t1", "mdep", "", at))

	plan, err := s.Licence(ctx, "t1", "alice@contoso.com")
	must(t, err)
	equal(t, "unlicensed", plan, "")
	must(t, s.SetLicence(ctx, "t1", "Alice@Contoso.com", "E3"))
	must(t, s.SetLicence(ctx, "t1", "alice@contoso.com", "E5"))
	plan, err = s.Licence(ctx, "t1", "ALICE@contoso.com")
	must(t, err)
	equal(t, "licence", plan, "E5")
	plan, err = s.Licence(ctx, "t2", "alice@contoso.com")
	must(t, err)
	equal(t, "other tenant's licence", plan, "")
	must(t, s.SetLicence(ctx, "t1", "alice@contoso.com", ""))
	plan, err = s.Licence(ctx, "t1", "alice@contoso.com")
	must(t, err)
	equal(t, "licence removed", plan, "")
	dep, _, err = s.Assignment(ctx, "t1", "mdep")
	must(t, err)
	equal(t, "unassigned", dep, "")
}

func testSiteRegistrations(t *testing.T, s store.Store) {
	_, err := s.SiteRegistration(ctx, "t1", "NAM")
	wantErr(t, err, store.ErrNotFound)
	r := store.SiteRegistration{Tenant: "t1", Geo: "NAM", DEP: "tik-1", State: "Registering", Total: 10, Done: 3, Started: now(), Updated: now()}
	must(t, s.PutSiteRegistration(ctx, r))
	r.Done, r.State = 10, "Registered"
	must(t, s.PutSiteRegistration(ctx, r))
	got, err := s.SiteRegistration(ctx, "t1", "nam")
	must(t, err)
	equal(t, "registration", got, r)
	rs, err := s.ListSiteRegistrations(ctx, "t1")
	must(t, err)
	equal(t, "registrations", rs, []store.SiteRegistration{r})
	rs, err = s.ListSiteRegistrations(ctx, "t2")
	must(t, err)
	equal(t, "other tenant", len(rs), 0)
}

func testAuditLog(t *testing.T, s store.Store) {
	seal := func(tenant, action string) func(store.AuditRecord) store.AuditRecord {
		return func(last store.AuditRecord) store.AuditRecord {
			return store.AuditRecord{Tenant: tenant, Seq: last.Seq + 1, Time: now(), Actor: "exo@contoso.com (exchange-admin)", Action: action,
				Target: "dep-1", KeyID: "https://v/keys/k/1", Reason: "why", Outcome: "ok", Prev: last.Hash, Hash: []byte{byte(last.Seq + 1), 0xAA}}
		}
	}
	var want []store.AuditRecord
	for _, a := range []string{"wrap", "unwrap", "new-dep"} {
		r, err := s.AppendAudit(ctx, "t1", seal("t1", a))
		must(t, err)
		want = append(want, r)
	}
	if _, err := s.AppendAudit(ctx, "t2", seal("t2", "wrap")); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctx, "t1", 0, 0)
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAudit = %+v, want %+v", got, want)
	}
	if got[0].Prev != nil || !bytes.Equal(got[1].Prev, got[0].Hash) {
		t.Fatalf("chain links not kept: %+v", got)
	}
	last, err := s.LastAudit(ctx, "t1")
	must(t, err)
	equal(t, "last record", last, want[2])
	none, err := s.LastAudit(ctx, "t3")
	must(t, err)
	equal(t, "last record of an empty chain", none.Seq, int64(0))
	page, err := s.ListAudit(ctx, "t1", 1, 1)
	must(t, err)
	if len(page) != 1 || page[0].Seq != 2 {
		t.Fatalf("ListAudit after 1 limit 1 = %+v", page)
	}
	// A seal that breaks the sequence is refused and stores nothing.
	if _, err := s.AppendAudit(ctx, "t1", func(last store.AuditRecord) store.AuditRecord {
		r := seal("t1", "x")(last)
		r.Seq += 5
		return r
	}); err == nil {
		t.Fatal("a record that skips sequence numbers was appended")
	}
	// Concurrent appends to one chain all land, in one unbroken sequence.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.AppendAudit(ctx, "t1", seal("t1", "unwrap"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	all, err := s.ListAudit(ctx, "t1", 0, 0)
	must(t, err)
	for i, r := range all {
		if r.Seq != int64(i+1) || r.Tenant != "t1" {
			t.Fatalf("record %d: seq %d tenant %s", i, r.Seq, r.Tenant)
		}
		if i > 0 && !bytes.Equal(r.Prev, all[i-1].Hash) {
			t.Fatalf("record %d does not link to %d", r.Seq, all[i-1].Seq)
		}
	}
	if len(all) != 23 {
		t.Fatalf("%d records, want 23", len(all))
	}
}

func testJobs(t *testing.T, s store.Store) {
	t0 := now()
	a := store.Job{ID: "job-a", Tenant: "t1", Kind: "roll", Target: "geo:NAM", Args: []byte(`{"x":1}`), Total: 10, Created: t0, Until: t0}
	must(t, s.CreateJob(ctx, a))
	dup := a
	dup.ID, dup.Created = "job-dup", t0.Add(2*time.Millisecond)
	wantErr(t, s.CreateJob(ctx, dup), store.ErrConflict)                                                                                   // one active job per target
	b := store.Job{ID: "job-b", Tenant: "t1", Kind: "purge", Target: "dep:1", Created: t0.Add(time.Millisecond), Until: t0.Add(time.Hour)} // not due for an hour
	must(t, s.CreateJob(ctx, b))

	got, err := s.ClaimJob(ctx, "runner-1", t0, t0.Add(time.Minute))
	must(t, err)
	equal(t, "claimed", []any{got.ID, got.State, got.Owner, got.Attempts, string(got.Args), got.Until}, []any{"job-a", store.JobRunning, "runner-1", 1, `{"x":1}`, t0.Add(time.Minute)})
	_, err = s.ClaimJob(ctx, "runner-2", t0, t0.Add(time.Minute))
	wantErr(t, err, store.ErrNotFound) // a is leased, b is not due
	active, err := s.ActiveJob(ctx, "t1", "geo:NAM")
	must(t, err)
	equal(t, "active job", active.ID, "job-a")
	_, err = s.ActiveJob(ctx, "t2", "geo:NAM")
	wantErr(t, err, store.ErrNotFound)

	must(t, s.UpdateJob(ctx, "job-a", "runner-1", 4, 10, t0.Add(2*time.Minute), t0))
	wantErr(t, s.UpdateJob(ctx, "job-a", "runner-2", 5, 10, t0.Add(2*time.Minute), t0), store.ErrConflict)
	// The lease runs out: another runner takes the job over, and the
	// first one can no longer write to it.
	late := t0.Add(3 * time.Minute)
	got, err = s.ClaimJob(ctx, "runner-2", late, late.Add(time.Minute))
	must(t, err)
	equal(t, "taken over", []any{got.ID, got.Owner, got.Attempts, got.Done}, []any{"job-a", "runner-2", 2, 4})
	wantErr(t, s.UpdateJob(ctx, "job-a", "runner-1", 5, 10, late, late), store.ErrConflict)
	wantErr(t, s.FinishJob(ctx, "job-a", "runner-1", store.JobSucceeded, "", late, late), store.ErrConflict)
	must(t, s.FinishJob(ctx, "job-a", "runner-2", store.JobSucceeded, "", late, late))
	_, err = s.ActiveJob(ctx, "t1", "geo:NAM")
	wantErr(t, err, store.ErrNotFound) // done: no longer active
	must(t, s.CreateJob(ctx, dup))     // the target is free again

	// A retry goes back to the queue, due later.
	got, err = s.ClaimJob(ctx, "runner-1", late, late.Add(time.Minute))
	must(t, err)
	equal(t, "next", got.ID, "job-dup")
	must(t, s.FinishJob(ctx, "job-dup", "runner-1", store.JobQueued, "vault down", late.Add(time.Hour), late))
	_, err = s.ClaimJob(ctx, "runner-1", late, late.Add(time.Minute))
	wantErr(t, err, store.ErrNotFound)
	got, err = s.ClaimJob(ctx, "runner-1", late.Add(2*time.Hour), late.Add(3*time.Hour))
	must(t, err)
	equal(t, "oldest due first", got.ID, "job-b")

	j, err := s.Job(ctx, "t1", "job-dup")
	must(t, err)
	equal(t, "retried job", []any{j.State, j.Error, j.Attempts}, []any{store.JobQueued, "vault down", 1})
	_, err = s.Job(ctx, "t2", "job-dup")
	wantErr(t, err, store.ErrNotFound) // not another tenant's
	js, err := s.ListJobsBefore(ctx, "t1", store.PageKey{}, 10)
	must(t, err)
	if len(js) != 3 || js[0].ID != "job-dup" || js[1].ID != "job-b" {
		t.Fatalf("jobs newest first: %+v", js)
	}
	on, err := s.ListJobsOn(ctx, "t1", "geo:NAM", 10)
	must(t, err)
	if len(on) != 2 || on[0].ID != "job-dup" || on[1].ID != "job-a" {
		t.Fatalf("jobs on geo:NAM: %+v; want job-dup, then job-a", on)
	}
	on, err = s.ListJobsOn(ctx, "t2", "geo:NAM", 10)
	must(t, err)
	equal(t, "another tenant's jobs on the target", len(on), 0)

	// Asked to run again while running: its success puts it back in the
	// queue, once; a failure ends it. No active job: ErrConflict.
	wantErr(t, s.AgainJob(ctx, "t1", "geo:EUR"), store.ErrConflict)
	c := store.Job{ID: "job-c", Tenant: "t1", Kind: "reassociate", Target: "mdep", Created: late, Until: late}
	must(t, s.CreateJob(ctx, c))
	at := late // job-dup is not due yet and job-b is leased
	claim := func() {
		t.Helper()
		got, err := s.ClaimJob(ctx, "runner-1", at, at.Add(time.Minute))
		must(t, err)
		equal(t, "claimed", got.ID, "job-c")
	}
	claim()
	must(t, s.AgainJob(ctx, "t1", "mdep"))
	must(t, s.FinishJob(ctx, "job-c", "runner-1", store.JobSucceeded, "", at, at))
	j, err = s.Job(ctx, "t1", "job-c")
	must(t, err)
	equal(t, "asked again", j.State, store.JobQueued)
	claim()
	must(t, s.FinishJob(ctx, "job-c", "runner-1", store.JobSucceeded, "", at, at))
	j, err = s.Job(ctx, "t1", "job-c")
	must(t, err)
	equal(t, "run again once", j.State, store.JobSucceeded)
	must(t, s.CreateJob(ctx, store.Job{ID: "job-d", Tenant: "t1", Kind: "reassociate", Target: "mdep2", Created: late, Until: late}))
	got, err = s.ClaimJob(ctx, "runner-1", at, at.Add(time.Minute))
	must(t, err)
	must(t, s.AgainJob(ctx, "t1", got.Target))
	must(t, s.FinishJob(ctx, got.ID, "runner-1", store.JobFailed, "broken", at, at))
	j, err = s.Job(ctx, "t1", got.ID)
	must(t, err)
	equal(t, "a failure is not run again", j.State, store.JobFailed)
}

func testPurges(t *testing.T, s store.Store) {
	p := store.Purge{Tenant: "t1", DEP: "dep-1", Name: "EXO-DEP-1", Reason: "leaving", Contact: "cfo@contoso.com", RequestedBy: "admin@contoso.com",
		Requested: now(), Required: 2, State: store.PurgeRequested, Updated: now()}
	must(t, s.CreatePurge(ctx, p))
	wantErr(t, s.CreatePurge(ctx, p), store.ErrConflict)
	got, err := s.Purge(ctx, "t1", "dep-1")
	must(t, err)
	p.Approvals = []store.PurgeApproval{} // stored as an empty list
	equal(t, "purge", got, p)
	_, err = s.Purge(ctx, "t2", "dep-1")
	wantErr(t, err, store.ErrNotFound)
	// An update lands only on the request as read (its state and its
	// Updated): of two approvals made from one read, the second would
	// drop the first.
	read := got
	first, second := read, read
	first.Approvals = []store.PurgeApproval{{Officer: "cfo@contoso.com", At: now(), Signature: []byte("sig"), PublicKey: []byte("pub"), KeyRegistered: now(), SubmittedBy: "admin@contoso.com"}}
	first.Updated = store.After(read.Updated, now())
	second.Approvals = []store.PurgeApproval{{Officer: "cso@contoso.com", At: now(), Signature: []byte("sig2"), PublicKey: []byte("pub2"), KeyRegistered: now(), SubmittedBy: "admin@contoso.com"}}
	second.Updated = first.Updated
	must(t, s.UpdatePurge(ctx, first, read))
	wantErr(t, s.UpdatePurge(ctx, second, read), store.ErrConflict)
	if err := s.UpdatePurge(ctx, first, first); err == nil || errors.Is(err, store.ErrConflict) {
		t.Fatalf("an update whose Updated is not after the one it read: %v, want refused", err)
	}
	p = first
	p.State, p.Certificate, p.Updated = store.PurgeApproved, []byte("signed"), store.After(first.Updated, now())
	must(t, s.UpdatePurge(ctx, p, first))
	wantErr(t, s.UpdatePurge(ctx, p, first), store.ErrConflict) // no longer Requested
	ps, err := s.ListPurges(ctx, "t1")
	must(t, err)
	equal(t, "purges", ps, []store.Purge{p})

	// The containers a purge deletes are fixed with the request; none is
	// an empty list, not "not fixed" (nil: a request stored before 0019).
	q := store.Purge{Tenant: "t1", DEP: "dep-2", Name: "EXO-DEP-2", Reason: "leaving", Contact: "cfo@contoso.com", RequestedBy: "admin@contoso.com",
		Requested: now(), Required: 1, Containers: []string{"alice@contoso.com", "bob@contoso.com"}, State: store.PurgeRequested, Updated: now()}
	must(t, s.CreatePurge(ctx, q))
	got, err = s.Purge(ctx, "t1", "dep-2")
	must(t, err)
	q.Approvals = []store.PurgeApproval{}
	equal(t, "purge with containers", got, q)
	q.DEP, q.Containers = "dep-3", []string{}
	must(t, s.CreatePurge(ctx, q))
	got, err = s.Purge(ctx, "t1", "dep-3")
	must(t, err)
	equal(t, "purge of no container", got, q)
}

func testOfficerKeys(t *testing.T, s store.Store) {
	k := store.OfficerKey{Tenant: "t1", Officer: "cso@contoso.com", PublicKey: []byte("0123456789abcdef0123456789abcdef"), Registered: now(), RegisteredBy: "admin@contoso.com"}
	_, err := s.OfficerKey(ctx, "t1", k.Officer)
	wantErr(t, err, store.ErrNotFound)
	must(t, s.PutOfficerKey(ctx, k))
	got, err := s.OfficerKey(ctx, "t1", k.Officer)
	must(t, err)
	equal(t, "officer key", got, k)
	// Confirmed only as the key it is.
	wantErr(t, s.ConfirmOfficerKey(ctx, "t1", k.Officer, []byte("another key"), now(), "operator"), store.ErrNotFound)
	wantErr(t, s.ConfirmOfficerKey(ctx, "t2", k.Officer, k.PublicKey, now(), "operator"), store.ErrNotFound)
	at := now()
	must(t, s.ConfirmOfficerKey(ctx, "t1", k.Officer, k.PublicKey, at, "operator"))
	got, err = s.OfficerKey(ctx, "t1", k.Officer)
	must(t, err)
	equal(t, "confirmed", [2]any{got.Confirmed, got.ConfirmedBy}, [2]any{at, "operator"})
	k2 := k
	k2.PublicKey, k2.Registered = []byte("fedcba9876543210fedcba9876543210"), now().Add(time.Second)
	k2.Confirmed, k2.ConfirmedBy = now(), "the caller cannot confirm by writing"
	must(t, s.PutOfficerKey(ctx, k2)) // replaced: not confirmed
	k2.Confirmed, k2.ConfirmedBy = time.Time{}, ""
	cfo := store.OfficerKey{Tenant: "t1", Officer: "cfo@contoso.com", PublicKey: []byte("cfo-key-cfo-key-cfo-key-cfo-key-"), Registered: now(), RegisteredBy: "admin@contoso.com"}
	must(t, s.PutOfficerKey(ctx, cfo))
	other := store.OfficerKey{Tenant: "t2", Officer: "cso@contoso.com", PublicKey: []byte("t2"), Registered: now(), RegisteredBy: "x"}
	must(t, s.PutOfficerKey(ctx, other))
	ks, err := s.ListOfficerKeys(ctx, "t1")
	must(t, err)
	equal(t, "officer keys", ks, []store.OfficerKey{cfo, k2})

	// No key changes while a purge request of the tenant is open.
	p := store.Purge{Tenant: "t1", DEP: "dep-1", Name: "EXO-DEP-1", Reason: "leaving", Contact: "cfo@contoso.com", RequestedBy: "admin@contoso.com",
		Requested: now(), Required: 1, Containers: []string{}, State: store.PurgeRequested, Updated: now()}
	must(t, s.CreatePurge(ctx, p))
	wantErr(t, s.PutOfficerKey(ctx, k), store.ErrConflict)
	wantErr(t, s.PutOfficerKey(ctx, store.OfficerKey{Tenant: "t1", Officer: "new@contoso.com", PublicKey: []byte("n"), Registered: now()}), store.ErrConflict)
	confirmed := now()
	must(t, s.ConfirmOfficerKey(ctx, "t1", k2.Officer, k2.PublicKey, confirmed, "operator")) // keys cannot change now: confirming one may
	k2.Confirmed, k2.ConfirmedBy = confirmed, "operator"
	must(t, s.PutOfficerKey(ctx, other)) // another tenant's purge is not this one's
	got, err = s.OfficerKey(ctx, "t1", k.Officer)
	must(t, err)
	equal(t, "officer key under an open purge", got, k2)
	approved := p
	approved.State, approved.Updated = store.PurgeApproved, store.After(p.Updated, now())
	must(t, s.UpdatePurge(ctx, approved, p))
	wantErr(t, s.PutOfficerKey(ctx, k), store.ErrConflict)
	purged := approved
	purged.State, purged.Updated = store.PurgePurged, store.After(approved.Updated, now())
	must(t, s.UpdatePurge(ctx, purged, approved))
	must(t, s.PutOfficerKey(ctx, k)) // closed: keys may change again
}

func testTokens(t *testing.T, s store.Store) {
	const ten = "6f1c2b3a-0000-4000-8000-000000000001"
	mk := func(c byte, tenant, role string, created time.Time) store.APIToken {
		h := strings.Repeat(string([]byte{c}), 64)
		return store.APIToken{ID: h[:16], Hash: h, Tenant: tenant, Role: role, Subject: role + "@contoso.com", Created: created, Expires: created.Add(time.Hour)}
	}
	a, b := mk('a', ten, "global-admin", now()), mk('b', ten, "exchange-admin", now().Add(time.Second))
	op := mk('c', "", "operator", now())
	other := mk('d', "other-tenant", "global-admin", now())
	for _, tok := range []store.APIToken{a, b, op, other} {
		must(t, s.CreateToken(ctx, tok))
	}
	// A handle is unique too.
	dup := mk('e', ten, "global-admin", now())
	dup.ID = a.ID
	wantErr(t, s.CreateToken(ctx, dup), store.ErrConflict)

	ts, err := s.ListTokens(ctx, ten)
	must(t, err)
	equal(t, "tenant tokens", ts, []store.APIToken{a, b})
	ts, err = s.ListTokens(ctx, "nobody")
	must(t, err)
	equal(t, "tokens of a tenant without any", len(ts), 0)

	at := now().Add(time.Minute)
	got, err := s.RevokeToken(ctx, ten, b.ID, at)
	must(t, err)
	b.Revoked = &at
	equal(t, "revoked token", got, b)
	got, err = s.Token(ctx, b.Hash)
	must(t, err)
	equal(t, "revoked token read back", got, b)
	_, err = s.RevokeToken(ctx, ten, b.ID, at)
	wantErr(t, err, store.ErrConflict)
	// Another tenant's token, or one that does not exist, is not found.
	_, err = s.RevokeToken(ctx, ten, other.ID, at)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RevokeToken(ctx, ten, "0123456789abcdef", at)
	wantErr(t, err, store.ErrNotFound)
	got, err = s.Token(ctx, other.Hash)
	must(t, err)
	equal(t, "another tenant's token", got, other)

	used := now().Add(2 * time.Minute)
	must(t, s.TouchToken(ctx, a.Hash, used))
	got, err = s.Token(ctx, a.Hash)
	must(t, err)
	a.LastUsed = &used
	equal(t, "token after use", got, a)
}

func testAccessRequests(t *testing.T, s store.Store) {
	const ten = "6f1c2b3a-0000-4000-8000-000000000001"
	r1 := store.AccessRequest{ID: "a1", Tenant: ten, Action: "recover", DEP: "dep-1-guid", DEPName: "DEP-1", Target: "dep-2-guid", TargetName: "DEP-2",
		Reason: "ticket 4711", RequestedBy: "operator (operator)", Requested: now(), Expires: now().Add(4 * time.Hour), State: store.AccessPending}
	r2 := r1
	r2.ID, r2.Action, r2.Target, r2.TargetName, r2.Requested, r2.State = "a2", "rollback", "", "", now().Add(time.Second), store.AccessApproved
	r2.DecidedBy, r2.Decided = "admin@contoso.com (global-admin)", &r2.Requested
	for _, r := range []store.AccessRequest{r1, r2} {
		must(t, s.CreateAccessRequest(ctx, r))
	}
	wantErr(t, s.CreateAccessRequest(ctx, r1), store.ErrConflict)
	got, err := s.AccessRequest(ctx, ten, "a1")
	must(t, err)
	equal(t, "access request", got, r1)
	_, err = s.AccessRequest(ctx, "other-tenant", "a1")
	wantErr(t, err, store.ErrNotFound)
	rs, err := s.ListAccessRequestsBefore(ctx, ten, store.PageKey{}, 0)
	must(t, err)
	equal(t, "access requests, newest first", rs, []store.AccessRequest{r2, r1})
	rs, err = s.ListAccessRequestsBefore(ctx, ten, store.PageKey{}, 1)
	must(t, err)
	equal(t, "one access request", rs, []store.AccessRequest{r2})

	// Decided only from the state it was read in: a second decision loses.
	d := now().Add(time.Minute)
	r1.State, r1.DecidedBy, r1.Decided = store.AccessApproved, "admin@contoso.com (global-admin)", &d
	must(t, s.UpdateAccessRequest(ctx, r1, store.AccessPending))
	denied := r1
	denied.State = store.AccessDenied
	wantErr(t, s.UpdateAccessRequest(ctx, denied, store.AccessPending), store.ErrConflict)
	// Used once.
	r1.State, r1.UsedBy, r1.Used = store.AccessUsed, "operator (operator)", &d
	must(t, s.UpdateAccessRequest(ctx, r1, store.AccessApproved))
	wantErr(t, s.UpdateAccessRequest(ctx, r1, store.AccessApproved), store.ErrConflict)
	got, err = s.AccessRequest(ctx, ten, "a1")
	must(t, err)
	equal(t, "used access request", got, r1)
}

func testClusterSecrets(t *testing.T, s store.Store) {
	got, err := s.RecordClusterSecret(ctx, "signing-key", "a")
	must(t, err)
	if got != "a" {
		t.Fatalf("first RecordClusterSecret: got %q, want %q", got, "a")
	}
	if got, err = s.RecordClusterSecret(ctx, "signing-key", "b"); err != nil || got != "a" {
		t.Fatalf("second RecordClusterSecret: got %q, %v; want the first value %q", got, err, "a")
	}
	if err := s.ReplaceClusterSecret(ctx, "signing-key", "b", "c"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ReplaceClusterSecret with a stale value: got %v, want ErrConflict", err)
	}
	if err := s.ReplaceClusterSecret(ctx, "none", "", "c"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ReplaceClusterSecret of nothing: got %v, want ErrConflict", err)
	}
	must(t, s.ReplaceClusterSecret(ctx, "signing-key", "a", "c"))
	if got, err = s.RecordClusterSecret(ctx, "signing-key", "d"); err != nil || got != "c" {
		t.Fatalf("after ReplaceClusterSecret: got %q, %v; want %q", got, err, "c")
	}
}

func testUploads(t *testing.T, s store.Store) {
	m := store.Mailbox{Tenant: "t1", ID: "site:finance", Kind: "SharePointSite:NAM", DEP: "dep-a", ContainerKey: []byte("wrapped"), KeyVersion: 1, Created: now(), Updated: now()}
	must(t, s.CreateMailbox(ctx, m))
	u := store.Upload{Tenant: "t1", ID: "up-1", Container: "site:finance", Item: "deck.pptx", Kind: "file", Version: 1, Blob: "b1",
		Header: []byte("header"), Size: 1 << 20, WantSHA256: []byte("digest"), By: "admin@t1", Created: now(), Updated: now()}
	must(t, s.CreateUpload(ctx, u))
	wantErr(t, s.CreateUpload(ctx, u), store.ErrConflict)
	same := u
	same.ID = "up-2" // the same item version from another upload
	wantErr(t, s.CreateUpload(ctx, same), store.ErrConflict)
	next := same
	next.Version, next.Blob = 2, "b2"
	must(t, s.CreateUpload(ctx, next))
	vs, err := s.UploadVersions(ctx, "t1", "SITE:finance", "deck.pptx")
	must(t, err)
	equal(t, "upload versions", vs, []uint32{1, 2})
	if vs, _ := s.UploadVersions(ctx, "t2", "site:finance", "deck.pptx"); len(vs) != 0 {
		t.Fatalf("another tenant's upload versions: %v", vs)
	}
	for tenant, want := range map[string]int{"t1": 2, "t2": 0} {
		n, err := s.CountUploads(ctx, tenant)
		must(t, err)
		equal(t, "uploads of "+tenant, n, want)
	}
	got, err := s.Upload(ctx, "t1", "up-1")
	must(t, err)
	equal(t, "upload", got, u)
	_, err = s.Upload(ctx, "t2", "up-1")
	wantErr(t, err, store.ErrNotFound)

	// One part at a time claims the upload, at the bytes received so far.
	_, err = s.ClaimUpload(ctx, "t1", "up-1", 65536, 131072, "c0", now().Add(time.Minute), now())
	wantErr(t, err, store.ErrConflict) // not at 65536 yet
	before, err := s.ClaimUpload(ctx, "t1", "up-1", 0, 131072, "c1", now().Add(time.Minute), now())
	must(t, err)
	equal(t, "upload before its claim", before, u)
	_, err = s.ClaimUpload(ctx, "t1", "up-1", 0, 65536, "c2", now().Add(time.Minute), now())
	wantErr(t, err, store.ErrConflict) // c1 holds it
	must(t, s.RenewClaim(ctx, "t1", "up-1", "c1", now().Add(2*time.Minute)))
	wantErr(t, s.RenewClaim(ctx, "t1", "up-1", "c2", now().Add(2*time.Minute)), store.ErrConflict)
	adv := u
	adv.Received, adv.Written, adv.State, adv.Updated = 65536, 131072, []byte("state-1"), now().Add(time.Second)
	wantErr(t, s.AdvanceUpload(ctx, adv, "c2"), store.ErrConflict)
	must(t, s.AdvanceUpload(ctx, adv, "c1"))
	wantErr(t, s.AdvanceUpload(ctx, adv, "c1"), store.ErrConflict) // released
	got, _ = s.Upload(ctx, "t1", "up-1")
	equal(t, "advanced upload", got, adv)
	// A claim that lapsed (its part was cut off) may be taken over; Written
	// only grows.
	_, err = s.ClaimUpload(ctx, "t1", "up-1", 65536, 100000, "c3", now().Add(-time.Second), now())
	must(t, err)
	before, err = s.ClaimUpload(ctx, "t1", "up-1", 65536, 70000, "c4", now().Add(time.Minute), now())
	must(t, err)
	if before.Written != 131072 {
		t.Fatalf("written went from 131072 to %d", before.Written)
	}

	// Stale uploads, oldest first, across tenants.
	old := store.Upload{Tenant: "t2", ID: "up-old", Container: "site:x", Item: "a", Kind: "file", Version: 1, Blob: "b3", Header: []byte("h"), Size: 1, By: "x", Created: now().Add(-48 * time.Hour), Updated: now().Add(-48 * time.Hour)}
	must(t, s.CreateUpload(ctx, old))
	stale, err := s.StaleUploads(ctx, now().Add(-time.Hour), 10)
	must(t, err)
	if len(stale) != 1 || stale[0].ID != "up-old" {
		t.Fatalf("stale uploads: %+v", stale)
	}

	// Committing writes the item and ends the upload, once.
	it := store.Item{Tenant: "t1", Mailbox: "site:finance", ID: "deck.pptx@000001", Kind: "file", Version: 1, Sealed: []byte("header"), Created: now(), Blob: "b1", Summary: []byte("summary"), ContentSize: 1 << 20}
	// Only the claim that holds it ends it: c3's lapsed and c4 took it.
	_, err = s.CommitUpload(ctx, it, "up-1", "c3")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUpload(ctx, "t1", "up-1", "c3"), store.ErrNotFound)
	if _, err := s.Item(ctx, "t1", "site:finance", "deck.pptx@000001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a commit without the upload's claim wrote the item: %v", err)
	}
	replaced, err := s.CommitUpload(ctx, it, "up-1", "c4")
	must(t, err)
	equal(t, "blob replaced by a first version", replaced, "")
	_, err = s.CommitUpload(ctx, it, "up-1", "c4")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Upload(ctx, "t1", "up-1")
	wantErr(t, err, store.ErrNotFound)
	gotItem, err := s.Item(ctx, "t1", "site:finance", "deck.pptx@000001")
	must(t, err)
	it.Size = len(it.Sealed)
	equal(t, "committed item", gotItem, it)
	heads, err := s.ItemHeadsWithPrefix(ctx, "t1", "site:finance", "deck.pptx@")
	must(t, err)
	if len(heads) != 1 || heads[0].Blob != "b1" || heads[0].ContentSize != 1<<20 || heads[0].Sealed != nil {
		t.Fatalf("item heads: %+v", heads)
	}

	// An item written in place keeps the newest version: an older upload
	// finishing last does not replace it, and its upload stays.
	rec := store.Upload{Tenant: "t1", ID: "up-r", Container: "site:finance", Item: "rec", Kind: "record", Version: 3, Blob: "b4", Header: []byte("h"), Size: 1, By: "x", Created: now(), Updated: now()}
	must(t, s.CreateUpload(ctx, rec))
	must(t, s.PutItem(ctx, store.Item{Tenant: "t1", Mailbox: "site:finance", ID: "rec", Kind: "record", Version: 4, Sealed: []byte("v4"), Created: now(), ContentSize: 2}))
	_, err = s.CommitUpload(ctx, store.Item{Tenant: "t1", Mailbox: "site:finance", ID: "rec", Kind: "record", Version: 3, Sealed: []byte("v3"), Created: now(), Blob: "b4"}, "up-r", "")
	wantErr(t, err, store.ErrConflict)
	if got, _ := s.Item(ctx, "t1", "site:finance", "rec"); string(got.Sealed) != "v4" || got.ContentSize != 2 {
		t.Fatalf("an older upload replaced a newer version: %+v", got)
	}
	wantErr(t, s.DeleteUpload(ctx, "t1", "up-r", "c9"), store.ErrNotFound) // not its claim
	must(t, s.DeleteUpload(ctx, "t1", "up-r", ""))
	wantErr(t, s.DeleteUpload(ctx, "t1", "up-r", ""), store.ErrNotFound)
	// A newer upload replaces the version stored, and says which blob it
	// had, whoever wrote that version.
	must(t, s.PutItem(ctx, store.Item{Tenant: "t1", Mailbox: "site:finance", ID: "rec", Kind: "record", Version: 5, Sealed: []byte("v5"), Created: now(), Blob: "b5", ContentSize: 9}))
	must(t, s.CreateUpload(ctx, store.Upload{Tenant: "t1", ID: "up-6", Container: "site:finance", Item: "rec", Kind: "record", Version: 6, Blob: "b6", Header: []byte("h"), Size: 1, By: "x", Created: now(), Updated: now()}))
	replaced, err = s.CommitUpload(ctx, store.Item{Tenant: "t1", Mailbox: "site:finance", ID: "rec", Kind: "record", Version: 6, Sealed: []byte("v6"), Created: now(), Blob: "b6"}, "up-6", "")
	must(t, err)
	equal(t, "blob replaced", replaced, "b5")

	// Deleting the container ends its uploads.
	must(t, s.DeleteMailbox(ctx, "t1", "site:finance"))
	_, err = s.Upload(ctx, "t1", "up-2")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Upload(ctx, "t2", "up-old")
	must(t, err)
}

func testLocks(t *testing.T, s store.Store) {
	unlock, err := s.Lock(ctx, "rotation")
	must(t, err)
	// Held: another taker waits (here until its context ends); another
	// name is free.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = s.Lock(short, "rotation")
	cancel()
	if err == nil {
		t.Fatal("a held lock was taken again")
	}
	other, err := s.Lock(ctx, "another")
	must(t, err)
	other()
	// Let go: the waiter gets it.
	got := make(chan error, 1)
	go func() {
		u, err := s.Lock(ctx, "rotation")
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	unlock()
	unlock() // twice: once
	select {
	case err := <-got:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a lock let go of was not taken by its waiter")
	}
}

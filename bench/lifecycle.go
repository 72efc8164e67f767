package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/store"
)

// lifecycleScenario: the lifecycle at scale. The roll of a customer key on
// a DEP with 10k mailboxes and many items (only the DEP key is re-wrapped),
// a geo of 10k sites registered and rolled as jobs, and the time from a
// revocation signal until no read succeeds.
func lifecycleScenario(items int) error {
	ctx := context.Background()
	e, err := startService(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	call, must, admin := e.call, e.must, e.admin
	fmt.Printf("Lifecycle at scale, GOMAXPROCS=%d, %s\n\n", runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))

	// 10k mailboxes on DEP-A, with items stored directly (64-byte sealed
	// records: the roll never reads them, only their count matters).
	const mailboxes = 10_000
	for i := range mailboxes {
		if err := e.env.Store.SetLicence(ctx, e.seed.Tenant, fmt.Sprintf("user%05d@contoso.com", i), "E5"); err != nil {
			return err
		}
	}
	if err := parallel(8, mailboxes, func(i int) error {
		return must(call(admin, "POST", "/v1/tenants/Contoso/mailboxes", []byte(fmt.Sprintf(`{"id":"user%05d@contoso.com","dataEncryptionPolicy":"DEP-A"}`, i)), "application/json"))
	}); err != nil {
		return err
	}
	start := time.Now()
	sealed := make([]byte, 64)
	rand.Read(sealed)
	now := time.Now()
	for n := range items {
		it := store.Item{Tenant: e.seed.Tenant, Mailbox: fmt.Sprintf("user%05d@contoso.com", n%mailboxes), ID: fmt.Sprintf("bulk-%07d", n), Kind: "message", Version: 1, Sealed: sealed, Created: now}
		if err := e.env.Store.PutItem(ctx, it); err != nil {
			return err
		}
		if n > 0 && n%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d items stored\n", n)
		}
	}
	fmt.Printf("setup: %d mailboxes and %d items in %s\n", mailboxes, items, time.Since(start).Round(time.Second))
	if err := must(call(admin, "PUT", "/v1/tenants/Contoso/mailboxes/user00000@contoso.com/items/real", []byte("real content"), "application/octet-stream")); err != nil {
		return err
	}

	// Roll (R1): a new version of key 1, then -Refresh.
	if _, err := e.seed.Keys[0].CreateKey(ctx, "key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
		return err
	}
	start = time.Now()
	if err := must(call(admin, "PATCH", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-A", []byte(`{"refresh":true}`), "application/json")); err != nil {
		return err
	}
	rolled := time.Since(start)
	start = time.Now()
	if _, err := e.kms.Wrap(ctx, e.seed.KeyURIs[0], make([]byte, 32)); err != nil {
		return err
	}
	oneWrap := time.Since(start)
	if got, err := call(admin, "GET", "/v1/tenants/Contoso/mailboxes/user00000@contoso.com/items/real", nil, ""); err != nil || string(got) != "real content" {
		return fmt.Errorf("an item after the roll: %q %v", got, err)
	}
	fmt.Printf("roll: -Refresh of DEP-A (%d mailboxes, %d items) after a new version of key 1: %s (target <= 5 s); baseline, one wrap with the official client: %s\n",
		mailboxes, items, rolled.Round(time.Microsecond), oneWrap.Round(time.Microsecond))

	// Sites: 10k in one geo, registered, then the primary key rolled; both
	// are jobs that re-wrap every site key.
	const sites = 10_000
	if err := parallel(8, sites, func(i int) error {
		return must(call(admin, "POST", "/v1/tenants/Contoso/sites", []byte(fmt.Sprintf(`{"name":"site-%05d","geo":"NAM"}`, i)), "application/json"))
	}); err != nil {
		return err
	}
	version := func(i int) (string, error) {
		r, err := e.seed.Keys[i].GetKey(ctx, "key", "", nil)
		if err != nil {
			return "", err
		}
		return r.Key.KID.Version(), nil
	}
	v0, err := version(0)
	if err != nil {
		return err
	}
	v1, err := version(1)
	if err != nil {
		return err
	}
	waitGeo := func() (time.Duration, error) {
		start := time.Now()
		for {
			out, err := call(admin, "GET", "/v1/tenants/Contoso/spoDataEncryptionPolicies?geo=NAM", nil, "")
			if err != nil {
				return 0, err
			}
			var l struct{ Value []client.SPODEP }
			json.Unmarshal(out, &l)
			if len(l.Value) == 1 && l.Value[0].State == "Registered" && l.Value[0].Done == sites {
				return time.Since(start), nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	start = time.Now()
	if err := must(call(admin, "POST", "/v1/tenants/Contoso/spoDataEncryptionPolicies", []byte(fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
		e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1)), "application/json")); err != nil {
		return err
	}
	if _, err := waitGeo(); err != nil {
		return err
	}
	registered := time.Since(start)
	if _, err := e.seed.Keys[0].CreateKey(ctx, "key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
		return err
	}
	v0b, err := version(0)
	if err != nil {
		return err
	}
	start = time.Now()
	if err := must(call(admin, "PATCH", "/v1/tenants/Contoso/spoDataEncryptionPolicies/NAM", []byte(fmt.Sprintf(`{"keyType":"Primary","vaultName":%q,"keyName":"key","keyVersion":%q}`, e.seed.Vaults[0].Name, v0b)), "application/json")); err != nil {
		return err
	}
	if _, err := waitGeo(); err != nil {
		return err
	}
	siteRoll := time.Since(start)
	fmt.Printf("sites: registering a geo of %d sites took %s, rolling its primary key %s (%.0f sites/s), as durable jobs\n", sites, registered.Round(time.Millisecond), siteRoll.Round(time.Millisecond), sites/siteRoll.Seconds())

	// Revocation (R5): readers read alice's item without pause; the tenant
	// removes the workload's access on both vaults. Without a signal, the
	// cached DEP key keeps serving until it expires (24 h by default);
	// with the signal, reads stop at once.
	if err := must(call(admin, "POST", "/v1/tenants/Contoso/mailboxes", []byte(`{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-B"}`), "application/json")); err != nil {
		return err
	}
	if err := must(call(admin, "PUT", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m", []byte("secret"), "application/octet-stream")); err != nil {
		return err
	}
	type read struct {
		start, end time.Time
		ok         bool
	}
	var mu sync.Mutex
	var reads []read
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				s := time.Now()
				_, err := call(admin, "GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m", nil, "")
				mu.Lock()
				reads = append(reads, read{s, time.Now(), err == nil})
				mu.Unlock()
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	removed := time.Now()
	for _, v := range e.seed.Vaults {
		if err := e.env.Client.Do(ctx, "PUT", "/vaults/"+v.Name+"/accessPolicies/"+e.seed.Workload, map[string]any{"permissions": map[string]any{"keys": []string{"get"}}}, nil); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	signal := time.Now()
	if err := must(call(admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-B/revocation", nil, "")); err != nil {
		return err
	}
	answered := time.Since(signal)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	servedWithout, lastOK, firstRefused, okAfter := 0, time.Time{}, time.Time{}, 0
	for _, r := range reads {
		if r.start.After(removed) && r.end.Before(signal) && r.ok {
			servedWithout++
		}
		if r.ok && r.end.After(lastOK) {
			lastOK = r.end
		}
		if !r.ok && (firstRefused.IsZero() || r.end.Before(firstRefused)) {
			firstRefused = r.end
		}
		if r.ok && r.start.After(signal.Add(answered)) {
			okAfter++
		}
	}
	fmt.Printf("revocation: after the access was removed, %d reads were still served from the cached DEP key in 1 s without a signal (until cache expiry);\n", servedWithout)
	fmt.Printf("  the signal answered in %s; last successful read ended %s after the signal was sent, first refusal %s after; reads started after the answer and served: %d\n",
		answered.Round(time.Microsecond), lastOK.Sub(signal).Round(time.Microsecond), firstRefused.Sub(signal).Round(time.Microsecond), okAfter)
	return nil
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
)

// keyringScenario: vault calls for 1M item reads over 10k containers of
// one DEP with a warm cache; cold-cache DEP-key latency with both vaults
// healthy, one slow, one down and both down.
func keyringScenario() error {
	ctx := context.Background()
	env, stop, err := startVault()
	if err != nil {
		return err
	}
	defer stop()
	seed, err := env.SeedTenant()
	if err != nil {
		return err
	}
	client, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1})
	if err != nil {
		return err
	}
	master, err := keystore.OpenFile(filepath.Join(env.Dir, "service-keystore.json"))
	if err != nil {
		return err
	}
	ring := keyring.New(client, keyring.NewKeystore(env.Store, master), keyring.Config{HedgeDelay: 100 * time.Millisecond, AttemptTimeout: time.Second})
	req := keyring.Request{Initiator: keyring.User, Reason: "benchmark read"}
	mailbox, err := ring.NewDEP(ctx, "contoso", "dep-mailbox", keyring.Mailbox, seed.KeyURIs, req)
	if err != nil {
		return err
	}
	site, err := ring.NewDEP(ctx, "contoso", "dep-site", keyring.Site, seed.KeyURIs, req)
	if err != nil {
		return err
	}
	fmt.Printf("Keyring, GOMAXPROCS=%d, %s\n\n", runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))

	// 1M reads over 10k containers; the first one finds the cache cold.
	before, err := env.Unwraps()
	if err != nil {
		return err
	}
	ring.Evict(mailbox.ID)
	depKey, err := ring.DEPKey(ctx, mailbox, req)
	if err != nil {
		return err
	}
	const containers, reads = 10_000, 1_000_000
	type box struct {
		ref     envelope.Container
		wrapped envelope.Record
		item    envelope.Item
		ct      []byte
	}
	boxes := make([]box, containers)
	content := make([]byte, 1024)
	for i := range boxes {
		b := &boxes[i]
		b.ref = envelope.Container{Tenant: "contoso", DEP: mailbox.ID, ID: fmt.Sprintf("mbx-%05d", i)}
		ck := envelope.NewKey()
		if b.wrapped, err = envelope.WrapContainerKey(depKey, b.ref, ck); err != nil {
			return err
		}
		b.item = envelope.Item{Tenant: "contoso", Container: b.ref.ID, ID: "msg-1", Version: 1}
		if b.ct, err = envelope.Seal(ck, b.ref.ID+"#1", b.item, content); err != nil {
			return err
		}
	}
	start := time.Now()
	for n := range reads {
		b := &boxes[n%containers]
		dk, err := ring.DEPKey(ctx, mailbox, req)
		if err != nil {
			return err
		}
		ck, err := envelope.UnwrapContainerKey(dk, b.ref, b.wrapped)
		if err != nil {
			return err
		}
		if _, err := envelope.Open(ck, b.item, b.ct); err != nil {
			return err
		}
	}
	took := time.Since(start)
	after, err := env.Unwraps()
	if err != nil {
		return err
	}
	fmt.Printf("1M reads (1 KiB items) over 10k containers of one DEP, from a cold cache: %d vault call(s) in all (target <= 2 per node), %.0f reads/s, %.1f us per read (DEP key from cache, container key unwrap, item open)\n\n",
		after-before, float64(reads)/took.Seconds(), float64(took.Microseconds())/reads)

	// Cold-cache latency.
	fmt.Println("Cold-cache DEP key latency (evicted before every call):")
	fmt.Println()
	fmt.Println("| condition | DEP | calls | p50 | p99 | outcome |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range []struct {
		name   string
		faults map[string]string
		n      int
	}{
		{"both vaults healthy", nil, 300},
		{"one vault slow (+500ms)", map[string]string{"eastus": "slow"}, 60},
		{"one vault down", map[string]string{"eastus": "outage"}, 300},
		{"both vaults down", map[string]string{"eastus": "outage", "westus": "outage"}, 300},
	} {
		drill := 20 * time.Second // so that both regions can be down at once
		for region, mode := range c.faults {
			if err := env.Fault(region, mode, 500*time.Millisecond, drill); err != nil {
				return err
			}
		}
		started := time.Now()
		for _, d := range []keyring.DEP{mailbox, site} {
			var lat []time.Duration
			outcome := map[string]int{}
			for range c.n {
				ring.Evict(d.ID)
				t0 := time.Now()
				_, err := ring.DEPKey(ctx, d, req)
				lat = append(lat, time.Since(t0))
				switch h := ring.Health(d.ID); {
				case err != nil:
					outcome["refused"]++
				case h.State == keyring.Degraded && len(h.Cause) > 0 && strings.Contains(h.Cause, "availability key"):
					outcome["availability key"]++
				default:
					outcome["customer key"]++
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			fmt.Printf("| %s | %s | %d | %s | %s | %v |\n", c.name, d.Kind, c.n, lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond), outcome)
		}
		if len(c.faults) == 2 {
			time.Sleep(time.Until(started.Add(drill + time.Second))) // both down: wait for the drill to end by itself
		} else {
			for region := range c.faults {
				if err := env.Fault(region, "off", 0, 0); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

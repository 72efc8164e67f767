package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/clustertest"
)

// nodesScenario: the data plane (4 KiB mailbox items, PUT and GET) through
// 1, 2 and 3 `ck server` processes over one PostgreSQL database, each as a
// ratio to the single node in the same run; then, once the nodes push
// events (SPEC S2), the time from a revocation signal on node 1 until the
// last other node refuses, over trials. Needs CK_TEST_POSTGRES_URL.
func nodesScenario(d time.Duration, callers, trials int, binary string) error {
	ctx := context.Background()
	binary, cleanup, err := ckBinary(binary)
	if err != nil {
		return err
	}
	defer cleanup()
	c, err := clustertest.StartE(clustertest.Options{Nodes: 3, Binary: binary})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return err
	}
	ten, err := c.SeedTenant(ctx)
	if err != nil {
		return err
	}
	nodes := c.Nodes()
	admin := make([]*client.Client, len(nodes))
	for i, n := range nodes {
		admin[i] = n.Client(ten.Admin)
	}
	if _, err := admin[0].NewDEP(ctx, ten.Name, client.MailboxDEPs, client.NewDEPRequest{Name: "DEP-A", AzureKeyIDs: ten.KeyURIs[:]}); err != nil {
		return err
	}
	if _, err := nodes[0].Client(c.Operator).SetLicence(ctx, ten.Name, "alice@contoso.com", "E5"); err != nil {
		return err
	}
	if _, err := admin[0].NewMailbox(ctx, ten.Name, client.NewMailboxRequest{ID: "alice@contoso.com", DataEncryptionPolicy: "DEP-A"}); err != nil {
		return err
	}
	content := make([]byte, 4096)
	rand.Read(content)
	const items = 1000
	for i := range items {
		if _, err := admin[i%3].PutItem(ctx, ten.Name, "alice@contoso.com", fmt.Sprintf("m%d", i), "message", content); err != nil {
			return err
		}
	}
	for _, a := range admin { // every node's cache holds the DEP key
		if _, err := a.Item(ctx, ten.Name, "alice@contoso.com", "m0"); err != nil {
			return err
		}
	}
	fmt.Printf("Data plane over 1-3 ck server nodes, one PostgreSQL, 4 KiB items over HTTPS, %d callers spread over the nodes, %s per case, keystore %s, GOMAXPROCS=%d (client, vault and PostgreSQL on the same machine), %s\n\n",
		callers, d, c.Keystore, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| operation | nodes | ops/s | 1 node ops/s | ratio |")
	fmt.Println("|---|---|---|---|---|")
	var seq atomic.Int64
	for _, verb := range []string{"PUT", "GET"} {
		var single float64
		for k := 1; k <= 3; k++ {
			var next atomic.Int64
			op := func() error {
				a := admin[int(next.Add(1))%k] // round robin over the first k nodes
				id := fmt.Sprintf("m%d", seq.Add(1)%items)
				if verb == "PUT" {
					_, err := a.PutItem(ctx, ten.Name, "alice@contoso.com", id, "message", content)
					return err
				}
				_, err := a.Item(ctx, ten.Name, "alice@contoso.com", id)
				return err
			}
			r, err := measure(callers, d, op)
			if err != nil {
				return err
			}
			if k == 1 {
				single = r
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %.2f |\n", verb, k, r, single, r/single)
		}
	}

	fmt.Println()
	if !c.HasEvents() {
		fmt.Println("revocation signal to the last node refusing: skipped: the nodes do not push events yet (SPEC S2, branch s2: no session of the database LISTENs)")
		return nil
	}
	var took []time.Duration
	for range trials {
		for _, a := range admin[1:] {
			if _, err := a.Item(ctx, ten.Name, "alice@contoso.com", "m0"); err != nil {
				return fmt.Errorf("before a trial: %w", err)
			}
		}
		if err := c.RemoveAccess(ctx, clustertest.ExchangeApp); err != nil {
			return err
		}
		signal := time.Now()
		if _, err := admin[0].SignalRevocation(ctx, ten.Name, client.MailboxDEPs, "DEP-A"); err != nil {
			return err
		}
		for _, a := range admin[1:] {
			for {
				if _, err := a.Item(ctx, ten.Name, "alice@contoso.com", "m0"); err != nil {
					break
				}
				if time.Since(signal) > 10*time.Second {
					return errors.New("a node still serves 10 s after the revocation signal")
				}
				time.Sleep(time.Millisecond)
			}
		}
		took = append(took, time.Since(signal))
		// The tenant grants the access again; the first read through a
		// customer key lifts the revocation (T1).
		if err := c.GrantAccess(ctx, clustertest.ExchangeApp); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := admin[0].Item(ctx, ten.Name, "alice@contoso.com", "m0"); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("after access was granted again: %w", err)
			}
		}
	}
	slices.Sort(took)
	p := func(q float64) time.Duration { return took[min(len(took)-1, int(q*float64(len(took))))] }
	fmt.Printf("revocation signal on node 1 until nodes 2 and 3 both refuse, %d trials: p50 %s, p99 %s, max %s (target <= 1 s)\n",
		len(took), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	return nil
}

// Command bench runs customerkey's server-scenario benchmarks and prints
// each result next to a baseline measured in the same run, as a markdown
// table for docs/performance.md.
//
//	go run ./bench -scenario vault -duration 5s
//	go run ./bench -scenario files -sizes 256,1024 -mem-sizes 16,256,2048
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

func main() {
	scenario := flag.String("scenario", "vault", "scenario to run: vault, envelope, keyring, service, lifecycle, nodes, files")
	callers := flag.Int("callers", 6, "nodes: callers spread over the nodes")
	trials := flag.Int("trials", 100, "nodes: revocation trials (once the nodes push events, SPEC S2)")
	ckBinary := flag.String("ck", "", "nodes, files: the ck binary (default: go build ./cmd/ck)")
	sizes := flag.String("sizes", "256,1024", "files: file sizes in MiB streamed through the API and a bare server")
	memSizes := flag.String("mem-sizes", "16,256,2048", "files: file sizes in MiB sent to a fresh ck dev each, its memory sampled (empty: none)")
	stores := flag.String("stores", "sqlite,dir", "files: blob stores under the API: sqlite (the database's chunk rows), dir (blob.Dir)")
	rounds := flag.Int("rounds", 3, "files: rounds of each size against the bare server (the median ratio is printed)")
	items := flag.Int("items", 1_000_000, "lifecycle: items in the DEP whose key is rolled")
	duration := flag.Duration("duration", 5*time.Second, "how long to measure each case")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var err error
	switch *scenario {
	case "vault":
		err = vaultScenario(*duration)
	case "envelope":
		err = envelopeScenario()
	case "keyring":
		err = keyringScenario()
	case "service":
		err = serviceScenario(*duration)
	case "lifecycle":
		err = lifecycleScenario(*items)
	case "nodes":
		err = nodesScenario(*duration, *callers, *trials, *ckBinary)
	case "files":
		var s, m []int64
		if s, err = mebibytes(*sizes); err == nil {
			if m, err = mebibytes(*memSizes); err == nil {
				err = filesScenario(s, m, strings.Split(*stores, ","), *rounds, *ckBinary)
			}
		}
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// mebibytes reads a comma-separated list of sizes in MiB, in bytes.
func mebibytes(list string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %q: give whole MiB, e.g. 256,1024", f)
		}
		out = append(out, n<<20)
	}
	return out, nil
}

// measure runs op from n goroutines for d and returns operations per second.
func measure(n int, d time.Duration, op func() error) (float64, error) {
	var count atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds(), firstErr
}

// vaultScenario: wrap and unwrap through the official azkeys client over
// HTTPS against the built-in vault (RSA-2048, RSA-OAEP-256), against raw
// crypto/rsa in this process.
func vaultScenario(d time.Duration) error {
	ctx := context.Background()
	env, stop, err := startVault()
	if err != nil {
		return err
	}
	defer stop()
	admin := env.Client
	var v struct{ URI string }
	for _, step := range []struct {
		method, path string
		body         any
		out          any
	}{
		{"POST", "/tenants", map[string]string{"name": "Bench"}, nil},
		{"POST", "/tenants/Bench/principals", map[string]string{"name": "owner@bench.example"}, nil},
		{"POST", "/tenants/Bench/principals", map[string]string{"name": "00000002-0000-0ff1-ce00-000000000000"}, nil},
		{"POST", "/subscriptions", map[string]string{"id": "00000000-0000-0000-0000-0000000000b1", "name": "B", "tenant": "Bench", "owner": "owner@bench.example"}, nil},
		{"POST", "/vaults", map[string]any{"name": "benchvault", "subscription": "00000000-0000-0000-0000-0000000000b1", "region": "eastus", "sku": "premium"}, &v},
		{"PUT", "/vaults/benchvault/accessPolicies/owner@bench.example", map[string]any{"permissions": map[string][]string{"keys": {"all"}}}, nil},
		{"PUT", "/vaults/benchvault/accessPolicies/00000002-0000-0ff1-ce00-000000000000", map[string]any{"permissions": map[string][]string{"keys": {"get", "wrapKey", "unwrapKey"}}}, nil},
	} {
		if err := admin.Do(ctx, step.method, step.path, step.body, step.out); err != nil {
			return fmt.Errorf("set up: %s %s: %w", step.method, step.path, err)
		}
	}
	owner, err := admin.KeysClient(v.URI, "owner@bench.example")
	if err != nil {
		return err
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv.Precompute()
	jwk := &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeRSA), N: priv.N.Bytes(), E: []byte{1, 0, 1}, D: priv.D.Bytes(), P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes()}
	if _, err := owner.ImportKey(ctx, "benchkey", azkeys.ImportKeyParameters{Key: jwk, HSM: to.Ptr(true)}, nil); err != nil {
		return err
	}
	workload, err := admin.KeysClient(v.URI, "00000002-0000-0ff1-ce00-000000000000")
	if err != nil {
		return err
	}
	dek := make([]byte, 32)
	rand.Read(dek)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, dek, nil)
	if err != nil {
		return err
	}
	alg := to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256)
	ops := map[string]func() error{
		"raw rsa.DecryptOAEP": func() error { _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, nil); return err },
		"raw rsa.EncryptOAEP": func() error {
			_, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, dek, nil)
			return err
		},
		"azkeys UnwrapKey": func() error {
			_, err := workload.UnwrapKey(ctx, "benchkey", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: wrapped}, nil)
			return err
		},
		"azkeys WrapKey": func() error {
			_, err := workload.WrapKey(ctx, "benchkey", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: dek}, nil)
			return err
		},
	}
	// Warm up connections, tokens and the key cache.
	for _, name := range []string{"azkeys UnwrapKey", "azkeys WrapKey"} {
		if _, err := measure(2, 300*time.Millisecond, ops[name]); err != nil {
			return err
		}
	}
	fmt.Printf("Vault wrap/unwrap, RSA-2048 RSA-OAEP-256, %s per case, GOMAXPROCS=%d, %s\n\n", d, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| operation | callers | ops/s | baseline | baseline ops/s | ratio |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, pair := range [][2]string{{"azkeys UnwrapKey", "raw rsa.DecryptOAEP"}, {"azkeys WrapKey", "raw rsa.DecryptOAEP"}, {"azkeys WrapKey", "raw rsa.EncryptOAEP"}} {
		for _, n := range []int{1, 2} {
			base, err := measure(n, d, ops[pair[1]])
			if err != nil {
				return err
			}
			got, err := measure(n, d, ops[pair[0]])
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d | %.0f | %s | %.0f | %.2f |\n", pair[0], n, got, pair[1], base, got/base)
		}
	}
	return nil
}

// startVault runs a two-region vault in a temporary directory.
func startVault() (*vaulttest.Env, func(), error) {
	dir, err := os.MkdirTemp("", "ck-bench-")
	if err != nil {
		return nil, nil, err
	}
	env, stop, err := vaulttest.StartE(vaulttest.Options{Dir: dir}, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return env, func() { stop(); os.RemoveAll(dir) }, nil
}

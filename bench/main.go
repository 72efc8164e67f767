// Command bench runs customerkey's server-scenario benchmarks and prints
// each result next to a baseline measured in the same run, as a markdown
// table for docs/performance.md.
//
//	go run ./bench -scenario vault -duration 5s
//	go run ./bench -scenario files -sizes 256,1024 -mem-sizes 16,256,2048
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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
	pg := flag.Bool("pg", false, "vault: store the vault in PostgreSQL (CK_TEST_POSTGRES_URL), as vault nodes sharing a database do")
	dataPlane := flag.Bool("dataplane", false, "service: stop after the data plane (no re-assignment, no recovery)")
	only := flag.String("only", "", `service: run only this data-plane case, e.g. "GET 1" (for a profile)`)
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file")
	flag.Parse()
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(*memprofile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
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
		err = vaultScenario(*duration, *pg)
	case "envelope":
		err = envelopeScenario()
	case "keyring":
		err = keyringScenario()
	case "service":
		err = serviceScenario(*duration, *dataPlane, *only)
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

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rounds is how many alternating slices measurePair splits a case into.
const rounds = 10

// measurePair measures op against its baseline base, each from n
// goroutines, in alternating slices (base, op, base, op, ...) that share d
// between them, so that a change in the machine's load (other processes
// on the same cores) hits both alike. It returns each one's operations
// per second over all its slices, the median of the slices' ratios
// (op/base), and their range.
func measurePair(n int, d time.Duration, base, op func() error) (baseRate, opRate, median, lo, hi float64, err error) {
	slice := d / (2 * rounds)
	var baseSum, opSum float64
	var baseCPU, opCPU time.Duration
	ratios := make([]float64, 0, rounds)
	for range rounds {
		c0 := processCPU()
		b, err := measure(n, slice, base)
		if err != nil {
			return 0, 0, 0, 0, 0, err
		}
		c1 := processCPU()
		o, err := measure(n, slice, op)
		if err != nil {
			return 0, 0, 0, 0, 0, err
		}
		baseCPU, opCPU = baseCPU+c1-c0, opCPU+processCPU()-c1
		baseSum, opSum = baseSum+b, opSum+o
		ratios = append(ratios, o/b)
	}
	slices.Sort(ratios)
	median = (ratios[(rounds-1)/2] + ratios[rounds/2]) / 2
	if os.Getenv("CK_BENCH_CPU") != "" { // process CPU per operation, client and server together
		perOp := func(cpu time.Duration, rate float64) time.Duration {
			return time.Duration(float64(cpu) / (rate * slice.Seconds()))
		}
		fmt.Fprintf(os.Stderr, "cpu per op: baseline %v, operation %v\n", perOp(baseCPU, baseSum), perOp(opCPU, opSum))
	}
	return baseSum / rounds, opSum / rounds, median, ratios[0], ratios[rounds-1], nil
}

// vaultScenario: wrap and unwrap through the official azkeys client over
// HTTPS against the built-in vault (RSA-2048, RSA-OAEP-256), against raw
// crypto/rsa in this process.
func vaultScenario(d time.Duration, pg bool) error {
	ctx := context.Background()
	opts := vaulttest.Options{}
	if pg {
		if opts.PostgresURL = os.Getenv("CK_TEST_POSTGRES_URL"); opts.PostgresURL == "" {
			return fmt.Errorf("vault -pg needs CK_TEST_POSTGRES_URL")
		}
	}
	env, stop, err := startVaultWith(opts)
	if err != nil {
		return err
	}
	defer stop()
	if env.Events != nil {
		// What a vault node over PostgreSQL pays per request to honour
		// another node's change at once: one read of the last event.
		const reads = 2000
		start := time.Now()
		for range reads {
			if _, err := env.Events.Head(ctx); err != nil {
				return err
			}
		}
		fmt.Printf("PostgreSQL store: the per-request read of the last event's sequence takes %v (mean of %d)\n\n", time.Since(start)/reads, reads)
	}
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
	// The ceiling: the same client against a bare HTTPS server that only
	// decodes the request, runs rsa.DecryptOAEP and answers (no token, no
	// store, no log). What azkeys, TLS and HTTP cost per call is in it, so
	// the vault against it is what the vault itself costs.
	bare := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Value string `json:"value"` // base64url
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ct, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Value, "="))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kid":"https://bare.localhost/keys/benchkey/0123456789abcdef0123456789abcdef","value":"` + base64.RawURLEncoding.EncodeToString(out) + `"}`))
	}))
	bare.EnableHTTP2 = false
	bare.StartTLS()
	defer bare.Close()
	bareClient, err := azkeys.NewClient(bare.URL, nil, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: bare.Client()}})
	if err != nil {
		return err
	}
	ops := map[string]func() error{
		"azkeys UnwrapKey, bare server": func() error {
			_, err := bareClient.UnwrapKey(ctx, "benchkey", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: wrapped}, nil)
			return err
		},
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
	for _, name := range []string{"azkeys UnwrapKey", "azkeys WrapKey", "azkeys UnwrapKey, bare server"} {
		if _, err := measure(2, 300*time.Millisecond, ops[name]); err != nil {
			return err
		}
	}
	fmt.Printf("Vault wrap/unwrap, RSA-2048 RSA-OAEP-256, %s per case, GOMAXPROCS=%d, %s\n\n", d, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("Each case alternates baseline and operation in %d slices; ratio is the median of the slices' ratios, range their spread.\n\n", rounds)
	fmt.Println("| operation | callers | ops/s | baseline | baseline ops/s | ratio | range |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, pair := range [][2]string{{"azkeys UnwrapKey", "raw rsa.DecryptOAEP"}, {"azkeys UnwrapKey, bare server", "raw rsa.DecryptOAEP"}, {"azkeys UnwrapKey", "azkeys UnwrapKey, bare server"}, {"azkeys WrapKey", "raw rsa.DecryptOAEP"}, {"azkeys WrapKey", "raw rsa.EncryptOAEP"}} {
		for _, n := range []int{1, 2} {
			base, got, ratio, lo, hi, err := measurePair(n, d, ops[pair[1]], ops[pair[0]])
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d | %.0f | %s | %.0f | %.2f | %.2f-%.2f |\n", pair[0], n, got, pair[1], base, ratio, lo, hi)
		}
	}
	return nil
}

// startVault runs a two-region vault in a temporary directory.
func startVault() (*vaulttest.Env, func(), error) { return startVaultWith(vaulttest.Options{}) }

func startVaultWith(opts vaulttest.Options) (*vaulttest.Env, func(), error) {
	dir, err := os.MkdirTemp("", "ck-bench-")
	if err != nil {
		return nil, nil, err
	}
	opts.Dir = dir
	env, stop, err := vaulttest.StartE(opts, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return env, func() { stop(); os.RemoveAll(dir) }, nil
}

// ckBinary is binary, or, if it is "", a ck built from ./cmd/ck into a
// temporary directory that cleanup removes.
func ckBinary(binary string) (string, func(), error) {
	if binary != "" {
		return binary, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ck-bench-bin-")
	if err != nil {
		return "", nil, err
	}
	binary = filepath.Join(dir, "ck")
	if out, err := exec.Command("go", "build", "-o", binary, "./cmd/ck").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build ./cmd/ck (run the bench from the module root, or give -ck): %v\n%s", err, out)
	}
	return binary, func() { os.RemoveAll(dir) }, nil
}

// apiCall sends one request to the service API at base with a bearer
// token and returns the answer's body, or an error with it for a status
// of 300 or more.
func apiCall(hc *http.Client, base, token, method, path string, body []byte, ct string) ([]byte, error) {
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data, nil
}

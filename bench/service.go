package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// bareDone reads a bare server's answer as e.call reads the service's:
// the whole body, and a status check.
func bareDone(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("bare server: %d %s", resp.StatusCode, data)
	}
	return nil
}

// serviceScenario: the HTTP data plane (4 KiB items, PUT and GET) against a
// bare Go HTTPS server that stores and returns the same bytes in the same
// store without any crypto; and re-assigning 10k mailboxes to a new DEP.
func serviceScenario(d time.Duration, dataPlaneOnly bool, only string) error {
	ctx := context.Background()
	e, err := startService(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	env, seed, ring, srv, call, must, op, admin := e.env, e.seed, e.ring, e.srv, e.call, e.must, e.op, e.admin
	if err := must(call(admin, "POST", "/v1/tenants/Contoso/mailboxes", []byte(`{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-A"}`), "application/json")); err != nil {
		return err
	}

	// The bare baseline: same store, same TLS client, no crypto, no auth.
	var bareServed served
	bare := httptest.NewUnstartedServer(bareServed.wrap(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/items/")
		switch r.Method {
		case http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			env.Store.PutItem(r.Context(), store.Item{Tenant: "bare", Mailbox: "alice@contoso.com", ID: id, Kind: "message", Version: 1, Sealed: body, Created: time.Now()})
			w.Write([]byte(`{"id":"` + id + `"}`))
		default:
			it, err := env.Store.Item(r.Context(), "bare", "alice@contoso.com", id)
			if err != nil {
				http.Error(w, err.Error(), 404)
				return
			}
			w.Write(it.Sealed)
		}
	}))
	bare.TLS = srv.TLS
	bare.StartTLS()
	defer bare.Close()
	bareClient := bare.Client()
	bareClient.Transport.(*http.Transport).MaxIdleConnsPerHost = 8

	content := make([]byte, 4096)
	rand.Read(content)
	var n atomic.Int64
	ops := map[string]func() error{
		"service PUT": func() error {
			return must(call(admin, "PUT", fmt.Sprintf("/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m%d", n.Add(1)%1000), content, "application/octet-stream"))
		},
		"service GET": func() error {
			return must(call(admin, "GET", fmt.Sprintf("/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m%d", n.Add(1)%1000), nil, ""))
		},
		"bare PUT": func() error {
			req, _ := http.NewRequest("PUT", bare.URL+fmt.Sprintf("/items/m%d", n.Add(1)%1000), bytes.NewReader(content))
			return bareDone(bareClient.Do(req))
		},
		"bare GET": func() error {
			return bareDone(bareClient.Get(bare.URL + fmt.Sprintf("/items/m%d", n.Add(1)%1000)))
		},
	}
	for i := range 1000 { // items m0..m999 to read, in both servers
		n.Store(int64(i - 1))
		if err := ops["service PUT"](); err != nil {
			return err
		}
		n.Store(int64(i - 1))
		if err := ops["bare PUT"](); err != nil {
			return err
		}
	}
	fmt.Printf("Service data plane, 4 KiB items over HTTPS, %s per case, GOMAXPROCS=%d, %s\n\n", d, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("Each case alternates the bare server and the service in %d slices; ratio is the median of the slices' ratios, range their spread.\n\n", rounds)
	fmt.Println("Handler time is the mean wall time inside each server's handler per request; the rest of an operation is the client, TLS and the network, alike for both.")
	fmt.Println()
	fmt.Println("| operation | callers | service ops/s | bare server ops/s | ratio | range | handler time: service | bare |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, verb := range []string{"PUT", "GET"} {
		for _, callers := range []int{1, 4} {
			if only != "" && only != fmt.Sprintf("%s %d", verb, callers) {
				continue
			}
			// The search index catches up with the writes so far (a search
			// does it first): a GET case is not charged the index work of
			// the PUTs before it, which run a second after them otherwise.
			if verb == "GET" {
				if err := must(call(admin, "GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/search?q=settle", nil, "")); err != nil {
					return err
				}
			}
			bareServed.reset()
			e.served.reset()
			b, s, ratio, lo, hi, err := measurePair(callers, d, ops["bare "+verb], ops["service "+verb])
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %.2f | %.2f-%.2f | %.0f µs | %.0f µs |\n", verb, callers, s, b, ratio, lo, hi, e.served.mean(), bareServed.mean())
		}
	}
	if dataPlaneOnly {
		return nil
	}

	// Re-assignment of 10k mailboxes from DEP-A to DEP-B (Set-Mailbox each).
	const mailboxes = 10_000
	for i := range mailboxes {
		if err := env.Store.SetLicence(ctx, seed.Tenant, fmt.Sprintf("user%05d@contoso.com", i), "E5"); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := parallel(8, mailboxes, func(i int) error {
		return must(call(admin, "POST", "/v1/tenants/Contoso/mailboxes", []byte(fmt.Sprintf(`{"id":"user%05d@contoso.com","dataEncryptionPolicy":"DEP-A"}`, i)), "application/json"))
	}); err != nil {
		return err
	}
	created := time.Since(start)
	start = time.Now()
	if err := parallel(8, mailboxes, func(i int) error {
		return must(call(admin, "PATCH", fmt.Sprintf("/v1/tenants/Contoso/mailboxes/user%05d@contoso.com", i), []byte(`{"dataEncryptionPolicy":"DEP-B"}`), "application/json"))
	}); err != nil {
		return err
	}
	accepted := time.Since(start)
	// The re-wraps run as jobs: done when every mailbox reports DEP-B.
	depB, _ := env.Store.DEP(ctx, seed.Tenant, "mailbox", "DEP-B")
	onB := 0
	for onB < mailboxes {
		ms, err := env.Store.ListMailboxes(ctx, seed.Tenant)
		if err != nil {
			return err
		}
		onB = 0
		for _, m := range ms {
			if m.DEP == depB.ID {
				onB++
			}
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("after 5 minutes %d of %d mailboxes report DEP-B", onB, mailboxes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	moved := time.Since(start)
	fmt.Printf("\n10k mailboxes: created on DEP-A in %s; re-assigned to DEP-B (Set-Mailbox each, 8 callers; all accepted in %s) until all %d report DEP-B: %s (target <= 10 s)\n",
		created.Round(time.Millisecond), accepted.Round(time.Millisecond), onB, moved.Round(time.Millisecond))

	// Key-loss recovery (R3): DEP-C on new keys; then both keys of DEP-B
	// are deleted and the operator moves its 10k mailboxes to DEP-C through
	// the availability key. Baseline: the 10k Set-Mailbox re-assignment.
	var newKeys [2]string
	for i, kc := range seed.Keys {
		if _, err := kc.CreateKey(ctx, "replacement", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			return err
		}
		newKeys[i] = seed.Vaults[i].URI + "/keys/replacement"
	}
	if err := must(call(admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", []byte(fmt.Sprintf(`{"name":"DEP-C","azureKeyIDs":[%q,%q]}`, newKeys[0], newKeys[1])), "application/json")); err != nil {
		return err
	}
	for _, kc := range seed.Keys {
		if _, err := kc.DeleteKey(ctx, "key", nil); err != nil {
			return err
		}
	}
	ring.Evict(depB.ID)
	// The tenant's own recovery request (T2, T5): approved as made.
	reqJSON, err := call(admin, "POST", "/v1/tenants/Contoso/accessRequests", []byte(`{"action":"recover","dep":"DEP-B","to":"DEP-C","reason":"bench: both keys of DEP-B lost"}`), "application/json")
	if err != nil {
		return err
	}
	var ar client.AccessRequest
	if err := json.Unmarshal(reqJSON, &ar); err != nil {
		return err
	}
	start = time.Now()
	res, err := call(op, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-B/recover", []byte(fmt.Sprintf(`{"to":"DEP-C","request":%q}`, ar.ID)), "application/json")
	if err != nil {
		return err
	}
	var job client.Job
	if err := json.Unmarshal(res, &job); err != nil {
		return err
	}
	for job.State != "succeeded" {
		if job.State == "failed" {
			return fmt.Errorf("recovery job failed: %s", job.Error)
		}
		time.Sleep(5 * time.Millisecond)
		if res, err = call(op, "GET", "/v1/tenants/Contoso/jobs/"+job.ID, nil, ""); err != nil {
			return err
		}
		if err := json.Unmarshal(res, &job); err != nil {
			return err
		}
	}
	recovered := time.Since(start)
	fmt.Printf("recovery: %d mailboxes moved from DEP-B to DEP-C through the availability key, as a durable job, in %s (the Set-Mailbox re-assignment of 10k: %s)\n", job.Total, recovered.Round(time.Millisecond), moved.Round(time.Millisecond))
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines, stopping at the first error.
func parallel(workers, n int, fn func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// svcEnv is the service over the seed tenant's two vaults, with the
// tenant onboarded, its Exchange admin's token, DEP-A and DEP-B.
type svcEnv struct {
	env       *vaulttest.Env
	seed      vaulttest.Seed
	ring      *keyring.Keyring
	kms       kms.Client
	srv       *httptest.Server
	op, admin string
	call      func(token, method, path string, body []byte, ct string) ([]byte, error)
	must      func([]byte, error) error
	close     func()
	served    served // time inside the service's handler
}

func startService(ctx context.Context) (*svcEnv, error) {
	env, stop, err := startVault()
	if err != nil {
		return nil, err
	}
	e := &svcEnv{env: env, close: stop}
	fail := func(err error) (*svcEnv, error) { e.close(); return nil, err }
	if e.seed, err = env.SeedTenant(); err != nil {
		return fail(err)
	}
	// The service as ck server builds it, over the bench's vault and store;
	// the seed grants the Exchange workload only, so sites use it too.
	svc, err := service.New(ctx, service.Config{
		Version:   service.Version,
		DataDir:   env.Dir,
		Logger:    slog.New(slog.DiscardHandler),
		Store:     service.StoreConfig{Use: env.Store},
		Service:   &service.ServiceConfig{}, // no listener: httptest serves the handler
		Vaults:    service.VaultsConfig{Connection: &env.Workload},
		Workloads: map[string]service.WorkloadConfig{"mailbox": {App: client.ExchangeApp}, "site": {App: client.ExchangeApp}},
	})
	if err != nil {
		return fail(err)
	}
	e.kms, e.ring, e.op = svc.KMS("mailbox"), svc.Keyring("mailbox"), svc.OperatorToken()
	jctx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() { svc.RunJobs(jctx); close(jobsDone) }()
	e.srv = httptest.NewTLSServer(e.served.wrap(svc.Handler().ServeHTTP))
	e.close = func() { e.srv.Close(); stopJobs(); <-jobsDone; svc.Close(); stop() }
	hc := e.srv.Client()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 8
	e.call = func(token, method, path string, body []byte, ct string) ([]byte, error) {
		return apiCall(hc, e.srv.URL, token, method, path, body, ct)
	}
	e.must = func(_ []byte, err error) error { return err }
	if err := e.must(e.call(e.op, "POST", "/v1/tenants", []byte(fmt.Sprintf(`{"name":"Contoso","id":%q}`, e.seed.Tenant)), "application/json")); err != nil {
		return fail(err)
	}
	for _, sc := range []string{"EXO", "SPO"} {
		if err := env.Store.SetOnboarded(ctx, store.Onboarding{Tenant: e.seed.Tenant, Scenario: sc, RequestID: "bench", Officers: []string{"cso@contoso.com"}, Enabled: time.Now()}); err != nil {
			return fail(err)
		}
	}
	if err := env.Store.SetLicence(ctx, e.seed.Tenant, "alice@contoso.com", "E5"); err != nil {
		return fail(err)
	}
	tokJSON, err := e.call(e.op, "POST", "/v1/tenants/Contoso/tokens", []byte(`{"subject":"admin@contoso.com","role":"global-admin","validFor":"24h"}`), "application/json")
	if err != nil {
		return fail(err)
	}
	var tok struct{ Token string }
	json.Unmarshal(tokJSON, &tok)
	e.admin = tok.Token
	keys := fmt.Sprintf(`[%q,%q]`, e.seed.KeyURIs[0], e.seed.KeyURIs[1])
	for _, name := range []string{"DEP-A", "DEP-B"} {
		if err := e.must(e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", []byte(fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, name, keys)), "application/json")); err != nil {
			return fail(err)
		}
	}
	return e, nil
}

// served sums the wall time a server's handler takes per request: what
// the server does, apart from the client, TLS and the network.
type served struct{ ns, n atomic.Int64 }

func (t *served) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h(w, r)
		t.ns.Add(int64(time.Since(start)))
		t.n.Add(1)
	}
}

func (t *served) reset() { t.ns.Store(0); t.n.Store(0) }

// mean is the mean time per request in µs.
func (t *served) mean() float64 {
	if n := t.n.Load(); n > 0 {
		return float64(t.ns.Load()) / float64(n) / 1e3
	}
	return 0
}

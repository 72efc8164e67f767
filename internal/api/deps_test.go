package api_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// depEnv is the service over the seed tenant's two vaults.
type depEnv struct {
	*env
	vault  *vaulttest.Env
	seed   vaulttest.Seed
	st     store.Store
	admin  string // Contoso's Exchange admin token
	global string // Contoso's global admin token (the first, which the operator issued)
	keys   string // the two key URIs as JSON
	ring   *keyring.Keyring
	api    *api.Server // its route table
	// master is the keystore's file (a restart reads it again).
	master string
	// runJobs starts the job runner (when envOptions.holdJobs kept it, or
	// after stopJobs).
	runJobs, stopJobs func()
	// officerKeys are the private keys of the officers whose public keys
	// are registered (cso@contoso.com from the start).
	officerKeys map[string]ed25519.PrivateKey
}

func startDEPs(t *testing.T) *depEnv {
	return startDEPsOn(t, envOptions{})
}

// envOptions configure the vault and the service of a depEnv.
type envOptions struct {
	vaulttest.Options
	purgeApprovals int
	holdJobs       bool          // queue jobs but do not run them until runJobs
	probe          time.Duration // the revocation probe's interval (default: never in tests)
	// domains are vault domains the service may reach besides the
	// vault's regions (loopback ports of a test's listeners).
	domains []string
	// events, if set, makes the bus of the service over the vault's
	// store (schema: its PostgreSQL schema, "" on SQLite).
	events     func(t *testing.T, st store.Store, schema string) events.Bus
	limits     api.Limits                    // the largest contents (zero: the defaults)
	blobs      func(store.Store) blob.Store  // the sealed chunks of large items, given the store (nil: the store's)
	rewrapRate float64                       // containers a job re-wraps per second (0: no bound)
	store      func(store.Store) store.Store // what the service reaches the store through (nil: the vault's store itself)
}

func blobsOf(opts envOptions, st store.Store) blob.Store {
	if opts.blobs == nil {
		return nil
	}
	return opts.blobs(st)
}

func startDEPsOn(t *testing.T, opts envOptions) *depEnv {
	t.Helper()
	ctx := context.Background()
	v := vaulttest.Start(t, opts.Options)
	seed, err := v.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	masterFile := filepath.Join(t.TempDir(), "service-keystore.json")
	master, err := keystore.OpenFile(masterFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.NewAzure(kms.AzureConfig{Credential: v.WorkloadClient.Credential(dep.ExchangeApp), HTTPClient: v.Client.HTTP(), Domains: append(v.Client.VaultDomains(), opts.domains...)})
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring.New(c, keyring.NewKeystore(v.Store, master), keyring.Config{Audit: audit.New(v.Store, nil, nil).KeyringEvent(dep.ExchangeApp)})
	// The seed tenant grants only the Exchange workload; the other kinds
	// reuse it here (which principal reaches the keys is not under test).
	ws := map[dep.Kind]dep.Workload{dep.Mailbox: {App: dep.ExchangeApp, KMS: c, Ring: ring}, dep.MDEP: {App: dep.ExchangeApp, KMS: c, Ring: ring}, dep.Site: {App: dep.ExchangeApp, KMS: c, Ring: ring}}
	_, signer, _ := ed25519.GenerateKey(nil)
	probe := opts.probe
	if probe == 0 {
		probe = -1 // tests that want it say so
	}
	var bus events.Bus
	if opts.events != nil {
		bus = opts.events(t, v.Store, v.PostgresSchema)
	}
	used, blobs := v.Store, blobsOf(opts, v.Store)
	if opts.store != nil {
		used = opts.store(v.Store)
		if blobs == nil {
			blobs = v.Store.(interface{ Blobs() *sqlstore.Blobs }).Blobs() // the store's own, which the wrapper hides
		}
	}
	s, err := service.NewAPI(service.Parts{Store: used, Workloads: ws, Azure: onboarding.VaultDirectory{C: v.WorkloadClient}, Signer: signer, PurgeApprovals: opts.purgeApprovals, RevocationProbe: probe, Events: bus, Limits: opts.limits, RewrapRate: opts.rewrapRate, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	// The job runner: started now, or by runJobs with holdJobs; stopJobs
	// stops it (running jobs go back to the queue) until runJobs again.
	var jobsMu sync.Mutex
	var stopRunner func()
	runJobs := func() {
		jobsMu.Lock()
		defer jobsMu.Unlock()
		if stopRunner != nil {
			return
		}
		jctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.RunJobs(jctx); close(done) }()
		stopRunner = func() { cancel(); <-done }
	}
	stopJobs := func() {
		jobsMu.Lock()
		defer jobsMu.Unlock()
		if stopRunner != nil {
			stopRunner()
			stopRunner = nil
		}
	}
	t.Cleanup(stopJobs)
	if !opts.holdJobs {
		runJobs()
	}
	op, err := tenant.EnsureOperatorToken(ctx, v.Store, filepath.Join(t.TempDir(), tenant.OperatorTokenFile), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &depEnv{env: &env{t: t, srv: srv, operator: op}, vault: v, seed: seed, st: v.Store, ring: ring, api: s, master: masterFile, runJobs: runJobs, stopJobs: stopJobs}
	for _, name := range []string{"Contoso", "Fabrikam"} {
		id := ""
		if name == "Contoso" {
			id = seed.Tenant
		}
		if st, _, body := e.call(op, "POST", "/v1/tenants", fmt.Sprintf(`{"name":%q,"id":%q}`, name, id)); st != 201 {
			t.Fatalf("tenant %s: %d %v", name, st, body)
		}
	}
	_, _, tok := e.call(op, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	e.global = tok["token"].(string)
	_, _, tok = e.call(e.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"exo@contoso.com","role":"exchange-admin"}`)
	e.admin = tok["token"].(string)
	e.keys = fmt.Sprintf(`[%q,%q]`, seed.KeyURIs[0], seed.KeyURIs[1])
	// Not yet onboarded: DEPs are refused (O3).
	st, ct, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"too-early","azureKeyIDs":%s}`, e.keys))
	e.wantProblem(400, "O3.Onboarded", st, ct, body)
	// (The onboarding rules themselves are covered by the CLI session dev_onboarding.)
	for _, u := range []string{"alice@contoso.com", "bob@contoso.com"} {
		if err := v.Store.SetLicence(ctx, seed.Tenant, u, "E5"); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range []string{"EXO", "MDEP", "SPO"} {
		if err := v.Store.SetOnboarded(ctx, store.Onboarding{Tenant: seed.Tenant, Scenario: sc, RequestID: "test", Officers: []string{"cso@contoso.com"}, Enabled: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	e.officerKeys = map[string]ed25519.PrivateKey{}
	e.registerOfficer("cso@contoso.com")
	return e
}

func TestMailboxDEPLimitAndAvailabilityKeys(t *testing.T) {
	e := startDEPs(t)
	ids := map[string]bool{}
	for i := range dep.MaxMailboxDEPs {
		st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"dep-%02d","azureKeyIDs":%s}`, i, e.keys))
		if st != 201 {
			t.Fatalf("DEP %d: %d %v", i, st, body)
		}
		ids[body["id"].(string)] = true
	}
	if len(ids) != dep.MaxMailboxDEPs {
		t.Fatalf("%d distinct DEP IDs", len(ids))
	}
	st, ct, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"dep-51","azureKeyIDs":%s}`, e.keys))
	e.wantProblem(400, "D1.Limit", st, ct, body)

	// Each DEP got its own availability key, and each really unwraps its DEP key.
	ds, err := e.st.ListDEPs(context.Background(), e.seed.Tenant, "mailbox")
	if err != nil {
		t.Fatal(err)
	}
	avks := map[string]bool{}
	for _, d := range ds {
		var k keyring.DEP
		k.ID, k.Tenant = d.ID, d.Tenant
		if err := k.UnmarshalKeys(d.Keys); err != nil {
			t.Fatal(err)
		}
		avk, err := e.st.AvailabilityKey(context.Background(), k.AvailabilityKeyID)
		if err != nil || avk.DEP != d.ID || avk.DestroyedAt != nil {
			t.Fatalf("DEP %s availability key: %+v %v", d.Name, avk, err)
		}
		avks[k.AvailabilityKeyID] = true
	}
	if len(avks) != dep.MaxMailboxDEPs {
		t.Fatalf("%d availability keys for %d DEPs", len(avks), dep.MaxMailboxDEPs)
	}
}

func TestMailboxDEPIsolationAndFailedCreation(t *testing.T) {
	e := startDEPs(t)
	st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso-EXO-DEP-1","azureKeyIDs":%s}`, e.keys))
	if st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	id := body["id"].(string)
	_, _, ftok := e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	eve := ftok["token"].(string)
	for _, path := range []string{"/v1/tenants/Contoso/dataEncryptionPolicies", "/v1/tenants/Contoso/dataEncryptionPolicies/" + id} {
		st, ct, body := e.call(eve, "GET", path, "")
		e.wantProblem(404, "Tenant.Exists", st, ct, body)
	}
	st, ct, body := e.call(eve, "GET", "/v1/tenants/Fabrikam/dataEncryptionPolicies/"+id, "")
	e.wantProblem(404, "D1.Exists", st, ct, body)
	st, ct, body = e.call(eve, "PATCH", "/v1/tenants/Contoso/dataEncryptionPolicies/"+id, `{"enabled":false}`)
	e.wantProblem(404, "Tenant.Exists", st, ct, body)

	// Unwrap refused on one vault: the DEP is not created, and the error
	// names the missing permission.
	if err := e.vault.Client.Do(context.Background(), "PUT", "/vaults/"+e.seed.Vaults[1].Name+"/accessPolicies/"+dep.ExchangeApp,
		map[string]any{"permissions": map[string]any{"keys": []string{"get", "wrapKey"}}}, nil); err != nil {
		t.Fatal(err)
	}
	st, ct, body = e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"NoUnwrap","azureKeyIDs":%s}`, e.keys))
	e.wantProblem(400, "KeyAccessPermissions", st, ct, body)
	if !strings.Contains(body["detail"].(string), "unwrapKey") {
		t.Fatalf("detail does not say which permission: %v", body["detail"])
	}
	ds, _ := e.st.ListDEPs(context.Background(), e.seed.Tenant, "mailbox")
	if len(ds) != 1 {
		t.Fatalf("%d DEPs after a refused creation, want 1", len(ds))
	}
}

// grantWorkload sets the workload's key permissions on both seed vaults
// ("get" alone removes its wrap and unwrap rights: R5, R6 step 1).
// onboardEXO records the seed tenant as onboarded for Exchange, with its
// authorised officers (as an Enable that passed would).
func (e *depEnv) onboardEXO(officers ...string) {
	e.t.Helper()
	if err := e.st.SetOnboarded(context.Background(), store.Onboarding{Tenant: e.seed.Tenant, Scenario: "EXO", RequestID: "test", Officers: officers, Enabled: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *depEnv) grantWorkload(perms ...string) {
	e.t.Helper()
	for _, v := range e.seed.Vaults {
		if err := e.vault.Client.Do(context.Background(), "PUT", "/vaults/"+v.Name+"/accessPolicies/"+e.seed.Workload, map[string]any{"permissions": map[string]any{"keys": perms}}, nil); err != nil {
			e.t.Fatal(err)
		}
	}
}

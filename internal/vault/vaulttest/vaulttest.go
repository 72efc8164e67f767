// Package vaulttest starts a real built-in vault (two HTTPS regions, eastus
// and westus, over SQLite in a temporary directory) for tests, with a clock
// the test controls.
package vaulttest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx" for the schema admin connection

	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/vaultclient"
)

// Env is a running vault.
type Env struct {
	Server *vault.Server
	Store  store.Store
	Config vaultclient.Config
	Client *vaultclient.Client // acts with the admin token
	// Workload is the connection the Customer Key service is given (the
	// workload token), WorkloadClient a client acting with it.
	Workload       vaultclient.Config
	WorkloadClient *vaultclient.Client
	Clock          *Clock
	Dir            string
	// PostgresSchema is the schema holding the store when it is PostgreSQL.
	PostgresSchema string
	// Events is the node's events bus over PostgreSQL (nil on SQLite).
	Events *events.Postgres
	pgURL  string // the store's URL, schema included
}

// Clock is a settable clock, starting at the real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Options change the vault under test.
type Options struct {
	Dir          string        // data dir; default t.TempDir()
	FeatureDelay time.Duration // default 1 ms
	// PostgresURL, if set, stores everything in a fresh schema of that
	// PostgreSQL database (dropped when the vault stops) instead of SQLite,
	// and the vault's snapshot follows the events of that schema
	// (events.NewPostgres), as vault nodes sharing one database do.
	PostgresURL string
	// Join, if set, starts another vault node of Join's (which must be on
	// PostgreSQL): the same schema and the same data dir (CA, master key,
	// issuer key, admin token), its own listeners, store connections and
	// events bus. Dir and PostgresURL are ignored; the schema is dropped
	// when Join stops.
	Join *Env
	// TokenTTL is the issuer's access-token lifetime (default an hour).
	// Clients take a new token on every request once theirs is within
	// five minutes of expiry (azcore), so a short one makes a principal's
	// deletion reach them at once.
	TokenTTL time.Duration
}

// Start runs a vault until the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	env, stop, err := StartE(opts, t.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return env
}

// StartE runs a vault and returns a function that stops it.
func StartE(opts Options, tempDir func() string) (*Env, func(), error) {
	if opts.Join != nil {
		if opts.Join.pgURL == "" {
			return nil, nil, errors.New("vaulttest: Join needs a vault on PostgreSQL")
		}
		opts.Dir = opts.Join.Dir
	}
	if opts.Dir == "" {
		opts.Dir = tempDir()
	}
	if opts.FeatureDelay == 0 {
		opts.FeatureDelay = time.Millisecond
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var st store.Store
	var err error
	dropSchema := func() {}
	schema := ""
	pgURL := ""
	switch {
	case opts.Join != nil:
		pgURL, schema = opts.Join.pgURL, opts.Join.PostgresSchema
		st, err = sqlstore.OpenPostgres(ctx, pgURL)
	case opts.PostgresURL != "":
		st, schema, pgURL, dropSchema, err = openSchema(ctx, opts.PostgresURL)
	default:
		st, err = sqlstore.OpenSQLite(ctx, filepath.Join(opts.Dir, "ck.db"))
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	var bus *events.Postgres
	closeBus := func() {}
	if pgURL != "" {
		if bus, err = events.NewPostgres(ctx, pgURL, events.Config{Store: st, Node: "vaulttest"}); err != nil {
			cancel()
			st.Close()
			dropSchema()
			return nil, nil, err
		}
		closeBus = func() { bus.Close() }
	}
	clock := &Clock{}
	vc := vault.Config{
		DataDir:      opts.Dir,
		Store:        st,
		Regions:      []vault.RegionConfig{{Name: "eastus", Addr: "127.0.0.1:0"}, {Name: "westus", Addr: "127.0.0.1:0"}},
		FeatureDelay: opts.FeatureDelay,
		TokenTTL:     opts.TokenTTL,
		Now:          clock.Now,
		Drill:        true,
	}
	if bus != nil {
		vc.Events = bus
	}
	srv, err := vault.New(vc)
	if err != nil {
		cancel()
		closeBus()
		st.Close()
		dropSchema()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	cfg, wcfg := srv.ClientConfig(), srv.WorkloadConfig()
	client, err := vaultclient.New(&cfg)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	wclient, err := vaultclient.New(&wcfg)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	stop := func() {
		client.HTTP().CloseIdleConnections()
		wclient.HTTP().CloseIdleConnections()
		cancel()
		<-done
		closeBus()
		st.Close()
		dropSchema()
	}
	return &Env{Server: srv, Store: st, Config: cfg, Client: client, Workload: wcfg, WorkloadClient: wclient, Clock: clock, Dir: opts.Dir, PostgresSchema: schema, Events: bus, pgURL: pgURL}, stop, nil
}

// openSchema opens a store in a new schema of the PostgreSQL database at
// url and returns the schema, the store's URL (url with the schema) and a
// function that drops it.
func openSchema(ctx context.Context, url string) (store.Store, string, string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "ck_vaulttest_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		return nil, "", "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return nil, "", "", nil, err
	}
	drop := func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	url += sep + "search_path=" + schema
	st, err := sqlstore.OpenPostgres(ctx, url)
	if err != nil {
		drop()
		return nil, "", "", nil, err
	}
	return st, schema, url, drop, nil
}

// Seed is a tenant set up as the seed documents describe: Contoso, a key
// administrator, the service principals Customer Key requires (Exchange
// Online, the onboarding application, M365DataAtRestEncryption), and one
// premium vault with one RSA-HSM key in each region (eastus, westus), in
// two subscriptions, the workload allowed get, wrapKey and unwrapKey.
type Seed struct {
	Tenant   string // tenant ID
	Admin    string // admin@contoso.com: all key permissions
	Workload string // the Exchange Online application ID
	Vaults   [2]vaultclient.Vault
	KeyURIs  [2]string         // versionless
	Keys     [2]*azkeys.Client // as the admin
}

// ExchangeApp is the Exchange Online application ID.
const ExchangeApp = "00000002-0000-0ff1-ce00-000000000000"

// SeedTenant creates the Seed tenant in a fresh vault.
func (e *Env) SeedTenant() (Seed, error) { return e.SeedTenantNamed("Contoso") }

// SeedTenantNamed creates a tenant set up as the Seed, in its own
// directory, under another name: admin@{name}.com, vaults {name}-eastus
// and {name}-westus (lower case). The workload is the same application
// in every directory, as in Microsoft 365.
func (e *Env) SeedTenantNamed(tenant string) (Seed, error) {
	ctx := context.Background()
	lower := strings.ToLower(tenant)
	s := Seed{Admin: "admin@" + lower + ".com", Workload: ExchangeApp}
	do := func(method, path string, in, out any) error { return e.Client.Do(ctx, method, path, in, out) }
	var t vaultclient.Tenant
	if err := do("POST", "/tenants", map[string]any{"name": tenant}, &t); err != nil {
		return s, err
	}
	s.Tenant = t.ID
	// The admin, the workload, and the two applications every Customer Key
	// tenant registers (onboarding, M365DataAtRestEncryption).
	for _, p := range []string{s.Admin, s.Workload, "19f7f505-34aa-44a4-9dcc-6a768854d2ea", "c066d759-24ae-40e7-a56f-027002b5d3e4"} {
		if err := do("POST", "/tenants/"+tenant+"/principals", map[string]any{"name": p}, nil); err != nil {
			return s, err
		}
	}
	for i, region := range []string{"eastus", "westus"} {
		var sub vaultclient.Subscription
		subName := "CK-" + region
		if tenant != "Contoso" {
			subName = tenant + "-CK-" + region
		}
		if err := do("POST", "/subscriptions", map[string]any{"name": subName, "tenant": tenant, "owner": s.Admin}, &sub); err != nil {
			return s, err
		}
		name := lower + "-" + region
		if err := do("POST", "/vaults", map[string]any{"name": name, "subscription": sub.ID, "region": region, "sku": "premium"}, &s.Vaults[i]); err != nil {
			return s, err
		}
		if err := do("PUT", "/vaults/"+name+"/accessPolicies/"+s.Admin, map[string]any{"permissions": map[string]any{"keys": []string{"all"}}}, nil); err != nil {
			return s, err
		}
		if err := do("PUT", "/vaults/"+name+"/accessPolicies/"+s.Workload, map[string]any{"permissions": map[string]any{"keys": []string{"get", "wrapKey", "unwrapKey"}}}, nil); err != nil {
			return s, err
		}
		kc, err := e.Client.KeysClient(s.Vaults[i].URI, s.Admin)
		if err != nil {
			return s, err
		}
		if _, err := kc.CreateKey(ctx, "key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			return s, err
		}
		s.Keys[i], s.KeyURIs[i] = kc, s.Vaults[i].URI+"/keys/key"
	}
	return s, nil
}

// Fault switches a region's fault drill, for a duration if dur > 0.
func (e *Env) Fault(region, mode string, delay, dur time.Duration) error {
	return e.Client.Do(context.Background(), "PUT", "/faults/"+region, map[string]any{"mode": mode, "delayMs": delay.Milliseconds(), "forMs": dur.Milliseconds()}, nil)
}

// Unwraps counts the successful KeyUnwrap calls in the vault log.
func (e *Env) Unwraps() (int, error) {
	var out vaultclient.List[vaultclient.Op]
	if err := e.Client.Do(context.Background(), "GET", "/log", nil, &out); err != nil {
		return 0, err
	}
	n := 0
	for _, op := range out.Value {
		if op.Operation == "KeyUnwrap" && op.Status == 200 {
			n++
		}
	}
	return n, nil
}

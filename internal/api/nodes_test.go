package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// Two service instances over one PostgreSQL schema, each with its own
// store connections, keyring, token cache and events bus (LISTEN/NOTIFY),
// as two `ck server` nodes are (SPEC S2, T1, T6).

// schemaURL is the URL of a store in schema of CK_TEST_POSTGRES_URL.
func schemaURL(base, schema string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// pgBus is the LISTEN/NOTIFY bus of one node; interval is its sequence check.
func pgBus(t *testing.T, base string, st store.Store, schema string, interval time.Duration) *events.Postgres {
	t.Helper()
	b, err := events.NewPostgres(context.Background(), schemaURL(base, schema), events.Config{Store: st, Node: t.Name(), Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for b.ListenerPID() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the events bus did not LISTEN within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return b
}

// twoNodes starts node A (the depEnv, alice's mailbox on DEP-1 with one
// item) and node B over the same database; B's bus checks the sequence
// every interval.
func twoNodes(t *testing.T, interval time.Duration) (a *depEnv, b *env, bBus *events.Postgres) {
	base := os.Getenv("CK_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping the two-node tests (.ci/run sets it)")
	}
	a = startDEPsOn(t, envOptions{Options: vaulttest.Options{PostgresURL: base},
		events: func(t *testing.T, st store.Store, schema string) events.Bus {
			return pgBus(t, base, st, schema, time.Second)
		}})
	a.aliceOnDEP1()
	if st, body := a.raw(a.admin, "PUT", item1, []byte(secret)); st != 200 {
		t.Fatalf("put on A: %d %s", st, body)
	}
	ctx := context.Background()
	st, err := sqlstore.OpenPostgres(ctx, schemaURL(base, a.vault.PostgresSchema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bBus = pgBus(t, base, st, a.vault.PostgresSchema, interval)
	master, err := keystore.OpenFile(a.master)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.Local(a.vault.WorkloadClient, dep.ExchangeApp)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring.New(c, keyring.NewKeystore(st, master), keyring.Config{Audit: audit.New(st, nil, nil).KeyringEvent(dep.ExchangeApp)})
	w := dep.Workload{App: dep.ExchangeApp, KMS: c, Ring: ring}
	s, err := service.NewAPI(service.Parts{Store: st, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w, dep.MDEP: w, dep.Site: w}, Azure: onboarding.VaultDirectory{C: a.vault.Client}, Events: bBus})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	t.Cleanup(srv.Close)
	b = &env{t: t, srv: srv, operator: a.operator}
	// B serves the item, and caches the DEP key.
	for range 2 {
		if code, body := rawOn(b, a.admin, "GET", item1, nil); code != 200 || string(body) != secret {
			t.Fatalf("read on B: %d %s", code, body)
		}
	}
	return a, b, bBus
}

const item1 = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"

// rawOn is depEnv.raw against another node.
func rawOn(n *env, token, method, path string, body []byte) (int, []byte) {
	d := &depEnv{env: n}
	return d.raw(token, method, path, body)
}

// eventually polls f until it is true, at most 5 s, and returns how long it took.
func eventually(t *testing.T, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	d := time.Since(start)
	t.Logf("%s: %v", what, d)
	return d
}

func TestNodesRevocation(t *testing.T) {
	a, b, _ := twoNodes(t, time.Second)
	a.removeAccess(0)
	a.removeAccess(1)
	// B still holds the DEP key: without the event it would serve for 24 h.
	if st, _, body := a.call(a.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/revocation", ""); st != 200 || body["revoked"] == nil {
		t.Fatalf("revocation signal on A: %d %v", st, body)
	}
	var last []byte
	eventually(t, "revocation signalled on A, refused on B", func() bool {
		var st int
		st, last = rawOn(b, a.admin, "GET", item1, nil)
		if st == 200 {
			return false
		}
		a.wantRevoked(st, last)
		return true
	})
	// Access back and a health check on A: a customer key unwraps, the
	// revocation clears, and B serves again.
	a.grantWorkload("get", "wrapKey", "unwrapKey")
	if st, _, body := a.call(a.admin, "GET", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/health", ""); st != 200 || body["revoked"] != nil {
		t.Fatalf("health on A after access is back: %d %v", st, body)
	}
	eventually(t, "revocation cleared on A, served on B", func() bool {
		st, body := rawOn(b, a.admin, "GET", item1, nil)
		return st == 200 && string(body) == secret
	})
}

func TestNodesTokenAndDisable(t *testing.T) {
	a, b, _ := twoNodes(t, time.Second)
	_, _, tok := a.call(a.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"exo2@contoso.com","role":"exchange-admin"}`)
	token, id := tok["token"].(string), tok["id"].(string)
	if st, _ := rawOn(b, token, "GET", item1, nil); st != 200 {
		t.Fatalf("new token on B: %d", st)
	}
	if st, _, body := a.call(a.global, "POST", "/v1/tenants/Contoso/tokens/"+id+"/revoke", ""); st != 200 {
		t.Fatalf("revoke on A: %d %v", st, body)
	}
	// "Eventually" (5 s), the time logged: no timing assertion in a test.
	eventually(t, "token revoked on A, refused on B", func() bool {
		st, _ := rawOn(b, token, "GET", item1, nil)
		return st == 401
	})

	// DEP-2 disabled on A cannot be assigned on B.
	if st, _, body := a.call(a.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":%s}`, a.keys)); st != 201 {
		t.Fatalf("DEP-2: %d %v", st, body)
	}
	if st, _, body := a.call(a.admin, "PATCH", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-2", `{"enabled":false}`); st != 200 {
		t.Fatalf("disable on A: %d %v", st, body)
	}
	st, ct, body := b.call(a.admin, "PATCH", "/v1/tenants/Contoso/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":"DEP-2"}`)
	b.wantProblem(400, "D2.Enabled", st, ct, body)
}

// The LISTEN connection of B is terminated by the server: B still
// converges, by its sequence check (and by listening again).
func TestNodesLostListen(t *testing.T) {
	a, b, bBus := twoNodes(t, 200*time.Millisecond)
	base := os.Getenv("CK_TEST_POSTGRES_URL")
	terminate(t, base, bBus.ListenerPID())
	a.removeAccess(0)
	a.removeAccess(1)
	if st, _, body := a.call(a.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/revocation", ""); st != 200 || body["revoked"] == nil {
		t.Fatalf("revocation signal on A: %d %v", st, body)
	}
	eventually(t, "revoked on A with B's LISTEN connection killed, refused on B", func() bool {
		st, body := rawOn(b, a.admin, "GET", item1, nil)
		if st == 200 {
			return false
		}
		a.wantRevoked(st, body)
		return true
	})
}

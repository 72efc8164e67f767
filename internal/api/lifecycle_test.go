package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// newVersion adds a key version (or a new key) in seed vault i and
// returns its name and version.
func (e *depEnv) newVersion(i int, name string) string {
	e.t.Helper()
	r, err := e.seed.Keys[i].CreateKey(context.Background(), name, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Key.KID.Version()
}

// spo reads a geo's site DEP.
func (e *depEnv) spo(token, geo string) map[string]any {
	e.t.Helper()
	st, _, body := e.call(token, "GET", "/v1/tenants/Contoso/spoDataEncryptionPolicies?geo="+geo, "")
	if st != 200 {
		e.t.Fatalf("spo %s: %d %v", geo, st, body)
	}
	return body["value"].([]any)[0].(map[string]any)
}

// waitRegistered waits until a geo is Registered and its job is done.
func (e *depEnv) waitRegistered(token, geo string) map[string]any {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		g := e.spo(token, geo)
		_, _, jobs := e.call(token, "GET", "/v1/tenants/Contoso/jobs?limit=1", "")
		if g["state"] == "Registered" && jobs["value"].([]any)[0].(map[string]any)["state"] == "succeeded" {
			return g
		} else if time.Now().After(deadline) {
			e.t.Fatalf("geo %s: %v; newest job %v", geo, g, jobs)
		}
	}
}

// TestMDEPRollback: the tenant cannot unassign its MDEP; the operator rolls
// it back to service-managed keys, only while the customer keys work.
func TestMDEPRollback(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	admin := tok["token"].(string)
	for _, n := range []string{"MDEP-1", "MDEP-2"} {
		if st, _, body := e.call(admin, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, n, e.keys)); st != 201 {
			t.Fatalf("%s: %d %v", n, st, body)
		}
	}
	if st, _, body := e.call(admin, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-1"}`); st != 200 {
		t.Fatalf("assign: %d %v", st, body)
	}
	if st, body := e.raw(admin, "PUT", T+"/records/teams/chat-1", []byte("hello")); st != 200 {
		t.Fatalf("record: %d %s", st, body)
	}
	// Another assignment moves the workload containers in a job.
	onDEP := func(name string) {
		t.Helper()
		d, err := e.st.DEP(ctx, e.seed.Tenant, "mdep", name)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if m, err := e.st.Mailbox(ctx, e.seed.Tenant, "workload:teams"); err == nil && m.DEP == d.ID {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("teams container on %s, want %s (%s)", m.DEP, d.ID, name)
			}
		}
	}
	onDEP("MDEP-1")
	for _, n := range []string{"MDEP-2", "MDEP-1"} {
		if st, _, body := e.call(admin, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", fmt.Sprintf(`{"dataEncryptionPolicy":%q}`, n)); st != 200 {
			t.Fatalf("assign %s: %d %v", n, st, body)
		}
		onDEP(n)
	}
	_, _, jobs := e.call(admin, "GET", T+"/jobs", "")
	if j := jobs["value"].([]any)[0].(map[string]any); j["kind"] != "reassociate-mdep" {
		t.Fatalf("newest job: %v", j)
	}
	st, ct, body := e.call(admin, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":""}`)
	e.wantProblem(400, "R4.MDEPRollback", st, ct, body)
	const rollback = T + "/m365DataAtRestEncryptionPolicies/MDEP-1/rollback"
	id := e.grant(`{"action":"rollback","dep":"MDEP-1","reason":"incident 4713, contact cso@contoso.com"}`)
	ask := `{"request":"` + id + `"}`
	st, ct, body = e.call(admin, "POST", rollback, ask)
	e.wantProblem(403, "Authorization.Operator", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", rollback, `{"request":""}`)
	e.wantProblem(403, "T5.AccessRequest", st, ct, body)

	// Not while the customer keys refuse (the request is not used up).
	e.grantWorkload("get")
	st, ct, body = e.call(e.operator, "POST", rollback, ask)
	e.wantProblem(409, "R4.CustomerKeysUsable", st, ct, body)
	e.grantWorkload("get", "wrapKey", "unwrapKey")

	st, _, body = e.call(e.operator, "POST", rollback, ask)
	if st != 202 || body["kind"] != "rollback-mdep" {
		t.Fatalf("rollback: %d %v", st, body)
	}
	if j := e.waitJob(e.operator, "Contoso", body["id"].(string)); j["total"] != float64(1) {
		t.Fatalf("rollback job: %v", j)
	}
	if _, _, a := e.call(admin, "GET", T+"/m365DataAtRestEncryptionPolicyAssignment", ""); a["dataEncryptionPolicyID"] != nil {
		t.Fatalf("assignment after rollback: %v", a)
	}
	svc, err := e.st.DEP(ctx, e.seed.Tenant, "service", "service-managed")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := e.st.Mailbox(ctx, e.seed.Tenant, "workload:teams"); err != nil || m.DEP != svc.ID {
		t.Fatalf("teams container after rollback: %+v %v (want DEP %s)", m, err, svc.ID)
	}
	if st, got := e.raw(admin, "GET", T+"/records/teams/chat-1", nil); st != 200 || string(got) != "hello" {
		t.Fatalf("record after rollback: %d %q", st, got)
	}
}

// TestVaultRestoreHealsDEP (R7): a customer key deleted and purged from its
// vault, then restored from its backup, serves the DEP again with no
// action by the service.
func TestVaultRestoreHealsDEP(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP: %d %v", st, body)
	}
	health := func() string {
		t.Helper()
		st, _, h := e.call(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1/health", "")
		if st != 200 {
			t.Fatalf("health: %d %v", st, h)
		}
		return h["state"].(string)
	}
	kc := e.seed.Keys[1]
	backup, err := kc.BackupKey(ctx, "key", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.DeleteKey(ctx, "key", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.PurgeDeletedKey(ctx, "key", nil); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != "degraded" {
		t.Fatalf("with key 2 purged: %s, want degraded", h)
	}
	if _, err := kc.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != "healthy" {
		t.Fatalf("after the restore: %s, want healthy", h)
	}
}

// TestFaultsDuringRoll runs the keyring's fault drills again while a geo's
// site key is rolling and writers are busy: every write the service
// acknowledged reads back, every refusal is a clean 503 or 403 problem,
// and the roll converges once the vaults are back.
func TestFaultsDuringRoll(t *testing.T) {
	cases := []struct {
		name   string
		faults map[string]string // region -> mode
		delay  time.Duration
	}{
		{"one vault down", map[string]string{"eastus": "outage"}, 0},
		{"both vaults down", map[string]string{"eastus": "outage", "westus": "outage"}, 0},
		{"one slow", map[string]string{"westus": "slow"}, 300 * time.Millisecond},
		{"both throttled", map[string]string{"eastus": "throttled", "westus": "throttled"}, 0},
		{"one failing", map[string]string{"eastus": "failing"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startDEPsOn(t, envOptions{holdJobs: true})
			const T = "/v1/tenants/Contoso"
			if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
				t.Fatalf("DEP: %d %v", st, body)
			}
			_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
			admin := tok["token"].(string)
			for i := range 4 {
				if err := e.st.SetLicence(context.Background(), e.seed.Tenant, fmt.Sprintf("user%d@contoso.com", i), "E5"); err != nil {
					t.Fatal(err)
				}
				if st, _, body := e.call(admin, "POST", T+"/mailboxes", fmt.Sprintf(`{"id":"user%d@contoso.com","dataEncryptionPolicy":"DEP-1"}`, i)); st != 201 {
					t.Fatalf("mailbox: %d %v", st, body)
				}
			}
			for i := range 20 {
				if st, _, body := e.call(admin, "POST", T+"/sites", fmt.Sprintf(`{"name":"site-%02d","geo":"NAM"}`, i)); st != 201 {
					t.Fatalf("site: %d %v", st, body)
				}
			}
			v0, v1 := e.newVersion(0, "key"), e.newVersion(1, "key")
			reg := fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
				e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1)
			if st, _, body := e.call(admin, "POST", T+"/spoDataEncryptionPolicies", reg); st != 202 {
				t.Fatalf("register: %d %v", st, body)
			}
			e.runJobs()
			old := e.waitRegistered(admin, "NAM")["dataEncryptionPolicyID"].(string)
			// The roll is accepted while the vaults are healthy (its new
			// DEP needs both keys) and queued; the faults start, the cached
			// keys expire, and the roll runs with writers busy.
			e.stopJobs()
			rolled := e.newVersion(0, "key")
			st, _, body := e.call(admin, "PATCH", T+"/spoDataEncryptionPolicies/NAM", fmt.Sprintf(`{"keyType":"Primary","vaultName":%q,"keyName":"key","keyVersion":%q}`, e.seed.Vaults[0].Name, rolled))
			if st != 202 {
				t.Fatalf("roll: %d %v", st, body)
			}
			for region, mode := range tc.faults {
				if err := e.vault.Fault(region, mode, tc.delay, 700*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			e.ring.Evict(old)
			e.ring.Evict(body["dataEncryptionPolicyID"].(string))
			e.runJobs()
			type write struct{ path, content string }
			var mu sync.Mutex
			acked := map[string]string{}
			refused := 0
			stop := time.Now().Add(time.Second)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for n := 0; time.Now().Before(stop); n++ {
						if n%5 == 0 { // as if the cache expired: the next reads unwrap under the faults
							e.ring.Evict(e.spo(admin, "NAM")["dataEncryptionPolicyID"].(string))
						}
						x := write{fmt.Sprintf("%s/mailboxes/user%d@contoso.com/items/m%d", T, w, n%3), fmt.Sprintf("w%d n%d", w, n)}
						if n%2 == 1 {
							x.path = fmt.Sprintf("%s/sites/site-%02d/files/doc-%d.txt", T, (w*5+n)%20, w)
						}
						st, body := e.raw(admin, "PUT", x.path, []byte(x.content))
						mu.Lock()
						switch {
						case st == 200:
							acked[x.path] = x.content
						case st == 503 || st == 403:
							refused++
						default:
							t.Errorf("PUT %s under %s: %d %s", x.path, tc.name, st, body)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			time.Sleep(800 * time.Millisecond) // the drills end
			g := e.waitRegistered(admin, "NAM")
			if !strings.HasSuffix(g["primaryKeyURI"].(string), "/"+rolled) || g["sites"] != float64(20) {
				t.Fatalf("after the roll: %v", g)
			}
			for p, want := range acked {
				if st, got := e.raw(admin, "GET", p, nil); st != 200 || string(got) != want {
					t.Fatalf("%s: %d %q, want %q (an acknowledged write was lost)", p, st, got, want)
				}
			}
			_, _, jobs := e.call(admin, "GET", T+"/jobs?limit=1", "")
			t.Logf("%d writes acknowledged and read back, %d refused cleanly; the roll took %v attempts", len(acked), refused, jobs["value"].([]any)[0].(map[string]any)["attempts"])
			if len(acked) == 0 {
				t.Fatal("no write went through")
			}
		})
	}
}

// An assignment stored without its job (the process died in between) is
// picked up by the sweep and carried out.
func TestPendingAssignmentSwept(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	e.aliceOnDEP1()
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/mailboxes", `{"id":"carol@contoso.com"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetMailboxTarget(ctx, e.seed.Tenant, "carol@contoso.com", d.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, _, st := e.call(e.admin, "GET", "/v1/tenants/Contoso/mailboxes/carol@contoso.com/statistics", "")
		if st["dataEncryptionPolicyID"] == d.ID && st["pendingDataEncryptionPolicyID"] == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol after the sweep: %v", st)
		}
	}
}

// TestRewrapRateSpacesARoll: with jobs.rewrapRate set, a geo's roll
// re-wraps its sites no faster than the rate (so a roll of many sites
// leaves the store to the data plane), shows its progress on the way
// and ends with every site on the new key and readable.
func TestRewrapRateSpacesARoll(t *testing.T) {
	const sites, rate = 24, 40.0 // 23 gaps of 25 ms: at least 575 ms
	e := startDEPsOn(t, envOptions{rewrapRate: rate})
	const T = "/v1/tenants/Contoso"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := tok["token"].(string)
	for i := range sites {
		if st, _, body := e.call(spo, "POST", T+"/sites", fmt.Sprintf(`{"name":"site-%d","geo":"NAM"}`, i)); st != 201 {
			t.Fatalf("site: %d %v", st, body)
		}
	}
	if st, body := e.raw(spo, "PUT", T+"/sites/site-0/files/doc.txt", []byte("kept")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	v0, v1 := e.newVersion(0, "key"), e.newVersion(1, "key")
	reg := fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
		e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1)
	if st, _, body := e.call(spo, "POST", T+"/spoDataEncryptionPolicies", reg); st != 202 {
		t.Fatalf("register: %d %v", st, body)
	}
	e.waitRegistered(spo, "NAM")
	start := time.Now()
	st, _, body := e.call(spo, "PATCH", T+"/spoDataEncryptionPolicies/NAM", fmt.Sprintf(`{"keyType":"Primary","vaultName":%q,"keyName":"key","keyVersion":%q}`, e.seed.Vaults[0].Name, e.newVersion(0, "key")))
	if st != 202 || body["state"] != "Rolling" {
		t.Fatalf("roll: %d %v", st, body)
	}
	midway := false
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		g := e.spo(spo, "NAM")
		if pct := g["percentComplete"].(float64); g["state"] == "Rolling" && pct > 0 && pct < 100 {
			midway = true
		}
		if g["state"] == "Registered" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("still %v", g)
		}
	}
	took := time.Since(start)
	if min := time.Duration(float64(sites-1) / rate * float64(time.Second)); took < min {
		t.Fatalf("the roll of %d sites at %v a second took %v: under the %v the rate allows", sites, rate, took, min)
	}
	if !midway {
		t.Fatal("the roll never showed Rolling with its percentage between 0 and 100")
	}
	if st, got := e.raw(spo, "GET", T+"/sites/site-0/files/doc.txt", nil); st != 200 || string(got) != "kept" {
		t.Fatalf("after the roll: %d %q", st, got)
	}
}

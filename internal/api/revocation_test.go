package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// The revocation suite (SPEC T1, T2): a DEP whose customer keys the tenant
// revoked stays revoked whatever the provider does next (block its own
// traffic to the vaults, move the data off the keys, restart) until a
// customer key unwraps again. Each case asserts that no byte of content
// is returned, that the availability key is never used (the tenant's
// audit log has no availability-key-use after the revocation), and that
// the refusal names the rule.

const secret = "Quarterly numbers: up 12%"

// revokedEnv is alice's mailbox on DEP-1 with one item read once (so the
// DEP key is cached), then the Exchange workload's access removed on both
// vaults, and the revocation signalled (or seen from the refusals).
func revokedEnv(t *testing.T, signal bool) *depEnv {
	e := startDEPs(t)
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"
	e.cachedThenRemoved(item)
	if signal {
		st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/revocation", "")
		if st != 200 || body["revoked"] == nil {
			t.Fatalf("revocation signal: %d %v", st, body)
		}
	} else {
		// No signal: the cached key goes (as a refresh would find), and
		// the next read finds both keys refusing.
		e.ring.Evict(e.depID("mailbox", "DEP-1"))
		e.wantRevoked(e.raw(e.admin, "GET", item, nil))
	}
	return e
}

// cachedThenRemoved puts alice on DEP-1 with the secret at item, reads it
// once (the DEP key is cached), then removes the Exchange workload's
// access on both vaults.
func (e *depEnv) cachedThenRemoved(item string) {
	e.t.Helper()
	e.aliceOnDEP1()
	if st, body := e.raw(e.admin, "PUT", item, []byte(secret)); st != 200 {
		e.t.Fatalf("put: %d %s", st, body)
	}
	if st, body := e.raw(e.admin, "GET", item, nil); st != 200 || string(body) != secret {
		e.t.Fatalf("read before the revocation: %d", st)
	}
	e.removeAccess(0)
	e.removeAccess(1)
}

func (e *depEnv) removeAccess(i int) {
	e.t.Helper()
	if err := e.vault.Client.Do(context.Background(), "DELETE", "/vaults/"+e.seed.Vaults[i].Name+"/accessPolicies/"+dep.ExchangeApp, nil, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *depEnv) depID(kind, name string) string {
	e.t.Helper()
	d, err := e.st.DEP(context.Background(), e.seed.Tenant, kind, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.ID
}

// wantRevoked: 403 naming T1.Revoked, and not a byte of the content.
func (e *depEnv) wantRevoked(st int, body []byte) {
	e.t.Helper()
	if st != 403 || !strings.Contains(string(body), `"rule":"T1.Revoked"`) || strings.Contains(string(body), "Quarterly") {
		e.t.Fatalf("want 403 T1.Revoked without content, got %d %s", st, body)
	}
}

// availabilityUses counts the availability key's successful uses in the
// tenant's audit log.
func (e *depEnv) availabilityUses() int {
	n := 0
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		if r.Action == "availability-key-use" && r.Outcome == "ok" {
			n++
		}
	}
	return n
}

// restart is a new service process over the same database and master
// key: nothing of the old one's memory (its keyring) survives.
func (e *depEnv) restart() {
	e.t.Helper()
	e.stopJobs()
	master, err := keystore.OpenFile(e.master)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := kms.Local(e.vault.WorkloadClient, dep.ExchangeApp)
	if err != nil {
		e.t.Fatal(err)
	}
	ring := keyring.New(c, keyring.NewKeystore(e.st, master), keyring.Config{Audit: audit.New(e.st, nil, nil).KeyringEvent(dep.ExchangeApp)})
	w := dep.Workload{App: dep.ExchangeApp, KMS: c, Ring: ring}
	s, err := service.NewAPI(service.Parts{Store: e.st, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: w, dep.MDEP: w, dep.Site: w}, Azure: onboarding.VaultDirectory{C: e.vault.Client}})
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	e.t.Cleanup(srv.Close)
	e.srv, e.ring, e.api = srv, ring, s
}

// TestAppDeletedRevokes (K3, T1): the tenant deletes the Exchange
// application from its directory (Remove-AzADServicePrincipal) instead of
// removing its access policies. Both vaults then give the service no
// token: a deliberate refusal, so the read is refused, the DEP revoked,
// and an outage after that gets a refusal too. It read as both vaults not
// answering, and the availability key served the read.
func TestAppDeletedRevokes(t *testing.T) {
	e := startDEPsOn(t, envOptions{Options: vaulttest.Options{TokenTTL: time.Second}}) // a new token per request
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"
	e.aliceOnDEP1()
	if st, body := e.raw(e.admin, "PUT", item, []byte(secret)); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	if err := e.vault.Client.Do(context.Background(), "DELETE", "/tenants/Contoso/principals/"+dep.ExchangeApp, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A token the service took before lasts until it expires (a second
	// here), as in Entra ID.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		e.ring.Evict(e.depID("mailbox", "DEP-1"))
		st, body := e.raw(e.admin, "GET", item, nil)
		if st != 200 {
			e.wantRevoked(st, body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the read is still served 10 s after the application was deleted (its last token lasts a second)")
		}
	}
	if d, _ := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1"); d.Revoked.IsZero() || !strings.Contains(d.RevokedCause, "application removed") {
		t.Fatalf("the revocation is not stored with its cause: %q", d.RevokedCause)
	}
	for _, r := range []string{"eastus", "westus"} {
		if err := e.vault.Fault(r, "outage", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	e.wantRevoked(e.raw(e.admin, "GET", item, nil))
	if n := e.availabilityUses(); n != 0 {
		t.Fatalf("the availability key served the DEP %d times", n)
	}
}

func TestRevocationHolds(t *testing.T) {
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"
	outage := func(e *depEnv) {
		for _, r := range []string{"eastus", "westus"} {
			if err := e.vault.Fault(r, "outage", 0, time.Minute); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	fault := func(mode string, delay time.Duration) func(*depEnv) {
		return func(e *depEnv) {
			for _, r := range []string{"eastus", "westus"} {
				if err := e.vault.Fault(r, mode, delay, time.Minute); err != nil {
					e.t.Fatal(err)
				}
			}
		}
	}
	read := func(e *depEnv) { e.wantRevoked(e.raw(e.admin, "GET", item, nil)) }
	cases := []struct {
		name   string
		signal bool
		then   func(*depEnv)
	}{
		{"signal, then both vaults down", true, func(e *depEnv) { outage(e); read(e) }},
		{"refusals alone, then both vaults down", false, func(e *depEnv) { outage(e); read(e) }},
		{"signal, then both vaults slow", true, func(e *depEnv) { fault("slow", 5*time.Second)(e); read(e) }},
		{"signal, then both throttled", true, func(e *depEnv) { fault("throttled", 0)(e); read(e) }},
		{"signal, then both failing", true, func(e *depEnv) { fault("failing", 0)(e); read(e) }},
		{"signal, restart, then both vaults down", true, func(e *depEnv) { e.restart(); outage(e); read(e) }},
		{"refusals alone, restart, then both vaults down", false, func(e *depEnv) { e.restart(); outage(e); read(e) }},
		{"signal, then an outage: search and reindex refused too", true, func(e *depEnv) {
			outage(e)
			for _, c := range []struct{ method, path string }{{"GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/search?q=numbers"}, {"POST", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/search/reindex"}} {
				st, _, body := e.call(e.admin, c.method, c.path, "")
				e.wantProblem(403, "T1.Revoked", st, "application/problem+json", body)
			}
		}},
		{"signal, then Set-Mailbox to service-managed keys in an outage", true, func(e *depEnv) {
			outage(e)
			st, _, body := e.call(e.admin, "PATCH", "/v1/tenants/Contoso/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":""}`)
			if st != 202 {
				e.t.Fatalf("Set-Mailbox: %d %v", st, body)
			}
			e.wantStaysOn("alice@contoso.com", "DEP-1", body["job"])
			read(e)
		}},
		{"refusals alone, then Set-Mailbox to another DEP", false, func(e *depEnv) {
			e.grantAccessTo2()
			st, _, body := e.call(e.admin, "PATCH", "/v1/tenants/Contoso/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":"DEP-2"}`)
			if st != 202 {
				e.t.Fatalf("Set-Mailbox: %d %v", st, body)
			}
			e.wantStaysOn("alice@contoso.com", "DEP-1", body["job"])
			read(e)
		}},
		{"signal, then key-loss recovery: refused, the keys are revoked, not lost", true, func(e *depEnv) {
			e.grantAccessTo2()
			// Even with the tenant's approval of the operator's request.
			ask := `{"to":"DEP-2","request":"` + e.grant(`{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 4711"}`) + `"}`
			st, ct, body := e.call(e.operator, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/recover", ask)
			e.wantProblem(409, "R3.KeysNotLost", st, ct, body)
			outage(e)
			st, ct, body = e.call(e.operator, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/recover", ask)
			e.wantProblem(409, "R3.KeysNotLost", st, ct, body)
			read(e)
		}},
		{"signal, then the keys lost: key-loss recovery refused, the revocation stands (T1)", true, func(e *depEnv) {
			e.grantAccessTo2()
			e.grantWorkload("get", "wrapKey", "unwrapKey") // no read since: still revoked
			for _, kc := range e.seed.Keys {
				if _, err := kc.DeleteKey(context.Background(), "key", nil); err != nil {
					e.t.Fatal(err)
				}
			}
			ask := `{"to":"DEP-2","request":"` + e.grant(`{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 4712"}`) + `"}`
			st, ct, body := e.call(e.operator, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/recover", ask)
			e.wantProblem(409, "R3.Revoked", st, ct, body)
			read(e)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := revokedEnv(t, c.signal)
			before := e.availabilityUses()
			c.then(e)
			if n := e.availabilityUses() - before; n != 0 {
				t.Fatalf("the availability key served %d times after the revocation", n)
			}
		})
	}
}

// grantAccessTo2 makes DEP-2 on a new pair of keys the workload may use
// (the revoked DEP-1's keys stay refused).
func (e *depEnv) grantAccessTo2() {
	e.t.Helper()
	ctx := context.Background()
	var uris [2]string
	for i, kc := range e.seed.Keys {
		if _, err := kc.CreateKey(ctx, "other", azRSA(), nil); err != nil {
			e.t.Fatal(err)
		}
		uris[i] = e.seed.Vaults[i].URI + "/keys/other"
	}
	// Access is per vault: grant it back, then take it off DEP-1's keys
	// by disabling them (a deliberate refusal that leaves DEP-1 revoked).
	e.grantWorkload("get", "wrapKey", "unwrapKey")
	for _, kc := range e.seed.Keys {
		if _, err := kc.UpdateKey(ctx, "key", "", azDisabled(), nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":[%q,%q]}`, uris[0], uris[1])); st != 201 {
		e.t.Fatalf("DEP-2: %d %v", st, body)
	}
}

// wantStaysOn waits for the re-wrap job to try at least once, then checks
// that the mailbox is still on its revoked DEP.
func (e *depEnv) wantStaysOn(mailbox, depName string, job any) {
	e.t.Helper()
	id := job.(map[string]any)["id"].(string)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, j := e.call(e.operator, "GET", "/v1/tenants/Contoso/jobs/"+id, "")
		if j["attempts"].(float64) >= 1 && j["state"] != "running" {
			if j["state"] == "succeeded" && !strings.Contains(fmt.Sprint(j["error"]), "revoked") {
				// The job ends; the mailbox must not have moved.
				break
			}
			if strings.Contains(fmt.Sprint(j["error"]), "revoked") {
				break
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the re-wrap job did not try: %v", j)
		}
	}
	m, err := e.st.Mailbox(context.Background(), e.seed.Tenant, mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	if want := e.depID("mailbox", depName); m.DEP != want {
		e.t.Fatalf("%s moved off its revoked DEP %s to %s", mailbox, want, m.DEP)
	}
}

// TestRevocationClears: restoring access and checking health clears the
// revocation; the data is served again, from a customer key.
func TestRevocationClears(t *testing.T) {
	e := revokedEnv(t, true)
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"
	if d, _ := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1"); d.Revoked.IsZero() || !strings.Contains(d.RevokedCause, "revocation signal from exo@contoso.com") {
		t.Fatalf("the revocation is not stored: %+v", d)
	}
	// The overview (list-dep-health) shows what the last probe saw, and
	// asks no vault itself: access restored, it still says revoked.
	lastSeen := func() map[string]any {
		t.Helper()
		st, _, body := e.call(e.admin, "GET", "/v1/tenants/Contoso/health", "")
		if st != 200 {
			t.Fatalf("list-dep-health: %d %v", st, body)
		}
		for _, h := range body["value"].([]any) {
			if h := h.(map[string]any); h["name"] == "DEP-1" && h["kind"] == "mailbox" {
				return h
			}
		}
		t.Fatalf("list-dep-health has no DEP-1: %v", body)
		return nil
	}
	if h := lastSeen(); h["revoked"] == nil || h["state"] != "unhealthy" || len(h["keys"].([]any)) != 0 {
		t.Fatalf("overview of the revoked DEP: %v", h)
	}
	e.grantWorkload("get", "wrapKey", "unwrapKey")
	if h := lastSeen(); h["revoked"] == nil || h["state"] != "unhealthy" {
		t.Fatalf("overview after access restored, before any probe: %v (it must not ask the vault)", h)
	}
	st, _, body := e.call(e.admin, "GET", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/health", "")
	if st != 200 || body["revoked"] != nil || body["state"] != "healthy" {
		t.Fatalf("health after access restored: %d %v", st, body)
	}
	if h := lastSeen(); h["revoked"] != nil || h["state"] != "healthy" {
		t.Fatalf("overview after the probe: %v", h)
	}
	if d, _ := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1"); !d.Revoked.IsZero() {
		t.Fatalf("the revocation is still stored: %+v", d)
	}
	if st, got := e.raw(e.admin, "GET", item, nil); st != 200 || string(got) != secret {
		t.Fatalf("read after the revocation cleared: %d %s", st, got)
	}
}

// TestSiteRevocation: a geo has a revocation signal and health too; its
// files are refused at once after the signal (not at cache expiry), an
// outage does not bring them back, restored access does.
func TestSiteRevocation(t *testing.T) {
	e := startDEPs(t)
	spo, files := e.registeredGeoWithFiles()
	var path, content string
	for p, c := range files {
		path, content = p, c
		break
	}
	e.removeAccess(0)
	e.removeAccess(1)
	if st, got := e.raw(spo, "GET", path, nil); st != 200 || string(got) != content {
		t.Fatalf("before the signal the cached TIK serves: %d", st) // the cache's promise; the signal is what ends it
	}
	st, _, body := e.call(spo, "POST", "/v1/tenants/Contoso/spoDataEncryptionPolicies/NAM/revocation", "")
	hs, _ := body["value"].([]any)
	if st != 200 || len(hs) != 1 || hs[0].(map[string]any)["revoked"] == nil {
		t.Fatalf("geo revocation signal: %d %v", st, body)
	}
	wantNoContent := func() {
		t.Helper()
		st, got := e.raw(spo, "GET", path, nil)
		if st != 403 || !strings.Contains(string(got), "T1.Revoked") || strings.Contains(string(got), content) {
			t.Fatalf("want 403 T1.Revoked, got %d %s", st, got)
		}
	}
	wantNoContent()
	// Both regions down for a while (the management API is down with
	// them: the outage ends by itself).
	for _, r := range []string{"westus", "eastus"} {
		if err := e.vault.Fault(r, "outage", 0, 1500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	wantNoContent()
	for deadline := time.Now().Add(10 * time.Second); e.vault.Client.Do(context.Background(), "GET", "/faults", nil, nil) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the vaults did not come back after the outage")
		}
	}
	e.grantWorkload("get", "wrapKey", "unwrapKey")
	if st, _, body := e.call(spo, "GET", "/v1/tenants/Contoso/spoDataEncryptionPolicies/NAM/health", ""); st != 200 || body["value"].([]any)[0].(map[string]any)["revoked"] != nil {
		t.Fatalf("geo health after access restored: %d %v", st, body)
	}
	if st, got := e.raw(spo, "GET", path, nil); st != 200 || string(got) != content {
		t.Fatalf("after the revocation cleared: %d", st)
	}
	st, ct, problem := e.call(spo, "GET", "/v1/tenants/Contoso/spoDataEncryptionPolicies/EUR/health", "")
	e.wantProblem(404, "D4.Registered", st, ct, problem)
}

// registeredGeoWithFiles registers geo NAM on the seed keys with two
// sites holding a file each; it returns a SharePoint admin's token and
// the files' paths with their content.
func (e *depEnv) registeredGeoWithFiles() (string, map[string]string) {
	e.t.Helper()
	const T = "/v1/tenants/Contoso"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := tok["token"].(string)
	v0, v1 := e.newVersion(0, "key"), e.newVersion(1, "key")
	reg := fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
		e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1)
	if st, _, body := e.call(spo, "POST", T+"/spoDataEncryptionPolicies", reg); st != 202 {
		e.t.Fatalf("register: %d %v", st, body)
	}
	e.waitRegistered(spo, "NAM")
	files := map[string]string{}
	for i := range 2 {
		site := fmt.Sprintf("site-%d", i)
		if st, _, body := e.call(spo, "POST", T+"/sites", fmt.Sprintf(`{"name":%q,"geo":"NAM"}`, site)); st != 201 {
			e.t.Fatalf("site: %d %v", st, body)
		}
		p := T + "/sites/" + site + "/files/doc.txt"
		files[p] = "contents of " + site
		if st, body := e.raw(spo, "PUT", p, []byte(files[p])); st != 200 {
			e.t.Fatalf("put %s: %d %s", p, st, body)
		}
		if st, _ := e.raw(spo, "GET", p, nil); st != 200 {
			e.t.Fatalf("read %s: %d", p, st)
		}
	}
	return spo, files
}

func azRSA() azkeys.CreateKeyParameters {
	return azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}
}

func azDisabled() azkeys.UpdateKeyParameters {
	return azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}
}

// TestRevokedMDEPStays: records on a revoked MDEP are not moved to
// another MDEP, nor rolled back to service-managed keys, outage or not.
func TestRevokedMDEPStays(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	cso := e.onMDEP1()
	const rec = T + "/records/teams/chat-1"
	if st, body := e.raw(cso, "PUT", rec, []byte(secret)); st != 200 {
		t.Fatalf("record: %d %s", st, body)
	}
	var uris [2]string
	for i, kc := range e.seed.Keys {
		if _, err := kc.CreateKey(ctx, "other", azRSA(), nil); err != nil {
			t.Fatal(err)
		}
		uris[i] = e.seed.Vaults[i].URI + "/keys/other"
	}
	if st, _, body := e.call(cso, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-2","azureKeyIDs":[%q,%q]}`, uris[0], uris[1])); st != 201 {
		t.Fatalf("MDEP-2: %d %v", st, body)
	}
	e.revokeMDEP1(cso) // the tenant disables its keys and signals it
	before := e.availabilityUses()
	mdep1 := e.depID("mdep", "MDEP-1")
	st, _, body := e.call(cso, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-2"}`)
	if st != 200 {
		t.Fatalf("assign MDEP-2: %d %v", st, body)
	}
	// The re-association job tries, and is refused.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, jobs := e.call(cso, "GET", T+"/jobs", "")
		j := jobs["value"].([]any)[0].(map[string]any)
		if j["kind"] == "reassociate-mdep" && strings.Contains(fmt.Sprint(j["error"]), "revoked") {
			break
		}
		if j["state"] == "succeeded" || time.Now().After(deadline) {
			t.Fatalf("the re-association job: %v", j)
		}
	}
	st, got := e.raw(cso, "GET", rec, nil)
	if st != 403 || strings.Contains(string(got), "Quarterly") || !strings.Contains(string(got), "T1.Revoked") {
		t.Fatalf("record after the assignment: %d %s", st, got)
	}
	if m, err := e.st.Mailbox(ctx, e.seed.Tenant, "workload:teams"); err != nil || m.DEP != mdep1 {
		t.Fatalf("the record container left the revoked MDEP: %+v %v", m, err)
	}
	// The operator's rollback, approved by the tenant, needs usable
	// customer keys.
	ask := `{"request":"` + e.grant(`{"action":"rollback","dep":"MDEP-1","reason":"incident 4713"}`) + `"}`
	for _, mode := range []string{"", "outage"} {
		if mode != "" {
			for _, r := range []string{"westus", "eastus"} {
				if err := e.vault.Fault(r, mode, 0, 1500*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
		}
		st, ct, body := e.call(e.operator, "POST", T+"/m365DataAtRestEncryptionPolicies/MDEP-1/rollback", ask)
		if st != 409 || !strings.Contains(ct, "problem") {
			t.Fatalf("rollback of a revoked MDEP (%s): %d %v", mode, st, body)
		}
	}
	if n := e.availabilityUses() - before; n != 0 {
		t.Fatalf("the availability key served %d times after the revocation", n)
	}
}

// TestRevocationWithoutSignal (S3): the tenant removes the workload's
// access and says nothing; the probe finds it within its interval, the
// cached key goes, reads are refused and the revocation is stored.
func TestRevocationWithoutSignal(t *testing.T) {
	e := startDEPsOn(t, envOptions{probe: 100 * time.Millisecond})
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m1"
	e.cachedThenRemoved(item)
	start := time.Now()
	for {
		st, body := e.raw(e.admin, "GET", item, nil)
		if st == 403 {
			e.wantRevoked(st, body)
			break
		}
		if st != 200 || time.Since(start) > 5*time.Second {
			t.Fatalf("still served %s after the access was removed: %d", time.Since(start), st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revocation without a signal seen after %s (probe every 100ms)", time.Since(start).Round(time.Millisecond))
	if d, _ := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1"); d.Revoked.IsZero() || !strings.Contains(d.RevokedCause, "both customer keys refused") {
		t.Fatalf("the revocation is not stored: %+v", d)
	}
}

// TestRevocationStopsAMoveUnderWay: the operator's rollback of a
// multi-workload DEP, at a bounded rate, took the DEP's key from a
// customer key once, when it began; the tenant's revocation meanwhile
// stops it, and the containers not yet moved stay on the revoked DEP
// (T1, T2). Without a signal too: the compliance admin disables the
// unassigned MDEP (its key leaves every cache, so the probe no longer
// asks it), then the tenant disables its keys. The job went on with the
// key it held, for as long as it ran (found by an attacker review).
func TestRevocationStopsAMoveUnderWay(t *testing.T) {
	for _, how := range []string{"signal", "evicted, no signal"} {
		t.Run(how, func(t *testing.T) {
			const containers = 8
			e := startDEPsOn(t, envOptions{rewrapRate: 4, // 8 moves: at least 1.75 s
				events: func(t *testing.T, st store.Store, _ string) events.Bus { // as a node on SQLite has
					bus, err := events.NewLocal(context.Background(), events.Config{Store: st})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { bus.Close() })
					return bus
				}})
			ctx := context.Background()
			const T = "/v1/tenants/Contoso"
			cso := e.onMDEP1()
			for i := range containers {
				if st, body := e.raw(cso, "PUT", fmt.Sprintf("%s/records/app-%d/r1", T, i), []byte(secret)); st != 200 {
					t.Fatalf("record: %d %s", st, body)
				}
			}
			mdep1 := e.depID("mdep", "MDEP-1")
			ask := `{"request":"` + e.grant(`{"action":"rollback","dep":"MDEP-1","reason":"incident 4713"}`) + `"}`
			st, _, body := e.call(e.operator, "POST", T+"/m365DataAtRestEncryptionPolicies/MDEP-1/rollback", ask)
			if st != 202 {
				t.Fatalf("rollback: %d %v", st, body)
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) { // the first has moved
				if on, _ := e.st.ContainersOnDEP(ctx, e.seed.Tenant, mdep1); len(on) < containers {
					break
				} else if time.Now().After(deadline) {
					t.Fatal("the rollback moved nothing")
				}
			}
			if how == "signal" {
				e.revokeMDEP1(cso) // the tenant disables its keys and signals it
			} else {
				e.must(cso, "PATCH", T+"/m365DataAtRestEncryptionPolicies/MDEP-1", `{"enabled":false}`, 200)
				for _, kc := range e.seed.Keys {
					if _, err := kc.UpdateKey(ctx, "key", "", azDisabled(), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				_, _, j := e.call(e.operator, "GET", T+"/jobs/"+body["id"].(string), "")
				if strings.Contains(fmt.Sprint(j["error"]), "revoked") {
					break
				}
				if j["state"] == "succeeded" || time.Now().After(deadline) {
					t.Fatalf("the rollback went on after the revocation: %v", j)
				}
			}
			if left, err := e.st.ContainersOnDEP(ctx, e.seed.Tenant, mdep1); err != nil || len(left) == 0 {
				t.Fatalf("containers left on the revoked MDEP-1: %d, %v; want the ones not yet moved", len(left), err)
			}
		})
	}
}

// onMDEP1 makes MDEP-1 (on the seed's keys) the tenant's multi-workload
// DEP, and returns a compliance admin's token.
func (e *depEnv) onMDEP1() string {
	e.t.Helper()
	const T = "/v1/tenants/Contoso"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	cso := tok["token"].(string)
	if st, _, body := e.call(cso, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		e.t.Fatalf("MDEP-1: %d %v", st, body)
	}
	if st, _, body := e.call(cso, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-1"}`); st != 200 {
		e.t.Fatalf("assign MDEP-1: %d %v", st, body)
	}
	return cso
}

// revokeMDEP1 is the tenant disabling MDEP-1's keys (the seed's "key")
// and sending the revocation signal.
func (e *depEnv) revokeMDEP1(token string) {
	e.t.Helper()
	for _, kc := range e.seed.Keys {
		if _, err := kc.UpdateKey(context.Background(), "key", "", azDisabled(), nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if st, _, body := e.call(token, "POST", "/v1/tenants/Contoso/m365DataAtRestEncryptionPolicies/MDEP-1/revocation", ""); st != 200 || body["revoked"] == nil {
		e.t.Fatalf("revocation: %d %v", st, body)
	}
}

package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/keyring"
)

// TestSiteRollAndRecovery: a geo's primary key is rolled (Rolling, one
// roll at a time, sites readable throughout), then both of its keys are
// lost and the operator recovers the geo onto new keys.
func TestSiteRollAndRecovery(t *testing.T) {
	e := startDEPsOn(t, envOptions{holdJobs: true})
	const T = "/v1/tenants/Contoso"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := tok["token"].(string)
	files := map[string]string{}
	for i := range 6 {
		site := fmt.Sprintf("site-%d", i)
		if st, _, body := e.call(spo, "POST", T+"/sites", fmt.Sprintf(`{"name":%q,"geo":"NAM"}`, site)); st != 201 {
			t.Fatalf("site: %d %v", st, body)
		}
		p := T + "/sites/" + site + "/files/doc.txt"
		files[p] = "contents of " + site
		if st, body := e.raw(spo, "PUT", p, []byte(files[p])); st != 200 {
			t.Fatalf("put %s: %d %s", p, st, body)
		}
	}
	readAll := func(when string) {
		t.Helper()
		for p, want := range files {
			if st, got := e.raw(spo, "GET", p, nil); st != 200 || string(got) != want {
				t.Fatalf("%s: %s: %d %q", when, p, st, got)
			}
		}
	}
	v0, v1 := e.newVersion(0, "key"), e.newVersion(1, "key")
	reg := fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
		e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1)
	if st, _, body := e.call(spo, "POST", T+"/spoDataEncryptionPolicies", reg); st != 202 || body["state"] != "Registering" {
		t.Fatalf("register: %d %v", st, body)
	}
	roll := func(version string) (int, string, map[string]any) {
		return e.call(spo, "PATCH", T+"/spoDataEncryptionPolicies/NAM", fmt.Sprintf(`{"keyType":"Primary","vaultName":%q,"keyName":"key","keyVersion":%q}`, e.seed.Vaults[0].Name, version))
	}
	rolled := e.newVersion(0, "key")
	st, ct, body := roll(rolled)
	e.wantProblem(409, "R2.OneRollPerGeo", st, ct, body) // still Registering: the jobs are held
	readAll("while registering")
	e.runJobs()
	if g := e.waitRegistered(spo, "NAM"); g["percentComplete"] != float64(100) || g["sites"] != float64(6) {
		t.Fatalf("registered: %v", g)
	}
	// Sites cannot roll back to service-managed keys (R4): the operator's
	// rollback, asked for the geo's site DEP, says so.
	st, ct, body = e.call(e.operator, "POST", T+"/m365DataAtRestEncryptionPolicies/SPO-NAM/rollback", `{"request":"none"}`)
	e.wantProblem(400, "R4.NotForSites", st, ct, body)

	st, ct, body = roll(v0)
	e.wantProblem(400, "R1.NewKey", st, ct, body)
	st, _, body = roll(rolled)
	if st != 202 || body["state"] != "Rolling" || !strings.HasSuffix(body["primaryKeyURI"].(string), "/"+rolled) {
		t.Fatalf("roll: %d %v", st, body)
	}
	st, ct, body = roll(e.newVersion(0, "key"))
	if st != 202 { // the first roll may be done already; if not, the second is refused
		e.wantProblem(409, "R2.OneRollPerGeo", st, ct, body)
	}
	g := e.waitRegistered(spo, "NAM")
	readAll("after the roll")
	st, _, jobs := e.call(spo, "GET", T+"/jobs", "")
	if st != 200 || len(jobs["value"].([]any)) < 2 {
		t.Fatalf("jobs: %d %v", st, jobs)
	}
	for _, j := range jobs["value"].([]any) {
		if j := j.(map[string]any); j["kind"] != "rewrap-sites" || j["state"] != "succeeded" || j["done"] != float64(6) || j["total"] != float64(6) {
			t.Fatalf("job: %v", j)
		}
	}

	// Both keys lost; the operator recovers the geo onto new keys.
	lost, err := e.st.DEP(context.Background(), e.seed.Tenant, "site", g["dataEncryptionPolicyID"].(string))
	if err != nil {
		t.Fatal(err)
	}
	lkd := keyring.DEP{}
	if err := lkd.UnmarshalKeys(lost.Keys); err != nil {
		t.Fatal(err)
	}
	lostAVK := lkd.AvailabilityKeyID
	n0, n1 := e.newVersion(0, "replacement"), e.newVersion(1, "replacement")
	for _, kc := range e.seed.Keys {
		if _, err := kc.DeleteKey(context.Background(), "key", nil); err != nil {
			t.Fatal(err)
		}
	}
	e.ring.Evict(g["dataEncryptionPolicyID"].(string))
	for p := range files {
		st, ct, body := e.call(spo, "GET", p, "")
		e.wantProblem(403, "T1.Revoked", st, ct, body)
		break
	}
	k0, k1 := e.seed.Vaults[0].URI+"/keys/replacement/"+n0, e.seed.Vaults[1].URI+"/keys/replacement/"+n1
	// The request names the geo and both new keys; another key is another scope.
	other := e.grant(fmt.Sprintf(`{"action":"recover-geo","dep":"nam","keys":[%q,%q],"reason":"ticket 4712 from cso@contoso.com"}`, k1, k0))
	id := e.grant(fmt.Sprintf(`{"action":"recover-geo","dep":"nam","keys":[%q,%q],"reason":"ticket 4712 from cso@contoso.com"}`, k0, k1))
	recover := fmt.Sprintf(`{"primaryKeyURI":%q,"secondaryKeyURI":%q,"request":%q}`, k0, k1, id)
	st, ct, body = e.call(spo, "POST", T+"/spoDataEncryptionPolicies/NAM/recover", recover)
	e.wantProblem(403, "Authorization.Operator", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", T+"/spoDataEncryptionPolicies/NAM/recover", fmt.Sprintf(`{"primaryKeyURI":%q,"secondaryKeyURI":%q,"request":%q}`, k0, k1, other))
	e.wantProblem(403, "T5.Scope", st, ct, body)
	st, _, body = e.call(e.operator, "POST", T+"/spoDataEncryptionPolicies/NAM/recover", recover)
	if st != 202 {
		t.Fatalf("recover: %d %v", st, body)
	}
	if j := e.waitJob(e.operator, "Contoso", body["id"].(string)); j["total"] != float64(6) {
		t.Fatalf("recovery job: %v", j)
	}
	if g := e.waitRegistered(spo, "NAM"); !strings.Contains(g["primaryKeyURI"].(string), "/replacement/") {
		t.Fatalf("after recovery: %v", g)
	}
	readAll("after recovery")
	// Each roll and the recovery left one site DEP: the retired ones are
	// deleted and their availability keys destroyed.
	if ds, err := e.st.ListDEPs(context.Background(), e.seed.Tenant, "site"); err != nil || len(ds) != 1 || ds[0].ID != e.spo(spo, "NAM")["dataEncryptionPolicyID"] {
		t.Fatalf("site DEPs after rolls and recovery: %d %v", len(ds), err)
	}
	if avk, err := e.st.AvailabilityKey(context.Background(), lostAVK); err != nil || avk.DestroyedAt == nil || avk.Sealed != nil {
		t.Fatalf("the retired DEP's availability key: %+v %v", avk, err)
	}
	found := false
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		found = found || r.Action == "availability-key-use" && r.Outcome == "ok" && strings.Contains(r.Reason, "ticket 4712")
	}
	if !found {
		t.Fatal("the availability key's use for the recovery is not in the audit log")
	}
}

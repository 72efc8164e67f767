package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/store"
)

// Key-loss recovery (R3): both customer keys of DEP-1 are deleted; on the
// tenant's request the operator moves its mailboxes through the
// availability key to DEP-2 on new keys, and every item reads back.
func TestKeyLossRecovery(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	e.twoDEPs()
	content := map[string]string{}
	for _, mb := range []string{"alice@contoso.com", "bob@contoso.com"} {
		if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/mailboxes", fmt.Sprintf(`{"id":%q,"dataEncryptionPolicy":"DEP-1"}`, mb)); st != 201 {
			t.Fatalf("mailbox %s: %d %v", mb, st, body)
		}
		for i := range 3 {
			p := fmt.Sprintf("/v1/tenants/Contoso/mailboxes/%s/items/m%d", mb, i)
			content[p] = fmt.Sprintf("%s item %d", mb, i)
			if st, body := e.raw(e.admin, "PUT", p, []byte(content[p])); st != 200 {
				t.Fatalf("put %s: %d %s", p, st, body)
			}
		}
	}
	const recover = "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/recover"
	id := e.grant(`{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 4711, requested by cso@contoso.com"}`)
	ask := `{"to":"DEP-2","request":"` + id + `"}`

	// While the keys answer, there is nothing to recover (and the request
	// is not used up).
	st, ct, body := e.call(e.operator, "POST", recover, ask)
	e.wantProblem(409, "R3.KeysNotLost", st, ct, body)

	e.loseKeys()
	st, ct, body = e.call(e.admin, "GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/m0", "")
	e.wantProblem(403, "T1.Revoked", st, ct, body)

	// Only the operator, with the request, to the DEP it names.
	st, ct, body = e.call(e.admin, "POST", recover, ask)
	e.wantProblem(403, "Authorization.Operator", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", recover, `{"to":"DEP-2","request":" "}`)
	e.wantProblem(403, "T5.AccessRequest", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", recover, `{"to":"DEP-1","request":"`+id+`"}`)
	e.wantProblem(403, "T5.Scope", st, ct, body)

	st, _, body = e.call(e.operator, "POST", recover, ask)
	if st != 202 || body["kind"] != "recover" {
		t.Fatalf("recover: %d %v", st, body)
	}
	if j := e.waitJob(e.operator, "Contoso", body["id"].(string)); j["total"] != float64(2) {
		t.Fatalf("recovery job: %v, want 2 mailboxes moved", j)
	}
	// The request is used up.
	st, ct, body = e.call(e.operator, "POST", recover, ask)
	e.wantProblem(403, "T5.State", st, ct, body)
	for p, want := range content {
		if st, got := e.raw(e.admin, "GET", p, nil); st != 200 || string(got) != want {
			t.Fatalf("after recovery %s: %d %q, want %q", p, st, got, want)
		}
	}
	_, _, mb := e.call(e.admin, "GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/statistics", "")
	d2, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-2")
	if mb["dataEncryptionPolicyID"] != d2.ID {
		t.Fatalf("alice reports DEP %v, want DEP-2 %s", mb["dataEncryptionPolicyID"], d2.ID)
	}
	// The lost DEP is disabled, and the availability key's use is in the
	// tenant's audit log with the reason.
	_, _, dep1 := e.call(e.admin, "GET", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1", "")
	if dep1["enabled"] != false {
		t.Fatalf("DEP-1 after recovery: %v", dep1)
	}
	found := false
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		found = found || r.Action == "availability-key-use" && r.Outcome == "ok" && strings.Contains(r.Reason, "ticket 4711")
	}
	if !found {
		t.Fatal("no availability-key-use record with the recovery's reason in the audit log")
	}
}

// twoDEPs creates mailbox DEPs DEP-1 on the seed's keys and DEP-2 on new
// keys ("replacement") in the same vaults.
func (e *depEnv) twoDEPs() {
	e.t.Helper()
	var newKeys []string
	for i, kc := range e.seed.Keys {
		if _, err := kc.CreateKey(context.Background(), "replacement", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			e.t.Fatal(err)
		}
		newKeys = append(newKeys, fmt.Sprintf("%q", e.seed.Vaults[i].URI+"/keys/replacement"))
	}
	for _, c := range []struct{ name, keys string }{{"DEP-1", e.keys}, {"DEP-2", "[" + strings.Join(newKeys, ",") + "]"}} {
		if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, c.name, c.keys)); st != 201 {
			e.t.Fatalf("%s: %d %v", c.name, st, body)
		}
	}
}

// loseKeys deletes both customer keys of DEP-1 and drops its key from
// the keyring's cache: DEP-1 is lost.
func (e *depEnv) loseKeys() {
	e.t.Helper()
	ctx := context.Background()
	for _, kc := range e.seed.Keys {
		if _, err := kc.DeleteKey(ctx, "key", nil); err != nil {
			e.t.Fatal(err)
		}
	}
	d1, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		e.t.Fatal(err)
	}
	e.ring.Evict(d1.ID)
}

// TestRecoveryLeavesAPurgeAlone: nothing leaves a DEP with a purge request
// (R6). A key-loss recovery of such a DEP moved its mailboxes under
// another DEP's keys, where they outlived the purge the officers signed
// for (T7, T8; found by an attacker review); and a purge requested while
// a recovery moves a DEP's mailboxes would list mailboxes that then leave.
func TestRecoveryLeavesAPurgeAlone(t *testing.T) {
	e := startDEPsOn(t, envOptions{holdJobs: true})
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	e.twoDEPs()
	e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	if st, body := e.raw(e.admin, "PUT", T+"/mailboxes/alice@contoso.com/items/m0", []byte("alice's secret")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	e.loseKeys()
	d1, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	const recover = T + "/dataEncryptionPolicies/DEP-1/recover"
	const grant = `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 4711"}`

	// A recovery queued: no purge request until it ends.
	st, _, job := e.call(e.operator, "POST", recover, `{"to":"DEP-2","request":"`+e.grant(grant)+`"}`)
	if st != 202 {
		t.Fatalf("recover: %d %v", st, job)
	}
	st, ct, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purgeBody)
	e.wantProblem(409, "R6.JobRunning", st, ct, body)

	// A purge recorded all the same (requested at the same moment): the
	// job stops before it moves a mailbox.
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := e.st.CreatePurge(ctx, store.Purge{Tenant: e.seed.Tenant, DEP: d1.ID, Name: "DEP-1", Reason: "leaving", Contact: "cso@contoso.com", RequestedBy: "admin@contoso.com",
		Requested: now, Required: 2, Containers: []string{"alice@contoso.com"}, State: store.PurgeRequested, Updated: now}); err != nil {
		t.Fatal(err)
	}
	e.runJobs()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, j := e.call(e.operator, "GET", T+"/jobs/"+job["id"].(string), "")
		if j["state"] == "failed" && strings.Contains(fmt.Sprint(j["error"]), "purge request") {
			break
		}
		if j["state"] == "succeeded" || time.Now().After(deadline) {
			t.Fatalf("the recovery of a DEP with a purge request: %v, want failed", j)
		}
	}
	if _, _, mb := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/statistics", ""); mb["dataEncryptionPolicyID"] != d1.ID {
		t.Fatalf("alice moved off DEP-1 under its purge request: %v", mb)
	}

	// With the request there, the operator's recovery is refused, and the
	// tenant's approval is not spent.
	id := e.grant(grant)
	st, ct, body = e.call(e.operator, "POST", recover, `{"to":"DEP-2","request":"`+id+`"}`)
	e.wantProblem(409, "R6.PurgeRequested", st, ct, body)
	if _, _, r := e.call(e.global, "GET", T+"/accessRequests/"+id, ""); r["state"] != "Approved" {
		t.Fatalf("the refused recovery spent the access request: %v", r)
	}
	st, ct, body = e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/items/m0", "")
	e.wantProblem(403, "T1.Revoked", st, ct, body)
}

// TestPurgeRefusesAContainerThatLeft (T8): a mailbox the officers signed
// a purge for that is on another DEP when the purge runs (moved in the
// moment between the request's listing and its being stored, say) stops
// the purge before anything is destroyed: the certificate would say it
// was shredded while its data lived on under that DEP's keys.
func TestPurgeRefusesAContainerThatLeft(t *testing.T) {
	e := startDEPsOn(t, envOptions{holdJobs: true})
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	e.twoDEPs()
	e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	e.grantWorkload("get")
	officer := e.registerOfficer("cso@contoso.com")
	e.must(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purgeBody, 200)
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	if st, _, body := e.approve(tok["token"].(string), "DEP-1", "cso@contoso.com", officer); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	// alice leaves DEP-1 in the store, as a move racing the request would.
	m, err := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-2")
	if err != nil {
		t.Fatal(err)
	}
	prev := m.DEP
	m.DEP = d2.ID
	if err := e.st.UpdateMailbox(ctx, m, prev, m.KeyVersion); err != nil {
		t.Fatal(err)
	}
	e.runJobs()
	for deadline := time.Now().Add(30 * time.Second); !e.jobError("purge", "left DEP DEP-1"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the purge did not stop on alice's move: %+v", e.purgeRequest(e.admin, "DEP-1"))
		}
	}
	if p := e.purgeRequest(e.admin, "DEP-1"); p.State == "Purged" || p.Certificate != "" {
		t.Fatalf("purged with a container gone to another DEP: %+v", p)
	}
	e.must(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1", "", 200) // nothing destroyed
}

// grant has the operator ask Contoso for access (body: a NewAccessRequest)
// and Contoso's global admin approve it; it returns the request's ID.
func (e *depEnv) grant(body string) string {
	e.t.Helper()
	st, _, r := e.call(e.operator, "POST", "/v1/tenants/Contoso/accessRequests", body)
	if st != 201 || r["state"] != "Pending" {
		e.t.Fatalf("access request %s: %d %v", body, st, r)
	}
	id := r["id"].(string)
	if st, _, r := e.call(e.global, "POST", "/v1/tenants/Contoso/accessRequests/"+id+"/approve", ""); st != 200 || r["state"] != "Approved" {
		e.t.Fatalf("approve %s: %d %v", id, st, r)
	}
	return id
}

// waitJob polls a job until it succeeds, failing the test if it fails.
func (e *env) waitJob(token, tenant, id string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, j := e.call(token, "GET", "/v1/tenants/"+tenant+"/jobs/"+id, "")
		if st != 200 {
			e.t.Fatalf("job %s: %d %v", id, st, j)
		}
		switch j["state"] {
		case "succeeded":
			return j
		case "failed":
			e.t.Fatalf("job %s failed: %v", id, j)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s not done: %v", id, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/store"
)

// The first step of a purge (R6) is that the service can no longer unwrap
// the DEP key with either customer key. Two ways it stopped holding while
// a purge went ahead and was certified, each found by an attacker review
// and each recovering the purged data from a copy of the database taken
// before (T8).

const purgeBody = `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`

// TestPurgeAsksEarlierKeyVersions: after a roll (a new version of each
// key, then -Refresh) a copy of the DEP from before the roll opens with
// the earlier version. Disabling only the current versions leaves the
// earlier ones answering: the purge request is refused, naming the
// version, until they refuse too.
func TestPurgeAsksEarlierKeyVersions(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	ctx := context.Background()
	e.aliceOnDEP1()
	var rolled [2]string
	for i := range 2 {
		rolled[i] = e.newVersion(i, "key")
	}
	if after := e.must(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"refresh":true}`, 200); !strings.Contains(fmt.Sprint(after), rolled[0]) {
		t.Fatalf("the refresh did not take the new versions: %v", after)
	}
	// The tenant disables the current version of each key only.
	for i, kc := range e.seed.Keys {
		if _, err := kc.UpdateKey(ctx, "key", rolled[i], azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, ct, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purgeBody)
	e.wantProblem(409, "R6.KeysRevoked", st, ct, body)
	if d, _ := body["detail"].(string); !strings.Contains(d, "earlier key version") {
		t.Fatalf("the refusal does not name the earlier version: %v", body)
	}
	// The workload's access removed from the vaults: every version refuses.
	e.grantWorkload("get")
	e.must(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purgeBody, 200)
}

// TestPurgeStopsWhenAccessComesBack: access given back to the workload
// after the request (a vault admin, automation re-applying policies)
// stops the purge job before it destroys anything; taken away again, the
// job's next try purges.
func TestPurgeStopsWhenAccessComesBack(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	e.heldPurge()
	// The job ran once and held: nothing destroyed, no certificate.
	if p := e.purgeRequest(e.admin, "DEP-1"); p.State != "Approved" || p.Certificate != "" {
		t.Fatalf("held purge: %+v", p)
	}
	e.must(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1", "", 200)
	e.must(e.admin, "GET", T+"/mailboxes/alice@contoso.com/statistics", "", 200)

	e.grantWorkload("get") // taken away again: the next try purges
	for deadline := time.Now().Add(30 * time.Second); e.purgeRequest(e.admin, "DEP-1").State != "Purged"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the purge did not complete once access was removed again")
		}
	}
}

// heldPurge has DEP-1 (alice's mailbox on it) purge-requested with the
// workload's access removed, then given back, approved by cso, and its
// job run once and held on the key that answers again.
func (e *depEnv) heldPurge() {
	e.t.Helper()
	const T = "/v1/tenants/Contoso"
	e.aliceOnDEP1()
	e.grantWorkload("get")
	e.must(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purgeBody, 200)
	e.grantWorkload("get", "wrapKey", "unwrapKey") // given back
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	if st, _, body := e.approve(tok["token"].(string), "DEP-1", "cso@contoso.com", e.officerKeys["cso@contoso.com"]); st != 200 || body["state"] != "Approved" {
		e.t.Fatalf("approve: %d %v", st, body)
	}
	for deadline := time.Now().Add(20 * time.Second); !e.jobError("purge", "can still unwrap"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatal("the purge job did not stop on the key that unwraps again")
		}
	}
}

// jobError reports whether a job of kind has failed once (or for good)
// with an error that holds text.
func (e *depEnv) jobError(kind, text string) bool {
	e.t.Helper()
	st, b := e.raw(e.admin, "GET", "/v1/tenants/Contoso/jobs", nil)
	var jobs client.List[client.Job]
	if err := json.Unmarshal(b, &jobs); st != 200 || err != nil {
		e.t.Fatalf("jobs: %d %s %v", st, b, err)
	}
	for _, j := range jobs.Value {
		if j.Kind == kind && strings.Contains(j.Error, text) {
			return true
		}
	}
	return false
}

// TestFailedPurgeJobRunsAgain: an approved purge whose job failed for
// good (here: given up while the keys answered again) is queued again,
// with the same arguments, when a node's job runner starts (and hourly),
// and completes once the keys refuse.
func TestFailedPurgeJobRunsAgain(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	e.heldPurge()
	// Its retries given up: failed for good (as after ten tries).
	e.stopJobs()
	j, err := e.st.ClaimJob(ctx, "test", time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
	if err != nil || j.Kind != "purge" {
		t.Fatalf("claim the purge job: %+v %v", j, err)
	}
	if err := e.st.FinishJob(ctx, j.ID, "test", store.JobFailed, "given up", time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// As if it failed after deleting the DEP, and the tenant ran many
	// jobs since (not due for a year): the failed job is found however
	// far back it is, and queued again with its arguments, the DEP's
	// keys and containers. (It was looked for among the tenant's newest
	// 1,000 jobs alone, and otherwise a job was queued with arguments
	// made anew, from a DEP that is gone: none.)
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteDEP(ctx, e.seed.Tenant, d.ID); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	for i := range 1001 {
		if err := e.st.CreateJob(ctx, store.Job{ID: fmt.Sprintf("other-%d", i), Tenant: e.seed.Tenant, Kind: "roll", Target: fmt.Sprintf("other:%d", i), Created: later, Until: later.Add(365 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	e.grantWorkload("get")
	e.runJobs()
	for deadline := time.Now().Add(30 * time.Second); e.purgeRequest(e.admin, "DEP-1").State != "Purged"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the approved purge whose job failed was not carried out")
		}
	}
	js, err := e.st.ListJobsOn(ctx, e.seed.Tenant, "dep:"+d.ID, 10)
	if err != nil || len(js) != 2 || js[0].State != store.JobSucceeded || string(js[0].Args) != string(j.Args) {
		t.Fatalf("the purge's jobs: %+v, %v; want the failed one's arguments run again", js, err)
	}
}

package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/shred"
)

// TestPurgePath follows the seed's data purge path for a mailbox DEP, with
// two officer approvals, and then proves that no key path opens the data.
func TestPurgePath(t *testing.T) {
	e := startDEPsOn(t, envOptions{purgeApprovals: 2})
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	if err := e.st.SetLicence(ctx, e.seed.Tenant, "carol@contoso.com", "E5"); err != nil {
		t.Fatal(err)
	}
	e.onboardEXO("cso@contoso.com", "CFO@contoso.com")
	csoKey := e.officerKeys["cso@contoso.com"]
	mustCall := func(token, method, path, body string, want int) map[string]any {
		t.Helper()
		st, _, out := e.call(token, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, st, out, want)
		}
		return out
	}
	mustCall(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys), 201)
	mustCall(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	mustCall(e.admin, "POST", T+"/mailboxes", `{"id":"bob@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	mustCall(e.admin, "POST", T+"/mailboxes", `{"id":"carol@contoso.com"}`, 201) // service-managed: not purged
	for _, mb := range []string{"alice", "bob", "carol"} {
		if st, body := e.raw(e.admin, "PUT", T+"/mailboxes/"+mb+"@contoso.com/items/m1", []byte(mb+"'s secret")); st != 200 {
			t.Fatalf("put: %d %s", st, body)
		}
	}
	_, _, global := e.call(e.global, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	admin := global["token"].(string)
	mustCall(admin, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-1","azureKeyIDs":%s}`, e.keys), 201)
	purge := `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"Leaving the service","permanentDataPurgeContact":"cso@contoso.com"}`

	// Refused for the MDEP and for sites, with the seed's explanation.
	st, ct, body := e.call(admin, "PATCH", T+"/m365DataAtRestEncryptionPolicies/MDEP-1", purge)
	e.wantProblem(400, "R6.NotForMDEP", st, ct, body)
	if !strings.Contains(body["detail"].(string), "multiple workloads") {
		t.Fatalf("MDEP refusal without the reason: %v", body)
	}
	st, ct, body = e.call(admin, "PATCH", T+"/spoDataEncryptionPolicies/NAM", `{"permanentDataPurgeRequested":true}`)
	e.wantProblem(400, "R6.NotForSites", st, ct, body)

	// Refused until enough officers have a key to sign with.
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purge)
	e.wantProblem(400, "R6.Officers", st, ct, body)
	cfoKey := e.registerOfficer("cfo@contoso.com")

	// Step 2 before step 1: refused while the keys unwrap.
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeContact":"x"}`)
	e.wantProblem(400, "R6.Reason", st, ct, body)
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purge)
	e.wantProblem(409, "R6.KeysRevoked", st, ct, body)

	// Step 1: the tenant removes the workload's wrap and unwrap rights.
	e.grantWorkload("get")
	// The reason and the contact are what the officers read before they
	// sign: one line of plain text, no escape sequences (SPEC T7, T9).
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving\u001b[2K\r\u001b[1Aforged\nline","permanentDataPurgeContact":"cso@contoso.com"}`)
	e.wantProblem(400, "R6.Reason", st, ct, body)
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com\u202e"}`)
	e.wantProblem(400, "R6.Contact", st, ct, body)
	// Step 2.
	if dep := mustCall(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purge, 200); dep["enabled"] != false {
		t.Fatalf("DEP after the purge request: %v", dep)
	}
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", purge)
	e.wantProblem(409, "R6.Requested", st, ct, body)
	st, ct, body = e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"enabled":true}`)
	e.wantProblem(409, "R6.PurgeRequested", st, ct, body)
	st, ct, body = e.call(e.admin, "PATCH", T+"/mailboxes/carol@contoso.com", `{"dataEncryptionPolicy":"DEP-1"}`)
	e.wantProblem(400, "D2.PurgeRequested", st, ct, body) // not "enable it first": it never can be
	st, ct, body = e.call(e.admin, "PATCH", T+"/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":""}`)
	e.wantProblem(409, "R6.PurgeRequested", st, ct, body)

	// What the service held before the purge, as a backup would.
	dep, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}

	// Step 3: authorised officers only, each once, each with their own
	// signature over the request; a token of an officer's address alone
	// approves nothing (T7; the attacks are TestPurgeApprovalAttacks).
	if p := mustCall(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1/purge", "", 200); fmt.Sprint(p["containers"]) != "[alice@contoso.com bob@contoso.com]" {
		t.Fatalf("the request does not list what it deletes: %v", p)
	}
	st, ct, body = e.call(e.admin, "POST", T+"/dataEncryptionPolicies/DEP-1/purge/approve", `{"officer":"admin@contoso.com","signature":"`+strings.Repeat("A", 86)+`=="}`)
	e.wantProblem(403, "R6.Officer", st, ct, body)
	officer := func(upn string) string {
		_, _, tok := e.call(e.global, "POST", T+"/tokens", fmt.Sprintf(`{"subject":%q,"role":"compliance-admin"}`, upn))
		return tok["token"].(string)
	}
	cso, cfo := officer("cso@contoso.com"), officer("cfo@contoso.com")
	st, ct, body = e.approve(cso, "DEP-1", "cso@contoso.com", cfoKey) // cso's token, cfo's key
	e.wantProblem(403, "T7.Signature", st, ct, body)
	if st, _, p := e.approve(cso, "DEP-1", "cso@contoso.com", csoKey); st != 200 || p["state"] != "Requested" || len(p["approvals"].([]any)) != 1 {
		t.Fatalf("after one of two approvals: %d %v", st, p)
	}
	st, ct, body = e.approve(cso, "DEP-1", "cso@contoso.com", csoKey)
	e.wantProblem(409, "R6.DistinctOfficers", st, ct, body)
	if st, _, p := e.approve(cfo, dep.ID, "cfo@contoso.com", cfoKey); st != 200 || p["state"] != "Approved" {
		t.Fatalf("the second approval: %d %v", st, p)
	}

	// Step 4 runs as a job.
	var p map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if p = mustCall(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1/purge", "", 200); p["state"] == "Purged" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("purge not done: %v", p)
		}
	}
	st, ct, body = e.call(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1", "")
	e.wantProblem(404, "D1.Exists", st, ct, body)
	for _, mb := range []string{"alice", "bob"} {
		st, ct, body = e.call(e.admin, "GET", T+"/mailboxes/"+mb+"@contoso.com/items/m1", "")
		e.wantProblem(404, "Mailbox.Exists", st, ct, body)
		if n, _ := e.st.CountItems(ctx, e.seed.Tenant, mb+"@contoso.com"); n != 0 {
			t.Fatalf("%s has %d items left", mb, n)
		}
	}
	if st, got := e.raw(e.admin, "GET", T+"/mailboxes/carol@contoso.com/items/m1", nil); st != 200 || string(got) != "carol's secret" {
		t.Fatalf("carol's mailbox, not on the DEP: %d %q", st, got)
	}

	// No key path opens the data, even with the DEP record and mailbox key
	// kept from before: the customer keys refuse, the availability key is
	// destroyed, and the service holds no other copy.
	kd := keyring.DEP{ID: dep.ID, Tenant: dep.Tenant, Kind: keyring.Mailbox}
	if err := kd.UnmarshalKeys(dep.Keys); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ring.DEPKey(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "test: after purge"}); err == nil {
		t.Fatal("the purged DEP's key unwrapped")
	}
	if _, err := e.ring.RecoveryKey(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "test: after purge"}); !errors.Is(err, keyring.ErrAvailabilityKeyDestroyed) {
		t.Fatalf("availability key after purge: %v", err)
	}
	if avk, err := e.st.AvailabilityKey(ctx, kd.AvailabilityKeyID); err != nil || avk.Sealed != nil || avk.DestroyedAt == nil {
		t.Fatalf("availability key record: %+v %v", avk, err)
	}
	if len(alice.ContainerKey) == 0 {
		t.Fatal("no mailbox key was kept to try")
	}

	// The certificate verifies with the service's public key, and states
	// what was destroyed; changed, it does not verify.
	_, _, k := e.call("", "GET", "/v1/service/signing-key", "")
	pub, err := shred.ParsePublicKey(k["pem"].(string))
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := base64.StdEncoding.DecodeString(p["certificate"].(string))
	c, err := shred.Verify(certFile, pub)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.Containers)
	if c.DEP != dep.ID || !slices.Equal(c.Containers, []string{"alice@contoso.com", "bob@contoso.com"}) || len(c.Approvals) != 2 || c.Keys[0].ID != kd.AvailabilityKeyID || c.Keys[0].State != "destroyed" || len(c.Keys) != 4 ||
		c.Keys[1].Kind != "key-encryption-key" || c.Keys[1].ID != "kek-v1" || c.Keys[1].State != "destroyed" {
		t.Fatalf("certificate: %+v", c)
	}
	if _, err := shred.Verify([]byte(strings.Replace(string(certFile), "bob@", "eve@", 1)), pub); !errors.Is(err, shred.ErrSignature) {
		t.Fatalf("a changed certificate: %v", err)
	}
	// The service verifies a file the same way for a client that has no
	// Ed25519 (the console): valid, or not and why.
	for _, tc := range []struct {
		file  string
		valid bool
		err   string
	}{
		{string(certFile), true, ""},
		{strings.Replace(string(certFile), "bob@", "eve@", 1), false, "signature does not match"},
		{`{"certificate":{"type":"x"},"signature":"AAAA"}`, false, "not a certificate file"},
	} {
		st, _, got := e.call("", "POST", "/v1/service/certificates/verify", tc.file)
		if st != 200 || got["valid"] != tc.valid || !strings.Contains(fmt.Sprint(got["error"]), tc.err) || tc.valid && got["dataEncryptionPolicyID"] != dep.ID {
			t.Fatalf("verify %.60s: %d %v, want valid %v and error with %q", tc.file, st, got, tc.valid, tc.err)
		}
	}
	// Each approval carries the officer's signature over the request the
	// certificate states, with the officer's key (T7).
	if c.Type != shred.Type || c.Approvals[0].Officer != "cso@contoso.com" || c.Approvals[0].Fingerprint != client.KeyFingerprint(csoKey.Public().(ed25519.PublicKey)) || c.Approvals[1].Signature == "" {
		t.Fatalf("certificate approvals: %+v", c.Approvals)
	}
	if err := c.VerifyApprovals(); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		actions = append(actions, r.Action)
	}
	for _, want := range []string{"availability-key-destroy", "purge"} {
		if !slices.Contains(actions, want) {
			t.Fatalf("audit log has no %s: %v", want, actions)
		}
	}
}

// A read that lands between the purge job's first step (the DEP deleted)
// and its mailbox deletions is refused as purged, not as a server error.
func TestReadDuringPurge(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	e.grantWorkload("get")
	if st, _, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`); st != 200 {
		t.Fatalf("purge request: %d %v", st, body)
	}
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteDEP(ctx, e.seed.Tenant, d.ID); err != nil { // as the purge job's first step
		t.Fatal(err)
	}
	st, ct, body := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/items/m1", "")
	e.wantProblem(410, "R6.Purged", st, ct, body)
}

// A purge requested after a mailbox was assigned elsewhere, but before
// its re-wrap ran, keeps the mailbox on the DEP to be purged.
func TestPurgeStopsPendingAssignment(t *testing.T) {
	// A purge requested on the mailbox's DEP, or on the DEP it is being
	// moved to, drops the pending move: nothing leaves a DEP to be purged,
	// and nothing moves onto one (its containers are fixed at approval).
	for _, purged := range []string{"DEP-1", "DEP-2"} {
		t.Run(purged, func(t *testing.T) {
			e := startDEPsOn(t, envOptions{holdJobs: true})
			ctx := context.Background()
			const T = "/v1/tenants/Contoso"
			e.aliceOnDEP1()
			if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":%s}`, e.keys)); st != 201 {
				t.Fatalf("DEP-2: %d %v", st, body)
			}
			if st, _, body := e.call(e.admin, "PATCH", T+"/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":"DEP-2"}`); st != 202 || body["pendingDataEncryptionPolicyID"] == nil {
				t.Fatalf("Set-Mailbox: %d %v", st, body)
			}
			e.grantWorkload("get")
			if st, _, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/"+purged, `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`); st != 200 {
				t.Fatalf("purge request: %d %v", st, body)
			}
			e.runJobs()
			d1, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				m, err := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com")
				if err != nil {
					t.Fatal(err)
				}
				if m.Target == "" {
					if m.DEP != d1.ID {
						t.Fatalf("alice moved to %s, with %s to be purged", m.DEP, purged)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("alice's assignment still pending: %+v", m)
				}
			}
		})
	}
}

// TestPurgeLeavesNothing (SPEC T8): a purge deletes every artefact of its
// mailboxes, the search index included; a mailbox made again with the
// same address starts empty and searches.
func TestPurgeLeavesNothing(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	const box = T + "/mailboxes/alice@contoso.com"
	e.aliceOnDEP1()
	for i, text := range []string{"board minutes", "quarterly numbers"} {
		if st, body := e.raw(e.admin, "PUT", fmt.Sprintf("%s/items/m%d", box, i), []byte(text)); st != 200 {
			t.Fatalf("put: %d %s", st, body)
		}
	}
	if st, _, body := e.call(e.admin, "GET", box+"/search?q=board", ""); st != 200 || len(body["value"].([]any)) != 1 {
		t.Fatalf("search before the purge: %d %v", st, body)
	}
	if items, err := e.st.ListItems(ctx, e.seed.Tenant, "~index:alice@contoso.com"); err != nil || len(items) == 0 {
		t.Fatalf("no search index to purge (%v): the test shows nothing", err)
	}
	e.grantWorkload("get")
	if st, _, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`); st != 200 {
		t.Fatalf("purge request: %d %v", st, body)
	}
	if st, _, body := e.approve(e.global, "DEP-1", "cso@contoso.com", e.officerKeys["cso@contoso.com"]); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, _, p := e.call(e.admin, "GET", T+"/dataEncryptionPolicies/DEP-1/purge", ""); p["state"] == "Purged" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("purge not done")
		}
	}
	for _, c := range []string{"alice@contoso.com", "~index:alice@contoso.com"} {
		if items, err := e.st.ListItems(ctx, e.seed.Tenant, c); err != nil || len(items) != 0 {
			t.Fatalf("%s after the purge: %d items left (%v)", c, len(items), err)
		}
	}
	// The same address again, on another DEP: empty, and it searches.
	e.grantWorkload("get", "wrapKey", "unwrapKey")
	if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP-2: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-2"}`); st != 201 {
		t.Fatalf("alice again: %d %v", st, body)
	}
	for _, q := range []string{"board", "agenda"} {
		if st, _, body := e.call(e.admin, "GET", box+"/search?q="+q, ""); st != 200 || len(body["value"].([]any)) != 0 {
			t.Fatalf("search %s in the new mailbox: %d %v", q, st, body)
		}
	}
	if st, body := e.raw(e.admin, "PUT", box+"/items/n0", []byte("new agenda")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	if st, _, body := e.call(e.admin, "GET", box+"/search?q=agenda", ""); st != 200 || fmt.Sprint(body["value"]) != "[n0]" {
		t.Fatalf("search in the new mailbox: %d %v", st, body)
	}
}

package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/store"
)

// registerOfficer gives officer a new key pair and registers its public
// key in the store (as the tenant's global admin would, before any
// purge), confirmed (as the service operator would, with the officer).
func (e *depEnv) registerOfficer(officer string) ed25519.PrivateKey {
	e.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx, before := context.Background(), time.Now().Add(-time.Minute)
	if err := e.st.PutOfficerKey(ctx, store.OfficerKey{Tenant: e.seed.Tenant, Officer: officer, PublicKey: pub, Registered: before, RegisteredBy: "setup"}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.ConfirmOfficerKey(ctx, e.seed.Tenant, officer, pub, before, "operator"); err != nil {
		e.t.Fatal(err)
	}
	e.officerKeys[officer] = priv
	return priv
}

// purgeRequest reads the purge request of dep as the SDK does.
func (e *depEnv) purgeRequest(token, dep string) client.PurgeRequest {
	e.t.Helper()
	st, b := e.raw(token, "GET", "/v1/tenants/Contoso/dataEncryptionPolicies/"+dep+"/purge", nil)
	var p client.PurgeRequest
	if err := json.Unmarshal(b, &p); st != 200 || err != nil {
		e.t.Fatalf("purge of %s: %d %s %v", dep, st, b, err)
	}
	return p
}

// approve signs the purge of dep as officer with key (what ck dep purge
// approve --key does) and sends the signature with token.
func (e *depEnv) approve(token, dep, officer string, key ed25519.PrivateKey) (int, string, map[string]any) {
	e.t.Helper()
	st, err := e.purgeRequest(token, dep).Statement(officer)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.sendApproval(token, dep, officer, client.SignPurge(key, st))
}

func (e *depEnv) sendApproval(token, dep, officer, sig string) (int, string, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(client.ApprovePurgeRequest{Officer: officer, Signature: sig})
	return e.call(token, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/"+dep+"/purge/approve", string(b))
}

// requestPurges makes each DEP ("NAME:mailbox,mailbox...") with its
// mailboxes, removes the workload's access to the keys, and requests each
// DEP's purge.
func (e *depEnv) requestPurges(token string, deps ...string) {
	e.t.Helper()
	const T = "/v1/tenants/Contoso"
	for _, d := range deps {
		name, mbs, _ := strings.Cut(d, ":")
		if st, _, b := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, name, e.keys)); st != 201 {
			e.t.Fatalf("DEP %s: %d %v", name, st, b)
		}
		for _, mb := range strings.Split(mbs, ",") {
			if st, _, b := e.call(e.admin, "POST", T+"/mailboxes", fmt.Sprintf(`{"id":%q,"dataEncryptionPolicy":%q}`, mb, name)); st != 201 {
				e.t.Fatalf("mailbox %s: %d %v", mb, st, b)
			}
		}
	}
	e.grantWorkload("get")
	for _, d := range deps {
		name, _, _ := strings.Cut(d, ":")
		if st, _, b := e.call(token, "PATCH", T+"/dataEncryptionPolicies/"+name, `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`); st != 200 {
			e.t.Fatalf("purge request on %s: %d %v", name, st, b)
		}
	}
}

// TestOfficerKeys: the tenant's global admin registers and replaces
// officers' keys (audited); anything else is refused with its rule, and
// nobody changes a key while a purge request is open (T7).
func TestOfficerKeys(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	admin := e.global
	pub, _, _ := ed25519.GenerateKey(nil)
	ssh := client.AuthorizedKey(pub, "cso@contoso.com")
	put := func(token, officer, key string) (int, string, map[string]any) {
		b, _ := json.Marshal(client.RegisterOfficerKeyRequest{PublicKey: key})
		return e.call(token, "PUT", T+"/officers/"+officer+"/key", string(b))
	}

	st, ct, body := put(e.admin, "cso@contoso.com", ssh) // an Exchange admin
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	st, ct, body = put(admin, "eve@contoso.com", ssh)
	e.wantProblem(404, "R6.Officer", st, ct, body)
	for _, bad := range []string{"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "not a key", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n"} {
		st, ct, body = put(admin, "cso@contoso.com", bad)
		e.wantProblem(400, "T7.PublicKey", st, ct, body)
	}
	// Replaced (audited, with both fingerprints); the old key no longer signs.
	old := client.KeyFingerprint(e.officerKeys["cso@contoso.com"].Public().(ed25519.PublicKey))
	st, _, body = put(admin, "CSO@contoso.com", ssh)
	if st != 200 || body["fingerprint"] != client.KeyFingerprint(pub) || body["replaced"] != old || body["officer"] != "cso@contoso.com" {
		t.Fatalf("replace: %d %v", st, body)
	}
	var seen bool
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		if r.Action == "officer-key-replace" && r.KeyID == client.KeyFingerprint(pub) && strings.HasPrefix(r.Actor, "admin@contoso.com (global-admin, token ") {
			seen = true
		}
	}
	if !seen {
		t.Fatal("the key replacement is not in the audit log")
	}
	// One key, one officer.
	e.st.SetOnboarded(context.Background(), store.Onboarding{Tenant: e.seed.Tenant, Scenario: "EXO", RequestID: "test", Officers: []string{"cso@contoso.com", "cfo@contoso.com"}, Enabled: time.Now()})
	st, ct, body = put(admin, "cfo@contoso.com", ssh)
	e.wantProblem(409, "T7.KeyUnique", st, ct, body)
	_, _, list := e.call(e.admin, "GET", T+"/officers", "")
	if vs := list["value"].([]any); len(vs) != 2 || vs[0].(map[string]any)["officer"] != "cfo@contoso.com" || vs[0].(map[string]any)["fingerprint"] != nil || vs[1].(map[string]any)["fingerprint"] != client.KeyFingerprint(pub) || vs[1].(map[string]any)["confirmed"] != nil {
		t.Fatalf("officers (the replaced key not confirmed): %v", list)
	}

	// The operator confirms the key the officer read out, and only that one.
	confirm := func(token, officer, fp string) (int, string, map[string]any) {
		b, _ := json.Marshal(client.ConfirmOfficerKeyRequest{Fingerprint: fp})
		return e.call(token, "POST", T+"/officers/"+officer+"/key/confirm", string(b))
	}
	st, ct, body = confirm(admin, "cso@contoso.com", client.KeyFingerprint(pub)) // the global admin
	e.wantProblem(403, "Authorization.Operator", st, ct, body)
	st, ct, body = confirm(e.operator, "cso@contoso.com", old) // what the officer gave: not the key registered now
	e.wantProblem(409, "T7.KeyFingerprint", st, ct, body)
	st, ct, body = confirm(e.operator, "cfo@contoso.com", client.KeyFingerprint(pub))
	e.wantProblem(404, "T7.KeyRegistered", st, ct, body)
	st, _, body = confirm(e.operator, "cso@contoso.com", client.KeyFingerprint(pub))
	if st != 200 || body["confirmed"] == nil || body["confirmedBy"] != "operator" || body["fingerprint"] != client.KeyFingerprint(pub) {
		t.Fatalf("confirm: %d %v", st, body)
	}
	seen = false
	for _, r := range e.readAudit(e.operator, "Contoso", 0) {
		if r.Action == "officer-key-confirm" && r.KeyID == client.KeyFingerprint(pub) && strings.HasPrefix(r.Actor, "operator (operator, token ") {
			seen = true
		}
	}
	if !seen {
		t.Fatal("the confirmation is not in the tenant's audit log")
	}

	// Under an open purge request: no key changes, first or replacement.
	e.requestPurges(admin, "DEP-1:alice@contoso.com")
	pub2, _, _ := ed25519.GenerateKey(nil)
	st, ct, body = put(admin, "cso@contoso.com", client.AuthorizedKey(pub2, ""))
	e.wantProblem(409, "T7.KeyDuringPurge", st, ct, body)
	if d := body["detail"].(string); !strings.Contains(d, "DEP-1") {
		t.Fatalf("the refusal does not name the open purge: %v", body)
	}
	st, ct, body = put(admin, "cfo@contoso.com", client.AuthorizedKey(pub2, ""))
	e.wantProblem(409, "T7.KeyDuringPurge", st, ct, body)
	// Confirming may happen under it: the key cannot change meanwhile.
	if st, _, body = confirm(e.operator, "cso@contoso.com", client.KeyFingerprint(pub)); st != 200 {
		t.Fatalf("confirm under an open purge: %d %v", st, body)
	}
}

// TestGlobalAdminCannotSignAsAnOfficer: the tenant's global admin, who
// issues every token and registers officers' keys, registers a key of
// their own for an officer (the attack of a later review): it signs
// nothing until the service operator confirms it, and the operator,
// confirming the fingerprint the officer gave, does not confirm it (T7).
func TestGlobalAdminCannotSignAsAnOfficer(t *testing.T) {
	e := startDEPsOn(t, envOptions{purgeApprovals: 1})
	const T = "/v1/tenants/Contoso"
	admin := e.global
	real := e.officerKeys["cso@contoso.com"]
	e.st.SetOnboarded(context.Background(), store.Onboarding{Tenant: e.seed.Tenant, Scenario: "EXO", RequestID: "test", Officers: []string{"cso@contoso.com", "cfo@contoso.com"}, Enabled: time.Now()})
	e.registerOfficer("cfo@contoso.com") // an honest second officer: the purge can be requested
	mine, minePriv, _ := ed25519.GenerateKey(nil)
	b, _ := json.Marshal(client.RegisterOfficerKeyRequest{PublicKey: client.AuthorizedKey(mine, "")})
	if st, _, body := e.call(admin, "PUT", T+"/officers/cso@contoso.com/key", string(b)); st != 200 {
		t.Fatalf("the admin's key for cso: %d %v", st, body)
	}
	// The operator, asked to confirm, checks with cso: cso's fingerprint is not the one registered.
	b, _ = json.Marshal(client.ConfirmOfficerKeyRequest{Fingerprint: client.KeyFingerprint(real.Public().(ed25519.PublicKey))})
	st, ct, body := e.call(e.operator, "POST", T+"/officers/cso@contoso.com/key/confirm", string(b))
	e.wantProblem(409, "T7.KeyFingerprint", st, ct, body)

	e.requestPurges(admin, "DEP-1:alice@contoso.com")
	st, ct, body = e.approve(admin, "DEP-1", "cso@contoso.com", minePriv)
	e.wantProblem(403, "T7.KeyConfirmed", st, ct, body)
	st, ct, body = e.approve(admin, "DEP-1", "cso@contoso.com", real) // cso's own key was replaced: it signs nothing either
	e.wantProblem(403, "T7.KeyConfirmed", st, ct, body)
	if p := e.purgeRequest(admin, "DEP-1"); p.State != "Requested" || len(p.Approvals) != 0 {
		t.Fatalf("after the refused approvals: %+v", p)
	}
	// The honest officer's confirmed key approves.
	if st, _, body := e.approve(admin, "DEP-1", "cfo@contoso.com", e.officerKeys["cfo@contoso.com"]); st != 200 || body["state"] != "Approved" {
		t.Fatalf("cfo's approval: %d %v", st, body)
	}
}

// TestPurgeNeedsConfirmedKeys: a purge is not requested while fewer
// officers than it needs have a key the operator confirmed.
func TestPurgeNeedsConfirmedKeys(t *testing.T) {
	e := startDEPsOn(t, envOptions{purgeApprovals: 1})
	const T = "/v1/tenants/Contoso"
	pub, _, _ := ed25519.GenerateKey(nil)
	b, _ := json.Marshal(client.RegisterOfficerKeyRequest{PublicKey: client.AuthorizedKey(pub, "")})
	if st, _, body := e.call(e.global, "PUT", T+"/officers/cso@contoso.com/key", string(b)); st != 200 {
		t.Fatalf("register: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP: %d %v", st, body)
	}
	e.grantWorkload("get")
	st, ct, body := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/DEP-1", `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`)
	e.wantProblem(400, "R6.Officers", st, ct, body)
	if d, _ := body["detail"].(string); !strings.Contains(d, "confirmed") {
		t.Errorf("the refusal does not say the keys must be confirmed: %v", body)
	}
}

// TestPurgeApprovalAttacks: only a designated officer's signature, by the
// key registered before the request, over this very request, approves a
// purge (T7). Each attack is refused with its rule and leaves the request
// unapproved.
func TestPurgeApprovalAttacks(t *testing.T) {
	e := startDEPsOn(t, envOptions{purgeApprovals: 1})
	const T = "/v1/tenants/Contoso"
	admin := e.global
	// The attack of issue 11: a global admin mints a token whose subject is
	// the officer's address.
	_, _, f := e.call(admin, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"global-admin"}`)
	forged := f["token"].(string)
	cso := e.officerKeys["cso@contoso.com"]
	e.requestPurges(admin, "DEP-1:alice@contoso.com", "DEP-2:bob@contoso.com")
	p1 := e.purgeRequest(admin, "DEP-1")
	if p1.Tenant != e.seed.Tenant || len(p1.Containers) != 1 || p1.Containers[0] != "alice@contoso.com" {
		t.Fatalf("the request does not say what it deletes: %+v", p1)
	}
	st1, _ := p1.Statement("cso@contoso.com")
	good := client.SignPurge(cso, st1)
	_, eve, _ := ed25519.GenerateKey(nil)
	altered, _ := base64.StdEncoding.DecodeString(good)
	altered[5] ^= 1
	st2, _ := e.purgeRequest(admin, "DEP-2").Statement("cso@contoso.com")
	otherFields := st1
	otherFields.Containers = nil // signs for deleting nothing
	asCFO := st1
	asCFO.Officer = "cfo@contoso.com"

	for _, c := range []struct {
		name, token, officer, sig string
		status                    int
		rule                      string
	}{
		{"token of the officer's address, no signature", forged, "cso@contoso.com", "", 422, "Request"},
		{"token of the officer's address, garbage", forged, "cso@contoso.com", "c2lnbmVk", 400, "T7.Signature"},
		{"forged: signed by another key", forged, "cso@contoso.com", client.SignPurge(eve, st1), 403, "T7.Signature"},
		{"altered signature", admin, "cso@contoso.com", base64.StdEncoding.EncodeToString(altered), 403, "T7.Signature"},
		{"replayed from another purge", admin, "cso@contoso.com", client.SignPurge(cso, st2), 403, "T7.Signature"},
		{"over other fields", admin, "cso@contoso.com", client.SignPurge(cso, otherFields), 403, "T7.Signature"},
		{"signed as another officer", admin, "cso@contoso.com", client.SignPurge(cso, asCFO), 403, "T7.Signature"},
		{"officer not designated", admin, "admin@contoso.com", client.SignPurge(cso, st1), 403, "R6.Officer"},
		{"designated officer without a key", admin, "cfo@contoso.com", client.SignPurge(cso, asCFO), 403, "T7.KeyRegistered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "designated officer without a key" {
				e.st.SetOnboarded(context.Background(), store.Onboarding{Tenant: e.seed.Tenant, Scenario: "EXO", RequestID: "test", Officers: []string{"cso@contoso.com", "cfo@contoso.com"}, Enabled: time.Now()})
			}
			var body map[string]any
			var st int
			var ct string
			if c.sig == "" {
				st, ct, body = e.call(c.token, "POST", T+"/dataEncryptionPolicies/DEP-1/purge/approve", `{"officer":"cso@contoso.com"}`)
			} else {
				st, ct, body = e.sendApproval(c.token, "DEP-1", c.officer, c.sig)
			}
			e.wantProblem(c.status, c.rule, st, ct, body)
			if p := e.purgeRequest(admin, "DEP-1"); p.State != "Requested" || len(p.Approvals) != 0 {
				t.Fatalf("after a refused approval: %+v", p)
			}
		})
	}

	// The officer's own signature approves, whoever's token carries it.
	st, _, body := e.sendApproval(admin, "DEP-1", "cso@contoso.com", good)
	if st != 200 || body["state"] != "Approved" {
		t.Fatalf("signed approval: %d %v", st, body)
	}
	ap := body["approvals"].([]any)[0].(map[string]any)
	if ap["officer"] != "cso@contoso.com" || ap["signature"] != good || ap["submittedBy"] != "admin@contoso.com" || ap["fingerprint"] != client.KeyFingerprint(cso.Public().(ed25519.PublicKey)) {
		t.Fatalf("approval: %v", ap)
	}
	// The same signature once more, on the approved purge: nothing to approve.
	st, ct, body := e.sendApproval(admin, "DEP-1", "cso@contoso.com", good)
	e.wantProblem(409, "R6.State", st, ct, body)
}

// TestPurgeKeyRegisteredMidPurge: a key that got in under an open
// request (the race the store's guard closes on SQLite, not on
// PostgreSQL) does not approve it; one registered before it and
// confirmed under it (a key left unconfirmed by the upgrade that brought
// confirmations, or by a race with the request) does.
func TestPurgeKeyRegisteredMidPurge(t *testing.T) {
	for _, registeredBefore := range []bool{false, true} {
		t.Run(fmt.Sprintf("registered before the request %v, confirmed after it", registeredBefore), func(t *testing.T) {
			e := startDEPs(t)
			admin := e.global
			pub, priv, _ := ed25519.GenerateKey(nil)
			ctx := context.Background()
			register := func() {
				if err := e.st.PutOfficerKey(ctx, store.OfficerKey{Tenant: e.seed.Tenant, Officer: "cso@contoso.com", PublicKey: pub, Registered: time.Now(), RegisteredBy: "mallory"}); err != nil {
					t.Fatal(err)
				}
			}
			if registeredBefore {
				register()
				e.registerOfficer("cfo@contoso.com") // the purge needs a confirmed key to open
				e.st.SetOnboarded(ctx, store.Onboarding{Tenant: e.seed.Tenant, Scenario: "EXO", RequestID: "test", Officers: []string{"cso@contoso.com", "cfo@contoso.com"}, Enabled: time.Now()})
			}
			e.requestPurges(admin, "DEP-1:alice@contoso.com")
			p := e.purgeRequest(admin, "DEP-1")
			// As if it had raced in: written past the store's guard.
			stored, err := e.st.Purge(ctx, e.seed.Tenant, p.DEP)
			if err != nil {
				t.Fatal(err)
			}
			racing := store.Purge{Tenant: e.seed.Tenant, DEP: p.DEP, State: "Racing", Approvals: []store.PurgeApproval{}, Updated: store.After(stored.Updated, time.Now())}
			if err := e.st.UpdatePurge(ctx, racing, stored); err != nil {
				t.Fatal(err)
			}
			if !registeredBefore {
				register()
			}
			if err := e.st.ConfirmOfficerKey(ctx, e.seed.Tenant, "cso@contoso.com", pub, time.Now(), "operator"); err != nil {
				t.Fatal(err)
			}
			if err := e.st.UpdatePurge(ctx, store.Purge{Tenant: e.seed.Tenant, DEP: p.DEP, State: "Requested", Approvals: []store.PurgeApproval{}, Updated: store.After(racing.Updated, time.Now())}, racing); err != nil {
				t.Fatal(err)
			}
			st, ct, body := e.approve(admin, "DEP-1", "cso@contoso.com", priv)
			if registeredBefore {
				if st != 200 {
					t.Fatalf("a key registered before the request, confirmed under it: %d %v", st, body)
				}
				return
			}
			e.wantProblem(403, "T7.KeyDuringPurge", st, ct, body)
		})
	}
}

// purgeDEP runs a mailbox DEP's purge to its end, as a tenant would: the
// workload's access to the keys removed (both vaults), the purge asked,
// approved by the officer cso@contoso.com, and waited for until Purged.
func (e *depEnv) purgeDEP(dep string) {
	e.t.Helper()
	const T = "/v1/tenants/Contoso"
	e.grantWorkload("get")
	officer := e.registerOfficer("cso@contoso.com")
	if st, _, b := e.call(e.admin, "PATCH", T+"/dataEncryptionPolicies/"+dep, `{"permanentDataPurgeRequested":true,"permanentDataPurgeReason":"leaving","permanentDataPurgeContact":"cso@contoso.com"}`); st != 200 {
		e.t.Fatalf("purge request on %s: %d %v", dep, st, b)
	}
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	if st, _, body := e.approve(tok["token"].(string), dep, "cso@contoso.com", officer); st != 200 {
		e.t.Fatalf("approve the purge of %s: %d %v", dep, st, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, _, p := e.call(e.admin, "GET", T+"/dataEncryptionPolicies/"+dep+"/purge", "")
		if p["state"] == "Purged" {
			return
		} else if time.Now().After(deadline) {
			e.t.Fatalf("the purge of %s: %v", dep, p)
		}
	}
}

// racingStore runs meanwhile, once armed, just before a purge request's
// change is stored: another approval lands first.
type racingStore struct {
	store.Store
	armed     atomic.Bool
	meanwhile func()
}

func (r *racingStore) UpdatePurge(ctx context.Context, p, prev store.Purge) error {
	if r.armed.CompareAndSwap(true, false) {
		r.meanwhile()
	}
	return r.Store.UpdatePurge(ctx, p, prev)
}

// TestApprovalsAtTheSameMomentBothCount: two officers approve a purge at
// the same moment; both were told their approval counted, and the one
// stored second overwrote the first (the store checked only the state),
// so the purge waited for an approval already given.
func TestApprovalsAtTheSameMomentBothCount(t *testing.T) {
	race := &racingStore{}
	e := startDEPsOn(t, envOptions{purgeApprovals: 2, holdJobs: true, store: func(st store.Store) store.Store { race.Store = st; return race }})
	e.onboardEXO("cso@contoso.com", "cfo@contoso.com")
	cfoKey := e.registerOfficer("cfo@contoso.com")
	e.requestPurges(e.admin, "DEP-1:alice@contoso.com")
	race.meanwhile = func() {
		if st, _, body := e.approve(e.admin, "DEP-1", "cfo@contoso.com", cfoKey); st != 200 {
			t.Errorf("the approval that lands first: %d %v", st, body)
		}
	}
	race.armed.Store(true)
	if st, _, body := e.approve(e.admin, "DEP-1", "cso@contoso.com", e.officerKeys["cso@contoso.com"]); st != 200 {
		t.Fatalf("the approval that lost the race: %d %v", st, body)
	}
	p := e.purgeRequest(e.admin, "DEP-1")
	var officers []string
	for _, a := range p.Approvals {
		officers = append(officers, a.Officer)
	}
	slices.Sort(officers)
	if p.State != store.PurgeApproved || !slices.Equal(officers, []string{"cfo@contoso.com", "cso@contoso.com"}) {
		t.Fatalf("purge after two approvals at once: %s, approved by %v; want Approved by both", p.State, officers)
	}
}

// enableRace runs meanwhile, once armed, just before a purge request is
// stored: an enable of its DEP lands first.
type enableRace struct {
	store.Store
	armed     atomic.Bool
	meanwhile func()
}

func (r *enableRace) CreatePurge(ctx context.Context, p store.Purge) error {
	if r.armed.CompareAndSwap(true, false) {
		r.meanwhile()
	}
	return r.Store.CreatePurge(ctx, p)
}

// TestPurgeRequestStaysDisabled: an enable of a DEP at the moment its
// purge is requested does not leave the request on an enabled DEP. The
// request disabled the DEP, then stored itself; an enable between the two
// found no request and enabled the DEP again.
func TestPurgeRequestStaysDisabled(t *testing.T) {
	race := &enableRace{}
	e := startDEPsOn(t, envOptions{store: func(st store.Store) store.Store { race.Store = st; return race }})
	const dep = "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1"
	e.aliceOnDEP1()
	e.grantWorkload("get")
	race.meanwhile = func() {
		if st, _, body := e.call(e.admin, "PATCH", dep, `{"enabled":true}`); st != 200 {
			t.Errorf("the enable that lands first: %d %v", st, body)
		}
	}
	race.armed.Store(true)
	if st, _, body := e.call(e.admin, "PATCH", dep, purgeBody); st != 200 || body["enabled"] != false {
		t.Fatalf("purge request: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "GET", dep, ""); st != 200 || body["enabled"] != false {
		t.Fatalf("the DEP after its purge request and an enable at the same moment: %d %v; want disabled", st, body)
	}
	st, ct, body := e.call(e.admin, "PATCH", dep, `{"enabled":true}`)
	e.wantProblem(409, "R6.PurgeRequested", st, ct, body)

	// A process that died between storing the request and disabling the
	// DEP left it enabled: a node disables it at start (and hourly).
	e.stopJobs()
	ctx := context.Background()
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	prev := d.Updated
	d.Enabled, d.Updated = true, store.After(prev, time.Now())
	if err := e.st.UpdateDEP(ctx, d, prev); err != nil {
		t.Fatal(err)
	}
	e.runJobs()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, _, body := e.call(e.admin, "GET", dep, ""); body["enabled"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the enabled DEP of a purge request was not disabled at start")
		}
	}
}

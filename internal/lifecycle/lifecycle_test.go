package lifecycle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/lifecycle"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/workload"
)

// licensed lets every user have a customer DEP.
type licensed struct{}

func (licensed) RequireLicence(context.Context, store.ServiceTenant, string) error { return nil }

// env is the lifecycle over real parts, composed as service.NewAPI
// composes it: deptest's DEP service (the built-in vault over HTTPS
// through azkeys, its SQLite store), the containers, the jobs runner,
// access requests and the audit log. Its jobs run only once run is
// called, so a test can set the data up before a job looks at it.
type env struct {
	*deptest.Env
	boxes  *workload.Service
	jobs   *jobs.Runner
	access *access.Service
	life   *lifecycle.Service
	// The callers: the Exchange admin (deptest's Ctx), the tenant's
	// global admin and the service operator.
	global, operator context.Context
}

func start(t *testing.T) *env {
	t.Helper()
	e := deptest.Start(t)
	st := e.Vault.Store
	log := slog.New(slog.DiscardHandler)
	blobs := st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
	boxes := workload.New(workload.Config{Store: st, Blobs: blobs, DEPs: e.DEPs, Licences: licensed{}, Now: time.Now, Logger: log})
	auditLog := audit.New(st, time.Now, log)
	runner := jobs.New(jobs.Config{Store: st, Logger: log, Now: time.Now})
	consent := access.New(access.Config{Store: st, DEPs: e.DEPs, Audit: auditLog, Now: time.Now, Logger: log})
	life := lifecycle.New(lifecycle.Config{Store: st, DEPs: e.DEPs, Containers: boxes, Jobs: runner, Audit: auditLog, Access: consent,
		RevocationProbe: -1, Now: time.Now, Logger: log})
	bg := context.Background()
	return &env{Env: e, boxes: boxes, jobs: runner, access: consent, life: life,
		global:   tenant.WithCaller(bg, store.APIToken{Tenant: e.Tenant.ID, Subject: "admin@contoso.com", Role: tenant.RoleGlobalAdmin}),
		operator: tenant.WithCaller(bg, store.APIToken{Subject: "operator@provider.example", Role: tenant.RoleOperator}),
	}
}

// run runs the lifecycle (its jobs runner and the sweeps of
// lifecycle.Run) until the test ends.
func (e *env) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.life.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitJob polls a job until it succeeds; it fails the test if the job
// fails or does not end within the deadline.
func (e *env) waitJob(t *testing.T, id string) store.Job {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		j, err := e.life.Job(e.Ctx, e.Tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		switch j.State {
		case store.JobSucceeded:
			return j
		case store.JobFailed:
			t.Fatalf("job %s (%s) failed: %s", j.ID, j.Kind, j.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s (%s) not done: %+v", j.ID, j.Kind, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newDEP creates a mailbox (or other kind of) DEP on two key URIs.
func (e *env) newDEP(t *testing.T, k dep.Kind, name string, keys [2]string) store.DEP {
	t.Helper()
	d, err := e.DEPs.Create(e.Ctx, e.Tenant, dep.Spec{Kind: k, Name: name, KeyURIs: keys[:]})
	if err != nil {
		t.Fatalf("DEP %s: %v", name, err)
	}
	return d
}

// replacementKeys makes a second key in each of the seed's vaults, as a
// tenant does for a DEP on new keys, and returns their URIs.
func (e *env) replacementKeys(t *testing.T) [2]string {
	t.Helper()
	var uris [2]string
	for i, kc := range e.Seed.Keys {
		if _, err := kc.CreateKey(context.Background(), "replacement", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			t.Fatal(err)
		}
		uris[i] = e.Seed.Vaults[i].URI + "/keys/replacement"
	}
	return uris
}

// fill creates a mailbox on a DEP with a few items, one of them larger
// than a chunk (kept as a blob), and returns what each item holds.
func (e *env) fill(t *testing.T, upn, depName string) map[string][]byte {
	t.Helper()
	if _, err := e.boxes.CreateMailbox(e.Ctx, e.Tenant, upn, "", depName); err != nil {
		t.Fatalf("mailbox %s: %v", upn, err)
	}
	large := make([]byte, 200<<10)
	rand.Read(large)
	items := map[string][]byte{"m0": []byte(upn + " item 0"), "m1": []byte(upn + " item 1"), "large": large}
	for id, content := range items {
		e.put(t, upn, id, content)
	}
	return items
}

func (e *env) put(t *testing.T, upn, id string, content []byte) {
	t.Helper()
	if _, err := e.boxes.Put(e.Ctx, e.Tenant, workload.MailboxRef(upn), id, "", bytes.NewReader(content), workload.PutOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", upn, id, err)
	}
}

// readBack checks that every item of a mailbox reads back byte for byte.
func (e *env) readBack(t *testing.T, upn string, items map[string][]byte) {
	t.Helper()
	for id, want := range items {
		c, err := e.boxes.Open(e.Ctx, e.Tenant, workload.MailboxRef(upn), id, 0)
		if err != nil {
			t.Errorf("open %s/%s: %v", upn, id, err)
			continue
		}
		var got bytes.Buffer
		err = c.Copy(e.Ctx, &got, 0, -1)
		c.Close()
		if err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("read %s/%s: %d bytes, %v; want the %d bytes written", upn, id, got.Len(), err, len(want))
		}
	}
}

// show is what a test says of a mailbox's statistics (not its keys).
func show(st workload.Stats) string {
	return fmt.Sprintf("on DEP %q (reported %q, encrypted %v) at key version %d, pending %q", st.Mailbox.DEP, st.DEP, st.IsEncrypted, st.Mailbox.KeyVersion, st.Pending)
}

func (e *env) stats(t *testing.T, upn string) workload.Stats {
	t.Helper()
	st, err := e.boxes.MailboxStatistics(e.Ctx, e.Tenant, upn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// grant has the operator ask for access and the tenant's global admin
// approve it; it returns the request's ID.
func (e *env) grant(t *testing.T, a access.Ask) string {
	t.Helper()
	r, err := e.access.Create(e.operator, e.Tenant, a)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = e.access.Approve(e.global, e.Tenant, r.ID); err != nil || r.State != store.AccessApproved {
		t.Fatalf("approve %s: %+v, %v", r.ID, r, err)
	}
	return r.ID
}

func (e *env) requestState(t *testing.T, id string) string {
	t.Helper()
	r, err := e.access.Get(e.global, e.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

func (e *env) enabled(t *testing.T, name string) bool {
	t.Helper()
	d, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, name)
	if err != nil {
		t.Fatal(err)
	}
	return d.Enabled
}

// wantRule fails unless err is the domain error of rule id.
func wantRule(t *testing.T, what string, err error, id string) {
	t.Helper()
	if re, ok := rule.As(err); !ok || re.Rule != id {
		t.Fatalf("%s: %v (%#v); want rule %s", what, err, re, id)
	}
}

// TestSetMailboxRewrapsUnderTheAssignedDEP: Set-Mailbox stores the
// assignment, reports the old DEP with the pending one until the
// reassign-mailboxes job has re-wrapped the mailbox key, then the new
// DEP; every item, a chunked one included, reads back byte for byte, and
// a mailbox nobody assigned stays where it was.
func TestSetMailboxRewrapsUnderTheAssignedDEP(t *testing.T) {
	e := start(t)
	e.run(t)
	d1 := e.newDEP(t, dep.Mailbox, "DEP-1", e.Seed.KeyURIs)
	d2 := e.newDEP(t, dep.Mailbox, "DEP-2", e.Seed.KeyURIs)
	svc, err := e.DEPs.ServiceDEP(e.Ctx, e.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	bob := e.fill(t, "bob@contoso.com", "DEP-1")
	for _, tc := range []struct {
		name, upn, from, to string
		wantDEP             string // the mailbox's DEP afterwards (a GUID)
		wantEncrypted       bool   // on a customer DEP afterwards
		moves               bool   // a job re-wraps it
	}{
		{"another customer DEP", "alice@contoso.com", "DEP-1", "DEP-2", d2.ID, true, true},
		{"service-managed keys", "carol@contoso.com", "DEP-2", "", svc.ID, false, true},
		{"the DEP it is on", "dave@contoso.com", "DEP-1", "DEP-1", d1.ID, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := e.fill(t, tc.upn, tc.from)
			from, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			st, job, err := e.life.SetMailbox(e.Ctx, e.Tenant, tc.upn, tc.to)
			if err != nil {
				t.Fatalf("Set-Mailbox: %v", err)
			}
			if !tc.moves {
				if job != nil || st.Pending != "" || st.DEP != from.ID {
					t.Fatalf("Set-Mailbox to its own DEP: job %v, %s; want no job and nothing pending", job, show(st))
				}
				e.readBack(t, tc.upn, items)
				return
			}
			// Until the job has re-wrapped it: the old DEP, the new pending.
			if job == nil || job.Kind != lifecycle.JobReassign || st.DEP != from.ID || st.Pending != tc.wantDEP {
				t.Fatalf("Set-Mailbox: job %+v, %s; want a %s job, on %s pending %s", job, show(st), lifecycle.JobReassign, from.ID, tc.wantDEP)
			}
			e.waitJob(t, job.ID)
			st = e.stats(t, tc.upn)
			if st.Mailbox.DEP != tc.wantDEP || st.Pending != "" || st.IsEncrypted != tc.wantEncrypted || st.Mailbox.KeyVersion != 2 {
				t.Fatalf("after the job: %s; want on %s, encrypted %v, key version 2, nothing pending", show(st), tc.wantDEP, tc.wantEncrypted)
			}
			if tc.wantEncrypted && st.DEP != tc.wantDEP {
				t.Fatalf("reports DEP %s; want %s", st.DEP, tc.wantDEP)
			}
			e.readBack(t, tc.upn, items)
			// Written after the move: sealed under the new key version.
			after := map[string][]byte{"after": []byte("written on " + tc.wantDEP)}
			e.put(t, tc.upn, "after", after["after"])
			e.readBack(t, tc.upn, after)
		})
	}
	if st := e.stats(t, "bob@contoso.com"); st.DEP != d1.ID || st.Pending != "" || st.Mailbox.KeyVersion != 1 {
		t.Errorf("bob, never assigned: %s; want on DEP-1 at key version 1", show(st))
	}
	e.readBack(t, "bob@contoso.com", bob)
}

// TestKeyLossRecoveryNeedsAnApprovedRequest: key-loss recovery (R3) is
// the operator's, with an access request the tenant approved for exactly
// that DEP and target (T5). Refused, nothing changes: the lost DEP stays
// enabled, the request stays usable, the mailboxes stay. With the
// request, every mailbox moves to the target through the lost DEP's
// availability key and reads back; the request is then spent.
func TestKeyLossRecoveryNeedsAnApprovedRequest(t *testing.T) {
	e := start(t)
	e.run(t)
	e.newDEP(t, dep.Mailbox, "DEP-1", e.Seed.KeyURIs)
	d2 := e.newDEP(t, dep.Mailbox, "DEP-2", e.replacementKeys(t))
	content := map[string]map[string][]byte{}
	for _, upn := range []string{"alice@contoso.com", "bob@contoso.com"} {
		content[upn] = e.fill(t, upn, "DEP-1")
	}
	id := e.grant(t, access.Ask{Action: access.Recover, DEP: "DEP-1", To: "DEP-2", Reason: "ticket 4711, asked by cso@contoso.com"})
	pending, err := e.access.Create(e.operator, e.Tenant, access.Ask{Action: access.Recover, DEP: "DEP-1", To: "DEP-2", Reason: "ticket 4712, not decided"})
	if err != nil {
		t.Fatal(err)
	}

	unchanged := func(t *testing.T) {
		t.Helper()
		if !e.enabled(t, "DEP-1") {
			t.Error("a refused recovery disabled the lost DEP")
		}
		if s := e.requestState(t, id); s != store.AccessApproved {
			t.Errorf("a refused recovery left the approved request %s", s)
		}
		for upn := range content {
			if st := e.stats(t, upn); st.DEP == d2.ID {
				t.Errorf("a refused recovery moved %s to DEP-2", upn)
			}
		}
	}

	// While the keys answer there is nothing to recover.
	_, err = e.life.RecoverDEP(e.operator, e.Tenant, "DEP-1", "DEP-2", id)
	wantRule(t, "recovery of a DEP whose keys answer", err, client.RuleRecoveryKeysNotLost)
	unchanged(t)

	// Both keys are lost: deleted, the vault answers not found.
	for _, kc := range e.Seed.Keys {
		if _, err := kc.DeleteKey(context.Background(), "key", nil); err != nil {
			t.Fatal(err)
		}
	}
	d1, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := e.DEPs.Workload(dep.Mailbox)
	w.Ring.Evict(d1.ID)

	for _, tc := range []struct {
		name          string
		ctx           context.Context
		target, reqID string
		want          string
	}{
		{"a tenant admin", e.Ctx, "DEP-2", id, client.RuleAuthorizationOperator},
		{"no request", e.operator, "DEP-2", " ", client.RuleAccessRequest},
		{"a request not approved", e.operator, "DEP-2", pending.ID, client.RuleAccessRequestState},
		{"another target than the request's", e.operator, "DEP-1", id, client.RuleAccessRequestScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.life.RecoverDEP(tc.ctx, e.Tenant, "DEP-1", tc.target, tc.reqID)
			wantRule(t, "recovery by "+tc.name, err, tc.want)
			unchanged(t)
		})
	}

	j, err := e.life.RecoverDEP(e.operator, e.Tenant, "DEP-1", "DEP-2", id)
	if err != nil || j.Kind != lifecycle.JobRecover {
		t.Fatalf("recovery with the approved request: %+v, %v", j, err)
	}
	if j = e.waitJob(t, j.ID); j.Total != len(content) || j.Done != len(content) {
		t.Errorf("recovery job %d/%d; want %d mailboxes moved", j.Done, j.Total, len(content))
	}
	for upn, items := range content {
		if st := e.stats(t, upn); st.DEP != d2.ID || !st.IsEncrypted {
			t.Errorf("%s after recovery: %s; want on DEP-2 %s", upn, show(st), d2.ID)
		}
		e.readBack(t, upn, items)
	}
	if e.enabled(t, "DEP-1") {
		t.Error("the lost DEP is enabled after its recovery")
	}
	if s := e.requestState(t, id); s != store.AccessUsed {
		t.Errorf("the request is %s after the recovery; want %s", s, store.AccessUsed)
	}
	// Used once.
	_, err = e.life.RecoverDEP(e.operator, e.Tenant, "DEP-1", "DEP-2", id)
	wantRule(t, "a second recovery with the same request", err, client.RuleAccessRequestState)
}

// TestRollbackRefusedForSites: the operator's rollback to service-managed
// keys (R4) is for multi-workload DEPs; a site DEP, whatever its name, is
// refused with R4.NotForSites (and a mailbox DEP with R4.Mailboxes)
// before the access request is looked at, so an approved request given
// with it is not spent. The same request then rolls the MDEP back.
func TestRollbackRefusedForSites(t *testing.T) {
	e := start(t)
	e.run(t)
	e.newDEP(t, dep.Site, "SPO-NAM", e.Seed.KeyURIs)
	e.newDEP(t, dep.Site, "tik-emea", e.Seed.KeyURIs)
	e.newDEP(t, dep.Mailbox, "DEP-1", e.Seed.KeyURIs)
	e.newDEP(t, dep.Mailbox, "SPO-Mail", e.Seed.KeyURIs)
	e.newDEP(t, dep.MDEP, "MDEP-1", e.Seed.KeyURIs)
	id := e.grant(t, access.Ask{Action: access.Rollback, DEP: "MDEP-1", Reason: "ticket 4713, the tenant leaves Customer Key"})
	for _, tc := range []struct {
		name, dep, want string
	}{
		{"a geo's site DEP", "SPO-NAM", client.RuleRollbackNotForSites},
		{"a site DEP by another name", "tik-emea", client.RuleRollbackNotForSites},
		{"a site DEP in lower case", "spo-nam", client.RuleRollbackNotForSites},
		{"a mailbox DEP", "DEP-1", client.RuleRollbackMailboxes},
		{"a mailbox DEP named like a site's", "SPO-Mail", client.RuleRollbackMailboxes},
		{"no DEP", "DEP-9", client.RuleDEPExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.life.Rollback(e.operator, e.Tenant, tc.dep, id)
			wantRule(t, "rollback of "+tc.dep, err, tc.want)
			if s := e.requestState(t, id); s != store.AccessApproved {
				t.Fatalf("the refused rollback left the request %s", s)
			}
		})
	}
	j, err := e.life.Rollback(e.operator, e.Tenant, "MDEP-1", id)
	if err != nil || j.Kind != lifecycle.JobRollback {
		t.Fatalf("rollback of the MDEP with its request: %+v, %v", j, err)
	}
	e.waitJob(t, j.ID)
	if s := e.requestState(t, id); s != store.AccessUsed {
		t.Errorf("the request is %s after the rollback; want %s", s, store.AccessUsed)
	}
}

// TestPurgeRequestStopsMoves: a purge request made after a mailbox was
// assigned drops the pending move, onto the DEP to be purged or off it
// (nothing joins or leaves a DEP whose containers the officers sign
// for); the mailbox stays where it was and reads. The DEP of a request
// left enabled (a node died between storing the request and disabling
// the DEP) is disabled when the lifecycle starts.
//
// The requests are stored as dep.RequestPurge stores them; its own
// checks (officers, keys refusing) are the dep package's tests.
func TestPurgeRequestStopsMoves(t *testing.T) {
	e := start(t)
	for _, n := range []string{"DEP-1", "DEP-2", "DEP-3"} {
		e.newDEP(t, dep.Mailbox, n, e.Seed.KeyURIs)
	}
	cases := []struct {
		name, upn, from, to, purged string
	}{
		{"onto the DEP", "alice@contoso.com", "DEP-1", "DEP-2", "DEP-2"},
		{"off the DEP", "bob@contoso.com", "DEP-3", "DEP-1", "DEP-3"},
	}
	items := map[string]map[string][]byte{}
	jobIDs := map[string]bool{}
	for _, tc := range cases {
		items[tc.upn] = e.fill(t, tc.upn, tc.from)
		st, job, err := e.life.SetMailbox(e.Ctx, e.Tenant, tc.upn, tc.to)
		if err != nil || job == nil || st.Pending == "" {
			t.Fatalf("Set-Mailbox %s: %s, %v, %v; want a pending move", tc.upn, show(st), job, err)
		}
		jobIDs[job.ID] = true
	}
	// The purge requests, after the assignments and before the job runs.
	for _, tc := range cases {
		d, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, tc.purged)
		if err != nil {
			t.Fatal(err)
		}
		var on []string
		ms, err := e.boxes.OnDEP(e.Ctx, e.Tenant, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			on = append(on, m.ID)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		p := store.Purge{Tenant: e.Tenant.ID, DEP: d.ID, Name: d.Name, Reason: "the tenant leaves", Contact: "cso@contoso.com", RequestedBy: "admin@contoso.com",
			Requested: now, Required: 1, Containers: on, State: store.PurgeRequested, Updated: now}
		if err := e.Vault.Store.CreatePurge(e.Ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	e.run(t)
	for id := range jobIDs {
		e.waitJob(t, id)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, err := e.DEPs.Get(e.Ctx, e.Tenant, dep.Mailbox, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			if st := e.stats(t, tc.upn); st.DEP != from.ID || st.Pending != "" || st.Mailbox.KeyVersion != 1 {
				t.Fatalf("%s after the job: %s; want still on %s (%s), the move dropped", tc.upn, show(st), tc.from, from.ID)
			}
			e.readBack(t, tc.upn, items[tc.upn])
			// The lifecycle disables the DEP of the request at start.
			deadline := time.Now().Add(15 * time.Second)
			for e.enabled(t, tc.purged) {
				if time.Now().After(deadline) {
					t.Fatalf("%s, with a purge request, is still enabled", tc.purged)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	if !e.enabled(t, "DEP-1") {
		t.Error("DEP-1, with no purge request, was disabled")
	}
}

// TestRecoveryWaitsForTheDEPsJob: a key-loss recovery asked while the lost
// DEP has a job queued or running is refused with Job.OnePerTarget before
// anything is spent: the lost DEP stays enabled and the tenant's approved
// request stays approved for the next try.
func TestRecoveryWaitsForTheDEPsJob(t *testing.T) {
	e := start(t) // the jobs do not run: the one queued stays queued
	d1 := e.newDEP(t, dep.Mailbox, "DEP-1", e.Seed.KeyURIs)
	e.newDEP(t, dep.Mailbox, "DEP-2", e.replacementKeys(t))
	e.fill(t, "alice@contoso.com", "DEP-1")
	id := e.grant(t, access.Ask{Action: access.Recover, DEP: "DEP-1", To: "DEP-2", Reason: "ticket 4714"})
	for _, kc := range e.Seed.Keys {
		if _, err := kc.DeleteKey(context.Background(), "key", nil); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := e.DEPs.Workload(dep.Mailbox)
	w.Ring.Evict(d1.ID)
	if _, err := e.jobs.Enqueue(e.Ctx, e.Tenant.ID, lifecycle.JobRecover, "dep:"+d1.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.life.RecoverDEP(e.operator, e.Tenant, "DEP-1", "DEP-2", id)
	wantRule(t, "recovery while the DEP has a job", err, client.RuleJobOnePerTarget)
	if !e.enabled(t, "DEP-1") {
		t.Error("the refused recovery disabled the lost DEP")
	}
	if s := e.requestState(t, id); s != store.AccessApproved {
		t.Errorf("the refused recovery left the approved request %s; want it still %s", s, store.AccessApproved)
	}
	// Disabled, as a recovery leaves it while its job moves the mailboxes
	// off it: it is not enabled again until the job ends, or it would take
	// mailboxes the job never moves.
	if _, err := e.DEPs.Disable(e.Ctx, d1); err != nil {
		t.Fatal(err)
	}
	on := true
	_, err = e.DEPs.Set(e.Ctx, e.Tenant, dep.Mailbox, "DEP-1", dep.Change{Enabled: &on})
	wantRule(t, "enabling the DEP while its job runs", err, client.RuleDEPJobRunning)
	if e.enabled(t, "DEP-1") {
		t.Error("the DEP was enabled while a job moves its mailboxes off it")
	}
}

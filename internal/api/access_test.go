package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// TestOperatorReadsNoContent (T5): no data route lists the operator,
// whatever request it holds.
func TestOperatorReadsNoContent(t *testing.T) {
	_, s, _ := bareAPI(t)
	n := 0
	for _, r := range s.Routes() {
		if strings.Contains(r.Path, "/items") || strings.Contains(r.Path, "/files") || strings.Contains(r.Path, "/records") || strings.Contains(r.Path, "/search") {
			n++
			if slices.Contains(r.Roles, tenant.RoleOperator) {
				t.Errorf("%s %s lets the operator in", r.Method, r.Path)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d data routes; the route table changed shape", n)
	}
}

// TestAccessRequests (T5, T2): recovery and rollback run only with an
// approved, unexpired request for that very action, DEP and target, once;
// a request a tenant's global admin makes itself needs no approval; each
// step is in the tenant's audit log.
func TestAccessRequests(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	var newKeys []string
	for i, kc := range e.seed.Keys {
		if _, err := kc.CreateKey(ctx, "replacement", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil); err != nil {
			t.Fatal(err)
		}
		newKeys = append(newKeys, fmt.Sprintf("%q", e.seed.Vaults[i].URI+"/keys/replacement"))
	}
	for _, c := range []struct{ name, keys string }{{"DEP-1", e.keys}, {"DEP-2", "[" + strings.Join(newKeys, ",") + "]"}, {"DEP-3", "[" + strings.Join(newKeys, ",") + "]"}} {
		if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, c.name, c.keys)); st != 201 {
			t.Fatalf("%s: %d %v", c.name, st, body)
		}
	}
	if st, _, body := e.call(e.global, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":"MDEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("MDEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	const item = T + "/mailboxes/alice@contoso.com/items/m1"
	if st, body := e.raw(e.admin, "PUT", item, []byte("board minutes")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	ask := func(token, body string) map[string]any {
		t.Helper()
		st, _, r := e.call(token, "POST", T+"/accessRequests", body)
		if st != 201 {
			t.Fatalf("access request %s: %d %v", body, st, r)
		}
		return r
	}
	const recover = T + "/dataEncryptionPolicies/DEP-1/recover"
	use := func(id, to string) (int, string, map[string]any) {
		return e.call(e.operator, "POST", recover, fmt.Sprintf(`{"to":%q,"request":%q}`, to, id))
	}

	// Making requests: who may, and what they must name.
	for _, tc := range []struct {
		name, token, body string
		status            int
		rule              string
	}{
		{"an Exchange admin", e.admin, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r"}`, 403, "Authorization.TenantAdmin"},
		{"an unknown action", e.operator, `{"action":"read-mail","dep":"DEP-1","reason":"r"}`, 422, "Request"},
		{"no reason", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"  "}`, 400, "T5.Reason"},
		{"a reason with a newline", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"a\nb"}`, 400, "T5.Reason"},
		// The global admin who decides reads the reason as it is: nothing
		// that reorders it (bidi) or hides in it (zero-width, separators).
		{"a reason with a bidi override", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 42 \u202eevitcelfer\u202c ok"}`, 400, "T5.Reason"},
		{"a reason with a zero-width space", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"zero\u200bwidth"}`, 400, "T5.Reason"},
		{"a reason with a line separator", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ls\u2028sep"}`, 400, "T5.Reason"},
		{"too long", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r","validFor":"720h"}`, 400, "T5.ValidFor"},
		{"too short", e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"r","validFor":"1m"}`, 400, "T5.ValidFor"},
		{"no target", e.operator, `{"action":"recover","dep":"DEP-1","reason":"r"}`, 400, "T5.Target"},
		{"the DEP as its own target", e.operator, `{"action":"recover","dep":"DEP-1","to":"dep-1","reason":"r"}`, 400, "T5.Target"},
		{"an unknown DEP", e.operator, `{"action":"recover","dep":"DEP-9","to":"DEP-2","reason":"r"}`, 404, "D1.Exists"},
		{"a rollback of a mailbox DEP", e.operator, `{"action":"rollback","dep":"DEP-1","reason":"r"}`, 404, "D1.Exists"},
		{"a geo with one key", e.operator, `{"action":"recover-geo","dep":"NAM","keys":["https://a/keys/k/1"],"reason":"r"}`, 404, "D4.Registered"},
	} {
		st, ct, body := e.call(tc.token, "POST", T+"/accessRequests", tc.body)
		if st != tc.status || body["rule"] != tc.rule {
			t.Errorf("%s: %d %s %v; want %d %s", tc.name, st, ct, body, tc.status, tc.rule)
		}
	}

	// Refused, each with its rule, before any key is asked.
	pending := ask(e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 1: pending"}`)
	denied := ask(e.operator, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"ticket 2: denied"}`)
	if st, _, r := e.call(e.global, "POST", T+"/accessRequests/"+denied["id"].(string)+"/deny", ""); st != 200 || r["state"] != "Denied" {
		t.Fatalf("deny: %d %v", st, r)
	}
	st, ct, body := e.call(e.global, "POST", T+"/accessRequests/"+denied["id"].(string)+"/approve", "")
	e.wantProblem(409, "T5.State", st, ct, body)
	st, ct, body = e.call(e.admin, "POST", T+"/accessRequests/"+pending["id"].(string)+"/approve", "")
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	st, ct, body = e.call(e.operator, "POST", T+"/accessRequests/"+pending["id"].(string)+"/approve", "")
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	otherTarget := e.grant(`{"action":"recover","dep":"DEP-1","to":"DEP-3","reason":"ticket 3: to DEP-3"}`)
	otherDEP := e.grant(`{"action":"recover","dep":"DEP-2","to":"DEP-3","reason":"ticket 4: DEP-2"}`)
	rollback := e.grant(`{"action":"rollback","dep":"MDEP-1","reason":"ticket 5"}`)
	// Expired ones, written as the store would hold them after the time.
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	d1, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	d2, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-2")
	for _, r := range []store.AccessRequest{
		{ID: "expired-approved", State: store.AccessApproved, DecidedBy: "admin@contoso.com (global-admin)", Decided: &past},
		{ID: "expired-pending", State: store.AccessPending},
	} {
		r.Tenant, r.Action, r.DEP, r.DEPName, r.Target, r.TargetName, r.Reason = e.seed.Tenant, "recover", d1.ID, "DEP-1", d2.ID, "DEP-2", "old"
		r.RequestedBy, r.Requested, r.Expires = "operator (operator)", past.Add(-time.Hour), past
		if err := e.st.CreateAccessRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	st, ct, body = e.call(e.global, "POST", T+"/accessRequests/expired-pending/approve", "")
	e.wantProblem(403, "T5.Expired", st, ct, body)
	for _, tc := range []struct {
		name, id, to string
		status       int
		rule         string
	}{
		{"no request", "", "DEP-2", 403, "T5.AccessRequest"},
		{"an unknown request", "9b0c7a36-0000-4000-8000-000000000000", "DEP-2", 404, "T5.Exists"},
		{"a pending request", pending["id"].(string), "DEP-2", 403, "T5.State"},
		{"a denied request", denied["id"].(string), "DEP-2", 403, "T5.State"},
		{"an expired request", "expired-approved", "DEP-2", 403, "T5.Expired"},
		{"a request for another target", otherTarget, "DEP-2", 403, "T5.Scope"},
		{"a request for another DEP", otherDEP, "DEP-3", 403, "T5.Scope"},
		{"a request for another action", rollback, "DEP-2", 403, "T5.Scope"},
		{"the right request, keys not lost", otherTarget, "DEP-3", 409, "R3.KeysNotLost"},
	} {
		st, ct, body := use(tc.id, tc.to)
		if st != tc.status || body["rule"] != tc.rule {
			t.Errorf("%s: %d %s %v; want %d %s", tc.name, st, ct, body, tc.status, tc.rule)
		}
	}

	// The tenant loses both keys of DEP-1, and its global admin asks for
	// the recovery itself: approved as made.
	for _, kc := range e.seed.Keys {
		if _, err := kc.DeleteKey(ctx, "key", nil); err != nil {
			t.Fatal(err)
		}
	}
	e.ring.Evict(d1.ID)
	own := ask(e.global, `{"action":"recover","dep":"DEP-1","to":"DEP-2","reason":"we deleted both keys of DEP-1","validFor":"1h"}`)
	if own["state"] != "Approved" || !strings.HasPrefix(own["decidedBy"].(string), "admin@contoso.com") {
		t.Fatalf("the tenant's own request: %v", own)
	}
	st, _, job := use(own["id"].(string), "DEP-2")
	if st != 202 {
		t.Fatalf("recover with the tenant's own request: %d %v", st, job)
	}
	e.waitJob(e.operator, "Contoso", job["id"].(string))
	if st, got := e.raw(e.admin, "GET", item, nil); st != 200 || string(got) != "board minutes" {
		t.Fatalf("after recovery: %d %q", st, got)
	}
	st, ct, body = use(own["id"].(string), "DEP-2")
	e.wantProblem(403, "T5.State", st, ct, body)
	if st, _, r := e.call(e.operator, "GET", T+"/accessRequests/"+own["id"].(string), ""); st != 200 || r["state"] != "Used" || !strings.HasPrefix(fmt.Sprint(r["usedBy"]), "operator (operator, token ") {
		t.Fatalf("the used request: %d %v", st, r)
	}
	st, _, l := e.call(e.global, "GET", T+"/accessRequests", "")
	if st != 200 || len(l["value"].([]any)) != 8 {
		t.Fatalf("list: %d %d requests", st, len(l["value"].([]any)))
	}

	// The audit log holds every step, with the request's ID.
	steps := map[string]bool{}
	for _, r := range e.readAudit(e.global, "Contoso", 0) {
		if strings.HasPrefix(r.Action, "access-request-") {
			steps[r.Action+" "+strings.Fields(r.Target)[2]] = true
		}
		if r.Action == "availability-key-use" && strings.Contains(r.Reason, own["id"].(string)) && strings.Contains(r.Reason, "we deleted both keys") {
			steps["availability-key-use"] = true
		}
	}
	for _, want := range []string{
		"access-request-create " + pending["id"].(string) + ":", "access-request-deny " + denied["id"].(string) + ":",
		"access-request-approve " + otherTarget + ":", "access-request-create " + own["id"].(string) + ":",
		"access-request-use " + own["id"].(string) + ":", "availability-key-use",
	} {
		if !steps[want] {
			t.Errorf("the audit log has no %q record", want)
		}
	}
}

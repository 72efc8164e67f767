package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
)

// readAudit reads a tenant's chain through the API, page by page
// (pageSize 0: the default), following nextCursor.
func (e *depEnv) readAudit(token, tenant string, pageSize int) []client.AuditRecord {
	e.t.Helper()
	var out []client.AuditRecord
	cursor := ""
	for {
		st, _, body := e.call(token, "GET", fmt.Sprintf("/v1/tenants/%s/audit?pageSize=%d&cursor=%s", tenant, pageSize, url.QueryEscape(cursor)), "")
		if st != 200 {
			e.t.Fatalf("audit of %s: %d %v", tenant, st, body)
		}
		b, _ := json.Marshal(body["value"])
		var page []client.AuditRecord
		if err := json.Unmarshal(b, &page); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page...)
		next, ok := body["nextCursor"].(string)
		if !ok {
			return out
		}
		cursor = next
	}
}

func TestAuditLog(t *testing.T) {
	e := startDEPs(t)
	_, _, tok := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	compliance := tok["token"].(string)
	_, _, tok = e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"ga@fabrikam.com","role":"global-admin"}`)
	fabrikam := tok["token"].(string)

	st, _, dep := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso-EXO-DEP-1","azureKeyIDs":%s}`, e.keys))
	if st != 201 {
		t.Fatalf("DEP: %d %v", st, dep)
	}
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/mailboxes", `{"id":"bob@contoso.com","dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	const marker = "AUDIT-MUST-NOT-HOLD-CONTENT-9c2e"
	if st, body := e.raw(e.admin, "PUT", "/v1/tenants/Contoso/mailboxes/bob@contoso.com/items/m1", []byte(marker)); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	// Fabrikam reaches into Contoso: refused, and recorded in Fabrikam's
	// chain, not Contoso's.
	st, ct, body := e.call(fabrikam, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"x","azureKeyIDs":%s}`, e.keys))
	e.wantProblem(404, "Tenant.Exists", st, ct, body)

	// Who may read: the tenant's global or compliance admin, the operator.
	st, ct, body = e.call(e.admin, "GET", "/v1/tenants/Contoso/audit", "")
	e.wantProblem(403, "Authorization.Role", st, ct, body)
	st, ct, body = e.call(fabrikam, "GET", "/v1/tenants/Contoso/audit", "")
	e.wantProblem(404, "Tenant.Exists", st, ct, body)

	recs := e.readAudit(compliance, "Contoso", 2) // small pages: paging is exercised
	if got := e.readAudit(e.operator, "Contoso", 0); len(got) != len(recs) {
		t.Fatalf("operator reads %d records, the compliance admin %d", len(got), len(recs))
	}
	var chain []audit.Record
	actions := map[string]string{}
	for _, r := range recs {
		rec, err := audit.FromJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, rec)
		actions[r.Action] = r.Outcome
		line, _ := json.Marshal(r)
		switch {
		case r.Tenant != e.seed.Tenant:
			t.Errorf("Contoso's chain holds a record of tenant %s: %s", r.Tenant, line)
		case strings.Contains(string(line), marker):
			t.Errorf("an audit record holds content: %s", line)
		case strings.Contains(string(line), "fabrikam"):
			t.Errorf("Fabrikam's refused attempt is in Contoso's chain: %s", line)
		}
	}
	if err := audit.Verify(chain); err != nil {
		t.Fatalf("the chain read through the API does not verify: %v", err)
	}
	for action, outcome := range map[string]string{
		"create-token":             "201 Created",
		"new-dataencryptionpolicy": "201 Created",
		"availability-key-create":  "ok",
		"wrap":                     "ok",
		"new-mailbox":              "201 Created",
	} {
		if actions[action] != outcome {
			t.Errorf("action %s: outcome %q, want %q (actions: %v)", action, actions[action], outcome, actions)
		}
	}
	// Filtered by action: only those, from the same run of the chain, and
	// next says where the run read ended (a page may hold fewer).
	of := func(names ...string) []string {
		var out []string
		for _, r := range recs {
			for _, n := range names {
				if r.Action == n {
					out = append(out, n)
				}
			}
		}
		return out
	}
	if recs[0].Action == "new-mailbox" || len(of("new-mailbox")) != 1 || len(of("create-token")) == 0 {
		t.Fatalf("the chain is not what the filter cases assume: %v", actions)
	}
	for _, tc := range []struct {
		query string
		want  []string // actions, in order
		next  bool
	}{
		{"action=new-mailbox", of("new-mailbox"), false},
		{"action=new-mailbox,%20create-token", of("new-mailbox", "create-token"), false},
		{"action=no-such-action", nil, false},
		{"action=new-mailbox&after=1000000", nil, false},                                            // after the chain's end: nothing
		{"action=new-mailbox,create-token&pageSize=1", of("new-mailbox", "create-token")[:1], true}, // a page of one match, and go on
	} {
		st, _, body := e.call(compliance, "GET", "/v1/tenants/Contoso/audit?"+tc.query, "")
		var got []string
		for _, r := range body["value"].([]any) {
			got = append(got, r.(map[string]any)["action"].(string))
		}
		_, next := body["nextCursor"]
		if st != 200 || strings.Join(got, " ") != strings.Join(tc.want, " ") || next != tc.next {
			t.Errorf("audit?%s: %d %v next %v, want %v next %v", tc.query, st, got, next, tc.want, tc.next)
		}
	}
	if _, ok := actions["put-item"]; ok {
		t.Error("a content write is in the audit log")
	}
	// With the DEP key out of the cache, a read unwraps it with a customer
	// key: a key access on behalf of the user, appended to the same chain.
	e.ring.Evict(dep["id"].(string))
	if st, got := e.raw(e.admin, "GET", "/v1/tenants/Contoso/mailboxes/bob@contoso.com/items/m1", nil); st != 200 || string(got) != marker {
		t.Fatalf("read: %d %q", st, got)
	}
	more := e.readAudit(compliance, "Contoso", 0)
	last := more[len(more)-1]
	if len(more) != len(recs)+1 || last.Action != "unwrap" || last.Outcome != "ok" || last.Target != dep["id"] ||
		!strings.HasPrefix(last.KeyID, e.seed.KeyURIs[0]) && !strings.HasPrefix(last.KeyID, e.seed.KeyURIs[1]) || !strings.Contains(last.Actor, "initiator: user") {
		t.Fatalf("after the read, the chain ends with %+v (%d records, was %d)", last, len(more), len(recs))
	}
	chain = nil
	for _, r := range more {
		rec, _ := audit.FromJSON(r)
		chain = append(chain, rec)
	}
	if err := audit.Verify(chain); err != nil {
		t.Fatalf("the extended chain does not verify: %v", err)
	}

	fab := e.readAudit(fabrikam, "Fabrikam", 0)
	found := false
	for _, r := range fab {
		found = found || r.Action == "new-dataencryptionpolicy" && r.Outcome == "404 Not Found" && strings.HasPrefix(r.Actor, "ga@fabrikam.com")
	}
	if !found {
		t.Fatalf("Fabrikam's chain lacks its refused attempt: %+v", fab)
	}
}

// TestAuditNamesTheToken: a twin token (the same subject, issued with a
// stolen global admin's token) is told apart in the audit log: each
// record names the token that acted, and the issuing call's record names
// the token it issued, so a tenant traces the twin to the token that made
// it and revokes both (R8, T6; found by an attacker review).
func TestAuditNamesTheToken(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	_, _, first := e.call(e.global, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`)
	stolen, stolenID := first["token"].(string), first["id"].(string)
	_, _, second := e.call(stolen, "POST", T+"/tokens", `{"subject":"admin@contoso.com","role":"global-admin","validFor":"2160h"}`)
	twin, twinID := second["token"].(string), second["id"].(string)
	if st, _, body := e.call(twin, "POST", T+"/tokens/"+stolenID+"/revoke", ""); st != 200 {
		t.Fatalf("the twin revokes the stolen token: %d %v", st, body)
	}
	var issued, revoked bool
	for _, r := range e.readAudit(e.global, "Contoso", 0) {
		switch {
		case r.Action == "token-issued" && r.Target == "token "+twinID:
			issued = strings.Contains(r.Actor, "token "+stolenID) && strings.Contains(r.Reason, "admin@contoso.com (global-admin)")
		case r.Action == "revoke-token":
			revoked = strings.Contains(r.Actor, "token "+twinID) && !strings.Contains(r.Actor, stolenID)
		}
	}
	if !issued || !revoked {
		t.Fatalf("the audit log does not tell the tokens apart: issued by the stolen token %v, revocation by the twin %v", issued, revoked)
	}
}

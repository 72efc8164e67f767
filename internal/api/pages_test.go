package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
)

// pageAll reads a listing whole (one page of up to 1000), then again a
// page of size at a time following nextCursor, and checks that the pages
// hold the same rows in the same order, each page at most size rows and
// only the last without a cursor.
func (e *depEnv) pageAll(token, path string, size int) []any {
	e.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	st, _, whole := e.call(token, "GET", path+sep+"pageSize=1000", "")
	if st != 200 {
		e.t.Fatalf("%s: %d %v", path, st, whole)
	}
	if whole["nextCursor"] != nil {
		e.t.Fatalf("%s: a listing of under 1000 rows has a next page: %v", path, whole["nextCursor"])
	}
	all, ok := whole["value"].([]any)
	if !ok {
		e.t.Fatalf("%s: value is %v, want a list (empty: [])", path, whole["value"])
	}
	paged := []any{}
	cursor := ""
	for i := 0; ; i++ {
		q := fmt.Sprintf("%s%spageSize=%d", path, sep, size)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		st, _, page := e.call(token, "GET", q, "")
		if st != 200 {
			e.t.Fatalf("%s page %d: %d %v", path, i, st, page)
		}
		rows, _ := page["value"].([]any)
		if len(rows) > size {
			e.t.Fatalf("%s page %d: %d rows, want at most %d", path, i, len(rows), size)
		}
		paged = append(paged, rows...)
		next, _ := page["nextCursor"].(string)
		if next == "" {
			break
		}
		if len(rows) != size {
			e.t.Fatalf("%s page %d: %d rows and a next page; want a full page", path, i, len(rows))
		}
		cursor = next
		if i > 1000 {
			e.t.Fatalf("%s: paging does not end", path)
		}
	}
	if !reflect.DeepEqual(paged, all) {
		e.t.Fatalf("%s in pages of %d:\n%v\nwant the whole listing:\n%v", path, size, paged, all)
	}
	return all
}

// TestListingsPage: every listing answers the same rows whole and page by
// page, in pages of 1 and 2; a page size out of range and a cursor the
// listing did not give are refused by their rules (SPEC D9). Items,
// search, DEPs, tokens, tenants, the audit log, multi-workload DEPs and
// records hold several rows here, so their cursors are followed; jobs,
// access and onboarding requests (whose keyset queries the store's
// conformance suite pages), officers and geos hold 0 or 1, so for them
// only the answer's shape is checked.
func TestListingsPage(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	for _, name := range []string{"DEP-B", "DEP-A", "dep-c"} {
		if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, name, e.keys)); st != 201 {
			t.Fatalf("DEP %s: %d %v", name, st, body)
		}
	}
	if st, _, body := e.call(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-A"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	for i, text := range []string{"board minutes", "quarterly board numbers", "lunch", "board games", "the board"} {
		if st, body := e.raw(e.admin, "PUT", fmt.Sprintf("%s/mailboxes/alice@contoso.com/items/m%d", T, 5-i), []byte(text)); st != 200 {
			t.Fatalf("put: %d %s", st, body)
		}
	}
	if st, body := e.raw(e.admin, "PUT", T+"/mailboxes/alice@contoso.com/items/m1", []byte("board, again")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	for _, sub := range []string{"a@contoso.com", "b@contoso.com"} {
		if st, _, body := e.call(e.global, "POST", T+"/tokens", fmt.Sprintf(`{"subject":%q,"role":"compliance-admin"}`, sub)); st != 201 {
			t.Fatalf("token: %d %v", st, body)
		}
	}
	// Multi-workload DEPs and records: three of each, so that their pages
	// of 1 and 2 follow cursors too.
	for _, n := range []string{"MDEP-1", "MDEP-2", "MDEP-3"} {
		if st, _, body := e.call(e.global, "POST", T+"/m365DataAtRestEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, n, e.keys)); st != 201 {
			t.Fatalf("%s: %d %v", n, st, body)
		}
	}
	if st, _, body := e.call(e.global, "PUT", T+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-1"}`); st != 200 {
		t.Fatalf("assign: %d %v", st, body)
	}
	for _, r := range []string{"chat-3", "chat-1", "chat-2"} {
		if st, body := e.raw(e.global, "PUT", T+"/records/teams/"+r, []byte(r)); st != 200 {
			t.Fatalf("record %s: %d %s", r, st, body)
		}
	}
	for _, size := range []int{1, 2} {
		items := e.pageAll(e.admin, T+"/mailboxes/alice@contoso.com/items", size)
		if len(items) != 5 || items[0].(map[string]any)["id"] != "m1" || items[0].(map[string]any)["version"] != float64(2) {
			t.Fatalf("items: %v; want m1 (version 2) to m5", items)
		}
		if got := e.pageAll(e.admin, T+"/mailboxes/alice@contoso.com/search?q=BOARD", size); fmt.Sprint(got) != "[m1 m2 m4 m5]" {
			t.Fatalf("search board: %v", got)
		}
		if got := e.pageAll(e.admin, T+"/dataEncryptionPolicies", size); len(got) != 3 || got[0].(map[string]any)["name"] != "DEP-A" || got[2].(map[string]any)["name"] != "dep-c" {
			t.Fatalf("DEPs: %v; want DEP-A, DEP-B, dep-c", got)
		}
		if got := e.pageAll(e.global, T+"/tokens", size); len(got) != 4 {
			t.Fatalf("tokens: %d, want 4", len(got))
		}
		if got := e.pageAll(e.operator, "/v1/tenants", size); len(got) != 2 {
			t.Fatalf("tenants: %d, want 2", len(got))
		}
		if got := e.pageAll(e.global, T+"/audit", size); len(got) < 6 {
			t.Fatalf("audit: %d records, want the admin actions above", len(got))
		}
		e.pageAll(e.global, T+"/jobs", size)
		e.pageAll(e.global, T+"/accessRequests", size)
		e.pageAll(e.global, T+"/onboardingRequests", size)
		e.pageAll(e.global, T+"/officers", size)
		e.pageAll(e.global, T+"/spoDataEncryptionPolicies", size)
		if got := e.pageAll(e.global, T+"/m365DataAtRestEncryptionPolicies", size); len(got) != 3 {
			t.Fatalf("multi-workload DEPs: %d, want 3", len(got))
		}
		if got := e.pageAll(e.global, T+"/records/teams", size); len(got) != 3 || got[0].(map[string]any)["id"] != "chat-1" {
			t.Fatalf("records: %v, want chat-1 to chat-3", got)
		}
	}

	for _, size := range []string{"0", "1000"} { // 0: the default
		if st, _, body := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/items?pageSize="+size, ""); st != 200 || len(body["value"].([]any)) != 5 {
			t.Fatalf("pageSize=%s: %d %v", size, st, body)
		}
	}
	for _, size := range []string{"1001", "-1"} {
		st, ct, body := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/items?pageSize="+size, "")
		e.wantProblem(400, "D9.PageSize", st, ct, body)
	}
	_, _, first := e.call(e.admin, "GET", T+"/dataEncryptionPolicies?pageSize=1", "")
	depCursor := first["nextCursor"].(string)
	for name, cursor := range map[string]string{
		"not base64":            "%%%",
		"not JSON":              "bm90LWEtY3Vyc29y",
		"another listing's":     depCursor,
		"an empty key":          "eyJsIjoiaXRlbXMiLCJrIjoiIn0",
		"a negative time":       "eyJsIjoiaXRlbXMiLCJ0IjotMSwiayI6Im0xIn0",
		"too long to be a key?": strings.Repeat("A", 2000),
	} {
		st, ct, body := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/items?cursor="+url.QueryEscape(cursor), "")
		if st != 400 || body["rule"] != "D9.Cursor" {
			t.Errorf("cursor %s: %d %s %v; want 400 D9.Cursor", name, st, ct, body)
		}
	}
	st, ct, body := e.call(e.admin, "GET", T+"/mailboxes/alice@contoso.com/search?q=two+words", "")
	e.wantProblem(400, "D9.SearchTerm", st, ct, body)
}

// TestEveryListingPages: every GET operation whose answer is a list takes
// pageSize and cursor, so a new listing cannot forget them. The health
// probes answer one row per key they asked, not a listing.
func TestEveryListingPages(t *testing.T) {
	raw, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	probes := map[string]bool{"get-spodataencryptionpolicy-health": true, "signal-spodataencryptionpolicy-revocation": true}
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			ref := op.Responses["200"].Content["application/json"].Schema.Ref
			if !strings.HasPrefix(ref, "#/components/schemas/List") || probes[op.OperationID] {
				continue
			}
			if method != "get" {
				t.Errorf("%s %s answers a list: listings are GETs", method, path)
			}
			n++
			params := map[string]bool{}
			for _, p := range op.Parameters {
				if p.In == "query" {
					params[p.Name] = true
				}
			}
			if !params["pageSize"] || !params["cursor"] {
				t.Errorf("%s (%s) answers a list without pageSize and cursor: embed api.PageQuery and answer with paged", op.OperationID, path)
			}
		}
	}
	if n < 14 {
		t.Fatalf("found %d listings in the OpenAPI document; want every one (14 or more)", n)
	}
}

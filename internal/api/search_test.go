package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/customerkey/customerkey/internal/api"
)

// TestSearchIndexServiceInitiated: the service builds each mailbox's search
// index; with both customer keys revoked, user reads are refused (K3) while
// service-initiated re-indexing goes on with the availability key (K4).
func TestSearchIndexServiceInitiated(t *testing.T) {
	e := startDEPs(t)
	const base = "/v1/tenants/Contoso/mailboxes/alice@contoso.com"
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	for id, text := range map[string]string{"m1": "Quarterly numbers are up", "m2": "Board meeting on Monday", "m3": "Numbers for the board"} {
		if st, _ := e.raw(e.admin, "PUT", base+"/items/"+id, []byte(text)); st != 200 {
			t.Fatalf("put %s: %d", id, st)
		}
	}
	search := func(q string) []any {
		t.Helper()
		st, _, body := e.call(e.admin, "GET", base+"/search?q="+q, "")
		if st != 200 {
			t.Fatalf("search %s: %d %v", q, st, body)
		}
		return body["items"].([]any)
	}
	if got := search("numbers"); fmt.Sprint(got) != "[m1 m3]" {
		t.Fatalf("numbers: %v", got)
	}
	if got := search("Board"); fmt.Sprint(got) != "[m2 m3]" {
		t.Fatalf("board: %v", got)
	}
	if st, _, _ := e.call(e.admin, "DELETE", base+"/items/m3", ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if got := search("numbers"); fmt.Sprint(got) != "[m1]" {
		t.Fatalf("after delete: %v", got)
	}
	// The index is not an item.
	_, _, list := e.call(e.admin, "GET", base+"/items", "")
	if n := len(list["value"].([]any)); n != 2 {
		t.Fatalf("%d items listed, want 2 (the index must not show)", n)
	}

	// The tenant revokes both keys; the revocation signal evicts the DEP key.
	for _, v := range e.seed.Vaults {
		if err := e.vault.Client.Do(context.Background(), "DELETE", "/vaults/"+v.Name+"/accessPolicies/"+api.ExchangeApp, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	d, err := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	e.ring.Evict(d.ID)
	st, ct, body := e.call(e.admin, "GET", base+"/items/m1", "")
	e.wantProblem(403, "K3.CustomerKeysRefused", st, ct, body)
	st, _, body = e.call(e.admin, "POST", base+"/search/reindex", "")
	if st != 200 || body["indexed"] != float64(2) {
		t.Fatalf("service-initiated reindex with the customer keys revoked: %d %v", st, body)
	}
	st, ct, body = e.call(e.admin, "GET", base+"/search?q=board", "")
	e.wantProblem(403, "K3.CustomerKeysRefused", st, ct, body)
}

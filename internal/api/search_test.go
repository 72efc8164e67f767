package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
)

// TestSearchIndexServiceInitiated: the service builds each mailbox's search
// index; with both customer keys revoked, user reads are refused (K3) while
// service-initiated re-indexing goes on with the availability key (K4).
func TestSearchIndexServiceInitiated(t *testing.T) {
	e := startDEPs(t)
	const base = "/v1/tenants/Contoso/mailboxes/alice@contoso.com"
	e.aliceOnDEP1()
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
		return body["value"].([]any)
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

	// One key refused and the other vault down: not a revocation. Users
	// are refused (K3), the admin's reindex too: it answers with what it
	// read (items and words). As service work alone it took the
	// availability key (K4) and answered.
	d, err := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	v0, v1 := e.seed.Vaults[0], e.seed.Vaults[1]
	if err := e.vault.Client.Do(context.Background(), "DELETE", "/vaults/"+v0.Name+"/accessPolicies/"+dep.ExchangeApp, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.Fault(v1.Region, "outage", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	e.ring.Evict(d.ID)
	st, ct, body := e.call(e.admin, "GET", base+"/items/m1", "")
	e.wantProblem(403, "K3.CustomerKeysRefused", st, ct, body)
	st, ct, body = e.call(e.admin, "POST", base+"/search/reindex", "")
	e.wantProblem(403, "K3.CustomerKeysRefused", st, ct, body)
	if err := e.vault.Fault(v1.Region, "off", 0, 0); err != nil {
		t.Fatal(err)
	}
	// The other key answers again: the reindex is served.
	if st, _, body = e.call(e.admin, "POST", base+"/search/reindex", ""); st != 200 || body["indexed"] != float64(2) {
		t.Fatalf("reindex with one key answering: %d %v", st, body)
	}

	// The tenant revokes both keys and signals it: the DEP is revoked, and
	// even the service's own work (indexing) is refused (T1).
	if err := e.vault.Client.Do(context.Background(), "DELETE", "/vaults/"+v1.Name+"/accessPolicies/"+dep.ExchangeApp, nil, nil); err != nil {
		t.Fatal(err)
	}
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/revocation", ""); st != 200 || body["revoked"] == nil {
		t.Fatalf("revocation signal: %d %v", st, body)
	}
	for _, c := range []struct{ method, path string }{{"GET", base + "/items/m1"}, {"POST", base + "/search/reindex"}, {"GET", base + "/search?q=board"}} {
		st, ct, body = e.call(e.admin, c.method, c.path, "")
		e.wantProblem(403, "T1.Revoked", st, ct, body)
	}
}

// TestIndexRowsBoundToTheIndex (K8): the index's rows are bound to the
// index, not to the mailbox. Its meta row "m", copied over the mailbox's
// item "m" by someone who can write the database, opened as that item;
// the item copied over the meta row is taken for an old index: the next
// search builds it again and answers right.
func TestIndexRowsBoundToTheIndex(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const base = "/v1/tenants/Contoso/mailboxes/alice@contoso.com"
	e.aliceOnDEP1()
	for id, text := range map[string]string{"m": "minutes of the board", "n1": "numbers"} {
		if st, body := e.raw(e.admin, "PUT", base+"/items/"+id, []byte(text)); st != 200 {
			t.Fatalf("put %s: %d %s", id, st, body)
		}
	}
	search := func(q string) string {
		t.Helper()
		st, _, body := e.call(e.admin, "GET", base+"/search?q="+q, "")
		if st != 200 {
			t.Fatalf("search %s: %d %v", q, st, body)
		}
		return fmt.Sprint(body["value"])
	}
	if got := search("board"); got != "[m]" {
		t.Fatalf("board: %s", got)
	}
	index := "~index:alice@contoso.com"
	meta, err := e.st.Item(ctx, e.seed.Tenant, index, "m")
	if err != nil {
		t.Fatal(err)
	}
	item, err := e.st.Item(ctx, e.seed.Tenant, "alice@contoso.com", "m")
	if err != nil {
		t.Fatal(err)
	}
	// The meta row over the item: the item does not open.
	swapped := meta
	swapped.Mailbox, swapped.Kind, swapped.Version = item.Mailbox, item.Kind, item.Version
	if err := e.st.PutItem(ctx, swapped); err != nil {
		t.Fatal(err)
	}
	st, ct, body := e.call(e.admin, "GET", base+"/items/m", "")
	e.wantProblem(500, "Item.Integrity", st, ct, body)
	if err := e.st.PutItem(ctx, item); err != nil {
		t.Fatal(err)
	}
	// The item over the meta row: built again.
	swapped = item
	swapped.Mailbox, swapped.Kind, swapped.Version = index, meta.Kind, meta.Version
	if err := e.st.PutItem(ctx, swapped); err != nil {
		t.Fatal(err)
	}
	if got := search("numbers"); got != "[n1]" {
		t.Fatalf("numbers after the meta row was replaced: %s", got)
	}
}

// Writes only mark the index; a search first brings it up to the items.
// Concurrent writes lose no words, and a new version's words replace the
// old ones.
func TestSearchIndexCatchesUp(t *testing.T) {
	e := startDEPs(t)
	const base = "/v1/tenants/Contoso/mailboxes/alice@contoso.com"
	e.aliceOnDEP1()
	const n = 40
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if st, _ := e.raw(e.admin, "PUT", fmt.Sprintf("%s/items/m%02d", base, i), []byte(fmt.Sprintf("shared word%02d", i))); st != 200 {
					t.Errorf("put m%02d: %d", i, st)
				}
			}
		})
	}
	wg.Wait()
	search := func(q string) []any {
		t.Helper()
		st, _, body := e.call(e.admin, "GET", base+"/search?q="+q, "")
		if st != 200 {
			t.Fatalf("search %s: %d %v", q, st, body)
		}
		return body["value"].([]any)
	}
	if got := search("shared"); len(got) != n {
		t.Fatalf("shared: %d items, want %d: %v", len(got), n, got)
	}
	for i := range n {
		if got := search(fmt.Sprintf("word%02d", i)); fmt.Sprint(got) != fmt.Sprintf("[m%02d]", i) {
			t.Fatalf("word%02d: %v", i, got)
		}
	}
	if st, _ := e.raw(e.admin, "PUT", base+"/items/m07", []byte("rewritten")); st != 200 {
		t.Fatal("rewrite m07")
	}
	if got := search("word07"); len(got) != 0 {
		t.Fatalf("word07 still finds %v after m07 was rewritten", got)
	}
	if got := search("rewritten"); fmt.Sprint(got) != "[m07]" {
		t.Fatalf("rewritten: %v", got)
	}
	if got := search("shared"); len(got) != n-1 {
		t.Fatalf("shared after the rewrite: %d items, want %d", len(got), n-1)
	}
}

// aliceOnDEP1 creates DEP-1 on the seed keys and alice's mailbox on it.
func (e *depEnv) aliceOnDEP1() {
	e.t.Helper()
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		e.t.Fatalf("DEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`); st != 201 {
		e.t.Fatalf("mailbox: %d %v", st, body)
	}
}

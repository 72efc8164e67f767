package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// walk pages through a listing with pages of size n, from the start,
// calling between after each page, and returns every ID it saw in order.
func walk[T any](t *testing.T, n int, page func(after store.PageKey, limit int) ([]T, error), key func(T) store.PageKey, between func(page int)) []string {
	t.Helper()
	var ids []string
	var after store.PageKey
	for i := 0; ; i++ {
		rows, err := page(after, n)
		must(t, err)
		if len(rows) > n {
			t.Fatalf("page %d: got %d rows, want at most %d", i, len(rows), n)
		}
		for _, r := range rows {
			ids = append(ids, key(r).ID)
		}
		if len(rows) < n {
			return ids
		}
		after = key(rows[len(rows)-1])
		if between != nil {
			between(i)
		}
		if i > 100 {
			t.Fatal("paging does not end")
		}
	}
}

// testPages: every keyset listing returns its rows in order, page by
// page, ties in time sorted by ID; a row written or deleted between two
// pages neither repeats nor hides another row (SPEC D9).
func testPages(t *testing.T, s store.Store) {
	const ten = "6f1c2b3a-0000-4000-8000-000000000001"
	t0 := now()

	t.Run("items", func(t *testing.T) {
		put := func(id string) {
			must(t, s.PutItem(ctx, store.Item{Tenant: ten, Mailbox: "alice@contoso.com", ID: id, Kind: "message", Version: 1, Sealed: []byte("sealed " + id), Created: t0}))
		}
		for i := 1; i <= 10; i += 1 {
			put(fmt.Sprintf("m%02d", 2*i)) // m02 .. m20
		}
		// Another mailbox's and another tenant's items never show.
		must(t, s.PutItem(ctx, store.Item{Tenant: ten, Mailbox: "bob@contoso.com", ID: "m05", Kind: "message", Version: 1, Sealed: []byte("x"), Created: t0}))
		must(t, s.PutItem(ctx, store.Item{Tenant: "other", Mailbox: "alice@contoso.com", ID: "m07", Kind: "message", Version: 1, Sealed: []byte("x"), Created: t0}))
		page := func(after store.PageKey, limit int) ([]store.Item, error) {
			return s.ListItemHeadsAfter(ctx, ten, "Alice@contoso.com", after.ID, limit)
		}
		key := func(it store.Item) store.PageKey { return store.PageKey{ID: it.ID} }
		equal(t, "items, pages of 3", walk(t, 3, page, key, nil), []string{"m02", "m04", "m06", "m08", "m10", "m12", "m14", "m16", "m18", "m20"})
		heads, err := page(store.PageKey{ID: "m17"}, 1)
		must(t, err)
		equal(t, "item head after m17", []any{len(heads), heads[0].ID, heads[0].Size, heads[0].Sealed == nil}, []any{1, "m18", len("sealed m18"), true})
		items, err := s.ItemsAfter(ctx, ten, "Alice@contoso.com", "m17", 2)
		must(t, err)
		equal(t, "items with content after m17", []any{len(items), items[0].ID, string(items[0].Sealed), items[1].ID, string(items[1].Sealed)}, []any{2, "m18", "sealed m18", "m20", "sealed m20"})
		items, err = s.ItemsAfter(ctx, ten, "alice@contoso.com", "m20", 5)
		must(t, err)
		equal(t, "items after the last", len(items), 0)
		// Written between pages: before the cursor (not shown, nothing
		// shifts), after it (shown once); deleted after it (gone).
		got := walk(t, 3, page, key, func(i int) {
			if i == 0 {
				put("m01")
				put("m11")
				must(t, s.DeleteItem(ctx, ten, "alice@contoso.com", "m08"))
			}
		})
		equal(t, "items with writes between pages", got, []string{"m02", "m04", "m06", "m10", "m11", "m12", "m14", "m16", "m18", "m20"})

		// Conditional writes win only from the version they read, all of
		// a batch or none of it.
		mk := func(id string, v uint32, data string) store.Item {
			return store.Item{Tenant: ten, Mailbox: "alice@contoso.com", ID: id, Kind: "index", Version: v, Sealed: []byte(data), Created: t0}
		}
		must(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("cas", 1, "v1")}, {Item: mk("gone", 1, "g1")}}))
		// A Put writes whatever is stored, new or not, in the batch's
		// transaction: with a conditional write that fails, neither lands.
		must(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("put", 3, "p3"), Put: true}, {Item: mk("put", 7, "p7"), Put: true}}))
		if it, err := s.Item(ctx, ten, "alice@contoso.com", "put"); err != nil || it.Version != 7 || string(it.Sealed) != "p7" {
			t.Fatalf("after two Puts: %+v, %v; want version 7, p7", it, err)
		}
		if err := s.WriteItems(ctx, []store.ItemWrite{{Item: mk("put", 8, "p8"), Put: true}, {Item: mk("cas", 9, "x"), Prev: 5}}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a batch with a stale write: %v, want ErrConflict", err)
		}
		if it, err := s.Item(ctx, ten, "alice@contoso.com", "put"); err != nil || it.Version != 7 {
			t.Fatalf("a Put of a failed batch landed: %+v, %v", it, err)
		}
		wantErr(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("cas", 1, "v1")}}), store.ErrConflict)
		wantErr(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("cas", 2, "v2"), Prev: 1}, {Item: mk("gone", 0, ""), Prev: 2, Delete: true}}), store.ErrConflict)
		wantErr(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("new", 1, "n1")}, {Item: mk("cas", 4, "v4"), Prev: 3}}), store.ErrConflict)
		_, err = s.Item(ctx, ten, "alice@contoso.com", "new")
		wantErr(t, err, store.ErrNotFound) // the batch was undone
		must(t, s.WriteItems(ctx, []store.ItemWrite{{Item: mk("cas", 2, "v2"), Prev: 1}, {Item: mk("gone", 0, ""), Prev: 1, Delete: true}}))
		back, err := s.Item(ctx, ten, "alice@contoso.com", "cas")
		must(t, err)
		equal(t, "conditionally written item", []any{back.Version, string(back.Sealed)}, []any{uint32(2), "v2"})
		_, err = s.Item(ctx, ten, "alice@contoso.com", "gone")
		wantErr(t, err, store.ErrNotFound)

		// A write sealed under a key version lands only while its
		// container is at that version (a move gave it another).
		box := store.Mailbox{Tenant: ten, ID: "bob@contoso.com", Kind: "UserMailbox", DEP: "dep-a", ContainerKey: []byte("wrapped"), KeyVersion: 2, Created: t0, Updated: t0}
		must(t, s.CreateMailbox(ctx, box))
		under := func(id string, kv int) store.Item {
			it := mk(id, 1, id)
			it.Mailbox, it.KeyVersion = box.ID, kv
			return it
		}
		wantErr(t, s.WriteItems(ctx, []store.ItemWrite{{Item: under("moved", 1)}}), store.ErrConflict)
		_, err = s.Item(ctx, ten, box.ID, "moved")
		wantErr(t, err, store.ErrNotFound)
		must(t, s.WriteItems(ctx, []store.ItemWrite{{Item: under("current", box.KeyVersion)}}))
		orphan := under("orphan", 1)
		orphan.Mailbox = "nobody@contoso.com"
		wantErr(t, s.WriteItems(ctx, []store.ItemWrite{{Item: orphan}}), store.ErrNotFound)
	})

	t.Run("tenants", func(t *testing.T) {
		for _, n := range []string{"Delta", "alpha", "Charlie", "bravo", "echo"} {
			must(t, s.CreateServiceTenant(ctx, store.ServiceTenant{ID: "id-" + n, Name: n, Created: t0}))
		}
		page := func(after store.PageKey, limit int) ([]store.ServiceTenant, error) {
			return s.ListServiceTenantsAfter(ctx, after, limit)
		}
		key := func(x store.ServiceTenant) store.PageKey { return store.PageKey{ID: x.Name} }
		equal(t, "tenants by lower-case name", walk(t, 2, page, key, nil), []string{"alpha", "bravo", "Charlie", "Delta", "echo"})
	})

	t.Run("tokens", func(t *testing.T) {
		mk := func(id string, at time.Time) store.APIToken {
			return store.APIToken{ID: id, Hash: id + id + id + id, Tenant: ten, Role: "global-admin", Subject: id + "@contoso.com", Created: at, Expires: at.Add(time.Hour)}
		}
		// Three share a creation time: their IDs order them.
		for _, tok := range []store.APIToken{mk("tok-c", t0), mk("tok-a", t0), mk("tok-b", t0), mk("tok-0", t0.Add(-time.Second)), mk("tok-z", t0.Add(time.Second))} {
			must(t, s.CreateToken(ctx, tok))
		}
		must(t, s.CreateToken(ctx, store.APIToken{ID: "tok-other", Hash: "other-hash", Tenant: "other", Role: "global-admin", Subject: "x", Created: t0, Expires: t0}))
		page := func(after store.PageKey, limit int) ([]store.APIToken, error) {
			return s.ListTokensAfter(ctx, ten, after, limit)
		}
		key := func(x store.APIToken) store.PageKey { return store.PageKey{Time: x.Created, ID: x.ID} }
		got := walk(t, 2, page, key, func(i int) {
			if i == 0 { // a token created later shows on a later page
				must(t, s.CreateToken(ctx, mk("tok-y", t0.Add(time.Second))))
			}
		})
		equal(t, "tokens, oldest first", got, []string{"tok-0", "tok-a", "tok-b", "tok-c", "tok-y", "tok-z"})
	})

	t.Run("onboarding requests", func(t *testing.T) {
		for i, id := range []string{"r3", "r1", "r2", "r4"} {
			at := t0
			if i == 3 {
				at = t0.Add(time.Second)
			}
			must(t, s.CreateOnboardingRequest(ctx, store.OnboardingRequest{ID: id, Tenant: ten, Scenario: "Exchange", Created: at, Body: []byte(`{}`)}))
		}
		page := func(after store.PageKey, limit int) ([]store.OnboardingRequest, error) {
			return s.ListOnboardingRequestsAfter(ctx, ten, after, limit)
		}
		key := func(x store.OnboardingRequest) store.PageKey { return store.PageKey{Time: x.Created, ID: x.ID} }
		equal(t, "onboarding requests, oldest first", walk(t, 1, page, key, nil), []string{"r1", "r2", "r3", "r4"})
	})

	t.Run("jobs", func(t *testing.T) {
		for i, id := range []string{"j-b", "j-a", "j-c", "j-old", "j-new"} {
			at := t0
			switch id {
			case "j-old":
				at = t0.Add(-time.Second)
			case "j-new":
				at = t0.Add(time.Second)
			}
			must(t, s.CreateJob(ctx, store.Job{ID: id, Tenant: ten, Kind: "roll", Target: fmt.Sprintf("target-%d", i), Created: at, Updated: at, Until: at.Add(time.Hour)}))
		}
		page := func(before store.PageKey, limit int) ([]store.Job, error) {
			return s.ListJobsBefore(ctx, ten, before, limit)
		}
		key := func(x store.Job) store.PageKey { return store.PageKey{Time: x.Created, ID: x.ID} }
		got := walk(t, 2, page, key, func(i int) {
			if i == 0 { // a new job goes on top, not into the pages to come
				must(t, s.CreateJob(ctx, store.Job{ID: "j-newer", Tenant: ten, Kind: "roll", Target: "target-x", Created: t0.Add(2 * time.Second), Until: t0}))
			}
		})
		equal(t, "jobs, newest first", got, []string{"j-new", "j-c", "j-b", "j-a", "j-old"})
	})

	t.Run("access requests", func(t *testing.T) {
		for _, id := range []string{"a2", "a1", "a3"} {
			must(t, s.CreateAccessRequest(ctx, store.AccessRequest{ID: id, Tenant: ten, Action: "recover", Requested: t0, Expires: t0.Add(time.Hour), State: store.AccessPending}))
		}
		must(t, s.CreateAccessRequest(ctx, store.AccessRequest{ID: "a0", Tenant: ten, Action: "recover", Requested: t0.Add(-time.Second), Expires: t0, State: store.AccessPending}))
		page := func(before store.PageKey, limit int) ([]store.AccessRequest, error) {
			return s.ListAccessRequestsBefore(ctx, ten, before, limit)
		}
		key := func(x store.AccessRequest) store.PageKey { return store.PageKey{Time: x.Requested, ID: x.ID} }
		equal(t, "access requests, newest first", walk(t, 2, page, key, nil), []string{"a3", "a2", "a1", "a0"})
	})
}

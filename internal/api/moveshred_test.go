package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

// TestPurgeShredsWhatAMoveBrought (SPEC T8): a mailbox moved onto a DEP
// that is then purged. The attacker holds the mailbox's row from a copy
// of the database made before the move (its key wrapped under the DEP it
// was on), every item from a copy made before the purge, and every key
// the service still holds: the service-managed DEP's key, or the earlier
// customer DEP's availability key. A move gives the mailbox a new key
// version, so nothing written after the move opens; what was written
// before it was in the earlier copy already. Reads and search go on
// across the move (the earlier versions are kept under the new one).
// Without the new version (a move that re-wraps the same key), the
// attacker opens the purged item: the test can fail.
func TestPurgeShredsWhatAMoveBrought(t *testing.T) {
	for _, from := range []string{"service-managed", "DEP-0"} {
		t.Run(from, func(t *testing.T) {
			e := startDEPsOn(t, envOptions{})
			ctx := context.Background()
			const T = "/v1/tenants/Contoso"
			const box = T + "/mailboxes/alice@contoso.com"
			put := func(id, content string) {
				t.Helper()
				if st, body := e.raw(e.admin, "PUT", box+"/items/"+id, []byte(content)); st != 200 {
					t.Fatalf("put %s: %d %s", id, st, body)
				}
			}
			search := func(word string) []any {
				t.Helper()
				return e.must(e.admin, "GET", box+"/search?q="+word, "", 200)["value"].([]any)
			}
			for _, name := range []string{"DEP-0", "DEP-1"} {
				e.must(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, name, e.keys), 201)
			}
			if from == "DEP-0" {
				e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-0"}`, 201)
			} else {
				e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com"}`, 201)
			}
			put("m0", "written before the move: harbour")
			if got := search("harbour"); len(got) != 1 {
				t.Fatalf("search before the move: %v", got)
			}
			before, err := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com") // the earlier copy
			if err != nil {
				t.Fatal(err)
			}
			oldDEP, err := e.st.DEPByID(ctx, e.seed.Tenant, before.DEP)
			if err != nil {
				t.Fatal(err)
			}

			d1, _ := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
			e.must(e.admin, "PATCH", box, `{"dataEncryptionPolicy":"DEP-1"}`, 202)
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if m, _ := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com"); m.DEP == d1.ID {
					if m.KeyVersion != before.KeyVersion+1 {
						t.Fatalf("moved at key version %d, want %d", m.KeyVersion, before.KeyVersion+1)
					}
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("not moved: %+v", m)
				}
			}
			put("m1", "written on DEP-1, then purged: lighthouse")
			// Across the move: the item sealed before it reads, and the
			// index (made again under the new key) finds both.
			if st, got := e.raw(e.admin, "GET", box+"/items/m0", nil); st != 200 || string(got) != "written before the move: harbour" {
				t.Fatalf("m0 after the move: %d %q", st, got)
			}
			if h, l := search("harbour"), search("lighthouse"); !slices.Equal(h, []any{"m0"}) || !slices.Equal(l, []any{"m1"}) {
				t.Fatalf("search after the move: harbour %v, lighthouse %v", h, l)
			}
			var items []store.Item // the copy made before the purge
			for _, id := range []string{"m0", "m1"} {
				it, err := e.st.Item(ctx, e.seed.Tenant, "alice@contoso.com", id)
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, it)
			}
			if kid, _ := envelope.KeyIDOf(items[1].Sealed); kid == workload.KeyID(before) {
				t.Fatalf("m1 is sealed under the key from before the move (%s)", kid)
			}

			// The purge of DEP-1: its keys refuse the workload (both DEPs
			// use the same keys here), the officer approves.
			e.purgeDEP("DEP-1")

			// The attacker: the earlier DEP's key, as the service still
			// holds it, opens the mailbox key of the earlier copy...
			kd := keyring.DEP{ID: oldDEP.ID, Tenant: oldDEP.Tenant, Kind: keyring.Mailbox}
			if oldDEP.Kind == "service" {
				kd.Kind = keyring.ServiceManaged
			}
			if err := kd.UnmarshalKeys(oldDEP.Keys); err != nil {
				t.Fatal(err)
			}
			req := keyring.Request{Initiator: keyring.Service, Reason: "attacker"}
			var depKey *envelope.Key
			if kd.Kind == keyring.ServiceManaged {
				depKey, err = e.ring.DEPKey(ctx, kd, req)
			} else {
				depKey, err = e.ring.RecoveryKey(ctx, kd, req)
			}
			if err != nil {
				t.Fatalf("the earlier DEP's key: %v", err)
			}
			rec, _ := envelope.ParseRecord(before.ContainerKey)
			ck, err := envelope.UnwrapContainerKey(depKey, envelope.Container{Tenant: oldDEP.Tenant, DEP: oldDEP.ID, ID: before.ID}, rec)
			if err != nil {
				t.Fatalf("the earlier copy's mailbox key: %v", err)
			}
			// ...but not what was written after the move.
			it := items[1]
			if pt, err := envelope.Open(ck, envelope.Item{Tenant: it.Tenant, Container: it.Mailbox, ID: it.ID, Version: it.Version}, it.Sealed); err == nil {
				t.Fatalf("purged item recovered through the %s key and a copy from before the move: %q", from, pt)
			}
		})
	}
}

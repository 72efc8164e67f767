package workload_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/workload"
)

// TestSearchCatchUpInBatches: writes, rewrites and deletes through the
// service are indexed a batch of up to 256 items at a time, each page of
// a word read and written once per batch. A word in every item fills,
// splits and (after the deletes) empties pages within one batch; the
// answers match what was written, and no mark is left.
func TestSearchCatchUpInBatches(t *testing.T) {
	defer workload.SetIndexDelay(time.Hour)() // every catch-up is a search's: batches of 256
	t.Run("batches of 256 items", func(t *testing.T) { catchUpInBatches(t) })
	t.Run("batches cut by the posting budget", func(t *testing.T) {
		defer workload.SetBatchBudget(50)() // a few items a batch
		catchUpInBatches(t)
	})
}

func catchUpInBatches(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	const upn = "batch@contoso.com"
	if _, err := boxes.CreateMailbox(ctx, tn, upn, "", ""); err != nil {
		t.Fatal(err)
	}
	words := map[string]string{} // item -> its content
	put := func(id, content string) {
		t.Helper()
		if _, err := boxes.Put(ctx, tn, workload.MailboxRef(upn), id, "", strings.NewReader(content), workload.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		words[id] = content
	}
	truth := func(word string) []string {
		var ids []string
		for id, c := range words {
			if slices.Contains(strings.Fields(c), word) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	check := func(step string, ws ...string) {
		t.Helper()
		for _, w := range ws {
			got := searchAll(t, boxes, e, upn, w, 100)
			if want := truth(w); !slices.Equal(got, want) {
				t.Fatalf("%s: search %q found %d items, want %d (first difference at %d)", step, w, len(got), len(want), firstDiff(got, want))
			}
		}
		if n, err := boxes.PendingMarks(ctx, tn, upn); err != nil || n != 0 {
			t.Fatalf("%s: %d marks left after a search (%v)", step, n, err)
		}
	}
	// The index exists before the writes (a first search builds it), so
	// the writes are indexed by catch-ups, not by a build. 1,500 items in
	// six batches: "common" grows one page past 512 IDs within a batch,
	// which splits it.
	check("empty", "common")
	for i := range 1500 {
		parity := "even"
		if i%2 == 1 {
			parity = "odd"
		}
		put(fmt.Sprintf("m%05d", i), fmt.Sprintf("common %s u%d", parity, i))
	}
	check("written", "common", "odd", "even", "u7", "u1499")
	// Deletes span several pages of "common" in one batch and empty some;
	// rewrites drop "common" and bring a new word.
	for i := range 800 {
		id := fmt.Sprintf("m%05d", i)
		if err := boxes.DeleteItem(ctx, tn, workload.MailboxRef(upn), id); err != nil {
			t.Fatal(err)
		}
		delete(words, id)
	}
	for i := 800; i < 1000; i++ {
		put(fmt.Sprintf("m%05d", i), fmt.Sprintf("changed u%d", i))
	}
	// Deleted, then written again: its version number starts over at 1,
	// the number the index holds for its old words.
	if err := boxes.DeleteItem(ctx, tn, workload.MailboxRef(upn), "m01200"); err != nil {
		t.Fatal(err)
	}
	put("m01200", "fresh words")
	check("deleted and rewritten", "common", "odd", "even", "changed", "fresh", "u7", "u900", "u1200", "u1499")
}

// TestCatchUpsBounded: writes to many mailboxes in a burst schedule a
// catch-up of each mailbox's index; at most IndexWorkers run at a time,
// each holding an item and a batch of postings; the rest wait their turn,
// and every index comes out whole.
func TestCatchUpsBounded(t *testing.T) {
	defer workload.SetIndexDelay(200 * time.Millisecond)()
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	mailboxes := max(12, 3*workload.IndexWorkers()) // more than the bound, whatever the machine
	for i := range mailboxes {
		if _, err := boxes.CreateMailbox(ctx, tn, fmt.Sprintf("user%02d@contoso.com", i), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for j := range 40 {
		for i := range mailboxes {
			content := fmt.Sprintf("quarterly report %d of mailbox %d with settlement figures", j, i)
			if _, err := boxes.Put(ctx, tn, workload.MailboxRef(fmt.Sprintf("user%02d@contoso.com", i)), fmt.Sprintf("m%d", j), "", strings.NewReader(content), workload.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		left := 0
		for i := range mailboxes {
			n, err := boxes.PendingMarks(ctx, tn, fmt.Sprintf("user%02d@contoso.com", i))
			if err != nil {
				t.Fatal(err)
			}
			left += n
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d items still marked for the index after a minute", left)
		}
	}
	if peak := boxes.IndexPeak(); peak < 1 || peak > workload.IndexWorkers() {
		t.Errorf("%d catch-ups ran at once, want 1 to %d", peak, workload.IndexWorkers())
	}
	for i := range mailboxes {
		if page, err := boxes.Search(ctx, tn, fmt.Sprintf("user%02d@contoso.com", i), "settlement", "", 100); err != nil || len(page) != 40 {
			t.Errorf("mailbox %d: %d items found (%v), want 40", i, len(page), err)
		}
	}
}

// TestCatchUpsPassABusyMailbox: background catch-ups of a mailbox whose
// index is being rebuilt do not take the turns other mailboxes' catch-ups
// need. They waited for the rebuild with a turn held, and a write to the
// mailbox a little later started another, until all the turns were held
// and no other mailbox's index caught up before the rebuild ended.
func TestCatchUpsPassABusyMailbox(t *testing.T) {
	defer workload.SetIndexDelay(50 * time.Millisecond)()
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	for _, mb := range []string{"busy@contoso.com", "other@contoso.com"} {
		if _, err := boxes.CreateMailbox(ctx, tn, mb, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	put := func(mb, id string) {
		t.Helper()
		if _, err := boxes.Put(ctx, tn, workload.MailboxRef(mb), id, "", strings.NewReader("quarterly settlement figures"), workload.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	busy, err := boxes.Mailbox(ctx, tn, "busy@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	release := boxes.HoldIndex(tn, busy)         // a rebuild under way (let go before the search below)
	for i := range workload.IndexWorkers() + 1 { // each write's catch-up after the last one's began
		put("busy@contoso.com", fmt.Sprintf("m%d", i))
		time.Sleep(150 * time.Millisecond)
	}
	put("other@contoso.com", "m1")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := boxes.PendingMarks(ctx, tn, "other@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("another mailbox's index did not catch up while one mailbox's was being rebuilt")
		}
	}
	release()
	if page, err := boxes.Search(ctx, tn, "busy@contoso.com", "settlement", "", 100); err != nil || len(page) != workload.IndexWorkers()+1 {
		t.Fatalf("the busy mailbox after its rebuild: %v %v", page, err)
	}
}

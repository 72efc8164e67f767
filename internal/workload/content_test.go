package workload_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/workload"
)

// TestRacingWritesOfOneItem: writes of one mailbox item at the same
// moment, through two services over one store (two nodes: in one
// process they queue, across nodes they race for the next version), each
// get a version of their own (none is stored twice, none is lost), and
// the last one reads back.
func TestRacingWritesOfOneItem(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	other := workload.New(workload.Config{Store: e.Vault.Store, Blobs: dbBlobs(e), DEPs: e.DEPs, Licences: licensed{}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	nodes := []*workload.Service{boxes, other}
	const upn = "race@contoso.com"
	if _, err := boxes.CreateMailbox(ctx, tn, upn, "", ""); err != nil {
		t.Fatal(err)
	}
	const writers, each = 6, 10
	versions := make(chan uint32, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				it, err := nodes[w%2].Put(ctx, tn, workload.MailboxRef(upn), "shared", "", strings.NewReader(fmt.Sprintf("writer %d write %d", w, i)), workload.PutOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				versions <- it.Version
			}
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[uint32]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("version %d was written twice", v)
		}
		seen[v] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d versions for %d writes", len(seen), writers*each)
	}
	c, err := boxes.Open(ctx, tn, workload.MailboxRef(upn), "shared", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Item.Version != writers*each {
		t.Errorf("the item reads at version %d, want %d", c.Item.Version, writers*each)
	}
}

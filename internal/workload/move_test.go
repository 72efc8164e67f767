package workload_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

// hookStore runs hook once, right after the next MailboxItemVersion read:
// a move (and the old DEP's retirement) lands between the write's read of
// the mailbox and its key.
type hookStore struct {
	workload.Store
	hook atomic.Pointer[func()]
}

func (h *hookStore) MailboxItemVersion(ctx context.Context, tenant, mailbox, item string) (store.Mailbox, uint32, string, error) {
	m, v, b, err := h.Store.MailboxItemVersion(ctx, tenant, mailbox, item)
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return m, v, b, err
}

// TestWriteRacingAMoveReads: a write that read its mailbox just before a
// move to another DEP (and the old DEP's retirement, as a geo's roll
// does) seals under the key version it read, and both that item and
// the ones before read back after the move. The key it got was the new
// version's, labelled with the old one, which nothing could open after.
func TestWriteRacingAMoveReads(t *testing.T) {
	boxes0, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	hs := &hookStore{Store: e.Vault.Store}
	boxes := workload.New(workload.Config{Store: hs, Blobs: dbBlobs(e), DEPs: e.DEPs, Licences: licensed{}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	d1, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.Seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: "DEP-2", KeyURIs: e.Seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boxes0.CreateMailbox(ctx, tn, "alice@contoso.com", "", "DEP-1"); err != nil {
		t.Fatal(err)
	}
	r := workload.MailboxRef("alice@contoso.com")
	if _, err := boxes.Put(ctx, tn, r, "before", "", strings.NewReader("written before the move"), workload.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f := func() {
		m, err := boxes0.Mailbox(ctx, tn, "alice@contoso.com")
		if err != nil {
			t.Error(err)
			return
		}
		if err := boxes0.Rewrap(ctx, tn, m, d2, "test"); err != nil {
			t.Error(err)
			return
		}
		if err := e.DEPs.Retire(ctx, tn, d1, "test: nothing on it"); err != nil {
			t.Error(err)
		}
	}
	hs.hook.Store(&f)
	if _, err := boxes.Put(ctx, tn, r, "racing", "", strings.NewReader("written as the mailbox moved"), workload.PutOptions{}); err != nil {
		t.Fatalf("the write racing the move: %v", err)
	}
	for id, want := range map[string]string{"before": "written before the move", "racing": "written as the mailbox moved"} {
		if b, err := get(ctx, boxes0, tn, r, id, 0); err != nil || string(b) != want {
			t.Errorf("item %s after the move: %q, %v", id, b, err)
		}
	}
}

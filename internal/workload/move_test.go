package workload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
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

// TestUploadAcrossAMove: an upload begun before its container moved to
// another DEP is under the earlier key version, which a copy of the
// database from before the move opens with a key the service still
// holds: its next part is refused (Upload.Moved) and the upload
// cancelled, so nothing more is sealed under that version (T8); a new
// upload goes through.
func TestUploadAcrossAMove(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	var d2 store.DEP
	for _, name := range []string{"DEP-1", "DEP-2"} {
		d, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: name, KeyURIs: e.Seed.KeyURIs[:]})
		if err != nil {
			t.Fatal(err)
		}
		d2 = d
	}
	if _, err := boxes.CreateMailbox(ctx, tn, "alice@contoso.com", "", "DEP-1"); err != nil {
		t.Fatal(err)
	}
	r := workload.MailboxRef("alice@contoso.com")
	content := bytes.Repeat([]byte("attachment "), 3*envelope.ChunkSize/10)
	u, err := boxes.BeginUpload(ctx, tn, r, "deck", "", int64(len(content)), workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := boxes.Mailbox(ctx, tn, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := boxes.Rewrap(ctx, tn, m, d2, "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, -1, bytes.NewReader(content)); !isRule(err, client.RuleUploadMoved) {
		t.Fatalf("a part after the move: %v, want %s", err, client.RuleUploadMoved)
	}
	if _, err := boxes.Upload(ctx, tn, r, u.ID); !isRule(err, client.RuleUploadExists) {
		t.Fatalf("the upload after the refused part: %v, want it cancelled", err)
	}
	u, err = boxes.BeginUpload(ctx, tn, r, "deck", "", int64(len(content)), workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, it, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, -1, bytes.NewReader(content)); err != nil || it == nil {
		t.Fatalf("the upload begun again: %v", err)
	}
	if got, err := get(ctx, boxes, tn, r, "deck", 0); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
}

// TestStreamAcrossAMove (T8): a streamed write that began before its
// mailbox moved to another DEP, and ends after, is not kept: its content
// is sealed under the key version from before the move, which a copy of
// the database from before it opens with a key the service still holds
// (here the service-managed DEP's). It was committed; the copy opened
// everything sent after the move. Written again, it is under the new one.
func TestStreamAcrossAMove(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	d1, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.Seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boxes.CreateMailbox(ctx, tn, "alice@contoso.com", "", ""); err != nil { // service-managed
		t.Fatal(err)
	}
	r := workload.MailboxRef("alice@contoso.com")
	content := bytes.Repeat([]byte("sent after the move "), 3*envelope.ChunkSize/20)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := boxes.Put(ctx, tn, r, "big", "", pr, workload.PutOptions{})
		done <- err
	}()
	if _, err := pw.Write(content[:envelope.ChunkSize+1]); err != nil { // the write has begun
		t.Fatal(err)
	}
	before, err := boxes.Mailbox(ctx, tn, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := boxes.Rewrap(ctx, tn, before, d1, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(content[envelope.ChunkSize+1:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; !isRule(err, client.RuleUploadMoved) {
		t.Fatalf("a write across the move: %v, want %s", err, client.RuleUploadMoved)
	}
	if _, err := e.Vault.Store.Item(ctx, tn.ID, "alice@contoso.com", "big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the write across the move was kept: %v", err)
	}
	if _, err := boxes.Put(ctx, tn, r, "big", "", bytes.NewReader(content), workload.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stored, err := e.Vault.Store.Item(ctx, tn.ID, "alice@contoso.com", "big")
	if err != nil {
		t.Fatal(err)
	}
	after, err := boxes.Mailbox(ctx, tn, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := envelope.KeyIDOf(stored.Sealed); kid != workload.KeyID(after) || after.KeyVersion == before.KeyVersion {
		t.Fatalf("written again under %s, the mailbox at %s (before the move %s)", kid, workload.KeyID(after), workload.KeyID(before))
	}
	if got, err := get(ctx, boxes, tn, r, "big", 0); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
}

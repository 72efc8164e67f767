package workload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

// commitHook runs hook once, before the next CommitUpload: the part that
// commits stalls there past its claim, and the part sent again commits.
type commitHook struct {
	workload.Store
	hook atomic.Pointer[func()]
}

func (h *commitHook) CommitUpload(ctx context.Context, it store.Item, upload, claim string) (string, error) {
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return h.Store.CommitUpload(ctx, it, upload, claim)
}

// TestStalledCommitKeepsTheCommittedBlob: a part that stalls past its
// claim just before it commits finds, when it goes on, that the part sent
// again took the upload over and committed it; it must not delete the
// blob the committed file now holds (it did, taking the upload's row
// being gone for a cancel or a purge).
func TestStalledCommitKeepsTheCommittedBlob(t *testing.T) {
	e := deptest.Start(t)
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	hs := &commitHook{Store: e.Vault.Store}
	boxes := workload.New(workload.Config{Store: hs, Blobs: dbBlobs(e), DEPs: e.DEPs, Licences: licensed{}, Now: now, Logger: slog.New(slog.DiscardHandler)})
	ctx, tn := e.Ctx, e.Tenant
	if _, _, err := boxes.CreateSite(ctx, tn, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	r := workload.SiteRef("finance")
	content := make([]byte, 3*envelope.ChunkSize)
	rand.Read(content)
	u, err := boxes.BeginUpload(ctx, tn, r, "deck", "", int64(len(content)), workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := func() {
		skew.Store(int64(40 * time.Second)) // A's claim lapsed while it stalled
		if _, it, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, -1, bytes.NewReader(content)); err != nil || it == nil {
			t.Errorf("the part sent again: item %v, %v", it != nil, err)
		}
	}
	hs.hook.Store(&f)
	if _, it, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, -1, bytes.NewReader(content)); err == nil || it != nil {
		t.Errorf("the stalled part committed too: %v", err)
	}
	got, err := get(ctx, boxes, tn, r, "deck", 0)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the committed file does not read back (%d bytes): %v", len(got), err)
	}
}

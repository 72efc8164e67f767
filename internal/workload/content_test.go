package workload_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/store"
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

// TestSlowVaultHoldsUpItsOwnItemOnly: a write whose DEP key must come from
// a vault that answers slowly waits on its own item's lock only. Every
// write of other items (a tenant's other mailboxes, other tenants) goes
// on meanwhile: writers are queued by item, not by a shared stripe that
// a slow vault would hold for all the items hashed to it.
func TestSlowVaultHoldsUpItsOwnItemOnly(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	var cold store.DEP
	for _, name := range []string{"DEP-WARM", "DEP-COLD"} {
		d, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: name, KeyURIs: e.Seed.KeyURIs[:]})
		if err != nil {
			t.Fatal(err)
		}
		cold = d
	}
	for upn, d := range map[string]string{"warm@contoso.com": "DEP-WARM", "cold@contoso.com": "DEP-COLD"} {
		if _, err := boxes.CreateMailbox(ctx, tn, upn, "", d); err != nil {
			t.Fatal(err)
		}
	}
	w, _, err := e.DEPs.Ring(cold)
	if err != nil {
		t.Fatal(err)
	}
	w.Ring.Evict(cold.ID) // DEP-COLD's key must come from the vaults again
	for _, v := range e.Seed.Vaults {
		if err := e.Vault.Fault(v.Region, "slow", time.Minute, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	coldDone := make(chan error, 1)
	coldCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	go func() {
		_, err := boxes.Put(coldCtx, tn, workload.MailboxRef("cold@contoso.com"), "waiting", "", strings.NewReader("cold"), workload.PutOptions{})
		coldDone <- err
	}()
	time.Sleep(200 * time.Millisecond) // the cold write is in the vault
	const others = 300                 // with a lock striped 64 ways, one of these shares the cold write's
	for i := range others {
		if _, err := boxes.Put(ctx, tn, workload.MailboxRef("warm@contoso.com"), fmt.Sprintf("item-%d", i), "", strings.NewReader("warm"), workload.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-coldDone:
		t.Fatalf("the cold write ended (%v) before the %d other writes: they waited on it", err, others)
	default:
	}
	giveUp()
	<-coldDone
	for _, v := range e.Seed.Vaults {
		if err := e.Vault.Fault(v.Region, "off", 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The write given up let go of its item: the next one goes through
	// (when the keyring's attempt in flight ends).
	if _, err := boxes.Put(ctx, tn, workload.MailboxRef("cold@contoso.com"), "waiting", "", strings.NewReader("cold"), workload.PutOptions{}); err != nil {
		t.Fatalf("a write of the item given up, once the vault answers: %v", err)
	}
}

// TestStatReadsNothing: Stat answers a chunked item's size and digest
// without a transfer slot (none is free here) and refuses to copy its
// content; Open of the same item waits for a slot as before.
func TestStatReadsNothing(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	const upn = "stat@contoso.com"
	if _, err := boxes.CreateMailbox(ctx, tn, upn, "", ""); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320 KB: chunked
	if _, err := boxes.Put(ctx, tn, workload.MailboxRef(upn), "big", "", bytes.NewReader(content), workload.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	held := boxes.HoldStreams(tn.ID) // every slot of the tenant taken
	c, err := boxes.Stat(ctx, tn, workload.MailboxRef(upn), "big", 0)
	if err != nil {
		t.Fatalf("Stat with no slot free: %v", err)
	}
	if c.Size != int64(len(content)) || c.SHA256 != sha256.Sum256(content) {
		t.Errorf("Stat: size %d, want %d; digest differs: %v", c.Size, len(content), c.SHA256 != sha256.Sum256(content))
	}
	if err := c.Copy(ctx, io.Discard, 0, -1); err == nil {
		t.Error("Copy of content opened by Stat read it")
	}
	c.Close()
	if _, err := boxes.Open(ctx, tn, workload.MailboxRef(upn), "big", 0); !isRule(err, client.RuleContentStreams) {
		t.Errorf("Open with no slot free: %v, want %s", err, client.RuleContentStreams)
	}
	held()
	if got, err := get(ctx, boxes, tn, workload.MailboxRef(upn), "big", 0); err != nil || !bytes.Equal(got, content) {
		t.Errorf("read back: %d bytes, %v", len(got), err)
	}
}

// aliasWriter records whether any write came from inside buf.
type aliasWriter struct {
	bytes.Buffer
	buf     []byte
	aliased bool
}

func (w *aliasWriter) Write(p []byte) (int, error) {
	for i := range w.buf {
		if len(p) > 0 && &p[0] == &w.buf[i] {
			w.aliased = true
		}
	}
	return w.Buffer.Write(p)
}

// TestCopyThroughWipes: content is copied through the buffer given, and
// that buffer holds none of it after; a reader with WriteTo (as
// io.MultiReader has) must not take the copy past it into a buffer of
// its own that no one wipes.
func TestCopyThroughWipes(t *testing.T) {
	content := bytes.Repeat([]byte("plaintext "), 10_000)
	buf := make([]byte, 4096)
	w := &aliasWriter{buf: buf}
	n, err := workload.CopyThrough(w, io.MultiReader(bytes.NewReader(content)), buf)
	if err != nil || n != int64(len(content)) || !bytes.Equal(w.Bytes(), content) {
		t.Fatalf("copied %d, %v", n, err)
	}
	if !w.aliased {
		t.Fatal("the copy did not go through the buffer given")
	}
	if !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Fatal("the buffer still holds content")
	}
}

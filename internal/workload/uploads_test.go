package workload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/workload"
)

// cutReader gives n bytes of r, then fails as a dropped connection does.
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= k
	return k, err
}

// blockReader gives its first byte, then waits until released.
type blockReader struct {
	first   bool
	started chan struct{}
	release chan struct{}
	rest    io.Reader
}

func (b *blockReader) Read(p []byte) (int, error) {
	if !b.first {
		b.first = true
		close(b.started)
		<-b.release
	}
	return b.rest.Read(p)
}

func isRule(err error, id string) bool {
	e, ok := rule.As(err)
	return ok && e.Rule == id
}

// TestUploadNonceGuard (SPEC K8, D8): chunk i's nonce is fixed by i, so
// a part cut off and sent again with other bytes over chunks it had
// sealed is refused (without the check, two plaintexts would be sealed
// under one nonce); sent again with the same bytes, it goes through; and
// while a part writes, another is refused.
func TestUploadNonceGuard(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	content := make([]byte, 4*envelope.ChunkSize+100)
	rand.Read(content)
	sum := sha256.Sum256(content)
	u, err := boxes.BeginUpload(ctx, tn, r, "deck.pptx", "", int64(len(content)), workload.PutOptions{SHA256: sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(u.State, []byte("sha\x03")) {
		t.Fatal("the running digest is stored in the clear")
	}
	// Nor the digest declared: it would say whether the tenant holds a
	// known file to anyone with the database, after a purge too.
	if row, err := e.Vault.Store.Upload(ctx, tn.ID, u.ID); err != nil || row.WantSHA256 == nil || bytes.Contains(row.WantSHA256, sum[:]) {
		t.Fatalf("the declared digest as stored: %x, %v", row.WantSHA256, err)
	}
	part1 := content[:2*envelope.ChunkSize]
	// Cut off after a chunk and a half: chunk 0 is sealed and stored.
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, int64(len(part1)), &cutReader{r: bytes.NewReader(part1), n: envelope.ChunkSize * 3 / 2}); err == nil {
		t.Fatal("a cut-off part succeeded")
	}
	if now, _ := boxes.Upload(ctx, tn, r, u.ID); now.Received != 0 || now.Written < envelope.ChunkSize {
		t.Fatalf("after a cut-off part: received %d, written %d", now.Received, now.Written)
	}
	other := bytes.Clone(part1)
	other[10] ^= 1 // chunk 0 with another byte
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, int64(len(other)), bytes.NewReader(other)); !isRule(err, client.RuleUploadPart) {
		t.Fatalf("a part sent again with other bytes: %v, want %s", err, client.RuleUploadPart)
	}
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, int64(len(part1)), bytes.NewReader(part1)); err != nil {
		t.Fatalf("the part sent again with its bytes: %v", err)
	}
	if now, _ := boxes.Upload(ctx, tn, r, u.ID); bytes.HasPrefix(now.State, []byte("sha\x03")) || now.State == nil {
		t.Fatalf("the running digest between parts: %x", now.State)
	}

	// One part writes at a time.
	b := &blockReader{started: make(chan struct{}), release: make(chan struct{}), rest: bytes.NewReader(content[2*envelope.ChunkSize:])}
	done := make(chan error, 1)
	go func() {
		_, it, err := boxes.UploadPart(ctx, tn, r, u.ID, 2*envelope.ChunkSize, -1, b)
		if err == nil && it == nil {
			err = errors.New("the last part did not commit the file")
		}
		done <- err
	}()
	<-b.started
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 2*envelope.ChunkSize, -1, bytes.NewReader(content[2*envelope.ChunkSize:])); !isRule(err, client.RuleUploadBusy) {
		t.Errorf("a second part while one writes: %v, want %s", err, client.RuleUploadBusy)
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := get(ctx, boxes, tn, r, "deck.pptx", 0)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the uploaded file: %d bytes, %v", len(got), err)
	}

	// An upload is reached through its own site only.
	if _, _, err := boxes.CreateSite(ctx, tn, "legal", "NAM"); err != nil {
		t.Fatal(err)
	}
	u2, err := boxes.BeginUpload(ctx, tn, r, "plan.docx", "", 200000, workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []workload.Ref{workload.SiteRef("legal"), workload.MailboxRef("site:finance"), workload.RecordsRef("finance")} {
		if _, err := boxes.Upload(ctx, tn, wrong, u2.ID); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("upload of finance through %+v: %v, want not found", wrong, err)
		}
		if _, _, err := boxes.UploadPart(ctx, tn, wrong, u2.ID, 0, -1, strings.NewReader("planted")); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("part of finance's upload through %+v: %v, want not found", wrong, err)
		}
	}
	// Sizes an upload is not for.
	for _, size := range []int64{0, envelope.ChunkSize, -5} {
		if _, err := boxes.BeginUpload(ctx, tn, r, "tiny", "", size, workload.PutOptions{}); !isRule(err, client.RuleUploadSize) {
			t.Errorf("an upload of %d bytes: %v, want %s", size, err, client.RuleUploadSize)
		}
	}
	// A digest that does not match stores nothing.
	u3, _ := boxes.BeginUpload(ctx, tn, r, "wrong", "", 70000, workload.PutOptions{SHA256: sum[:]})
	if _, _, err := boxes.UploadPart(ctx, tn, r, u3.ID, 0, 70000, bytes.NewReader(content[:70000])); !isRule(err, client.RuleContentDigest) {
		t.Errorf("a wrong digest: %v, want %s", err, client.RuleContentDigest)
	}
	if _, err := get(ctx, boxes, tn, r, "wrong", 0); !rule.Is(err, rule.KindNotFound) {
		t.Errorf("a file stored despite its digest: %v", err)
	}
}

// failingBlobs is a real directory store whose disk fails from chunk
// failAt on (a fault drill).
type failingBlobs struct {
	blob.Store
	failAt int64
}

func (f failingBlobs) Put(ctx context.Context, r blob.Ref, seq int64, chunk []byte) error {
	if seq >= f.failAt {
		return errors.New("disk full")
	}
	return f.Store.Put(ctx, r, seq, chunk)
}

// TestLargeWriteStoreFails: when the blob store fails in the middle of a
// large write, the write fails, stores no item, and leaves neither its
// upload nor its chunks.
func TestLargeWriteStoreFails(t *testing.T) {
	e := deptest.Start(t)
	dir, err := blob.Dir(t.TempDir(), envelope.ChunkSize+envelope.TagSize)
	if err != nil {
		t.Fatal(err)
	}
	boxes := workload.New(workload.Config{Store: e.Vault.Store, Blobs: failingBlobs{dir, 3}, DEPs: e.DEPs, Licences: licensed{}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	ctx, tn := e.Ctx, e.Tenant
	if _, _, err := boxes.CreateSite(ctx, tn, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 10*envelope.ChunkSize)
	if _, err := boxes.Put(ctx, tn, workload.SiteRef("finance"), "deck", "", bytes.NewReader(content), workload.PutOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a write whose store fails: %v", err)
	}
	if _, err := get(ctx, boxes, tn, workload.SiteRef("finance"), "deck", 0); !rule.Is(err, rule.KindNotFound) {
		t.Errorf("an item stored by a failed write: %v", err)
	}
	if ids, err := dir.List(ctx, tn.ID, "site:finance"); err != nil || len(ids) != 0 {
		t.Errorf("a failed write left blobs: %v %v", ids, err)
	}
	if stale, err := e.Vault.Store.StaleUploads(ctx, time.Now().Add(time.Hour), 10); err != nil || len(stale) != 0 {
		t.Errorf("a failed write left its upload: %+v %v", stale, err)
	}
}

// TestCleanUploads: an upload without a part for longer than the expiry
// is deleted with its chunks; one still going is left alone.
func TestCleanUploads(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	u, err := boxes.BeginUpload(ctx, tn, r, "deck.pptx", "", 3*envelope.ChunkSize, workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, envelope.ChunkSize, bytes.NewReader(make([]byte, envelope.ChunkSize))); err != nil {
		t.Fatal(err)
	}
	blobs := dbBlobs(e)
	if ids, _ := blobs.List(ctx, tn.ID, "site:finance"); len(ids) != 1 {
		t.Fatalf("the upload's blob: %v", ids)
	}
	if n, err := boxes.CleanUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("an upload still going was cleaned: %d %v", n, err)
	}
	if n, err := boxes.CleanUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("cleaned %d uploads (%v), want the abandoned one", n, err)
	}
	if _, err := boxes.Upload(ctx, tn, r, u.ID); !isRule(err, client.RuleUploadExists) {
		t.Errorf("the abandoned upload: %v, want %s", err, client.RuleUploadExists)
	}
	if ids, _ := blobs.List(ctx, tn.ID, "site:finance"); len(ids) != 0 {
		t.Errorf("the abandoned upload's chunks stay: %v", ids)
	}
}

// TestSiteVersionGaps: an upload cancelled after a later version was
// written leaves a gap in a file's version numbers; the next write takes
// the number after the highest, never one already stored, and a version
// is read by its number.
func TestSiteVersionGaps(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	put := func(content string) uint32 {
		t.Helper()
		it, err := boxes.Put(ctx, tn, r, "deck", "", strings.NewReader(content), workload.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return it.Version
	}
	if v := put("one"); v != 1 {
		t.Fatalf("first version %d", v)
	}
	u, err := boxes.BeginUpload(ctx, tn, r, "deck", "", 2*envelope.ChunkSize, workload.PutOptions{})
	if err != nil || u.Version != 2 {
		t.Fatalf("upload: version %d, %v", u.Version, err)
	}
	if v := put("three"); v != 3 {
		t.Fatalf("a write while version 2 uploads: version %d, want 3", v)
	}
	if err := boxes.CancelUpload(ctx, tn, r, u.ID); err != nil {
		t.Fatal(err)
	}
	if v := put("four"); v != 4 {
		t.Fatalf("after the cancelled upload: version %d, want 4 (3 is stored)", v)
	}
	for v, want := range map[int]string{0: "four", 1: "one", 3: "three", 4: "four"} {
		if got, err := get(ctx, boxes, tn, r, "deck", v); err != nil || string(got) != want {
			t.Errorf("version %d: %q %v, want %q", v, got, err, want)
		}
	}
	if _, err := get(ctx, boxes, tn, r, "deck", 2); !rule.Is(err, rule.KindNotFound) {
		t.Errorf("the cancelled version 2: %v, want not found", err)
	}
}

// TestUploadPartLength: a part whose length runs past the upload is
// refused before anything is claimed or sealed (a length that wrapped the
// claim's bound would switch the nonce guard off).
func TestUploadPartLength(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	u, _ := boxes.BeginUpload(ctx, tn, r, "deck", "", 4*envelope.ChunkSize, workload.PutOptions{})
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, envelope.ChunkSize, bytes.NewReader(make([]byte, envelope.ChunkSize))); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{math.MaxInt64, 3*envelope.ChunkSize + 1} {
		if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, envelope.ChunkSize, n, bytes.NewReader(make([]byte, envelope.ChunkSize))); !isRule(err, client.RuleUploadPart) {
			t.Errorf("a part of length %d: %v, want %s", n, err, client.RuleUploadPart)
		}
	}
	if now, _ := boxes.Upload(ctx, tn, r, u.ID); now.Written != envelope.ChunkSize {
		t.Errorf("a refused part moved written to %d", now.Written)
	}
}

// stallReader gives head, then waits until released, then gives tail.
type stallReader struct {
	head, tail io.Reader
	stalled    chan struct{}
	release    chan struct{}
	once       bool
}

func (s *stallReader) Read(p []byte) (int, error) {
	if n, err := s.head.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if !s.once {
		s.once = true
		close(s.stalled)
		<-s.release
	}
	return s.tail.Read(p)
}

// TestStalledPartLosesItsClaim: a part that stalls past its claim's
// lease, while another part takes the upload over and writes, stores
// nothing more when it wakes (without the renewal before each write, it
// sealed its own bytes at an index the other had sealed: two plaintexts
// under one nonce).
func TestStalledPartLosesItsClaim(t *testing.T) {
	boxes, e, r, skew := startSiteSkewed(t)
	ctx, tn := e.Ctx, e.Tenant
	const C = envelope.ChunkSize
	final := make([]byte, 3*C)
	rand.Read(final)
	mine := bytes.Clone(final[:2*C])
	mine[C+5] ^= 1 // A's chunk 1 differs from what B sends
	u, err := boxes.BeginUpload(ctx, tn, r, "deck", "", int64(len(final)), workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := &stallReader{head: bytes.NewReader(mine[:C+1]), tail: bytes.NewReader(mine[C+1:]), stalled: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, 2*C, a)
		done <- err
	}()
	<-a.stalled // chunk 0 is stored; A waits inside chunk 1
	skew.Store(int64(40 * time.Second))
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, 2*C, bytes.NewReader(final[:2*C])); err != nil {
		t.Fatalf("B, after A's claim lapsed: %v", err)
	}
	close(a.release)
	if err := <-done; !isRule(err, client.RuleUploadBusy) {
		t.Fatalf("A after it woke: %v, want %s", err, client.RuleUploadBusy)
	}
	if _, it, err := boxes.UploadPart(ctx, tn, r, u.ID, 2*C, C, bytes.NewReader(final[2*C:])); err != nil || it == nil {
		t.Fatalf("the last part: %v", err)
	}
	if got, err := get(ctx, boxes, tn, r, "deck", 0); err != nil || !bytes.Equal(got, final) {
		t.Fatalf("the file holds other bytes than B sent (%v): A wrote after losing its claim", err)
	}
}

// TestUploadNoteBoundToOffset: the running digest kept between parts
// opens only where it was made: a note from an earlier part put back in
// the row (someone writing the database) is refused, so the digest the
// summary seals is never that of other bytes.
func TestUploadNoteBoundToOffset(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	const C = envelope.ChunkSize
	u, _ := boxes.BeginUpload(ctx, tn, r, "deck", "", 3*C, workload.PutOptions{})
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, C, bytes.NewReader(make([]byte, C))); err != nil {
		t.Fatal(err)
	}
	first, _ := boxes.Upload(ctx, tn, r, u.ID)
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, C, C, bytes.NewReader(make([]byte, C))); err != nil {
		t.Fatal(err)
	}
	now, _ := boxes.Upload(ctx, tn, r, u.ID)
	now.State = first.State // the note of byte 65536 at byte 131072
	claim := "test"
	if _, err := e.Vault.Store.ClaimUpload(ctx, tn.ID, u.ID, now.Received, now.Received, claim, time.Now().Add(time.Minute), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.Vault.Store.AdvanceUpload(ctx, now, claim); err != nil {
		t.Fatal(err)
	}
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 2*C, C, bytes.NewReader(make([]byte, C))); !isRule(err, client.RuleItemIntegrity) {
		t.Fatalf("a part over an old note: %v, want %s", err, client.RuleItemIntegrity)
	}
}

// startSite starts the container service with a site, finance, to write to.
// startSiteSkewed is startSite with the service's clock ahead of the
// real one by what skew holds (nanoseconds).
func startSiteSkewed(t *testing.T) (*workload.Service, *deptest.Env, workload.Ref, *atomic.Int64) {
	e := deptest.Start(t)
	skew := new(atomic.Int64)
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	boxes := workload.New(workload.Config{Store: e.Vault.Store, Blobs: dbBlobs(e), DEPs: e.DEPs, Licences: licensed{}, Now: now, Logger: slog.New(slog.DiscardHandler)})
	if _, _, err := boxes.CreateSite(e.Ctx, e.Tenant, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	return boxes, e, workload.SiteRef("finance"), skew
}

func startSite(t *testing.T) (*workload.Service, *deptest.Env, workload.Ref) {
	boxes, e := start(t)
	if _, _, err := boxes.CreateSite(e.Ctx, e.Tenant, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	return boxes, e, workload.SiteRef("finance")
}

// TestStreamedWriteKeepsItsUpload: a large write still streaming holds a
// claim on its upload, so the cleanup of abandoned uploads leaves it
// alone however old the upload is; the write then completes and reads
// back.
func TestStreamedWriteKeepsItsUpload(t *testing.T) {
	boxes, e, r := startSite(t)
	ctx, tn := e.Ctx, e.Tenant
	content := bytes.Repeat([]byte("large file "), 3*envelope.ChunkSize/10)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := boxes.Put(ctx, tn, r, "video.mp4", "", pr, workload.PutOptions{})
		done <- err
	}()
	// Half the content, then the write waits on the rest.
	if _, err := pw.Write(content[:len(content)/2]); err != nil {
		t.Fatal(err)
	}
	if n, err := boxes.CleanUploads(ctx, time.Now().Add(48*time.Hour)); err != nil || n != 0 {
		t.Fatalf("the cleanup took %d uploads (%v) while a write streamed into one", n, err)
	}
	if _, err := pw.Write(content[len(content)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the streamed write: %v", err)
	}
	c, err := boxes.Open(ctx, tn, r, "video.mp4", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got bytes.Buffer
	if err := c.Copy(ctx, &got, 0, c.Size); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("read back %d bytes (%v), want the %d written", got.Len(), err, len(content))
	}
}

// TestEmptyPartsKeepNoUploadAlive: an upload whose client sends only
// empty parts after its last bytes is as old as those bytes, and the
// cleanup of abandoned uploads takes it with its chunks.
func TestEmptyPartsKeepNoUploadAlive(t *testing.T) {
	boxes, e, r, skew := startSiteSkewed(t)
	ctx, tn := e.Ctx, e.Tenant
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	u, err := boxes.BeginUpload(ctx, tn, r, "deck", "", 3*envelope.ChunkSize, workload.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := boxes.UploadPart(ctx, tn, r, u.ID, 0, envelope.ChunkSize, bytes.NewReader(make([]byte, envelope.ChunkSize))); err != nil {
		t.Fatal(err)
	}
	for day := 1; day <= 3; day++ { // an empty part each day
		skew.Store(int64(time.Duration(day) * 24 * time.Hour))
		if got, _, err := boxes.UploadPart(ctx, tn, r, u.ID, envelope.ChunkSize, 0, bytes.NewReader(nil)); err != nil || got.Received != envelope.ChunkSize {
			t.Fatalf("an empty part on day %d: %+v %v", day, got, err)
		}
	}
	if n, err := boxes.CleanUploads(ctx, now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("cleaned %d uploads (%v), want the one kept alive by empty parts", n, err)
	}
	if ids, _ := dbBlobs(e).List(ctx, tn.ID, "site:finance"); len(ids) != 0 {
		t.Errorf("its chunks stay: %v", ids)
	}
}

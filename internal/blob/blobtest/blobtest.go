// Package blobtest is the conformance suite every blob.Store passes (as
// storetest is for the service store): a backend's test calls Run with a
// function that opens a fresh, empty store accepting chunks of at least
// ChunkSize bytes. Bench measures a backend's write and read throughput
// against raw file I/O of the same bytes in the same run.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/customerkey/customerkey/internal/blob"
)

// ChunkSize is the size of a full chunk in the suite: a sealed chunk of the
// envelope's stream format (64 KiB of content and a 16-byte tag).
const ChunkSize = 64<<10 + 16

// Run exercises every method of blob.Store against stores opened by open.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"InvalidArguments", testInvalid},
		{"PutRead", testPutRead},
		{"OutOfOrderAndRewritten", testRewrite},
		{"Missing", testMissing},
		{"ReadStopsOnError", testFnError},
		{"Commit", testCommit},
		{"Delete", testDelete},
		{"DeleteContainerIsolation", testIsolation},
		{"List", testList},
		{"ConcurrentPuts", testConcurrent},
		{"Large", testLarge},
		{"ContextCancelled", testCancel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// Chunk returns chunk seq of a blob named tag: n pseudo-random bytes that
// differ for every (tag, seq), so a chunk read from the wrong place is seen.
func Chunk(tag string, seq int64, n int) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(tag), uint64(seq)))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(h).Read(b) // never fails
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, s blob.Store, r blob.Ref, seq int64, chunk []byte) {
	t.Helper()
	if err := s.Put(ctx, r, seq, chunk); err != nil {
		t.Fatalf("Put(%v, %d, %d bytes): %v", r, seq, len(chunk), err)
	}
}

// read returns copies of chunks from..to-1 by seq, and Read's error.
func read(s blob.Store, r blob.Ref, from, to int64) (map[int64][]byte, []int64, error) {
	got := map[int64][]byte{}
	var order []int64
	err := s.Read(ctx, r, from, to, func(seq int64, chunk []byte) error {
		got[seq] = bytes.Clone(chunk)
		order = append(order, seq)
		return nil
	})
	return got, order, err
}

// want checks that chunks from..to-1 read back as want[seq], in order.
func want(t *testing.T, s blob.Store, r blob.Ref, from, to int64, want map[int64][]byte) {
	t.Helper()
	got, order, err := read(s, r, from, to)
	if err != nil {
		t.Fatalf("Read(%v, %d, %d): %v", r, from, to, err)
	}
	wantOrder := []int64{}
	for seq := from; seq < to; seq++ {
		wantOrder = append(wantOrder, seq)
	}
	if !slices.Equal(order, wantOrder) && !(len(order) == 0 && len(wantOrder) == 0) {
		t.Fatalf("Read(%v, %d, %d) gave chunks %v, want %v", r, from, to, order, wantOrder)
	}
	for seq := from; seq < to; seq++ {
		if !bytes.Equal(got[seq], want[seq]) {
			t.Fatalf("Read(%v, %d, %d): chunk %d is %d bytes %x..., want %d bytes %x...", r, from, to, seq, len(got[seq]), head(got[seq]), len(want[seq]), head(want[seq]))
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func ids(t *testing.T, s blob.Store, tenant, container string) []string {
	t.Helper()
	l, err := s.List(ctx, tenant, container)
	if err != nil {
		t.Fatalf("List(%s, %s): %v", tenant, container, err)
	}
	if l == nil {
		l = []string{}
	}
	return l
}

func testInvalid(t *testing.T, s blob.Store) {
	good := blob.Ref{Tenant: "t1", Container: "c1", ID: "b1"}
	put(t, s, good, 0, []byte("x"))
	noop := func(int64, []byte) error { return nil }
	for _, tc := range []struct {
		name     string
		r        blob.Ref
		seq      int64
		from, to int64
	}{
		{"empty tenant", blob.Ref{Container: "c1", ID: "b1"}, 0, 0, 1},
		{"empty container", blob.Ref{Tenant: "t1", ID: "b1"}, 0, 0, 1},
		{"empty ID", blob.Ref{Tenant: "t1", Container: "c1"}, 0, 0, 1},
		{"long tenant", blob.Ref{Tenant: strings.Repeat("t", blob.MaxName+1), Container: "c1", ID: "b1"}, 0, 0, 1},
		{"long container", blob.Ref{Tenant: "t1", Container: strings.Repeat("c", blob.MaxName+1), ID: "b1"}, 0, 0, 1},
		{"long ID", blob.Ref{Tenant: "t1", Container: "c1", ID: strings.Repeat("b", blob.MaxID+1)}, 0, 0, 1},
		{"NUL in ID", blob.Ref{Tenant: "t1", Container: "c1", ID: "b\x001"}, 0, 0, 1},
		{"newline in container", blob.Ref{Tenant: "t1", Container: "c\n1", ID: "b1"}, 0, 0, 1},
		{"not UTF-8", blob.Ref{Tenant: "t\xff", Container: "c1", ID: "b1"}, 0, 0, 1},
		{"negative seq and from", good, -1, -1, 1},
		{"to before from", good, 0, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "Read", s.Read(ctx, tc.r, tc.from, tc.to, noop), blob.ErrInvalid)
			if tc.r == good { // a bad seq or range on a good ref
				if tc.seq < 0 {
					wantErr(t, "Put", s.Put(ctx, tc.r, tc.seq, []byte("x")), blob.ErrInvalid)
				}
				return
			}
			wantErr(t, "Put", s.Put(ctx, tc.r, tc.seq, []byte("x")), blob.ErrInvalid)
			wantErr(t, "Commit", s.Commit(ctx, tc.r), blob.ErrInvalid)
			wantErr(t, "Delete", s.Delete(ctx, tc.r), blob.ErrInvalid)
			if blob.CheckName("tenant", tc.r.Tenant, blob.MaxName) != nil || blob.CheckName("container", tc.r.Container, blob.MaxName) != nil {
				_, err := s.DeleteContainer(ctx, tc.r.Tenant, tc.r.Container)
				wantErr(t, "DeleteContainer", err, blob.ErrInvalid)
				_, err = s.List(ctx, tc.r.Tenant, tc.r.Container)
				wantErr(t, "List", err, blob.ErrInvalid)
			}
		})
	}
	// The longest names are fine.
	long := blob.Ref{Tenant: strings.Repeat("t", blob.MaxName), Container: strings.Repeat("é", blob.MaxName/2), ID: strings.Repeat("b", blob.MaxID)}
	put(t, s, long, 0, []byte("long"))
	want(t, s, long, 0, 1, map[int64][]byte{0: []byte("long")})
	want(t, s, good, 0, 1, map[int64][]byte{0: []byte("x")})
}

func testPutRead(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "site:finance", ID: "0123456789abcdef0123456789abcdef"}
	chunks := map[int64][]byte{0: Chunk("a", 0, ChunkSize), 1: Chunk("a", 1, ChunkSize), 2: Chunk("a", 2, 100)}
	for seq := int64(0); seq < 3; seq++ {
		put(t, s, r, seq, chunks[seq])
	}
	must(t, s.Commit(ctx, r))
	for _, rg := range [][2]int64{{0, 3}, {0, 1}, {1, 2}, {2, 3}, {1, 3}, {0, 0}, {2, 2}, {7, 7}} {
		want(t, s, r, rg[0], rg[1], chunks)
	}
	// A chunk of zero bytes is a chunk, not a missing one.
	e := blob.Ref{Tenant: "contoso", Container: "site:finance", ID: "empty"}
	put(t, s, e, 0, nil)
	want(t, s, e, 0, 1, map[int64][]byte{0: {}})
}

func testRewrite(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "c", ID: "b"}
	chunks := map[int64][]byte{}
	// The last (short) chunk first, then the others backwards.
	for _, seq := range []int64{4, 3, 1, 2, 0} {
		n := ChunkSize
		if seq == 4 {
			n = 10
		}
		chunks[seq] = Chunk("first", seq, n)
		put(t, s, r, seq, chunks[seq])
	}
	want(t, s, r, 0, 5, chunks)
	// A retried part rewrites chunks 1 and 2; the last chunk is rewritten
	// shorter, then longer.
	for _, seq := range []int64{2, 1} {
		chunks[seq] = Chunk("retry", seq, ChunkSize)
		put(t, s, r, seq, chunks[seq])
	}
	chunks[4] = Chunk("retry", 4, 3)
	put(t, s, r, 4, chunks[4])
	want(t, s, r, 0, 5, chunks)
	chunks[4] = Chunk("again", 4, ChunkSize-1)
	put(t, s, r, 4, chunks[4])
	must(t, s.Commit(ctx, r))
	want(t, s, r, 0, 5, chunks)
}

func testMissing(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "c", ID: "holes"}
	none := blob.Ref{Tenant: "contoso", Container: "c", ID: "never"}
	_, order, err := read(s, none, 0, 1)
	wantErr(t, "Read of a blob never written", err, blob.ErrNotFound)
	if len(order) != 0 {
		t.Fatalf("Read of a blob never written called fn with %v", order)
	}
	chunks := map[int64][]byte{0: Chunk("h", 0, ChunkSize), 2: Chunk("h", 2, ChunkSize), 3: Chunk("h", 3, 5)}
	for seq, c := range chunks {
		put(t, s, r, seq, c)
	}
	for _, tc := range []struct {
		from, to  int64
		wantOrder []int64
		missing   string
	}{
		{0, 4, []int64{0}, "chunk 1"},
		{1, 2, nil, "chunk 1"},
		{2, 5, []int64{2, 3}, "chunk 4"},
		{4, 5, nil, "chunk 4"},
		{100, 200, nil, "chunk 100"},
	} {
		_, order, err := read(s, r, tc.from, tc.to)
		wantErr(t, fmt.Sprintf("Read(%d, %d)", tc.from, tc.to), err, blob.ErrNotFound)
		if !strings.Contains(err.Error(), tc.missing) {
			t.Errorf("Read(%d, %d): error %q does not name %s", tc.from, tc.to, err, tc.missing)
		}
		if !slices.Equal(order, tc.wantOrder) {
			t.Errorf("Read(%d, %d) called fn with %v before the missing chunk, want %v", tc.from, tc.to, order, tc.wantOrder)
		}
	}
	want(t, s, r, 2, 4, chunks)
	// Another container or tenant holds nothing of it.
	for _, o := range []blob.Ref{{Tenant: "contoso", Container: "d", ID: "holes"}, {Tenant: "fabrikam", Container: "c", ID: "holes"}} {
		_, _, err := read(s, o, 0, 1)
		wantErr(t, fmt.Sprintf("Read(%v)", o), err, blob.ErrNotFound)
	}
}

var errStop = errors.New("stop here")

func testFnError(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "c", ID: "b"}
	for seq := int64(0); seq < 200; seq++ {
		put(t, s, r, seq, Chunk("f", seq, 64))
	}
	var calls []int64
	err := s.Read(ctx, r, 0, 200, func(seq int64, chunk []byte) error {
		calls = append(calls, seq)
		if seq == 70 {
			return errStop
		}
		return nil
	})
	if err != errStop && !errors.Is(err, errStop) {
		t.Fatalf("Read: got %v, want fn's error", err)
	}
	if len(calls) != 71 || calls[70] != 70 {
		t.Fatalf("fn called for %d chunks (last %d), want 0..70", len(calls), calls[len(calls)-1])
	}
}

func testCommit(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "c", ID: "b"}
	wantErr(t, "Commit of a blob never written", s.Commit(ctx, r), blob.ErrNotFound)
	put(t, s, r, 1, []byte("one"))
	must(t, s.Commit(ctx, r))
	put(t, s, r, 0, []byte("zero"))
	must(t, s.Commit(ctx, r))
	must(t, s.Commit(ctx, r))
	want(t, s, r, 0, 2, map[int64][]byte{0: []byte("zero"), 1: []byte("one")})
}

func testDelete(t *testing.T, s blob.Store) {
	a := blob.Ref{Tenant: "contoso", Container: "c", ID: "a"}
	b := blob.Ref{Tenant: "contoso", Container: "c", ID: "b"}
	for seq := int64(0); seq < 3; seq++ {
		put(t, s, a, seq, Chunk("a", seq, 1000))
		put(t, s, b, seq, Chunk("b", seq, 1000))
	}
	must(t, s.Commit(ctx, a))
	must(t, s.Delete(ctx, a))
	_, _, err := read(s, a, 0, 1)
	wantErr(t, "Read after Delete", err, blob.ErrNotFound)
	want(t, s, b, 0, 3, map[int64][]byte{0: Chunk("b", 0, 1000), 1: Chunk("b", 1, 1000), 2: Chunk("b", 2, 1000)})
	must(t, s.Delete(ctx, a)) // again
	must(t, s.Delete(ctx, blob.Ref{Tenant: "nobody", Container: "none", ID: "nothing"}))
	if got := ids(t, s, "contoso", "c"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("List after Delete: %v, want [b]", got)
	}
	// A deleted blob can be written again, from nothing.
	put(t, s, a, 1, []byte("new"))
	_, _, err = read(s, a, 0, 2)
	wantErr(t, "Read of an old chunk after Delete and Put", err, blob.ErrNotFound)
	want(t, s, a, 1, 2, map[int64][]byte{1: []byte("new")})
}

// testIsolation: DeleteContainer removes its container's blobs only; names
// that would meet if joined by a separator ("a/b" + "c", "a" + "b/c") or
// that look like paths stay apart.
func testIsolation(t *testing.T, s blob.Store) {
	refs := []blob.Ref{
		{Tenant: "t1", Container: "c1", ID: "x"},
		{Tenant: "t1", Container: "c1", ID: "y"},
		{Tenant: "t2", Container: "c1", ID: "x"}, // another tenant, same names
		{Tenant: "t1", Container: "c2", ID: "x"}, // another container
		{Tenant: "t1", Container: "C1", ID: "x"}, // names are exact
		{Tenant: "a/b", Container: "c", ID: "d"},
		{Tenant: "a", Container: "b/c", ID: "d"},
		{Tenant: "a", Container: "b", ID: "c/d"},
		{Tenant: "..", Container: "..", ID: ".."},
		{Tenant: "t1", Container: "../t2/c1", ID: "x"},
		{Tenant: "t1", Container: "c1/../../t2/c1", ID: "../x"},
	}
	for i, r := range refs {
		put(t, s, r, 0, Chunk(r.String(), 0, 100+i))
		must(t, s.Commit(ctx, r))
	}
	check := func(deleted func(blob.Ref) bool) {
		t.Helper()
		for i, r := range refs {
			got, _, err := read(s, r, 0, 1)
			if deleted(r) {
				wantErr(t, fmt.Sprintf("Read(%v) after its container's deletion", r), err, blob.ErrNotFound)
				continue
			}
			if err != nil || !bytes.Equal(got[0], Chunk(r.String(), 0, 100+i)) {
				t.Fatalf("Read(%v): %d bytes, %v; want its own chunk", r, len(got[0]), err)
			}
		}
	}
	check(func(blob.Ref) bool { return false })
	n, err := s.DeleteContainer(ctx, "t1", "c1")
	if err != nil || n != 2 {
		t.Fatalf("DeleteContainer(t1, c1) = %d, %v; want 2", n, err)
	}
	gone := func(r blob.Ref) bool { return r.Tenant == "t1" && r.Container == "c1" }
	check(gone)
	n, err = s.DeleteContainer(ctx, "t1", "c1")
	if err != nil || n != 0 {
		t.Fatalf("DeleteContainer(t1, c1) again = %d, %v; want 0", n, err)
	}
	n, err = s.DeleteContainer(ctx, "a", "b/c")
	if err != nil || n != 1 {
		t.Fatalf("DeleteContainer(a, b/c) = %d, %v; want 1", n, err)
	}
	check(func(r blob.Ref) bool { return gone(r) || r.Tenant == "a" && r.Container == "b/c" })
	n, err = s.DeleteContainer(ctx, "nobody", "nothing")
	if err != nil || n != 0 {
		t.Fatalf("DeleteContainer of nothing = %d, %v; want 0", n, err)
	}
}

func testList(t *testing.T, s blob.Store) {
	if got := ids(t, s, "contoso", "c"); len(got) != 0 {
		t.Fatalf("List of an empty container: %v", got)
	}
	names := []string{"b", "a", "0123456789abcdef", "Z", "a-b", "é", "a.b", "..", "x/y"}
	for i, id := range names {
		// Some blobs have many chunks, some one that is not chunk 0.
		for seq := int64(i % 3); seq < int64(i%3)*5+1; seq++ {
			put(t, s, blob.Ref{Tenant: "contoso", Container: "c", ID: id}, seq, []byte{byte(i)})
		}
	}
	put(t, s, blob.Ref{Tenant: "contoso", Container: "other", ID: "q"}, 0, []byte("q"))
	put(t, s, blob.Ref{Tenant: "fabrikam", Container: "c", ID: "r"}, 0, []byte("r"))
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	if got := ids(t, s, "contoso", "c"); !slices.Equal(got, sorted) {
		t.Fatalf("List:\n got %q\nwant %q", got, sorted)
	}
	if got := ids(t, s, "fabrikam", "c"); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("List(fabrikam, c) = %q, want [r]", got)
	}
	n, err := s.DeleteContainer(ctx, "contoso", "c")
	if err != nil || n != len(names) {
		t.Fatalf("DeleteContainer = %d, %v; want %d", n, err, len(names))
	}
	if got := ids(t, s, "contoso", "c"); len(got) != 0 {
		t.Fatalf("List after DeleteContainer: %v", got)
	}
}

// testConcurrent: goroutines write interleaved chunks of the same blobs.
func testConcurrent(t *testing.T, s blob.Store) {
	const workers, chunks = 8, 64
	refs := []blob.Ref{{Tenant: "contoso", Container: "c", ID: "p"}, {Tenant: "contoso", Container: "c", ID: "q"}}
	size := func(seq int64) int {
		if seq == chunks-1 {
			return 999
		}
		return 4096
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(w); seq < chunks; seq += workers {
				for _, r := range refs {
					if err := s.Put(ctx, r, seq, Chunk(r.ID, seq, size(seq))); err != nil {
						errs <- fmt.Errorf("Put(%v, %d): %w", r, seq, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, r := range refs {
		must(t, s.Commit(ctx, r))
		w := map[int64][]byte{}
		for seq := int64(0); seq < chunks; seq++ {
			w[seq] = Chunk(r.ID, seq, size(seq))
		}
		want(t, s, r, 0, chunks, w)
	}
	// Concurrent readers of one blob.
	var rg sync.WaitGroup
	rerrs := make(chan error, 4)
	for range 4 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			h := sha256.New()
			if err := s.Read(ctx, refs[0], 0, chunks, func(_ int64, c []byte) error { h.Write(c); return nil }); err != nil {
				rerrs <- err
			}
		}()
	}
	rg.Wait()
	close(rerrs)
	for err := range rerrs {
		t.Fatal(err)
	}
}

// testLarge writes a 64 MiB blob (1024 full chunks and a short one) and
// reads it back whole and in ranges: the start, the middle, across a read
// batch and the end.
func testLarge(t *testing.T, s blob.Store) {
	if testing.Short() {
		t.Skip("-short: skipping the 64 MiB blob")
	}
	const n = 1025
	r := blob.Ref{Tenant: "contoso", Container: "site:video", ID: "large"}
	size := func(seq int64) int {
		if seq == n-1 {
			return 12345
		}
		return ChunkSize
	}
	for seq := int64(0); seq < n; seq++ {
		put(t, s, r, seq, Chunk("large", seq, size(seq)))
	}
	must(t, s.Commit(ctx, r))
	for _, rg := range [][2]int64{{0, n}, {0, 1}, {0, 3}, {511, 514}, {60, 70}, {127, 129}, {1000, n}, {n - 1, n}} {
		var seqs []int64
		err := s.Read(ctx, r, rg[0], rg[1], func(seq int64, c []byte) error {
			seqs = append(seqs, seq)
			if !bytes.Equal(c, Chunk("large", seq, size(seq))) {
				return fmt.Errorf("chunk %d: %d bytes, not the chunk written", seq, len(c))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", rg[0], rg[1], err)
		}
		if int64(len(seqs)) != rg[1]-rg[0] || seqs[0] != rg[0] {
			t.Fatalf("Read(%d, %d): %d chunks from %d", rg[0], rg[1], len(seqs), seqs[0])
		}
	}
	_, _, err := read(s, r, n-1, n+1)
	wantErr(t, "Read past the end", err, blob.ErrNotFound)
	n2, err := s.DeleteContainer(ctx, "contoso", "site:video")
	if err != nil || n2 != 1 {
		t.Fatalf("DeleteContainer = %d, %v; want 1", n2, err)
	}
	_, _, err = read(s, r, 0, 1)
	wantErr(t, "Read after DeleteContainer", err, blob.ErrNotFound)
}

// testCancel: a cancelled context stops every method, and a Read whose
// context is cancelled while it runs stops at the next chunk.
func testCancel(t *testing.T, s blob.Store) {
	r := blob.Ref{Tenant: "contoso", Container: "c", ID: "b"}
	for seq := int64(0); seq < 300; seq++ {
		put(t, s, r, seq, Chunk("c", seq, 512))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	noop := func(int64, []byte) error { return nil }
	wantErr(t, "Put", s.Put(cctx, r, 300, []byte("x")), context.Canceled)
	wantErr(t, "Commit", s.Commit(cctx, r), context.Canceled)
	wantErr(t, "Read", s.Read(cctx, r, 0, 300, noop), context.Canceled)
	wantErr(t, "Delete", s.Delete(cctx, r), context.Canceled)
	_, err := s.DeleteContainer(cctx, "contoso", "c")
	wantErr(t, "DeleteContainer", err, context.Canceled)
	_, err = s.List(cctx, "contoso", "c")
	wantErr(t, "List", err, context.Canceled)

	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	calls := 0
	err = s.Read(cctx, r, 0, 300, func(seq int64, _ []byte) error {
		calls++
		if seq == 10 {
			cancel()
		}
		return nil
	})
	wantErr(t, "Read cancelled at chunk 10", err, context.Canceled)
	if calls != 11 {
		t.Fatalf("Read cancelled at chunk 10 went on to %d chunks, want 11", calls)
	}
	// Nothing was lost or changed.
	w := map[int64][]byte{}
	for seq := int64(0); seq < 300; seq++ {
		w[seq] = Chunk("c", seq, 512)
	}
	want(t, s, r, 0, 300, w)
	if got := ids(t, s, "contoso", "c"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("List after the cancelled calls: %v", got)
	}
}

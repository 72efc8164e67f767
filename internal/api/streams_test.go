package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// TestStreamsBounded: callers who open transfers of content and stop
// reading cannot take a node's memory. A tenant runs at most its share
// of transfers on a node, and none of the node's last eighth while it has
// one open (429 Content.Streams, with Retry-After; the node's bound
// itself, 503 Content.StreamsNode, is TestStreamSlots's, in
// internal/workload); small reads are not counted, and a transfer's slot
// is free again once its caller goes away.
func TestStreamsBounded(t *testing.T) {
	const big = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/big"
	const small = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/small"
	for _, tc := range []struct {
		name   string
		limits api.Limits
		hold   int // the stalled readers admitted
		status int
		rule   string
	}{
		{"the tenant's share", api.Limits{Streams: 10, TenantStreams: 2}, 2, 429, "Content.Streams"},
		// A node's last eighth is kept for tenants without a transfer open.
		{"the node's reserve", api.Limits{Streams: 16, TenantStreams: 15}, 14, 429, "Content.Streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startDEPsOn(t, envOptions{limits: tc.limits})
			e.aliceOnDEP1()
			content := make([]byte, 16<<20) // more than the sockets between hold: a reader who stops stops the server
			rand.Read(content)
			if st, body := e.raw(e.admin, "PUT", big, content); st != 200 {
				t.Fatalf("put big: %d %s", st, body)
			}
			if st, body := e.raw(e.admin, "PUT", small, []byte("hello")); st != 200 {
				t.Fatalf("put small: %d %s", st, body)
			}

			// Readers that read nothing: each holds a slot.
			stalled := func() *http.Response {
				t.Helper()
				hc := &http.Client{Transport: e.srv.Client().Transport.(*http.Transport).Clone()} // a connection of its own
				req, _ := http.NewRequest("GET", e.srv.URL+big, nil)
				req.Header.Set("Authorization", "Bearer "+e.admin)
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("a stalled reader: %v %v", resp, err)
				}
				return resp
			}
			var readers []*http.Response
			for range tc.hold {
				readers = append(readers, stalled())
			}
			defer func() {
				for _, r := range readers[1:] {
					r.Body.Close()
				}
			}()

			req, _ := http.NewRequest("GET", e.srv.URL+big, nil)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != tc.status || p["rule"] != tc.rule || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("one more transfer: %d (Retry-After %q) %v, want %d %s", resp.StatusCode, resp.Header.Get("Retry-After"), p, tc.status, tc.rule)
			}
			// A large write is a transfer too; a small read is not.
			if st, body := e.raw(e.admin, "PUT", big+"2", content[:1<<20]); st != tc.status || !bytes.Contains(body, []byte(tc.rule)) {
				t.Errorf("a large write meanwhile: %d %s, want %d %s", st, body, tc.status, tc.rule)
			}
			if st, body := e.raw(e.admin, "GET", small, nil); st != 200 || string(body) != "hello" {
				t.Errorf("a small read meanwhile: %d %s", st, body)
			}
			// Nor is a HEAD, which reads none of the content.
			head, _ := http.NewRequest("HEAD", e.srv.URL+big, nil)
			head.Header.Set("Authorization", "Bearer "+e.admin)
			if resp, err := e.srv.Client().Do(head); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(content)) {
				t.Errorf("a HEAD meanwhile: %v %v, want 200 with Content-Length %d", resp, err, len(content))
			} else {
				resp.Body.Close()
			}

			// The first reader goes away: its slot is free again.
			readers[0].Body.Close()
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, body := e.raw(e.admin, "GET", big, nil)
				if st == 200 {
					if !bytes.Equal(body, content) {
						t.Fatal("the big item read back other bytes")
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("10 s after a reader went away, a transfer is still refused: %d %s", st, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestStreamedWriteHoldsASlot: a write whose caller stops sending holds
// a slot like a stalled read, whether it stopped inside its first chunk
// (its head buffer held, not yet known small or large) or after it, and
// gives it back when it fails.
func TestStreamedWriteHoldsASlot(t *testing.T) {
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/upload"
	e := startDEPsOn(t, envOptions{limits: api.Limits{TenantStreams: 1}})
	e.aliceOnDEP1()
	for _, sent := range []int{1000, 256 << 10} {
		stop, done := stall(t, e, e.admin, item, item+"2", sent)
		stop() // the writer goes away
		<-done
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, body := e.raw(e.admin, "PUT", item+"2", make([]byte, 1<<20))
			if st == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the stalled writer (%d bytes sent) went away: %d %s", sent, st, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// With the slot free, small writes and reads go as before.
	if st, body := e.raw(e.admin, "PUT", item+"3", []byte("small")); st != 200 {
		t.Fatalf("a small write: %d %s", st, body)
	}
}

// TestUploadFileWaitsForASlot: the SDK's resumable upload takes a 429
// Content.Streams for a pause, not a failure nor a try: once the tenant's
// transfer that held the slot ends, the part is sent again and the file
// commits.
func TestUploadFileWaitsForASlot(t *testing.T) {
	e := startDEPsOn(t, envOptions{limits: api.Limits{TenantStreams: 1}})
	spo := financeSite(t, e)
	content := make([]byte, 3*65536+100)
	rand.Read(content)
	sum := sha256.Sum256(content)
	// Another large write of the tenant's, stalled: it holds the slot.
	stop, _ := stall(t, e, spo, "/v1/tenants/Contoso/sites/finance/files/other.bin", "/v1/tenants/Contoso/sites/finance/files/probe.bin", 256<<10)
	c, err := client.New(client.Config{URL: e.srv.URL, Token: spo, HTTPClient: e.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	waited := 0
	info, err := c.UploadFile(context.Background(), "Contoso", "finance", "deck.bin", bytes.NewReader(content), int64(len(content)), sum[:],
		client.UploadOptions{PartSize: 2 * 65536, Attempts: 1, Wait: func(int) time.Duration { // a busy refusal is not a try
			if waited++; waited == 3 {
				stop() // the stalled writer goes away
			}
			return 50 * time.Millisecond
		}})
	if err != nil || info.Size != int64(len(content)) || waited < 3 {
		t.Fatalf("UploadFile while the slot is held: %+v, %v after %d waits", info, err, waited)
	}
	if st, got := e.raw(spo, "GET", "/v1/tenants/Contoso/sites/finance/files/deck.bin", nil); st != 200 || !bytes.Equal(got, content) {
		t.Fatalf("the file reads back: %d, %d bytes", st, len(got))
	}
}

// stall starts a write of token's to path that sends sent bytes and
// then nothing, and waits until it holds the tenant's slot: a large
// write to probe is refused 429 Content.Streams. A probe can take the
// slot before the stalled write reaches the service, which then refuses
// that one: it is started again. stop makes the stalled writer go away;
// done says what the service answered it.
func stall(t *testing.T, e *depEnv, token, path, probe string, sent int) (stop func(), done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pr, pw := io.Pipe()
		stop := func() { pw.CloseWithError(io.ErrUnexpectedEOF) }
		t.Cleanup(stop)
		req, _ := http.NewRequest("PUT", e.srv.URL+path, pr)
		req.Header.Set("Authorization", "Bearer "+token)
		answered := make(chan int, 1)
		go func() {
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				answered <- 0
				return
			}
			resp.Body.Close()
			answered <- resp.StatusCode
		}()
		go pw.Write(make([]byte, sent)) // then nothing (a refused write reads none: stop ends it)
		for {
			if len(answered) > 0 {
				break // refused: a probe held the slot when it came
			}
			st, body := e.raw(token, "PUT", probe, make([]byte, 1<<20))
			if st == 429 && bytes.Contains(body, []byte("Content.Streams")) && len(answered) == 0 {
				return stop, answered
			}
			if time.Now().After(deadline) {
				t.Fatalf("a large write while a stalled write holds the tenant's slot: %d %s, want 429 Content.Streams", st, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
	}
}

// countedBlobs counts the chunk reads of a blob store.
type countedBlobs struct {
	blob.Store
	reads atomic.Int64
}

func (c *countedBlobs) Read(ctx context.Context, r blob.Ref, from, to int64, fn func(int64, []byte) error) error {
	c.reads.Add(1)
	return c.Store.Read(ctx, r, from, to, fn)
}

// TestHeadReadsNoContent: HEAD of chunked content answers its headers
// (size, digest, version) without reading a chunk: it was the whole
// content read and opened, every byte dropped by net/http.
func TestHeadReadsNoContent(t *testing.T) {
	const big = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/big"
	counted := &countedBlobs{}
	e := startDEPsOn(t, envOptions{blobs: func(st store.Store) blob.Store {
		counted.Store = st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
		return counted
	}})
	e.aliceOnDEP1()
	content := make([]byte, 4<<20)
	rand.Read(content)
	if st, body := e.raw(e.admin, "PUT", big, content); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	before := counted.reads.Load()
	req, _ := http.NewRequest("HEAD", e.srv.URL+big, nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sum := sha256.Sum256(content)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(content)) || !strings.Contains(resp.Header.Get("Repr-Digest"), base64.StdEncoding.EncodeToString(sum[:])) {
		t.Errorf("HEAD: %d, Content-Length %d, Repr-Digest %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("Repr-Digest"))
	}
	if n := counted.reads.Load() - before; n != 0 {
		t.Errorf("HEAD read the content's chunks (%d reads)", n)
	}
	if st, body := e.raw(e.admin, "GET", big, nil); st != 200 || !bytes.Equal(body, content) || counted.reads.Load() == before {
		t.Errorf("GET after HEAD: %d, %d bytes, %d reads", st, len(body), counted.reads.Load()-before)
	}
}

// TestRefusedSlowWriteAnswered: a write refused for want of a slot is
// answered at once, however slowly its caller sends. The refusal left
// the body unread, and Go's server read up to 256 KiB of it before it
// answered: a caller that had sent less and waited for the answer never
// got it (and the test helper stall waited for ever).
func TestRefusedSlowWriteAnswered(t *testing.T) {
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/"
	e := startDEPsOn(t, envOptions{limits: api.Limits{TenantStreams: 1}})
	e.aliceOnDEP1()
	stall(t, e, e.admin, item+"held", item+"probe", 1000)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	req, _ := http.NewRequest("PUT", e.srv.URL+item+"slow", pr)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	go pw.Write(make([]byte, 1000)) // then nothing
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		answered <- answer{resp, err}
	}()
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.resp.Body.Close()
		if a.resp.StatusCode != 429 || a.resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a slow write refused for a slot: %d, Retry-After %q; want 429 with Retry-After", a.resp.StatusCode, a.resp.Header.Get("Retry-After"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a slow write refused for a slot was not answered in 10 s")
	}
}

// TestSlotRefusalKeepsHTTP2Connection: on HTTP/2 a refused stream ends on
// its own, and the connection, which the caller's other streams share,
// stays (Connection: close there shut the whole connection down).
func TestSlotRefusalKeepsHTTP2Connection(t *testing.T) {
	const item = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/"
	e := startDEPsOn(t, envOptions{limits: api.Limits{TenantStreams: 1}})
	e.aliceOnDEP1()
	stall(t, e, e.admin, item+"held", item+"probe", 1000)
	h2 := httptest.NewUnstartedServer(e.api.Handler())
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	c := h2.Client()
	do := func(method, path string, body []byte) (int, bool) {
		t.Helper()
		reused := false
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
		req, _ := http.NewRequestWithContext(ctx, method, h2.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s %s over HTTP/%d, want 2", method, path, resp.ProtoMajor)
		}
		return resp.StatusCode, reused
	}
	if st, _ := do("GET", "/v1/me", nil); st != 200 {
		t.Fatalf("whoami: %d", st)
	}
	if st, reused := do("PUT", item+"probe", make([]byte, 1<<20)); st != 429 || !reused {
		t.Fatalf("a large write while the slot is held: %d (reused connection %v), want 429 on the same connection", st, reused)
	}
	if st, reused := do("GET", "/v1/me", nil); st != 200 || !reused {
		t.Fatalf("the next request after a refusal: %d, reused connection %v; want 200 on the same connection", st, reused)
	}
}

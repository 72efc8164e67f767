package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Content that streams for a long time (SPEC D8) is read or written with
// keys opened when it began. A revocation meanwhile must stop it, not only
// the requests after it (T1, T6, K6): the caller's token revoked, or the
// container's DEP revoked (the tenant removed the workload's access and
// signalled it). A stream nothing happens to still completes.

// streamItem is alice's 8 MiB item on DEP-1, in 128 chunks.
const streamItem = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/big"

// streamRevocations are what may happen while a stream goes on: cut
// says whether it must stop; then, if set, checks what a new request of
// the reader gets.
var streamRevocations = []struct {
	name   string
	revoke func(e *depEnv, readerID string)
	cut    bool
	then   func(e *depEnv, reader string)
}{
	{"nothing", nil, false, nil},
	{"the reader's token revoked", func(e *depEnv, readerID string) {
		if st, _, body := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens/"+readerID+"/revoke", ""); st != 200 {
			e.t.Fatalf("revoke the token: %d %v", st, body)
		}
	}, true, func(e *depEnv, reader string) {
		st, ct, body := e.call(reader, "GET", streamItem, "")
		e.wantProblem(401, "Authentication", st, ct, body)
	}},
	{"the DEP revoked", func(e *depEnv, _ string) {
		e.removeAccess(0)
		e.removeAccess(1)
		if st, _, body := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1/revocation", ""); st != 200 || body["revoked"] == nil {
			e.t.Fatalf("revocation signal: %d %v", st, body)
		}
	}, true, func(e *depEnv, reader string) {
		st, ct, body := e.call(reader, "GET", streamItem, "")
		e.wantProblem(403, "T1.Revoked", st, ct, body)
	}},
	// No signal: the access removed, and the DEP's key dropped from the
	// cache (as another node's event or a refresh drops it). Nothing here
	// knows of the revocation: the stream asks the keys again, and they
	// refuse.
	{"the DEP's access removed, its key dropped", func(e *depEnv, _ string) {
		e.removeAccess(0)
		e.removeAccess(1)
		e.ring.Evict(e.depID("mailbox", "DEP-1"))
	}, true, nil},
	// A disabled DEP still serves what it wraps (it only takes no new
	// assignment): its key leaves the caches, and the stream, having
	// asked again, goes on.
	{"the DEP disabled", func(e *depEnv, _ string) {
		if st, _, body := e.call(e.admin, "PATCH", "/v1/tenants/Contoso/dataEncryptionPolicies/DEP-1", `{"enabled":false}`); st != 200 {
			e.t.Fatalf("disable: %d %v", st, body)
		}
	}, false, func(e *depEnv, reader string) {
		if st, _ := e.raw(reader, "GET", streamItem, nil); st != 200 {
			e.t.Fatalf("a new read of the disabled DEP's item: %d, want 200", st)
		}
	}},
}

// streamEnv is alice on DEP-1 with the 8 MiB item, a second Exchange
// admin (the reader, whose token and its ID it returns), and the service
// again on a listener and a client with small socket buffers: what the
// reader has not read stays in the service, not in the kernel's buffers.
func streamEnv(t *testing.T) (e *depEnv, content []byte, reader, readerID string, srv *httptest.Server, c *http.Client) {
	e = startDEPs(t)
	e.aliceOnDEP1()
	content = make([]byte, 8<<20)
	rand.Read(content)
	if st, body := e.raw(e.admin, "PUT", streamItem, content); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	_, _, tok := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"reader@contoso.com","role":"exchange-admin"}`)
	reader, _ = tok["token"].(string)
	readerID, _ = tok["id"].(string)
	if reader == "" || readerID == "" {
		t.Fatalf("the reader's token: %v", tok)
	}
	srv = httptest.NewUnstartedServer(e.api.Handler())
	srv.Listener = smallBuffers{srv.Listener}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetReadBuffer(32 << 10)
			tc.SetWriteBuffer(32 << 10)
		}
		return conn, err
	}
	return e, content, reader, readerID, srv, &http.Client{Transport: tr}
}

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(32 << 10)
		tc.SetWriteBuffer(32 << 10)
	}
	return conn, err
}

// TestDownloadStopsOnRevocation: a GET of 8 MiB read 1 MiB, then (after
// the revocation) slowly enough that the service re-checks, ends short of
// its Content-Length; the bytes it did send are the content's.
func TestDownloadStopsOnRevocation(t *testing.T) {
	for _, c := range streamRevocations {
		t.Run(c.name, func(t *testing.T) {
			e, content, reader, readerID, srv, client := streamEnv(t)
			req, _ := http.NewRequest("GET", srv.URL+streamItem, nil)
			req.Header.Set("Authorization", "Bearer "+reader)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(content)) {
				t.Fatalf("get: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
			}
			first := make([]byte, 1<<20)
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			if c.revoke != nil {
				c.revoke(e, readerID)
			}
			if c.then != nil {
				c.then(e, reader)
			}
			time.Sleep(1500 * time.Millisecond) // past the stream's re-check (1 s)
			rest, rerr := io.ReadAll(resp.Body)
			got := append(first, rest...)
			if !bytes.Equal(got, content[:min(len(got), len(content))]) {
				t.Fatalf("the %d bytes read are not the content's", len(got))
			}
			switch {
			case !c.cut && (rerr != nil || len(got) != len(content)):
				t.Fatalf("a stream not revoked: %d of %d bytes (%v), want all", len(got), len(content), rerr)
			case c.cut && (rerr == nil || len(got) >= len(content)):
				t.Fatalf("the stream delivered %d of %d bytes (%v) after the revocation, want it cut short", len(got), len(content), rerr)
			case c.cut:
				t.Logf("cut after %d of %d bytes: %v", len(got), len(content), rerr)
			}
		})
	}
}

// TestUploadStopsOnRevocation: a streamed PUT of 8 MiB sends 1 MiB, then
// the rest after the revocation: the write is refused with the rule and
// nothing of it is stored.
func TestUploadStopsOnRevocation(t *testing.T) {
	for _, c := range streamRevocations {
		t.Run(c.name, func(t *testing.T) {
			e, content, reader, readerID, srv, client := streamEnv(t)
			const item = streamItem + "-2"
			pr, pw := io.Pipe()
			go func() {
				pw.Write(content[:1<<20]) // the service reads it as it comes
				if c.revoke != nil {
					c.revoke(e, readerID)
				}
				time.Sleep(1500 * time.Millisecond) // past the stream's re-check (1 s)
				_, err := pw.Write(content[1<<20:])
				pw.CloseWithError(err)
			}()
			req, _ := http.NewRequest("PUT", srv.URL+item, pr)
			req.ContentLength = int64(len(content))
			req.Header.Set("Authorization", "Bearer "+reader)
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := client.Do(req)
			status, body := 0, []byte(nil)
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			_, serr := e.st.Item(context.Background(), e.seed.Tenant, "alice@contoso.com", "big-2")
			if !c.cut {
				if status != 200 || serr != nil {
					t.Fatalf("a write not revoked: %d %s (%v); stored: %v", status, body, err, serr)
				}
				return
			}
			if !errors.Is(serr, store.ErrNotFound) {
				t.Fatalf("the write was stored after the revocation (answer %d %s, %v): %v", status, body, err, serr)
			}
			if err == nil && status != 401 && status != 403 {
				t.Fatalf("the write after the revocation: %d %s, want 401 or 403", status, body)
			}
			t.Logf("refused: %d %s (%v)", status, body, err)
		})
	}
}

// TestUploadPartStopsOnRevocation: a part of a resumable upload (here the
// whole 8 MiB file in one part) stops as a streamed PUT does when its
// caller's token is revoked meanwhile: nothing of the part counts, and the
// upload stands where it stood.
func TestUploadPartStopsOnRevocation(t *testing.T) {
	e := startDEPs(t)
	spo := financeSite(t, e)
	const file = "/v1/tenants/Contoso/sites/finance/files/video.bin"
	content := make([]byte, 8<<20)
	rand.Read(content)
	_, _, up := e.call(spo, "POST", file+"/uploads", fmt.Sprintf(`{"size":%d,"sha256":"%x"}`, len(content), sha256.Sum256(content)))
	id, _ := up["id"].(string)
	if id == "" {
		t.Fatalf("begin upload: %v", up)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(content[:1<<20])
		if st, _, body := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens/"+tenant.TokenID(tenant.HashToken(spo))+"/revoke", ""); st != 200 {
			t.Errorf("revoke the token: %d %v", st, body)
		}
		time.Sleep(1500 * time.Millisecond) // past the stream's re-check (1 s)
		_, err := pw.Write(content[1<<20:])
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("PUT", e.srv.URL+file+"/uploads/"+id+"?offset=0", pr)
	req.ContentLength = int64(len(content))
	req.Header.Set("Authorization", "Bearer "+spo)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := e.srv.Client().Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("the part after the revocation: %d %s, want 401", resp.StatusCode, body)
		}
	}
	if _, err := e.st.Item(context.Background(), e.seed.Tenant, "site:finance", "video.bin@000001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the file was stored after the revocation: %v", err)
	}
	if u, err := e.st.Upload(context.Background(), e.seed.Tenant, id); err != nil || u.Received != 0 {
		t.Fatalf("the upload after the refused part: received %d (%v), want 0", u.Received, err)
	}
}

// slowIndex runs meanwhile, once armed, when a request of subject's
// next reads the index (a search's catch-up asks whether it is current;
// the background catch-ups, which no caller makes, pass), and holds the
// search there for longer than a stream's recheck.
type slowIndex struct {
	store.Store
	subject   string
	armed     atomic.Bool
	meanwhile func()
}

func (s *slowIndex) ItemsAfter(ctx context.Context, tenantID, mailbox, after string, limit int) ([]store.Item, error) {
	if tenant.Caller(ctx).Subject == s.subject && s.armed.CompareAndSwap(true, false) {
		s.meanwhile()
		time.Sleep(1100 * time.Millisecond)
	}
	return s.Store.ItemsAfter(ctx, tenantID, mailbox, after, limit)
}

// TestSearchStopsOnRevocation: a search whose catch-up takes long (a
// mailbox's first search builds its index) answers nothing to a caller
// whose token was revoked meanwhile: it answered the matches as if
// nothing had happened (T6).
func TestSearchStopsOnRevocation(t *testing.T) {
	slow := &slowIndex{subject: "reader@contoso.com"}
	e := startDEPsOn(t, envOptions{store: func(st store.Store) store.Store { slow.Store = st; return slow }})
	e.aliceOnDEP1()
	const mb = "/v1/tenants/Contoso/mailboxes/alice@contoso.com"
	if st, body := e.raw(e.admin, "PUT", mb+"/items/m1", []byte("settle the invoice")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	_, _, tok := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"reader@contoso.com","role":"exchange-admin"}`)
	reader, readerID := tok["token"].(string), tok["id"].(string)
	if st, _, body := e.call(reader, "GET", mb+"/search?q=settle", ""); st != 200 || fmt.Sprint(body["value"]) != "[m1]" {
		t.Fatalf("search: %d %v", st, body)
	}
	slow.meanwhile = func() {
		if st, _, body := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens/"+readerID+"/revoke", ""); st != 200 {
			t.Errorf("revoke the token: %d %v", st, body)
		}
	}
	slow.armed.Store(true)
	st, ct, body := e.call(reader, "GET", mb+"/search?q=settle", "")
	e.wantProblem(401, "Authentication", st, ct, body)
}

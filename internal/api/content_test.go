package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// TestLargeContent (SPEC D8): a file of several chunks streams in and out
// through the API with its digest, ranges are answered from the chunks
// that hold them, a wrong digest stores nothing, a resumable upload
// commits with its last part, and deleting the file deletes its chunks.
func TestLargeContent(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	spo := financeSite(t, e)
	blobs := e.st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
	do := func(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+spo)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	digest := func(b []byte) string {
		s := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
	}
	content := make([]byte, 5<<20+123)
	rand.Read(content)
	const file = T + "/sites/finance/files/video.mp4"
	if resp, b := do("PUT", file, content, map[string]string{"Repr-Digest": digest(content), "Content-Type": "application/octet-stream"}); resp.StatusCode != 200 {
		t.Fatalf("put: %d %s", resp.StatusCode, b)
	} else if !bytes.Contains(b, []byte(fmt.Sprintf(`"size":%d`, len(content)))) {
		t.Fatalf("put answered %s, want the content's size", b)
	}
	resp, got := do("GET", file, nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, content) || resp.Header.Get("Repr-Digest") != digest(content) || resp.ContentLength != int64(len(content)) {
		t.Fatalf("get: %d, %d bytes, digest %q", resp.StatusCode, len(got), resp.Header.Get("Repr-Digest"))
	}
	n := int64(len(content))
	for _, tc := range []struct {
		rng      string
		from, to int64 // the bytes wanted, to exclusive
	}{
		{"bytes=0-99", 0, 100},
		{"bytes=65530-65545", 65530, 65546}, // across a chunk border
		{"bytes=2621440-2687000", 2621440, 2687001},
		{"bytes=-10", n - 10, n},
		{"bytes=5242000-", 5242000, n},
		{"bytes=0-99999999", 0, n},
	} {
		resp, got := do("GET", file, nil, map[string]string{"Range": tc.rng})
		want := content[tc.from:tc.to]
		if resp.StatusCode != 206 || !bytes.Equal(got, want) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to-1, n) {
			t.Errorf("%s: %d, %d bytes (want %d), Content-Range %q", tc.rng, resp.StatusCode, len(got), len(want), resp.Header.Get("Content-Range"))
		}
	}
	// If-Range: the range only if the content is still the one named.
	head, _ := do("GET", file, nil, map[string]string{"Range": "bytes=0-0"})
	tag := head.Header.Get("ETag")
	if resp, got := do("GET", file, nil, map[string]string{"Range": "bytes=10-19", "If-Range": tag}); resp.StatusCode != 206 || !bytes.Equal(got, content[10:20]) {
		t.Errorf("If-Range with the current ETag %s: %d, %d bytes; want 206 and the range", tag, resp.StatusCode, len(got))
	}
	if resp, got := do("GET", file, nil, map[string]string{"Range": "bytes=10-19", "If-Range": `"1.0"`}); resp.StatusCode != 200 || !bytes.Equal(got, content) {
		t.Errorf("If-Range with another ETag: %d, %d bytes; want 200 and the whole content", resp.StatusCode, len(got))
	}
	if resp, b := do("GET", file, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", n)}); resp.StatusCode != 416 || !bytes.Contains(b, []byte("Content.Range")) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
		t.Errorf("a range past the end: %d, Content-Range %q, %s", resp.StatusCode, resp.Header.Get("Content-Range"), b)
	}

	// A wrong digest stores nothing: the latest version is still the first,
	// and the refused write left no chunks.
	before, _ := blobs.List(context.Background(), e.seed.Tenant, "site:finance")
	if resp, b := do("PUT", file, content[:1<<20], map[string]string{"Repr-Digest": digest(content)}); resp.StatusCode != 400 || !bytes.Contains(b, []byte("Content.Digest")) {
		t.Fatalf("a wrong digest: %d %s", resp.StatusCode, b)
	}
	if after, _ := blobs.List(context.Background(), e.seed.Tenant, "site:finance"); len(after) != len(before) {
		t.Errorf("a refused write left blobs: %v, then %v", before, after)
	}
	if _, got := do("GET", file, nil, nil); !bytes.Equal(got, content) {
		t.Error("a refused write changed the file")
	}

	// A resumable upload: parts of whole chunks from where it stands; the
	// last part commits version 2.
	big := make([]byte, 3*65536+500)
	rand.Read(big)
	sum := sha256.Sum256(big)
	_, _, up := e.call(spo, "POST", file+"/uploads", fmt.Sprintf(`{"size":%d,"sha256":"%x"}`, len(big), sum))
	id, _ := up["id"].(string)
	if id == "" || up["version"] != 2.0 {
		t.Fatalf("begin upload: %v", up)
	}
	part := func(off, end int) (*http.Response, map[string]any) {
		resp, b := do("PUT", fmt.Sprintf("%s/uploads/%s?offset=%d", file, id, off), big[off:end], nil)
		var out map[string]any
		json.Unmarshal(b, &out)
		return resp, out
	}
	if resp, out := part(0, 2*65536); resp.StatusCode != 200 || out["upload"].(map[string]any)["received"] != float64(2*65536) {
		t.Fatalf("part 1: %d %v", resp.StatusCode, out)
	}
	if resp, out := part(0, 65536); resp.StatusCode != 409 || out["rule"] != "Upload.Offset" {
		t.Errorf("a part at the wrong offset: %d %v", resp.StatusCode, out)
	}
	if resp, out := part(2*65536, 2*65536+100); resp.StatusCode != 400 || out["rule"] != "Upload.Part" {
		t.Errorf("a part ending inside a chunk: %d %v", resp.StatusCode, out)
	}
	if resp, out := part(2*65536, len(big)); resp.StatusCode != 200 || out["file"] == nil {
		t.Fatalf("last part: %d %v", resp.StatusCode, out)
	}
	if _, got := do("GET", file, nil, nil); !bytes.Equal(got, big) {
		t.Error("the uploaded file does not read back")
	}
	if _, got := do("GET", file+"?version=1", nil, nil); !bytes.Equal(got, content) {
		t.Error("version 1 does not read back after the upload")
	}
	if st, _, out := e.call(spo, "GET", file+"/uploads/"+id, ""); st != 404 || out["rule"] != "Upload.Exists" {
		t.Errorf("a committed upload: %d %v", st, out)
	}
	// An upload is content, like a PUT of the file: its begin and parts
	// stay out of the tenant's audit log (a 250 GB file is 3.8M parts).
	recs, err := e.st.ListAudit(context.Background(), e.seed.Tenant, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.Contains(r.Target, "/uploads") {
			t.Errorf("an upload call was audited as an admin action: %s %s", r.Action, r.Target)
		}
	}

	// Chunks moved or cut short in the store (an attacker with the
	// database, or a broken disk) never reach a reader: the answer stops
	// short of its Content-Length before the bad chunk.
	ids, _ := blobs.List(context.Background(), e.seed.Tenant, "site:finance")
	var fileBlob string
	for _, id := range ids {
		if it, err := e.st.Item(context.Background(), e.seed.Tenant, "site:finance", "video.mp4@000002"); err == nil && it.Blob == id {
			fileBlob = id
		}
	}
	ref := blob.Ref{Tenant: e.seed.Tenant, Container: "site:finance", ID: fileBlob}
	chunkAt := func(i int64) []byte {
		var b []byte
		if err := blobs.Read(context.Background(), ref, i, i+1, func(_ int64, c []byte) error { b = bytes.Clone(c); return nil }); err != nil {
			t.Fatal(err)
		}
		return b
	}
	c1, c2, c3 := chunkAt(1), chunkAt(2), chunkAt(3)
	for _, tc := range []struct {
		name    string
		seq     int64
		chunk   []byte
		restore []byte
	}{
		{"chunk 2 swapped for chunk 1", 2, c1, c2},
		{"the last chunk cut short", 3, c3[:len(c3)-1], c3},
	} {
		if err := blobs.Put(context.Background(), ref, tc.seq, tc.chunk); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+file, nil)
		req.Header.Set("Authorization", "Bearer "+spo)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil || int64(len(got)) >= resp.ContentLength || !bytes.Equal(got, big[:len(got)]) || len(got) > int(tc.seq)*65536 {
			t.Errorf("%s: read %d of %d bytes (%v), want the bytes before chunk %d and then a cut", tc.name, len(got), resp.ContentLength, rerr, tc.seq)
		}
		if err := blobs.Put(context.Background(), ref, tc.seq, tc.restore); err != nil {
			t.Fatal(err)
		}
	}
	if _, got := do("GET", file, nil, nil); !bytes.Equal(got, big) {
		t.Error("the file does not read back once its chunks are restored")
	}

	// Deleting the file deletes every chunk of every version.
	if st, _, _ := e.call(spo, "DELETE", file, ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	ids, err = blobs.List(context.Background(), e.seed.Tenant, "site:finance")
	if err != nil || len(ids) != 0 {
		t.Fatalf("blobs left after the delete: %v %v", ids, err)
	}
	var _ blob.Store = blobs
}

// TestLargeContentMoves (SPEC K7, D8): moving a mailbox to another DEP
// re-wraps its container key only; a large attachment's chunks are not
// touched (the same blob before and after) and it reads back whole.
func TestLargeContentMoves(t *testing.T) {
	e := startDEPs(t)
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	const item = T + "/mailboxes/alice@contoso.com/items/deck"
	e.aliceOnDEP1()
	content := make([]byte, 700<<10)
	rand.Read(content)
	if st, body := e.raw(e.admin, "PUT", item+"?kind=attachment", content); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	blobs := e.st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
	before, err := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com")
	if err != nil || len(before) != 1 {
		t.Fatalf("blobs: %v %v", before, err)
	}
	if st, _, body := e.call(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP-2: %d %v", st, body)
	}
	m0, _ := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com")
	if st, _, body := e.call(e.admin, "PATCH", T+"/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":"DEP-2"}`); st != 202 && st != 200 {
		t.Fatalf("Set-Mailbox: %d %v", st, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m, _ := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com"); m.DEP != m0.DEP && m.Target == "" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("alice not moved: %+v", m)
		}
	}
	if after, _ := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the move touched the blobs: %v, then %v", before, after)
	}
	if st, got := e.raw(e.admin, "GET", item, nil); st != 200 || !bytes.Equal(got, content) {
		t.Fatalf("after the move: %d, %d bytes", st, len(got))
	}
	// Written again, small: the large version's blob goes.
	if st, body := e.raw(e.admin, "PUT", item+"?kind=attachment", []byte("small now")); st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	if after, _ := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com"); len(after) != 0 {
		t.Errorf("the replaced version's blob stays: %v", after)
	}
}

// TestContentLimits: each write route refuses content over its limit with
// 413 Content.TooLarge and stores nothing: said by Content-Length before a
// byte is read, or found as a body of unknown length is read; an upload
// larger than the file limit is refused when it begins.
func TestContentLimits(t *testing.T) {
	e := startDEPsOn(t, envOptions{limits: api.Limits{File: 200_000, Item: 100_000, Record: 150_000}})
	const T = "/v1/tenants/Contoso"
	e.aliceOnDEP1()
	spo := financeSite(t, e)
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"cso@contoso.com","role":"compliance-admin"}`)
	cso := tok["token"].(string)
	for _, tc := range []struct {
		name, token, path string
		limit             int
	}{
		{"file", spo, T + "/sites/finance/files/big.bin", 200_000},
		{"item", e.admin, T + "/mailboxes/alice@contoso.com/items/big", 100_000},
		{"record", cso, T + "/records/teams/big", 150_000},
	} {
		for _, chunked := range []bool{false, true} {
			content := make([]byte, tc.limit+1)
			var body io.Reader = bytes.NewReader(content)
			if chunked {
				body = io.MultiReader(bytes.NewReader(content)) // no length: sent chunked
			}
			req, _ := http.NewRequest("PUT", e.srv.URL+tc.path, body)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 413 || !bytes.Contains(out, []byte("Content.TooLarge")) {
				t.Errorf("%s over its limit (chunked %v): %d %s", tc.name, chunked, resp.StatusCode, out)
			}
			if st, _ := e.raw(tc.token, "GET", tc.path, nil); st != 404 {
				t.Errorf("%s over its limit (chunked %v) was stored: GET %d", tc.name, chunked, st)
			}
		}
		if st, body := e.raw(tc.token, "PUT", tc.path, make([]byte, tc.limit)); st != 200 {
			t.Errorf("%s at its limit: %d %s", tc.name, st, body)
		}
	}
	if st, _, body := e.call(spo, "POST", T+"/sites/finance/files/huge.bin/uploads", `{"size":200001}`); st != 413 || body["rule"] != "Content.TooLarge" {
		t.Errorf("an upload over the file limit: %d %v", st, body)
	}
}

// TestUploadsInProgressBounded: one file takes at most 16 uploads in
// progress (429 Upload.Open, with the fix); cancelling one makes room.
// Unbounded, a tenant that began thousands of uploads of a file (tiny
// requests: the size is only declared) made every write of it slower, as
// each write reads the versions its open uploads hold (attacker review).
func TestUploadsInProgressBounded(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	spo := financeSite(t, e)
	file := T + "/sites/finance/files/deck.bin"
	var ids []string
	for i := range 16 {
		st, _, up := e.call(spo, "POST", file+"/uploads", `{"size":131072}`)
		if st != 201 {
			t.Fatalf("upload %d: %d %v", i+1, st, up)
		}
		ids = append(ids, up["id"].(string))
	}
	st, ct, body := e.call(spo, "POST", file+"/uploads", `{"size":131072}`)
	e.wantProblem(429, "Upload.Open", st, ct, body)
	// Another file has room.
	if st, _, up := e.call(spo, "POST", T+"/sites/finance/files/other.bin/uploads", `{"size":131072}`); st != 201 {
		t.Fatalf("an upload of another file: %d %v", st, up)
	}
	if st, _, body := e.call(spo, "DELETE", file+"/uploads/"+ids[0], ""); st != 204 {
		t.Fatalf("cancel: %d %v", st, body)
	}
	if st, _, up := e.call(spo, "POST", file+"/uploads", `{"size":131072}`); st != 201 {
		t.Fatalf("an upload after one was cancelled: %d %v", st, up)
	}
}

// TestUploadReachedOnlyThroughItsFile: an upload is reached only under
// the file, site and tenant it was begun for: through another file of the
// site, another site, or another tenant's admin (with that tenant's own
// site of the same name) it is not found, and it stays intact.
func TestUploadReachedOnlyThroughItsFile(t *testing.T) {
	e := startDEPs(t)
	const T, F = "/v1/tenants/Contoso", "/v1/tenants/Fabrikam"
	_, _, tok := e.call(e.global, "POST", T+"/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := tok["token"].(string)
	_, _, ftok := e.call(e.operator, "POST", F+"/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	eve := ftok["token"].(string)
	for _, s := range []struct{ token, path string }{{spo, T + "/sites"}, {spo, T + "/sites"}, {eve, F + "/sites"}} {
		e.call(s.token, "POST", s.path, `{"name":"finance","geo":"NAM"}`)
	}
	if st, _, body := e.call(spo, "POST", T+"/sites", `{"name":"legal","geo":"NAM"}`); st != 201 {
		t.Fatalf("site legal: %d %v", st, body)
	}
	_, _, up := e.call(spo, "POST", T+"/sites/finance/files/a.bin/uploads", `{"size":131072}`)
	id, _ := up["id"].(string)
	if id == "" {
		t.Fatalf("begin upload: %v", up)
	}
	for _, w := range []struct{ token, file string }{
		{spo, T + "/sites/finance/files/b.bin"}, // another file of the site
		{spo, T + "/sites/legal/files/a.bin"},   // another site
		{eve, F + "/sites/finance/files/a.bin"}, // another tenant's site of that name
	} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			path := w.file + "/uploads/" + id
			if m == "PUT" {
				path += "?offset=0"
			}
			st, body := e.raw(w.token, m, path, make([]byte, 65536))
			if st != 404 || !bytes.Contains(body, []byte("Upload.Exists")) {
				t.Errorf("%s %s: %d %s, want 404 Upload.Exists", m, path, st, body)
			}
		}
	}
	if st, _, got := e.call(spo, "GET", T+"/sites/finance/files/a.bin/uploads/"+id, ""); st != 200 || got["received"] != float64(0) {
		t.Errorf("the upload after the attempts: %d %v, want it intact", st, got)
	}
}

// loseLastAnswer sends each request on, but loses the answer to the first
// PUT of an upload part that ends at size (the part that commits), as a
// dropped connection would.
type loseLastAnswer struct {
	next http.RoundTripper
	size int64
	lost bool
}

func (l *loseLastAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && !l.lost && r.Method == "PUT" && strings.Contains(r.URL.Path, "/uploads/") {
		off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		if off+r.ContentLength == l.size {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			l.lost = true
			return nil, errors.New("connection reset (the test lost the answer)")
		}
	}
	return resp, err
}

// TestUploadFileAnswerLost: when the part that commits a file loses its
// answer, the client sends it again, finds the upload gone, and finds
// the version it reserved holding its bytes: the upload succeeded.
func TestUploadFileAnswerLost(t *testing.T) {
	e := startDEPs(t)
	const T = "/v1/tenants/Contoso"
	spo := financeSite(t, e)
	content := make([]byte, 3*65536+100)
	rand.Read(content)
	sum := sha256.Sum256(content)
	lose := &loseLastAnswer{next: e.srv.Client().Transport, size: int64(len(content))}
	c, err := client.New(client.Config{URL: e.srv.URL, Token: spo, HTTPClient: &http.Client{Transport: lose}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.UploadFile(context.Background(), "Contoso", "finance", "deck.bin", bytes.NewReader(content), int64(len(content)), sum[:],
		client.UploadOptions{PartSize: 2 * 65536, Wait: func(int) time.Duration { return 0 }})
	if err != nil || !lose.lost || info.Version != 1 || info.Size != int64(len(content)) {
		t.Fatalf("UploadFile with the last answer lost: %+v, %v (lost: %v); want version 1 of %d bytes", info, err, lose.lost, len(content))
	}
	if st, got := e.raw(spo, "GET", T+"/sites/finance/files/deck.bin", nil); st != 200 || !bytes.Equal(got, content) {
		t.Fatalf("the file reads back: %d, %d bytes", st, len(got))
	}
}

// financeSite makes Contoso's site "finance" (geo NAM) as a SharePoint
// admin, whose token it returns.
func financeSite(t *testing.T, e *depEnv) string {
	t.Helper()
	_, _, tok := e.call(e.global, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin"}`)
	spo := tok["token"].(string)
	if st, _, body := e.call(spo, "POST", "/v1/tenants/Contoso/sites", `{"name":"finance","geo":"NAM"}`); st != 201 {
		t.Fatalf("site: %d %v", st, body)
	}
	return spo
}

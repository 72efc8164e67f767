package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// TestWriteThroughPurgeLeavesNothing: a streamed PUT that began before
// the revocation goes on through the purge of its DEP. Whatever it
// stored, before or after the purge deleted the container, is gone once
// it ends: no chunk of the purged mailbox and no row of its index stay
// behind (T8). Before, the chunks it stored after the purge stayed, no
// one's.
func TestWriteThroughPurgeLeavesNothing(t *testing.T) {
	e := startDEPsOn(t, envOptions{})
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	e.onboardEXO("cso@contoso.com")
	e.must(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys), 201)
	e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	blobs := e.st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()

	const size = 4 << 20
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", e.srv.URL+T+"/mailboxes/alice@contoso.com/items/big?kind=attachment", pr)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/octet-stream")
	done := make(chan string, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	part := bytes.Repeat([]byte("secret attachment "), (1<<20)/18+1)[:1<<20]
	pw.Write(part)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ids, _ := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com"); len(ids) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no chunk stored")
		}
	}
	// Revoke, request, approve, purge, while the PUT streams.
	e.purgeDEP("DEP-1")
	for range 3 { // the write goes on after the purge
		if _, err := pw.Write(part); err != nil {
			break // the service stopped reading: the write is refused
		}
	}
	pw.Close()
	if got := <-done; got[:3] == "200" {
		t.Fatalf("the write through the purge was stored: %s", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ids, err := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("chunks of the purged mailbox stayed: blobs %v", ids)
		}
	}
	if its, err := e.st.ItemHeadsWithPrefix(ctx, e.seed.Tenant, "~index:alice@contoso.com", ""); err != nil || len(its) > 0 {
		t.Fatalf("rows of the purged mailbox's index stayed: %+v, %v", its, err)
	}
}

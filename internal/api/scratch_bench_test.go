package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func TestScratchStore(t *testing.T) {
	if os.Getenv("CK_SCRATCH") == "" {
		t.Skip()
	}
	e := startDEPs(t)
	e.aliceOnDEP1()
	h := e.srv.Config.Handler
	content := make([]byte, 4096)
	rand.Read(content)
	const T = "/v1/tenants/Contoso/mailboxes/alice@contoso.com/items/"
	for i := range 1000 {
		req := httptest.NewRequest("PUT", T+fmt.Sprintf("m%d", i), bytes.NewReader(content))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
	e.call(e.admin, "GET", "/v1/tenants/Contoso/mailboxes/alice@contoso.com/search?q=settle", "")
	time.Sleep(2 * time.Second)
	ctx := context.Background()
	for range 3 {
		r := testing.Benchmark(func(b *testing.B) {
			for i := range b.N {
				if _, _, err := e.st.MailboxItem(ctx, e.seed.Tenant, "alice@contoso.com", fmt.Sprintf("m%d", i%1000)); err != nil {
					b.Fatal(err)
				}
			}
		})
		t.Logf("MailboxItem: %v", r)
		r = testing.Benchmark(func(b *testing.B) {
			for i := range b.N {
				if _, err := e.st.Item(ctx, e.seed.Tenant, "alice@contoso.com", fmt.Sprintf("m%d", i%1000)); err != nil {
					b.Fatal(err)
				}
			}
		})
		t.Logf("Item: %v", r)
	}
}

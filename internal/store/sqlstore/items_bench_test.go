package sqlstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// BenchmarkItemWrite is a small item write as the service makes it (the
// mailbox and the item's version in one read, then the item, under the
// container's key version, and its mark for the search index in one
// transaction) beside the bare insert of the
// same 4 KiB, alternated in one run over 1,000 items rewritten in turn:
// what the store costs the service's PUT beyond one insert. It reports
// each one's time per write and their ratio (bare/service).
func BenchmarkItemWrite(b *testing.B) {
	ctx := context.Background()
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			s := d.open(b)
			m := store.Mailbox{Tenant: "t1", ID: "alice@contoso.com", Kind: "UserMailbox", DEP: "dep-a", ContainerKey: make([]byte, 300), KeyVersion: 1, Created: time.Now(), Updated: time.Now()}
			if err := s.CreateMailbox(ctx, m); err != nil {
				b.Fatal(err)
			}
			sealed := make([]byte, 4096+64)
			rand.Read(sealed)
			var bare, service time.Duration
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("m%d", i%1000)
				start := time.Now()
				if err := s.PutItem(ctx, store.Item{Tenant: "bare", Mailbox: m.ID, ID: id, Kind: "message", Version: 1, Sealed: sealed, Created: time.Now()}); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				_, v, _, err := s.MailboxItemVersion(ctx, m.Tenant, m.ID, id)
				if err != nil {
					b.Fatal(err)
				}
				it := store.Item{Tenant: m.Tenant, Mailbox: m.ID, ID: id, Kind: "message", Version: v + 1, Sealed: sealed, Created: time.Now(), KeyVersion: m.KeyVersion}
				mark := store.Item{Tenant: m.Tenant, Mailbox: "~index:" + m.ID, ID: "p:" + id, Kind: "pending", Version: 1, Sealed: []byte{}, Created: time.Now()}
				if err := s.WriteItems(ctx, []store.ItemWrite{{Item: it, Prev: v}, {Item: mark, Put: true}}); err != nil {
					b.Fatal(err)
				}
				bare, service = bare+mid.Sub(start), service+time.Since(mid)
			}
			b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/write")
			b.ReportMetric(float64(service.Nanoseconds())/float64(b.N), "service-ns/write")
			b.ReportMetric(bare.Seconds()/service.Seconds(), "bare/service")
		})
	}
}

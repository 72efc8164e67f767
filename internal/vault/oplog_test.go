package vault

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// TestOpLog: entries are written in order and none is lost, whether a
// reader flushes while a batch lingers, or the log is closed with entries
// still queued (SPEC V11).
func TestOpLog(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := newOpLog(st, slog.New(slog.DiscardHandler))
	add := func(from, to int) {
		for i := from; i < to; i++ {
			l.add(store.Op{Time: time.Now(), Principal: "p", Operation: fmt.Sprintf("Op%04d", i), Vault: "v", Status: 200})
		}
	}
	want := func(n int) {
		t.Helper()
		ops, err := st.ListOps(ctx, store.OpFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) != n {
			t.Fatalf("%d entries stored, want %d", len(ops), n)
		}
		for i, op := range ops {
			if op.Operation != fmt.Sprintf("Op%04d", i) {
				t.Fatalf("entry %d is %s: out of order", i, op.Operation)
			}
		}
	}

	add(0, 1)
	l.flush(ctx) // while the first entry's batch may still linger
	want(1)
	add(1, 700) // more than a batch
	l.flush(ctx)
	want(699 + 1)
	add(700, 1000)
	l.close() // queued and lingering entries are written before it returns
	want(1000)
}

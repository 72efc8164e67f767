package vault

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// openStore opens a SQLite store of the test's, closed when it ends.
func openStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestOpLog: entries are written in order and none is lost, whether a
// reader flushes while a batch lingers, or the log is closed with entries
// still queued (SPEC V11).
func TestOpLog(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
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

// TestOpLogRetention: with a retention, the entries older than it go
// (more than one statement's batch of them), the newer stay; a
// retention under a day is refused.
func TestOpLogRetention(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now().UTC()
	var old []store.Op
	for i := range pruneBatch + 50 {
		old = append(old, store.Op{Time: now.Add(-72*time.Hour + time.Duration(i)*time.Millisecond), Principal: "p", Operation: "KeyUnwrap", Vault: "v", Status: 200})
	}
	recent := []store.Op{
		{Time: now.Add(-47 * time.Hour), Principal: "p", Operation: "KeyGet", Vault: "v", Status: 200},
		{Time: now, Principal: "p", Operation: "KeyWrap", Vault: "v", Status: 200},
	}
	if err := st.AppendOps(ctx, append(old, recent...)); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Store: st, OpLogRetention: 48 * time.Hour, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}}
	n, err := s.pruneOpsOnce(ctx)
	if err != nil || n != len(old) {
		t.Fatalf("pruned %d (%v), want %d", n, err, len(old))
	}
	left, err := st.ListOps(ctx, store.OpFilter{})
	if err != nil || len(left) != 2 || left[0].Operation != "KeyGet" || left[1].Operation != "KeyWrap" {
		t.Fatalf("left: %+v %v", left, err)
	}
	if n, err := s.pruneOpsOnce(ctx); err != nil || n != 0 {
		t.Fatalf("pruned again: %d %v", n, err)
	}
	c := Config{Store: st, DataDir: t.TempDir(), Regions: []RegionConfig{{Name: "eastus", Addr: "127.0.0.1:0"}}, OpLogRetention: time.Hour}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "at least a day") {
		t.Errorf("a retention of an hour: %v", err)
	}
}

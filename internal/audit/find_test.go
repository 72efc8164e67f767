package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// Find goes through the chain in batches, keeps the records of the asked
// actions, and stops at n of them, at the scan bound, or at the chain's
// end, saying where to go on.
func TestFind(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := audit.New(st, nil, nil)
	// 2500 records: every 100th an alert, every 700th a purge.
	for i := 1; i <= 2500; i++ {
		action := "unwrap"
		switch {
		case i%700 == 0:
			action = "purge"
		case i%100 == 0:
			action = "alert"
		}
		if _, err := l.Append(ctx, audit.Record{Tenant: "t1", Actor: "a", Action: action, Target: fmt.Sprint(i), Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(ctx, audit.Record{Tenant: "t2", Actor: "a", Action: "alert", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	seqs := func(rs []audit.Record) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.Seq)
		}
		return out
	}
	tests := []struct {
		name     string
		after    int64
		actions  []string
		n, scan  int
		want     []int64
		wantNext int64
		wantEnd  bool
	}{
		{"a page of n", 0, []string{"alert"}, 3, 10000, []int64{100, 200, 300}, 300, false},
		{"two actions", 600, []string{"alert", "purge"}, 3, 10000, []int64{700, 800, 900}, 900, false},
		{"to the end", 2300, []string{"alert", "purge"}, 10, 10000, []int64{2400, 2500}, 2500, true},
		{"bounded scan", 0, []string{"purge"}, 10, 1200, []int64{700}, 1200, false},
		{"bound across batches", 0, []string{"purge"}, 10, 2000, []int64{700, 1400}, 2000, false},
		{"none of them", 0, []string{"no-such"}, 10, 10000, nil, 2500, true},
		{"after the end", 2500, []string{"alert"}, 10, 10000, nil, 2500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, next, end, err := l.Find(ctx, "t1", tt.after, tt.actions, tt.n, tt.scan)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(rs), tt.want) || next != tt.wantNext || end != tt.wantEnd {
				t.Fatalf("Find = %v, next %d, end %v; want %v, next %d, end %v", seqs(rs), next, end, tt.want, tt.wantNext, tt.wantEnd)
			}
			for _, r := range rs {
				if r.Tenant != "t1" {
					t.Fatalf("record of tenant %q in t1's chain", r.Tenant)
				}
			}
		})
	}
}

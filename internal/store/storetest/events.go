package storetest

import (
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func testEvents(t *testing.T, s store.Store) {
	last, err := s.LastEventSeq(ctx)
	must(t, err)
	if last != 0 {
		t.Fatalf("LastEventSeq of an empty log = %d, want 0", last)
	}
	old := now().Add(-2 * time.Hour)
	var seqs []int64
	for i, e := range []store.Event{
		{Kind: "dep.revoked", Tenant: "t1", Ref: "d1", Detail: "signal", Node: "n1", At: old},
		{Kind: "token.revoked", Tenant: "t1", Ref: "abc", Node: "n2"},
		{Kind: "vault.access", Ref: "v1", Node: "n1"},
	} {
		seq, err := s.AppendEvent(ctx, e)
		must(t, err)
		if i > 0 && seq <= seqs[i-1] {
			t.Fatalf("AppendEvent seq %d after %d, want increasing", seq, seqs[i-1])
		}
		seqs = append(seqs, seq)
	}
	last, err = s.LastEventSeq(ctx)
	must(t, err)
	if last != seqs[2] {
		t.Fatalf("LastEventSeq = %d, want %d", last, seqs[2])
	}
	got, err := s.EventsAfter(ctx, 0, 10)
	must(t, err)
	if len(got) != 3 || got[0].Seq != seqs[0] || got[0].Kind != "dep.revoked" || got[0].Tenant != "t1" || got[0].Ref != "d1" || got[0].Detail != "signal" || got[0].Node != "n1" || !got[0].At.Equal(old) {
		t.Fatalf("EventsAfter(0) = %+v", got)
	}
	if got[1].At.IsZero() {
		t.Fatalf("AppendEvent left At zero: %+v", got[1])
	}
	got, err = s.EventsAfter(ctx, seqs[0], 1)
	must(t, err)
	if len(got) != 1 || got[0].Seq != seqs[1] {
		t.Fatalf("EventsAfter(%d, 1) = %+v, want seq %d only", seqs[0], got, seqs[1])
	}
	// Pruning goes by when an event was recorded, not by its At: the
	// revocation re-signalled with its first time (2 h ago) stays until
	// it has been recorded that long.
	must(t, s.PruneEvents(ctx, time.Now().Add(-time.Hour)))
	got, err = s.EventsAfter(ctx, 0, 10)
	must(t, err)
	if len(got) != 3 || got[0].Seq != seqs[0] {
		t.Fatalf("after PruneEvents of what was recorded an hour ago: %+v, want seqs %v", got, seqs)
	}
	must(t, s.PruneEvents(ctx, time.Now().Add(time.Hour)))
	got, err = s.EventsAfter(ctx, 0, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after PruneEvents of everything: %+v", got)
	}
	// A pruned sequence is not reused.
	seq, err := s.AppendEvent(ctx, store.Event{Kind: "x", Node: "n1"})
	must(t, err)
	if seq <= seqs[2] {
		t.Fatalf("seq after prune = %d, want > %d", seq, seqs[2])
	}
}

package audit_test

import (
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/audit"
)

func chain(n int) []audit.Record {
	var out []audit.Record
	var last audit.Record
	for i := range n {
		r := audit.Seal(last, audit.Record{Tenant: "t1", Time: time.Unix(1700000000, int64(i)).UTC(), Actor: "exo@contoso.com (exchange-admin)",
			Action: "unwrap", Target: "dep-1", KeyID: "https://contoso.vault.ck.localhost/keys/k1/v1", Reason: "read mailbox item", Outcome: "ok"})
		out = append(out, r)
		last = r
	}
	return out
}

// The hash of a fixed record is part of the format (docs/format.md):
// verifiers outside this code base compute the same bytes.
func TestHashVector(t *testing.T) {
	r := audit.Record{Tenant: "t1", Seq: 1, Time: time.Unix(1700000000, 5).UTC(), Actor: "a", Action: "wrap", Target: "dep-1",
		KeyID: "k", Reason: "r", Outcome: "ok"}
	// Computed independently from the documented layout (Python hashlib).
	const want = "7bb99bbf5ee56cb970d5afeecf8ae127a4760e2dfd7579eb49df07124a92c46c"
	if got := hex.EncodeToString(audit.Hash(r)); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]audit.Record) []audit.Record
		wantSeq int64 // 0: intact
	}{
		{"intact", func(rs []audit.Record) []audit.Record { return rs }, 0},
		{"empty", func([]audit.Record) []audit.Record { return nil }, 0},
		{"prefix", func(rs []audit.Record) []audit.Record { return rs[:3] }, 0},
		{"field changed", func(rs []audit.Record) []audit.Record { rs[2].Reason = "nothing to see"; return rs }, 3},
		{"outcome changed", func(rs []audit.Record) []audit.Record { rs[4].Outcome = "ok (forged)"; return rs }, 5},
		{"time changed", func(rs []audit.Record) []audit.Record { rs[1].Time = rs[1].Time.Add(time.Hour); return rs }, 2},
		{"rehashed after change", func(rs []audit.Record) []audit.Record {
			rs[2].Actor = "someone else"
			rs[2].Hash = audit.Hash(rs[2])
			return rs
		}, 4},
		{"removed", func(rs []audit.Record) []audit.Record { return slices.Delete(rs, 3, 4) }, 4},
		{"removed first", func(rs []audit.Record) []audit.Record { return rs[1:] }, 1},
		{"swapped", func(rs []audit.Record) []audit.Record { rs[1], rs[2] = rs[2], rs[1]; return rs }, 2},
		{"other tenant", func(rs []audit.Record) []audit.Record { rs[3].Tenant = "t2"; return rs }, 4},
		{"renumbered", func(rs []audit.Record) []audit.Record {
			rs = slices.Delete(rs, 3, 4)
			for i := 3; i < len(rs); i++ {
				rs[i].Seq--
			}
			return rs
		}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := audit.Verify(tc.tamper(chain(6)))
			var te *audit.TamperError
			switch {
			case tc.wantSeq == 0 && err != nil:
				t.Fatalf("Verify = %v, want intact", err)
			case tc.wantSeq != 0 && !errors.As(err, &te):
				t.Fatalf("Verify = %v, want a TamperError at record %d", err, tc.wantSeq)
			case tc.wantSeq != 0 && te.Seq != tc.wantSeq:
				t.Fatalf("Verify = %v, want record %d named", err, tc.wantSeq)
			}
		})
	}
}

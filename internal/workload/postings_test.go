package workload

import (
	"slices"
	"testing"
)

func TestPostingsBinary(t *testing.T) {
	for _, ids := range [][]string{nil, {""}, {"a"}, {"0001", "0002", "zz"}, {string(make([]byte, 300)), "é"}} {
		b, _ := postings{IDs: ids}.MarshalBinary()
		var p postings
		if err := p.UnmarshalBinary(b); err != nil {
			t.Fatalf("%q: %v", ids, err)
		}
		if !slices.Equal(p.IDs, ids) {
			t.Errorf("round trip of %q gave %q", ids, p.IDs)
		}
	}
	for _, bad := range [][]byte{nil, {}, {2, 1, 'a'}, {1, 2, 'a'}, {1, 1, 'a', 0}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		var p postings
		if err := p.UnmarshalBinary(bad); err == nil {
			t.Errorf("% x: parsed as %q, want an error", bad, p.IDs)
		}
	}
}

// FuzzPostings: any bytes either fail to parse or parse to IDs that
// encode back to the same bytes; nothing panics or allocates past the
// input.
func FuzzPostings(f *testing.F) {
	b, _ := postings{IDs: []string{"m1", "m2"}}.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var p postings
		if err := p.UnmarshalBinary(in); err != nil {
			return
		}
		out, _ := p.MarshalBinary()
		var q postings
		if err := q.UnmarshalBinary(out); err != nil || !slices.Equal(p.IDs, q.IDs) {
			t.Fatalf("% x parsed as %q, which does not round-trip: %v", in, p.IDs, err)
		}
	})
}

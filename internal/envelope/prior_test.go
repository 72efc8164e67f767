package envelope

import (
	"bytes"
	"testing"
)

// TestPriorKeys: an earlier container key, wrapped under the current
// one, opens with that key for its own tenant and ID only; the list of
// them survives its encoding.
func TestPriorKeys(t *testing.T) {
	current, old := NewKey(), NewKey()
	p := Prior{Tenant: "contoso", Current: "mbx-alice#2", ID: "mbx-alice#1"}
	r, err := WrapPrior(current, p, old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapPrior(current, p, r)
	if err != nil || !bytes.Equal(got.Bytes(), old.Bytes()) {
		t.Fatalf("unwrap: %v", err)
	}
	for name, tc := range map[string]struct {
		key *Key
		p   Prior
	}{
		"another current key": {NewKey(), p},
		"another tenant":      {current, Prior{Tenant: "fabrikam", Current: p.Current, ID: p.ID}},
		"another ID":          {current, Prior{Tenant: p.Tenant, Current: p.Current, ID: "mbx-alice#0"}},
		"another current ID":  {current, Prior{Tenant: p.Tenant, Current: "mbx-alice#3", ID: p.ID}},
		"another container":   {current, Prior{Tenant: p.Tenant, Current: p.Current, ID: "mbx-bob#1"}},
	} {
		if _, err := UnwrapPrior(tc.key, tc.p, r); err == nil {
			t.Errorf("%s: unwrapped", name)
		}
	}
	keys := PriorKeys{p.ID: r, "mbx-alice#0": r}
	back, err := ParsePriorKeys(keys.Marshal())
	if err != nil || len(back) != 2 || !bytes.Equal(back[p.ID].Data, r.Data) || back[p.ID].KeyID != r.KeyID {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if none, err := ParsePriorKeys(PriorKeys{}.Marshal()); err != nil || len(none) != 0 {
		t.Fatalf("none: %v %v", none, err)
	}
	enc := keys.Marshal()
	for name, b := range map[string][]byte{
		"truncated":      enc[:len(enc)-1],
		"trailing bytes": append(bytes.Clone(enc), 0),
		"bad magic":      append([]byte("ckq"), enc[3:]...),
		"bad version":    append([]byte("ckp\x02"), enc[4:]...),
	} {
		if _, err := ParsePriorKeys(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestKeyIDOf: the key a ciphertext names, one-shot or chunked.
func TestKeyIDOf(t *testing.T) {
	ck := NewKey()
	one, err := Seal(ck, "mbx-alice#2", item, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStream(ck, "mbx-alice#3", item)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for want, ct := range map[string][]byte{"mbx-alice#2": one, "mbx-alice#3": st.Header()} {
		if got, err := KeyIDOf(ct); err != nil || got != want {
			t.Errorf("KeyIDOf = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := KeyIDOf([]byte("nonsense")); err == nil {
		t.Error("nonsense has a key ID")
	}
}

func FuzzParsePriorKeys(f *testing.F) {
	r, _ := WrapPrior(NewKey(), Prior{Tenant: "t", Current: "c#2", ID: "c#1"}, NewKey())
	f.Add(PriorKeys{"c#1": r}.Marshal())
	f.Add([]byte("ckp\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePriorKeys(b)
		if err != nil {
			return
		}
		back, err := ParsePriorKeys(p.Marshal())
		if err != nil || len(back) != len(p) {
			t.Fatalf("re-parse: %v (%d of %d)", err, len(back), len(p))
		}
	})
}

func FuzzKeyIDOf(f *testing.F) {
	one, _ := Seal(NewKey(), "c#1", item, []byte("x"))
	f.Add(one)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = KeyIDOf(b) })
}

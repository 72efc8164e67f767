package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/wycheproof"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

func mustKey(t testing.TB, hexKey string) *Key {
	b, _ := hex.DecodeString(hexKey)
	k, err := KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var item = Item{Tenant: "contoso-tenant", Container: "mbx-alice", ID: "msg-1", Version: 3}

func TestSealOpen(t *testing.T) {
	ck := NewKey()
	for _, size := range []int{0, 1, 15, 16, 17, 4096, 1 << 20} {
		content := bytes.Repeat([]byte{0xAB}, size)
		ct, err := Seal(ck, "mbx-alice#1", item, content)
		if err != nil {
			t.Fatal(err)
		}
		if size > 16 && bytes.Contains(ct, content[:17]) {
			t.Fatalf("size %d: plaintext visible in ciphertext", size)
		}
		got, err := Open(ck, item, ct)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("size %d: open: %v", size, err)
		}
	}
}

// TestBinding: a ciphertext or wrapped key moved to another tenant,
// container, item or version, or opened with another key, fails (K8).
func TestBinding(t *testing.T) {
	ck := NewKey()
	ct, err := Seal(ck, "mbx-alice#1", item, []byte("quarterly numbers"))
	if err != nil {
		t.Fatal(err)
	}
	moved := []Item{
		{Tenant: "fabrikam-tenant", Container: item.Container, ID: item.ID, Version: item.Version},
		{Tenant: item.Tenant, Container: "mbx-bob", ID: item.ID, Version: item.Version},
		{Tenant: item.Tenant, Container: item.Container, ID: "msg-2", Version: item.Version},
		{Tenant: item.Tenant, Container: item.Container, ID: item.ID, Version: 4},
	}
	for _, it := range moved {
		if _, err := Open(ck, it, ct); !errors.Is(err, ErrOpen) {
			t.Errorf("opened as %+v: %v", it, err)
		}
	}
	// Rewriting the header to claim the other item does not help either.
	forged, err := Seal(ck, "mbx-alice#1", moved[2], []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(forged)
	spliced := append(append([]byte{}, forged[:h.size]...), ct[mustHeader(t, ct).size:]...)
	if _, err := Open(ck, moved[2], spliced); !errors.Is(err, ErrOpen) {
		t.Errorf("content spliced under another item's header opened: %v", err)
	}
	if _, err := Open(NewKey(), item, ct); !errors.Is(err, ErrOpen) {
		t.Errorf("opened with another container key: %v", err)
	}

	dep, c := NewKey(), Container{Tenant: "t1", DEP: "dep-1", ID: "mbx-alice"}
	rec, err := WrapContainerKey(dep, c, ck)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapContainerKey(dep, Container{Tenant: "t1", DEP: "dep-1", ID: "mbx-bob"}, rec); !errors.Is(err, ErrOpen) {
		t.Errorf("container key moved to another mailbox unwrapped: %v", err)
	}
	if _, err := UnwrapContainerKey(dep, Container{Tenant: "t2", DEP: "dep-1", ID: "mbx-alice"}, rec); !errors.Is(err, ErrOpen) {
		t.Errorf("container key moved to another tenant unwrapped: %v", err)
	}
	relabelled := rec
	relabelled.KeyID = "dep-2"
	if _, err := UnwrapContainerKey(dep, Container{Tenant: "t1", DEP: "dep-2", ID: "mbx-alice"}, relabelled); !errors.Is(err, ErrOpen) {
		t.Errorf("relabelled container key unwrapped: %v", err)
	}
	got, err := UnwrapContainerKey(dep, c, rec)
	if err != nil || !bytes.Equal(got.Bytes(), ck.Bytes()) {
		t.Fatalf("container key round trip: %v", err)
	}

	avk, d := NewKey(), DEP{Tenant: "t1", ID: "dep-1"}
	ar, err := WrapWithAvailabilityKey(avk, "avk-1", d, dep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapWithAvailabilityKey(avk, DEP{Tenant: "t1", ID: "dep-2"}, ar); !errors.Is(err, ErrOpen) {
		t.Errorf("DEP key moved to another DEP unwrapped: %v", err)
	}
	if _, err := UnwrapContainerKey(avk, c, ar); err == nil {
		t.Error("an availability-key record was accepted as a container key record")
	}
}

func mustHeader(t *testing.T, ct []byte) Header {
	h, err := ParseHeader(ct)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestEveryByteMatters flips each bit position's byte of a ciphertext: none opens.
func TestEveryByteMatters(t *testing.T) {
	ck := NewKey()
	ct, err := Seal(ck, "k", Item{Tenant: "t", Container: "c", ID: "i", Version: 1}, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := Open(ck, Item{Tenant: "t", Container: "c", ID: "i", Version: 1}, bad); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := range len(ct) {
		if _, err := Open(ck, Item{Tenant: "t", Container: "c", ID: "i", Version: 1}, ct[:n]); err == nil {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
}

func TestKeysDoNotLeak(t *testing.T) {
	k := NewKey()
	secret := hex.EncodeToString(k.b[:])
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprint(k.b[:4])) {
			t.Fatalf("key bytes printed: %s", s)
		}
	}
	if _, err := json.Marshal(struct{ K *Key }{k}); err == nil {
		t.Fatal("a key marshalled to JSON")
	}
	k.Destroy()
	if _, err := k.open(make([]byte, 40), nil); err == nil {
		t.Fatal("a destroyed key opened something")
	}
}

func TestBadInput(t *testing.T) {
	ck := NewKey()
	for _, it := range []Item{{Container: "c", ID: "i"}, {Tenant: "t", ID: "i"}, {Tenant: "t", Container: "c"}, {Tenant: strings.Repeat("t", 1025), Container: "c", ID: "i"}} {
		if _, err := Seal(ck, "k", it, nil); err == nil {
			t.Errorf("sealed for %+v", it)
		}
	}
	if _, err := KeyFromBytes(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	if _, err := CustomerKeyRecord("", []byte{1}); err == nil {
		t.Error("a customer key record without a key URI")
	}
}

// vectors pins the byte formats: testdata/vectors.json was written once by
// `go test -run TestVectors -update`; every later version must open it.
type vectors struct {
	ContainerKey       string    `json:"containerKey"`
	DEPKey             string    `json:"depKey"`
	AvailabilityKey    string    `json:"availabilityKey"`
	Item               Item      `json:"item"`
	Container          Container `json:"container"`
	DEP                DEP       `json:"dep"`
	Content            string    `json:"content"`
	Ciphertext         string    `json:"ciphertext"`
	ContainerRecord    string    `json:"containerRecord"`
	AvailabilityRecord string    `json:"availabilityRecord"`
	CustomerRecord     string    `json:"customerRecord"`
}

func TestVectors(t *testing.T) {
	const file = "testdata/vectors.json"
	if *update {
		ck, dep, avk := NewKey(), NewKey(), NewKey()
		v := vectors{ContainerKey: hex.EncodeToString(ck.b[:]), DEPKey: hex.EncodeToString(dep.b[:]), AvailabilityKey: hex.EncodeToString(avk.b[:]),
			Item: item, Container: Container{Tenant: item.Tenant, DEP: "7a8b6f2e-1c3d-4e5f-9a0b-1c2d3e4f5a6b", ID: item.Container},
			DEP: DEP{Tenant: item.Tenant, ID: "7a8b6f2e-1c3d-4e5f-9a0b-1c2d3e4f5a6b"}, Content: "Customer Key test vector"}
		ct, _ := Seal(ck, "mbx-alice#1", v.Item, []byte(v.Content))
		cr, _ := WrapContainerKey(dep, v.Container, ck)
		ar, _ := WrapWithAvailabilityKey(avk, "avk-7a8b6f2e", v.DEP, dep)
		kr, _ := CustomerKeyRecord("https://contosoekv01.vault.azure.net/keys/ContosoEXOKey1/78deebed173b48e48f55abf87ed4cf71", bytes.Repeat([]byte{0x5A}, 256))
		v.Ciphertext, v.ContainerRecord, v.AvailabilityRecord, v.CustomerRecord = hex.EncodeToString(ct), hex.EncodeToString(cr.Marshal()), hex.EncodeToString(ar.Marshal()), hex.EncodeToString(kr.Marshal())
		data, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	raw := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	ar, err := ParseRecord(raw(v.AvailabilityRecord))
	if err != nil || ar.Alg != AlgAvailabilityKey || ar.KeyID != "avk-7a8b6f2e" {
		t.Fatalf("availability record: %+v %v", ar, err)
	}
	dep, err := UnwrapWithAvailabilityKey(mustKey(t, v.AvailabilityKey), v.DEP, ar)
	if err != nil || hex.EncodeToString(dep.b[:]) != v.DEPKey {
		t.Fatalf("DEP key from the availability record: %v", err)
	}
	cr, err := ParseRecord(raw(v.ContainerRecord))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := UnwrapContainerKey(dep, v.Container, cr)
	if err != nil || hex.EncodeToString(ck.b[:]) != v.ContainerKey {
		t.Fatalf("container key: %v", err)
	}
	got, err := Open(ck, v.Item, raw(v.Ciphertext))
	if err != nil || string(got) != v.Content {
		t.Fatalf("open the pinned ciphertext: %q %v", got, err)
	}
	kr, err := ParseRecord(raw(v.CustomerRecord))
	if err != nil || kr.Alg != AlgCustomerKey || !strings.HasSuffix(kr.KeyID, "/78deebed173b48e48f55abf87ed4cf71") || len(kr.Data) != 256 {
		t.Fatalf("customer key record: %+v %v", kr, err)
	}
	if !bytes.Equal(kr.Marshal(), raw(v.CustomerRecord)) {
		t.Fatal("customer key record does not re-encode to the same bytes")
	}
}

func FuzzParseRecord(f *testing.F) {
	r, _ := CustomerKeyRecord("https://v.localhost/keys/k/0123456789abcdef0123456789abcdef", []byte{1, 2, 3})
	f.Add(r.Marshal())
	f.Add([]byte("ckk\x01\x03\x00\x01a\x00\x00\x00\x01z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatalf("record does not re-encode to its input")
		}
	})
}

func FuzzOpen(f *testing.F) {
	ck, _ := KeyFromBytes(bytes.Repeat([]byte{7}, 32))
	it := Item{Tenant: "t", Container: "c", ID: "i", Version: 1}
	good, _ := Seal(ck, "k", it, []byte("hello"))
	f.Add(good)
	f.Add([]byte("ckc\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := ParseHeader(b); err == nil && (h.size > len(b) || h.ItemKey.Alg != AlgContainerKey) {
			t.Fatalf("header claims %d bytes of %d", h.size, len(b))
		}
		pt, err := Open(ck, it, b)
		if err == nil && !bytes.Equal(b, good) && string(pt) != "hello" {
			t.Fatalf("forged ciphertext opened: %q", pt)
		}
	})
}

// TestWycheproofAESGCM runs the AES-256-GCM vectors (96-bit nonces, 128-bit
// tags, the only shape the formats use) through Key.open, and seal's AEAD.
func TestWycheproofAESGCM(t *testing.T) {
	var suite struct {
		TestGroups []struct {
			KeySize, IvSize, TagSize int
			Tests                    []struct {
				wycheproof.Case
				Key, IV, AAD, Msg, CT, Tag wycheproof.Hex
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "aes_gcm_test.json", &suite)
	n := 0
	for _, g := range suite.TestGroups {
		if g.KeySize != 256 || g.IvSize != 96 || g.TagSize != 128 {
			continue
		}
		for _, tc := range g.Tests {
			n++
			k, err := KeyFromBytes(tc.Key)
			if err != nil {
				t.Fatal(err)
			}
			sealed := append(append(append([]byte{}, tc.IV...), tc.CT...), tc.Tag...)
			pt, err := k.open(sealed, tc.AAD)
			switch tc.Result {
			case "valid":
				if err != nil || !bytes.Equal(pt, tc.Msg) {
					t.Errorf("case %d (%s): open failed: %v", tc.ID, tc.Comment, err)
				}
				if got := k.aead.Seal(nil, tc.IV, tc.Msg, tc.AAD); !bytes.Equal(got, sealed[NonceSize:]) {
					t.Errorf("case %d: seal differs", tc.ID)
				}
			case "invalid":
				if err == nil {
					t.Errorf("case %d (%s): invalid ciphertext opened", tc.ID, tc.Comment)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d AES-256-GCM vectors ran", n)
	}
	t.Logf("%d AES-256-GCM vectors", n)
}

// TestItemKeyWrapAAD: the one-buffer associated data Seal and Open use for
// the item key is the record rule of docs/format.md spelled out: the record
// header (aadWith) followed by the item-key context.
func TestItemKeyWrapAAD(t *testing.T) {
	for _, it := range []Item{
		{Tenant: "t", Container: "c", ID: "i", Version: 1},
		{Tenant: "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", Container: "alice@contoso.com", ID: "AAMkAGI2", Version: 1<<32 - 1},
	} {
		const kid = "mbx-alice#1"
		got := itemKeyWrapAAD(kid, it.Tenant, it.Container, it.ID, it.Version)
		if want := aadWith(AlgContainerKey, kid, it.itemKeyAAD()); !bytes.Equal(got, want) {
			t.Errorf("item %+v: itemKeyWrapAAD = %x, want %x", it, got, want)
		}
	}
}

package envelope

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// TestTagger: a tag is what docs/format.md ("Search index") says, computed
// here from the definition with crypto/hmac alone, pinned by a vector; and
// the same word tags apart in another container, tenant or label.
func TestTagger(t *testing.T) {
	key, _ := KeyFromBytes(bytes.Repeat([]byte{7}, KeySize))
	info := []byte("customerkey tag key: search index")
	for _, p := range []string{"tenant-1", "alice@contoso.com"} {
		info = binary.BigEndian.AppendUint16(info, uint16(len(p)))
		info = append(info, p...)
	}
	d := hmac.New(sha256.New, bytes.Repeat([]byte{7}, KeySize))
	d.Write(info)
	m := hmac.New(sha256.New, d.Sum(nil))
	m.Write([]byte("quarterly"))
	want := hex.EncodeToString(m.Sum(nil)[:8])

	tg := NewTagger(key, "search index", "tenant-1", "alice@contoso.com")
	got := tg.Tag([]byte("quarterly"))
	if hex.EncodeToString(got[:]) != want || want != "ce2dd02467f733ae" {
		t.Fatalf("tag of quarterly: %x, want %s (definition) and ce2dd02467f733ae (vector)", got, want)
	}
	if again := tg.Tag([]byte("quarterly")); again != got {
		t.Fatalf("the same word tags differently the second time: %x, %x", again, got)
	}
	for _, other := range []*Tagger{
		NewTagger(key, "search index", "tenant-1", "bob@contoso.com"),
		NewTagger(key, "search index", "tenant-2", "alice@contoso.com"),
		NewTagger(key, "other use", "tenant-1", "alice@contoso.com"),
		NewTagger(NewKey(), "search index", "tenant-1", "alice@contoso.com"),
	} {
		if o := other.Tag([]byte("quarterly")); o == got {
			t.Fatalf("another container, tenant, label or key gives the same tag %x", o)
		}
	}
}

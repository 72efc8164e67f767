package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// Tagger computes keyed tags: HMAC-SHA-256 under a key derived from a
// container key for one purpose and place (label and parts, e.g. the
// search index of one container of one tenant), truncated to 8 bytes. A
// tag names a word without showing it: without the container key, tags
// cannot be computed or reversed, and the same word has unrelated tags in
// two containers. It is not safe for concurrent use.
type Tagger struct {
	mac hash.Hash
	sum []byte
}

// NewTagger derives a tag key from k for label and parts. The derived key
// lives in the Tagger (drop it with Destroy).
func NewTagger(k *Key, label string, parts ...string) *Tagger {
	d := hmac.New(sha256.New, k.b[:])
	d.Write(context("tag key: "+label, parts...))
	derived := d.Sum(nil)
	t := &Tagger{mac: hmac.New(sha256.New, derived)}
	clear(derived)
	return t
}

// TagLen is the length of a Tagger's tag (TagSize is AES-GCM's).
const TagLen = 8

// Tag returns the tag of b.
func (t *Tagger) Tag(b []byte) [TagLen]byte {
	t.mac.Reset()
	t.mac.Write(b)
	t.sum = t.mac.Sum(t.sum[:0])
	return [TagLen]byte(t.sum[:TagLen])
}

// Destroy drops the derived key.
func (t *Tagger) Destroy() { t.mac = nil; clear(t.sum) }

package envelope

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Prior container keys (docs/format.md): a container that moves to
// another DEP gets a new container key version, so that what it holds
// from then on opens only through the new DEP's key: a copy of the
// database from before the move, with a key the service still holds
// (the service-managed DEP's, an old DEP's availability key), does not
// open what was written after it, nor anything once the new DEP is
// purged (SPEC T8). The earlier versions stay readable for the items
// sealed under them, each wrapped under the current version.

// Prior names an earlier version of a container's key.
type Prior struct {
	Tenant  string
	Current string // the ID of the current key (container#version), which wraps it
	ID      string // its own ID
}

func (p Prior) aad() []byte { return context("prior container key", p.Tenant, p.ID) }

// WrapPrior wraps an earlier container key version under the current one.
func WrapPrior(current *Key, p Prior, prior *Key) (Record, error) {
	return wrap(current, AlgContainerKey, p.Current, p.aad(), prior)
}

// UnwrapPrior is the inverse of WrapPrior.
func UnwrapPrior(current *Key, p Prior, r Record) (*Key, error) {
	if r.KeyID != p.Current {
		return nil, fmt.Errorf("envelope: prior key %s is wrapped by %s, not %s", p.ID, r.KeyID, p.Current)
	}
	return unwrap(current, r, AlgContainerKey, p.aad())
}

// PriorKeys are a container's earlier key versions by ID, each wrapped
// under its current key (WrapPrior).
//
//	"ckp" ‖ version(1)=1 ‖ u16 count ‖ count × (u16 len ‖ ID ‖ Record)
type PriorKeys map[string]Record

const (
	priorMagic   = "ckp"
	priorVersion = 1
	// MaxPriorKeys is how many earlier versions the encoding holds (its
	// count is 16 bits): a container moved this often moves no more.
	MaxPriorKeys = 1<<16 - 1
)

// Marshal encodes the keys, by ID; none is nil.
func (p PriorKeys) Marshal() []byte {
	if len(p) == 0 {
		return nil
	}
	ids := make([]string, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := append([]byte(priorMagic), priorVersion)
	out = binary.BigEndian.AppendUint16(out, uint16(len(ids)))
	for _, id := range ids {
		out = binary.BigEndian.AppendUint16(out, uint16(len(id)))
		out = append(out, id...)
		out = p[id].append(out)
	}
	return out
}

// ParsePriorKeys decodes Marshal's output (empty: none).
func ParsePriorKeys(b []byte) (PriorKeys, error) {
	p := PriorKeys{}
	if len(b) == 0 {
		return p, nil
	}
	bad := func(why string) (PriorKeys, error) {
		return nil, fmt.Errorf("envelope: malformed prior keys: %s", why)
	}
	if len(b) < len(priorMagic)+3 || string(b[:len(priorMagic)]) != priorMagic || b[len(priorMagic)] != priorVersion {
		return bad("bad magic or version")
	}
	b = b[len(priorMagic)+1:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for range n {
		if len(b) < 2 {
			return bad("truncated")
		}
		k := int(binary.BigEndian.Uint16(b))
		if k == 0 || k > maxKeyID || len(b) < 2+k {
			return bad("bad key ID")
		}
		id := string(b[2 : 2+k])
		r, rest, err := parseRecord(b[2+k:])
		if err != nil {
			return nil, err
		}
		if _, dup := p[id]; dup {
			return bad("key " + id + " twice")
		}
		p[id], b = r, rest
	}
	if len(b) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)))
	}
	return p, nil
}

// KeyIDOf is the ID of the container key a ciphertext (one-shot or
// chunked) is sealed under, read from its header.
func KeyIDOf(ciphertext []byte) (string, error) {
	version := byte(ciphertextVersion)
	if len(ciphertext) > len(ciphertextMagic) && ciphertext[len(ciphertextMagic)] == streamVersion {
		version = streamVersion
	}
	h, _, err := parseItemHeader(ciphertext, version)
	if err != nil {
		return "", err
	}
	return string(h.kid), nil
}

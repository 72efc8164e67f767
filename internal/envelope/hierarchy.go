package envelope

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// DEP is what a DEP key is bound to.
type DEP struct {
	Tenant string
	ID     string // the DEP's GUID
}

func (d DEP) aad() []byte { return context("dep key", d.Tenant, d.ID) }

// WrapWithAvailabilityKey wraps a DEP key (or TIK) under the DEP's
// availability key.
func WrapWithAvailabilityKey(avk *Key, avkID string, d DEP, depKey *Key) (Record, error) {
	return wrap(avk, AlgAvailabilityKey, avkID, d.aad(), depKey)
}

// UnwrapWithAvailabilityKey is the inverse of WrapWithAvailabilityKey.
func UnwrapWithAvailabilityKey(avk *Key, d DEP, r Record) (*Key, error) {
	return unwrap(avk, r, AlgAvailabilityKey, d.aad())
}

// CustomerKeyRecord keeps the RSA-OAEP-256 output of a vault's wrap of a DEP
// key, labelled with the versioned key URI that can unwrap it.
func CustomerKeyRecord(keyURI string, wrapped []byte) (Record, error) {
	if keyURI == "" || len(keyURI) > maxKeyID || len(wrapped) == 0 || len(wrapped) > maxRecordData {
		return Record{}, errors.New("envelope: customer key record needs a key URI and 1-4096 wrapped bytes")
	}
	return Record{Alg: AlgCustomerKey, KeyID: keyURI, Data: append([]byte(nil), wrapped...)}, nil
}

// Container is what a container key (mailbox key, site key) is bound to.
type Container struct {
	Tenant string
	DEP    string // the DEP whose key wraps it
	ID     string // mailbox or site ID
}

func (c Container) aad() []byte { return context("container key", c.Tenant, c.DEP, c.ID) }

// WrapContainerKey wraps a container key under the DEP key.
func WrapContainerKey(depKey *Key, c Container, ck *Key) (Record, error) {
	return wrap(depKey, AlgDEPKey, c.DEP, c.aad(), ck)
}

// UnwrapContainerKey is the inverse of WrapContainerKey.
func UnwrapContainerKey(depKey *Key, c Container, r Record) (*Key, error) {
	if r.KeyID != c.DEP {
		return nil, fmt.Errorf("envelope: container key is wrapped by DEP %s, not %s", r.KeyID, c.DEP)
	}
	return unwrap(depKey, r, AlgDEPKey, c.aad())
}

// Item names one version of one item (message body, attachment, calendar
// entry, file version, record) in a container.
type Item struct {
	Tenant    string
	Container string
	ID        string
	Version   uint32
}

func (it Item) itemKeyAAD() []byte {
	return binary.BigEndian.AppendUint32(context("item key", it.Tenant, it.Container, it.ID), it.Version)
}

// Ciphertext format (docs/format.md):
//
//	"ckc" ‖ version(1)=1 ‖ u16 len ‖ tenant ‖ u16 len ‖ container ‖ u16 len ‖ item
//	‖ u32 item version ‖ u32 len ‖ wrapped item key (Record, AlgContainerKey)
//	‖ nonce(12) ‖ content ciphertext ‖ tag(16)
//
// The associated data of the content is everything before the nonce.
const (
	ciphertextMagic   = "ckc"
	ciphertextVersion = 1
	maxName           = 1024
)

// Seal encrypts content for item under a fresh item key, which it wraps
// with the container key (whose ID is containerKeyID).
func Seal(containerKey *Key, containerKeyID string, it Item, content []byte) ([]byte, error) {
	if err := it.check(); err != nil {
		return nil, err
	}
	if containerKeyID == "" || len(containerKeyID) > maxKeyID {
		return nil, fmt.Errorf("envelope: key ID must be 1-%d bytes", maxKeyID)
	}
	itemKey := NewKey()
	defer itemKey.Destroy()
	out := make([]byte, 0, itemHeaderLen(containerKeyID, it)+NonceSize+len(content)+TagSize)
	out = appendItemHeader(out, ciphertextVersion, containerKey, containerKeyID, it, itemKey)
	header := len(out)
	out = appendNonce(out)
	return itemKey.aead.Seal(out, out[header:], content, out[:header]), nil
}

func itemHeaderLen(containerKeyID string, it Item) int {
	recLen := len(recordMagic) + 2 + 2 + len(containerKeyID) + 4 + NonceSize + KeySize + TagSize
	return len(ciphertextMagic) + 1 + 6 + len(it.Tenant) + len(it.Container) + len(it.ID) + 8 + recLen
}

// appendItemHeader appends the header the one-shot and chunked formats
// share: magic, format version, the item's names and version, and the item
// key wrapped by the container key (bound to the item).
func appendItemHeader(out []byte, version byte, containerKey *Key, containerKeyID string, it Item, itemKey *Key) []byte {
	wrappedLen := NonceSize + KeySize + TagSize
	recLen := len(recordMagic) + 2 + 2 + len(containerKeyID) + 4 + wrappedLen
	out = append(out, ciphertextMagic...)
	out = append(out, version)
	for _, s := range []string{it.Tenant, it.Container, it.ID} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)))
		out = append(out, s...)
	}
	out = binary.BigEndian.AppendUint32(out, it.Version)
	out = binary.BigEndian.AppendUint32(out, uint32(recLen))
	// The wrapped item key, sealed in place.
	out = append(out, recordMagic...)
	out = append(out, recordVersion, byte(AlgContainerKey))
	out = binary.BigEndian.AppendUint16(out, uint16(len(containerKeyID)))
	out = append(out, containerKeyID...)
	out = binary.BigEndian.AppendUint32(out, uint32(wrappedLen))
	out = appendNonce(out)
	aad := itemKeyWrapAAD(containerKeyID, it.Tenant, it.Container, it.ID, it.Version)
	return containerKey.aead.Seal(out, out[len(out)-NonceSize:], itemKey.b[:], aad)
}

func appendNonce(b []byte) []byte {
	n := len(b)
	b = append(b, make([]byte, NonceSize)...)
	rand.Read(b[n:])
	return b
}

// itemKeyWrapAAD is aadWith(AlgContainerKey, kid, item key context) built
// in one buffer.
func itemKeyWrapAAD(kid, tenant, container, item string, version uint32) []byte {
	aad := make([]byte, 0, 2+len("customerkey kid")+2+len(kid)+len("customerkey item key")+6+len(tenant)+len(container)+len(item)+4)
	aad = append(aad, recordVersion, byte(AlgContainerKey))
	aad = appendContext(aad, "kid", kid)
	aad = appendContext(aad, "item key", tenant, container, item)
	return binary.BigEndian.AppendUint32(aad, version)
}

func (it Item) check() error {
	for name, s := range map[string]string{"tenant": it.Tenant, "container": it.Container, "item": it.ID} {
		if s == "" || len(s) > maxName {
			return fmt.Errorf("envelope: %s ID must be 1-%d bytes", name, maxName)
		}
	}
	return nil
}

// Header is what a ciphertext says about itself, readable without keys.
type Header struct {
	Item    Item
	ItemKey Record // wrapped by the container key named in ItemKey.KeyID
	size    int    // bytes before the nonce
}

var errCiphertext = errors.New("envelope: malformed ciphertext")

// headerView is a parsed header as views into the ciphertext (no copies).
type headerView struct {
	tenant, container, item []byte
	version                 uint32
	kid                     []byte
	wrapped                 []byte // nonce ‖ ct ‖ tag of the item key
	size                    int
}

func parseHeader(b []byte) (headerView, error) {
	h, rest, err := parseItemHeader(b, ciphertextVersion)
	if err != nil {
		return h, err
	}
	if len(rest) < NonceSize+TagSize {
		return h, fmt.Errorf("%w: truncated", errCiphertext)
	}
	return h, nil
}

// parseItemHeader reads the header shared by the one-shot (version 1) and
// chunked (version 2) formats, up to and including the wrapped item key,
// and returns the bytes after it.
func parseItemHeader(b []byte, version byte) (headerView, []byte, error) {
	var h headerView
	full := b
	if len(b) < len(ciphertextMagic)+1 || string(b[:len(ciphertextMagic)]) != ciphertextMagic {
		return h, nil, fmt.Errorf("%w: bad magic", errCiphertext)
	}
	if v := b[len(ciphertextMagic)]; v != version {
		if v == streamVersion {
			return h, nil, fmt.Errorf("%w: a chunked ciphertext (format version %d): use OpenReader", errCiphertext, v)
		}
		return h, nil, fmt.Errorf("%w: format version %d, want %d", errCiphertext, v, version)
	}
	b = b[len(ciphertextMagic)+1:]
	for _, f := range []*[]byte{&h.tenant, &h.container, &h.item} {
		if len(b) < 2 {
			return h, nil, fmt.Errorf("%w: truncated", errCiphertext)
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || n > maxName || len(b) < 2+n {
			return h, nil, fmt.Errorf("%w: bad name", errCiphertext)
		}
		*f, b = b[2:2+n], b[2+n:]
	}
	if len(b) < 8 {
		return h, nil, fmt.Errorf("%w: truncated", errCiphertext)
	}
	h.version = binary.BigEndian.Uint32(b)
	n := binary.BigEndian.Uint32(b[4:])
	b = b[8:]
	if uint32(len(b)) < n {
		return h, nil, fmt.Errorf("%w: truncated", errCiphertext)
	}
	rec, rest := b[:n], b[n:]
	// The record: "ckk" ‖ 1 ‖ alg ‖ u16 kid ‖ kid ‖ u32 len ‖ data, all of it.
	if len(rec) < len(recordMagic)+4 || string(rec[:len(recordMagic)]) != recordMagic || rec[3] != recordVersion || Alg(rec[4]) != AlgContainerKey {
		return h, nil, fmt.Errorf("%w: the item key is not a container-key record", errCiphertext)
	}
	rec = rec[5:]
	k := int(binary.BigEndian.Uint16(rec))
	rec = rec[2:]
	if k == 0 || k > maxKeyID || len(rec) < k+4 {
		return h, nil, fmt.Errorf("%w: bad key ID", errCiphertext)
	}
	h.kid, rec = rec[:k], rec[k:]
	if m := binary.BigEndian.Uint32(rec); int(m) != len(rec)-4 || m != NonceSize+KeySize+TagSize {
		return h, nil, fmt.Errorf("%w: bad wrapped item key", errCiphertext)
	}
	h.wrapped = rec[4:]
	h.size = len(full) - len(rest)
	return h, rest, nil
}

// ParseHeader reads a ciphertext's header.
func ParseHeader(b []byte) (Header, error) {
	v, err := parseHeader(b)
	if err != nil {
		return Header{}, err
	}
	return Header{
		Item:    Item{Tenant: string(v.tenant), Container: string(v.container), ID: string(v.item), Version: v.version},
		ItemKey: Record{Alg: AlgContainerKey, KeyID: string(v.kid), Data: append([]byte(nil), v.wrapped...)},
		size:    v.size,
	}, nil
}

// Open decrypts a ciphertext that must belong to item want: a ciphertext of
// another tenant, container, item or version fails, as does any change.
func Open(containerKey *Key, want Item, ciphertext []byte) ([]byte, error) {
	h, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	itemKey, err := h.itemKey(containerKey, want)
	if err != nil {
		return nil, err
	}
	defer itemKey.Destroy()
	return itemKey.open(ciphertext[h.size:], ciphertext[:h.size])
}

// itemKey checks that the header names item want and unwraps its item key.
func (h headerView) itemKey(containerKey *Key, want Item) (*Key, error) {
	if string(h.tenant) != want.Tenant || string(h.container) != want.Container || string(h.item) != want.ID || h.version != want.Version {
		return nil, ErrOpen
	}
	if containerKey.aead == nil {
		return nil, errors.New("envelope: key destroyed")
	}
	aad := itemKeyWrapAAD(string(h.kid), want.Tenant, want.Container, want.ID, want.Version)
	raw, err := containerKey.aead.Open(aad[len(aad):], h.wrapped[:NonceSize], h.wrapped[NonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	itemKey, err := KeyFromBytes(raw)
	clear(raw)
	if err != nil {
		return nil, ErrOpen
	}
	return itemKey, nil
}

package envelope

import (
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
	itemKey := NewKey()
	defer itemKey.Destroy()
	wrapped, err := wrap(containerKey, AlgContainerKey, containerKeyID, it.itemKeyAAD(), itemKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 64+len(it.Tenant)+len(it.Container)+len(it.ID)+len(containerKeyID)+60+NonceSize+len(content)+TagSize)
	out = append(out, ciphertextMagic...)
	out = append(out, ciphertextVersion)
	for _, s := range []string{it.Tenant, it.Container, it.ID} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)))
		out = append(out, s...)
	}
	out = binary.BigEndian.AppendUint32(out, it.Version)
	rec := wrapped.Marshal()
	out = binary.BigEndian.AppendUint32(out, uint32(len(rec)))
	out = append(out, rec...)
	header := len(out)
	return itemKey.seal(out, content, out[:header]), nil
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

// ParseHeader reads a ciphertext's header.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	full := b
	if len(b) < len(ciphertextMagic)+1 || string(b[:len(ciphertextMagic)]) != ciphertextMagic {
		return h, fmt.Errorf("%w: bad magic", errCiphertext)
	}
	if b[len(ciphertextMagic)] != ciphertextVersion {
		return h, fmt.Errorf("%w: format version %d, want %d", errCiphertext, b[len(ciphertextMagic)], ciphertextVersion)
	}
	b = b[len(ciphertextMagic)+1:]
	var fields [3]string
	for i := range fields {
		if len(b) < 2 {
			return h, fmt.Errorf("%w: truncated", errCiphertext)
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || n > maxName || len(b) < 2+n {
			return h, fmt.Errorf("%w: bad name", errCiphertext)
		}
		fields[i], b = string(b[2:2+n]), b[2+n:]
	}
	if len(b) < 8 {
		return h, fmt.Errorf("%w: truncated", errCiphertext)
	}
	h.Item = Item{Tenant: fields[0], Container: fields[1], ID: fields[2], Version: binary.BigEndian.Uint32(b)}
	n := binary.BigEndian.Uint32(b[4:])
	b = b[8:]
	if uint32(len(b)) < n {
		return h, fmt.Errorf("%w: truncated", errCiphertext)
	}
	r, err := ParseRecord(b[:n])
	if err != nil {
		return h, err
	}
	if r.Alg != AlgContainerKey {
		return h, fmt.Errorf("%w: item key wrapped by %s", errCiphertext, r.Alg)
	}
	h.ItemKey = r
	h.size = len(full) - len(b) + int(n)
	if len(full)-h.size < NonceSize+TagSize {
		return h, fmt.Errorf("%w: truncated", errCiphertext)
	}
	return h, nil
}

// Open decrypts a ciphertext that must belong to item want: a ciphertext of
// another tenant, container, item or version fails, as does any change.
func Open(containerKey *Key, want Item, ciphertext []byte) ([]byte, error) {
	h, err := ParseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	if h.Item != want {
		return nil, ErrOpen
	}
	itemKey, err := unwrap(containerKey, h.ItemKey, AlgContainerKey, want.itemKeyAAD())
	if err != nil {
		return nil, err
	}
	defer itemKey.Destroy()
	return itemKey.open(ciphertext[h.size:], ciphertext[:h.size])
}

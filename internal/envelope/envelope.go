// Package envelope is the key hierarchy of Customer Key and its byte
// formats (SPEC K1, K2, K7, K8; docs/format.md). It is pure crypto: no I/O,
// no knowledge of where a key-encryption key lives.
//
//	customer key 1 ─┐
//	customer key 2 ─┼─wrap→ DEP key (TIK for sites) ─wrap→ container key ─wrap→ item key ─seal→ content
//	availability key┘
//
// Customer keys are RSA keys in the tenant's vaults: they wrap the DEP key
// with RSA-OAEP-256 inside the vault (package kms), and the result is kept
// here as a Record. Every other step is AES-256-GCM with associated data that
// binds the output to its tenant, DEP, container, item and version, so a
// ciphertext or wrapped key moved anywhere else fails to open.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
)

// KeySize is the size of every symmetric key in the hierarchy.
const KeySize = 32

// ErrOpen is the only error a failed authentication gives: it says nothing
// about which check failed.
var ErrOpen = errors.New("envelope: message authentication failed")

// Key is an AES-256 key. It does not print, log or marshal its bytes, and it
// keeps its AES-GCM instance so the key schedule is built once.
type Key struct {
	b    [KeySize]byte
	aead cipher.AEAD
}

// NewKey returns a fresh random key.
func NewKey() *Key {
	k := &Key{}
	rand.Read(k.b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return k.init()
}

// KeyFromBytes makes a key of 32 bytes (a copy is kept).
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("envelope: key is %d bytes, want %d", len(b), KeySize)
	}
	k := &Key{}
	copy(k.b[:], b)
	return k.init(), nil
}

func (k *Key) init() *Key {
	block, _ := aes.NewCipher(k.b[:]) // 32 bytes: cannot fail
	k.aead, _ = cipher.NewGCM(block)
	return k
}

// Bytes returns a copy of the key bytes, for wrapping by a key held
// elsewhere (a vault). Callers must not log or store them.
func (k *Key) Bytes() []byte { return append([]byte(nil), k.b[:]...) }

// Equal reports, in constant time, whether k and o are the same key.
func (k *Key) Equal(o *Key) bool { return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1 }

// Destroy zeroes the key; it is unusable afterwards.
func (k *Key) Destroy() {
	clear(k.b[:])
	k.aead = nil
}

func (k *Key) String() string               { return "envelope.Key(redacted)" }
func (k *Key) GoString() string             { return "envelope.Key(redacted)" }
func (k *Key) MarshalJSON() ([]byte, error) { return nil, errors.New("envelope: keys do not marshal") }
func (k *Key) MarshalText() ([]byte, error) { return nil, errors.New("envelope: keys do not marshal") }

// seal is AES-256-GCM with a random 96-bit nonce: nonce ‖ ciphertext ‖ tag,
// appended to dst.
func (k *Key) seal(dst, plaintext, aad []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	rand.Read(dst[n:])
	return k.aead.Seal(dst, dst[n:], plaintext, aad)
}

func (k *Key) open(sealed, aad []byte) ([]byte, error) {
	if k.aead == nil {
		return nil, errors.New("envelope: key destroyed")
	}
	if len(sealed) < NonceSize+TagSize {
		return nil, ErrOpen
	}
	pt, err := k.aead.Open(nil, sealed[:NonceSize], sealed[NonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// NonceSize and TagSize are those of AES-GCM as used here.
const (
	NonceSize = 12
	TagSize   = 16
)

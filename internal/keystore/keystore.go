// Package keystore holds the key-encryption keys (KEKs) that seal the
// service's availability keys (SPEC D7, T8), outside the database.
//
// A KEK has a version: 1, 2, 3, ... Every sealed availability key records
// the version that sealed it. New seals use the current version; Rotate
// makes a new one current; Destroy removes old versions for good. A purge
// shreds by rotation: it re-seals every surviving availability key under a
// new version and destroys the old one, so no copy of the database made
// before (a backup, a WAL, a stolen disk) opens with what the service still
// holds (internal/keyring does the re-sealing, docs/lifecycle.md).
//
// Two implementations pass one conformance suite (keystoretest.Run):
//
//   - File (OpenFile): the KEKs in one JSON file, mode 0600, rewritten
//     atomically. Erasure is as good as the file system's: see
//     docs/security.md for copy-on-write file systems and flash storage.
//   - PKCS#11 (OpenPKCS11): each KEK a non-extractable AES-256 key inside
//     the token; sealing runs in the token, and Destroy destroys the object.
//
// Sealing is AES-256-GCM with a random 96-bit nonce: the sealed bytes are
// nonce (12) ‖ ciphertext ‖ tag (16), with the caller's associated data.
package keystore

import (
	"context"
	"errors"
	"io"
)

// Version names a KEK. 0 is no version (an empty keystore's Current).
type Version uint32

// Keystore is a set of versioned KEKs.
type Keystore interface {
	// Current is the version new seals use; 0 when the keystore has none
	// yet (Rotate makes version 1).
	Current(ctx context.Context) (Version, error)
	// Seal encrypts plaintext under version v, bound to aad.
	Seal(ctx context.Context, v Version, plaintext, aad []byte) ([]byte, error)
	// Open decrypts what Seal made under version v with the same aad.
	// ErrDestroyed if v was destroyed, ErrUnknownVersion if it never was.
	Open(ctx context.Context, v Version, sealed, aad []byte) ([]byte, error)
	// Rotate makes a new version, greater than every version before,
	// current, and returns it.
	Rotate(ctx context.Context) (Version, error)
	// Destroy destroys every version up to and including upTo, for good,
	// and returns the versions it destroyed (none if they were already).
	// The current version is never destroyed: ErrCurrent.
	Destroy(ctx context.Context, upTo Version) ([]Version, error)
	io.Closer
}

var (
	// ErrDestroyed: the version was destroyed; what it sealed is gone.
	ErrDestroyed = errors.New("keystore: key-encryption key version destroyed")
	// ErrUnknownVersion: the keystore never had this version.
	ErrUnknownVersion = errors.New("keystore: no such key-encryption key version")
	// ErrCurrent: the current version cannot be destroyed; rotate first.
	ErrCurrent = errors.New("keystore: the current key-encryption key version cannot be destroyed")
	// errAuth: the sealed bytes do not open (wrong key, aad or bytes).
	errAuth = errors.New("keystore: message authentication failed")
)

// nonceSize is GCM's standard nonce; tagSize its full tag.
const (
	nonceSize = 12
	tagSize   = 16
)

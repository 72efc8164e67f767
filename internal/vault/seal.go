package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/customerkey/customerkey/internal/keyfile"
)

// MasterKeyFile is the default vault master key file inside the data dir.
const MasterKeyFile = "vault-master.key"

// masterKey seals private keys at rest and derives the backup key. It never
// prints its bytes.
type masterKey struct {
	keys   cipher.AEAD // private-key sealing
	backup cipher.AEAD // backup blobs
}

func (masterKey) String() string   { return "vault master key (redacted)" }
func (masterKey) GoString() string { return "vault master key (redacted)" }

// loadMasterKey reads a 32-byte key, hex encoded, from path; if create is
// set and the file does not exist, it creates one (mode 0600).
func loadMasterKey(path string, create bool) (*masterKey, error) {
	raw, err := keyfile.Load(path, create)
	if err != nil {
		return nil, fmt.Errorf("vault master key: %w", err)
	}
	defer clear(raw)
	derive := func(info string) (cipher.AEAD, error) {
		k, err := hkdf.Key(sha256.New, raw, nil, info, 32)
		if err != nil {
			return nil, err
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	mk := &masterKey{}
	if mk.keys, err = derive("customerkey vault key sealing v1"); err != nil {
		return nil, err
	}
	if mk.backup, err = derive("customerkey vault key backup v1"); err != nil {
		return nil, err
	}
	return mk, nil
}

const sealVersion = 1

// seal encrypts plaintext with AES-256-GCM; the output is
// version(1) || nonce(12) || ciphertext+tag, bound to aad.
func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, aad)
}

var errUnseal = errors.New("message authentication failed")

func unseal(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return nil, errUnseal
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, errUnseal
	}
	return pt, nil
}

// keyAAD binds a sealed private key to its vault, key name and version.
func keyAAD(vault, name, version string) []byte {
	return []byte("ckvault key v1\x00" + strings.ToLower(vault) + "\x00" + strings.ToLower(name) + "\x00" + version)
}

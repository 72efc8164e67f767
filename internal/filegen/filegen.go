// Package filegen generates large file content for tests and the bench:
// deterministic, readable from any offset, never stored. It is not part
// of the service.
package filegen

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// Keystream is content generated as AES-256-CTR's keystream under a key
// derived from a label: the same label gives the same bytes.
type Keystream struct{ block cipher.Block }

// New returns the content of label.
func New(label string) Keystream {
	key := sha256.Sum256([]byte(label))
	b, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	return Keystream{b}
}

// Reader returns n bytes of the content from offset off.
func (k Keystream) Reader(off, n int64) io.Reader {
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/aes.BlockSize))
	s := cipher.NewCTR(k.block, iv[:])
	skip := make([]byte, off%aes.BlockSize)
	s.XORKeyStream(skip, skip)
	return io.LimitReader(readerFunc(func(p []byte) (int, error) {
		clear(p)
		s.XORKeyStream(p, p)
		return len(p), nil
	}), n)
}

// SHA256 is the digest of the first size bytes of the content.
func (k Keystream) SHA256(size int64) []byte {
	h := sha256.New()
	_, _ = io.CopyBuffer(h, k.Reader(0, size), make([]byte, 1<<20)) // neither side fails
	return h.Sum(nil)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

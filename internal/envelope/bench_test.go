package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkItem seals and opens items of three sizes, next to raw
// AES-256-GCM with a fresh key schedule per item (go run ./bench -scenario
// envelope prints the ratios, with tink-go as well).
func BenchmarkItem(b *testing.B) {
	ck := NewKey()
	it := Item{Tenant: "contoso", Container: "mbx-alice", ID: "msg-1", Version: 1}
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		content := make([]byte, size)
		rand.Read(content)
		sealed, _ := Seal(ck, "mbx-alice#1", it, content)
		key := make([]byte, 32)
		nonce := make([]byte, 12)
		rand.Read(key)
		raw := rawGCM(key).Seal(nil, nonce, content, nil)
		b.Run(fmt.Sprintf("seal/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := Seal(ck, "mbx-alice#1", it, content); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("open/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := Open(ck, it, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw-fresh-open/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := rawGCM(key).Open(nil, nonce, raw, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rawGCM(key []byte) cipher.AEAD {
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	return g
}

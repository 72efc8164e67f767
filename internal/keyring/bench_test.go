package keyring_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/keyring"
)

// BenchmarkShredRotation is a purge's KEK rotation (docs/performance.md):
// with n live availability keys on SQLite and the file keystore, one is
// destroyed and shredded, which re-seals the others under a new version.
// BenchmarkRawSeal is the baseline of the same run: raw AES-256-GCM seals
// of n keys.
//
//	go test -run '^$' -bench 'ShredRotation|RawSeal|Unseal' -benchtime 3x ./internal/keyring/
func BenchmarkShredRotation(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st, file := openKeystore(b)
			ks := keyring.NewKeystore(st, file)
			ids := make([]string, 0, n+b.N)
			for i := range n + b.N {
				id, k, err := ks.CreateForTest(ctx, "tenant", fmt.Sprintf("dep-%06d", i))
				if err != nil {
					b.Fatal(err)
				}
				k.Destroy()
				ids = append(ids, id)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := st.DestroyAvailabilityKey(ctx, ids[i], time.Now(), "bench", "purge"); err != nil {
					b.Fatal(err)
				}
				if _, err := ks.Shred(ctx, ids[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawSeal(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			key := make([]byte, 32)
			rand.Read(key)
			block, _ := aes.NewCipher(key)
			g, _ := cipher.NewGCM(block)
			pt, nonce, out := make([]byte, 32), make([]byte, 12), make([]byte, 0, 64)
			for range b.N {
				for range n {
					rand.Read(nonce)
					out = g.Seal(out[:0], nonce, pt, []byte("customerkey availability key v2\x00avk-x\x00tenant\x00dep\x001"))
				}
			}
		})
	}
}

// BenchmarkUnseal is one availability-key unseal (the row read, then the
// open under its KEK version) against the row read alone.
func BenchmarkUnseal(b *testing.B) {
	ctx := context.Background()
	st, file := openKeystore(b)
	ks := keyring.NewKeystore(st, file)
	id, k, err := ks.CreateForTest(ctx, "tenant", "dep")
	if err != nil {
		b.Fatal(err)
	}
	k.Destroy()
	b.Run("keystore", func(b *testing.B) {
		for range b.N {
			k, err := ks.GetForTest(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			k.Destroy()
		}
	})
	b.Run("store-read-only", func(b *testing.B) {
		for range b.N {
			if _, err := st.AvailabilityKey(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

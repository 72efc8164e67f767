package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	tinkaead "github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/customerkey/customerkey/internal/envelope"
)

// envelopeScenario: sealing and opening one item through the hierarchy
// (fresh item key, wrapped by the container key, content in AES-256-GCM)
// against raw AES-256-GCM with a fresh key schedule per item, raw AES-GCM
// with a pre-built key, and tink-go's KMS envelope AEAD with a local
// key-encryption key.
func envelopeScenario() error {
	ck := envelope.NewKey()
	item := envelope.Item{Tenant: "contoso", Container: "mbx-alice", ID: "msg-1", Version: 1}
	kekHandle, err := keyset.NewHandle(tinkaead.AES256GCMKeyTemplate())
	if err != nil {
		return err
	}
	kek, err := tinkaead.New(kekHandle)
	if err != nil {
		return err
	}
	tink := tinkaead.NewKMSEnvelopeAEAD2(tinkaead.AES256GCMKeyTemplate(), kek)
	pre := newGCM(randomKey())

	const rounds = 9
	fmt.Printf("Envelope seal/open, GOMAXPROCS=%d, %s; each ratio is the median of %d rounds, each round measuring the pair back to back (range in brackets)\n\n",
		runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"), rounds)
	fmt.Println("| size | op | envelope MB/s | vs raw AES-GCM, fresh key | vs raw AES-GCM, pre-built key | vs tink KMS envelope AEAD |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		content := make([]byte, size)
		rand.Read(content)
		sealed, err := envelope.Seal(ck, "mbx-alice#1", item, content)
		if err != nil {
			return err
		}
		freshKey := randomKey()
		freshNonce, freshCT := sealRaw(newGCM(freshKey), content)
		preNonce, preCT := sealRaw(pre, content)
		aad := []byte("contoso/mbx-alice/msg-1/1")
		tinkCT, err := tink.Encrypt(content, aad)
		if err != nil {
			return err
		}
		seal := map[string]func(){
			"envelope": func() { envelope.Seal(ck, "mbx-alice#1", item, content) },
			"fresh":    func() { sealRaw(newGCM(randomKey()), content) },
			"pre":      func() { sealRaw(pre, content) },
			"tink":     func() { tink.Encrypt(content, aad) },
		}
		open := map[string]func(){
			"envelope": func() { envelope.Open(ck, item, sealed) },
			"fresh":    func() { newGCM(freshKey).Open(nil, freshNonce, freshCT, nil) },
			"pre":      func() { pre.Open(nil, preNonce, preCT, nil) },
			"tink":     func() { tink.Decrypt(tinkCT, aad) },
		}
		for _, op := range []struct {
			name string
			fns  map[string]func()
		}{{"seal", seal}, {"open", open}} {
			var env []float64
			cells := []string{}
			for _, base := range []string{"fresh", "pre", "tink"} {
				var ratios []float64
				for range rounds {
					b := throughput(size, op.fns[base])
					e := throughput(size, op.fns["envelope"])
					env = append(env, e)
					ratios = append(ratios, e/b)
				}
				sort.Float64s(ratios)
				cells = append(cells, fmt.Sprintf("%.2f [%.2f-%.2f]", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1]))
			}
			sort.Float64s(env)
			fmt.Printf("| %d KiB | %s | %.0f | %s |\n", size>>10, op.name, env[len(env)/2], strings.Join(cells, " | "))
		}
	}
	return nil
}

// throughput runs fn for about 250ms and returns MB/s.
func throughput(size int, fn func()) float64 {
	n, start := 0, time.Now()
	for time.Since(start) < 250*time.Millisecond {
		for range 16 {
			fn()
		}
		n += 16
	}
	return float64(n*size) / time.Since(start).Seconds() / 1e6
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func newGCM(key []byte) cipher.AEAD {
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(b)
	return g
}

func sealRaw(g cipher.AEAD, content []byte) ([]byte, []byte) {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return nonce, g.Seal(nil, nonce, content, nil)
}

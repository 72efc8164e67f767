package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"
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

// BenchmarkStream seals and opens 64 MiB through SealWriter and OpenReader,
// and raw AES-256-GCM over the same bytes in one message, alternating the
// two in each iteration; it reports both throughputs and their ratio
// (stream/raw, target ≥ 0.9) as custom metrics. io.Discard is wrapped so
// io.CopyBuffer reads through the 1 MiB buffer, not ReadFrom's 8 KiB one.
func BenchmarkStream(b *testing.B) {
	const size = 64 << 20
	ck := NewKey()
	it := Item{Tenant: "contoso", Container: "site-1", ID: "file-1", Version: 1}
	content := make([]byte, size)
	rand.Read(content)
	key, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	raw := rawGCM(key)
	rawCT := raw.Seal(nil, nonce, content, nil)
	var sealed bytes.Buffer
	w, _ := SealWriter(ck, "site-1#1", it, &sealed)
	w.Write(content)
	w.Close()
	sink := make([]byte, 0, size+TagSize)
	copyBuf := make([]byte, 1<<20)
	report := func(b *testing.B, stream, rawD time.Duration) {
		mbps := func(d time.Duration) float64 { return float64(b.N) * size / d.Seconds() / 1e6 }
		b.ReportMetric(mbps(stream), "stream-MB/s")
		b.ReportMetric(mbps(rawD), "raw-MB/s")
		b.ReportMetric(rawD.Seconds()/stream.Seconds(), "stream/raw")
	}
	b.Run("seal-64MiB", func(b *testing.B) {
		var st, rt time.Duration
		for b.Loop() {
			t0 := time.Now()
			w, err := SealWriter(ck, "site-1#1", it, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(w, bytes.NewReader(content), copyBuf); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			sink = raw.Seal(sink[:0], nonce, content, nil)
			st, rt = st+t1.Sub(t0), rt+time.Since(t1)
		}
		report(b, st, rt)
	})
	b.Run("open-64MiB", func(b *testing.B) {
		var st, rt time.Duration
		for b.Loop() {
			t0 := time.Now()
			r, err := OpenReader(ck, it, bytes.NewReader(sealed.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, copyBuf); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := raw.Open(sink[:0], nonce, rawCT, nil); err != nil {
				b.Fatal(err)
			}
			st, rt = st+t1.Sub(t0), rt+time.Since(t1)
		}
		report(b, st, rt)
	})
}

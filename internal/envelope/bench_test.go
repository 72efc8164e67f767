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

// BenchmarkStream seals and opens 1 GiB through SealWriter and OpenReader
// (io.CopyBuffer with a 1 MiB buffer) and through the Stream chunk API
// (SealChunk and OpenChunk per 64 KiB chunk, as the service does), and in
// each iteration raw AES-256-GCM (a pre-built key) over the same bytes in
// 64 KiB messages, the two taking turns going first. It reports both
// throughputs and their ratio (stream/raw, target ≥ 0.9) as custom
// metrics. The plaintext is a 64 MiB buffer read 16 times (so that 1 GiB
// is not held twice); the sealed stream is held whole. io.Discard is
// wrapped so io.CopyBuffer reads through the 1 MiB buffer, not ReadFrom's
// 8 KiB one.
func BenchmarkStream(b *testing.B) {
	const (
		size  = 1 << 30
		block = 64 << 20
		reps  = size / block
	)
	ck := NewKey()
	it := Item{Tenant: "contoso", Container: "site-1", ID: "file-1", Version: 1}
	content := make([]byte, block)
	rand.Read(content)
	source := func() io.Reader {
		rs := make([]io.Reader, reps)
		for i := range rs {
			rs[i] = bytes.NewReader(content)
		}
		return io.MultiReader(rs...)
	}
	key, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	raw := rawGCM(key)
	// The raw baseline's 64 KiB messages: the block's pieces, sealed once
	// (a nonce used again does not matter to a baseline).
	rawCT := make([][]byte, block/ChunkSize)
	for i := range rawCT {
		rawCT[i] = raw.Seal(nil, nonce, content[i*ChunkSize:(i+1)*ChunkSize], nil)
	}
	sink := make([]byte, 0, ChunkSize+TagSize)
	rawSeal := func() {
		for range reps {
			for i := 0; i < block; i += ChunkSize {
				sink = raw.Seal(sink[:0], nonce, content[i:i+ChunkSize], nil)
			}
		}
	}
	rawOpen := func() {
		for range reps {
			for _, ct := range rawCT {
				if _, err := raw.Open(sink[:0], nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	sealed := bytes.NewBuffer(make([]byte, 0, size+size/ChunkSize*TagSize+1024))
	w, _ := SealWriter(ck, "site-1#1", it, sealed)
	io.Copy(w, source())
	w.Close()
	hdrLen := sealed.Len() - size - size/ChunkSize*TagSize
	copyBuf := make([]byte, 1<<20)
	report := func(b *testing.B, stream, rawD time.Duration) {
		mbps := func(d time.Duration) float64 { return float64(b.N) * size / d.Seconds() / 1e6 }
		b.ReportMetric(mbps(stream), "stream-MB/s")
		b.ReportMetric(mbps(rawD), "raw-MB/s")
		b.ReportMetric(rawD.Seconds()/stream.Seconds(), "stream/raw")
	}
	// run times stream and raw in each iteration, in turns first.
	run := func(stream, raw func()) func(b *testing.B) {
		return func(b *testing.B) {
			var st, rt time.Duration
			timed := func(f func(), d *time.Duration) {
				t0 := time.Now()
				f()
				*d += time.Since(t0)
			}
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 {
					timed(stream, &st)
					timed(raw, &rt)
				} else {
					timed(raw, &rt)
					timed(stream, &st)
				}
			}
			report(b, st, rt)
		}
	}
	b.Run("seal-1GiB/SealWriter", run(func() {
		w, err := SealWriter(ck, "site-1#1", it, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(w, source(), copyBuf); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}, rawSeal))
	b.Run("open-1GiB/OpenReader", run(func() {
		r, err := OpenReader(ck, it, bytes.NewReader(sealed.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, copyBuf); err != nil {
			b.Fatal(err)
		}
	}, rawOpen))
	b.Run("seal-1GiB/SealChunk", run(func() {
		st, err := NewStream(ck, "site-1#1", it)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for i := range uint64(size / ChunkSize) {
			off := int(i%(block/ChunkSize)) * ChunkSize
			if sink, err = st.SealChunk(sink[:0], i, content[off:off+ChunkSize], i == size/ChunkSize-1); err != nil {
				b.Fatal(err)
			}
		}
	}, rawSeal))
	b.Run("open-1GiB/OpenChunk", run(func() {
		st, err := OpenStream(ck, it, sealed.Bytes()[:hdrLen])
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		chunks := sealed.Bytes()[hdrLen:]
		for i := range uint64(size / ChunkSize) {
			c := chunks[i*encryptedChunk : (i+1)*encryptedChunk]
			if _, err := st.OpenChunk(sink[:0], i, c, i == size/ChunkSize-1); err != nil {
				b.Fatal(err)
			}
		}
	}, rawOpen))
}

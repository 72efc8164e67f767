package blobtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/blob"
)

// BenchSize is what Bench writes and reads per iteration: 1024 chunks of
// ChunkSize (64 MiB of content once sealed).
const BenchSize = 1024 * ChunkSize

// Bench measures s against its baseline in the same run: in each iteration
// it writes (Put of every chunk in order, then Commit) or reads (Read of
// every chunk) a blob of BenchSize bytes, and writes (Write of the same
// chunks, then Sync) or reads (ReadFull of each chunk) a plain os.File in
// dir with the same bytes, alternating the two. It reports both throughputs
// and their ratio (store/raw) as custom metrics.
func Bench(b *testing.B, s blob.Store, dir string) {
	const n = BenchSize / ChunkSize
	chunks := make([][]byte, n)
	for i := range chunks {
		chunks[i] = Chunk("bench", int64(i), ChunkSize)
	}
	report := func(b *testing.B, store, raw time.Duration) {
		mbps := func(d time.Duration) float64 { return float64(b.N) * BenchSize / d.Seconds() / 1e6 }
		b.ReportMetric(mbps(store), "store-MB/s")
		b.ReportMetric(mbps(raw), "raw-MB/s")
		b.ReportMetric(raw.Seconds()/store.Seconds(), "store/raw")
	}
	rawWrite := func(name string) error {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, c := range chunks {
			if _, err := f.Write(c); err != nil {
				return err
			}
		}
		return f.Sync()
	}
	storeWrite := func(r blob.Ref) error {
		for i, c := range chunks {
			if err := s.Put(ctx, r, int64(i), c); err != nil {
				return err
			}
		}
		return s.Commit(ctx, r)
	}
	b.Run("write-64MiB", func(b *testing.B) {
		var st, rt time.Duration
		i := 0
		for b.Loop() {
			i++
			r := blob.Ref{Tenant: "bench", Container: "c", ID: fmt.Sprintf("w%d", i)}
			name := filepath.Join(dir, fmt.Sprintf("raw-w%d", i))
			t0 := time.Now()
			if err := storeWrite(r); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := rawWrite(name); err != nil {
				b.Fatal(err)
			}
			st, rt = st+t1.Sub(t0), rt+time.Since(t1)
			if err := s.Delete(ctx, r); err != nil {
				b.Fatal(err)
			}
			os.Remove(name)
		}
		report(b, st, rt)
	})
	b.Run("read-64MiB", func(b *testing.B) {
		r := blob.Ref{Tenant: "bench", Container: "c", ID: "read"}
		name := filepath.Join(dir, "raw-read")
		if err := storeWrite(r); err != nil {
			b.Fatal(err)
		}
		if err := rawWrite(name); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, ChunkSize)
		var st, rt time.Duration
		for b.Loop() {
			t0 := time.Now()
			var got int64
			if err := s.Read(ctx, r, 0, n, func(_ int64, c []byte) error { got += int64(len(c)); return nil }); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				if _, err := io.ReadFull(f, buf); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
			st, rt = st+t1.Sub(t0), rt+time.Since(t1)
			if got != BenchSize {
				b.Fatalf("read %d bytes, want %d", got, BenchSize)
			}
		}
		report(b, st, rt)
		if err := s.Delete(ctx, r); err != nil {
			b.Fatal(err)
		}
		os.Remove(name)
	})
}

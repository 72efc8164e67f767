package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/blob/blobtest"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// dialects opens a fresh database of each dialect (PostgreSQL in a schema
// of its own, skipped without CK_TEST_POSTGRES_URL), closed when t ends.
var dialects = []struct {
	name string
	open func(t testing.TB) *sqlstore.DB
}{
	{"sqlite", func(t testing.TB) *sqlstore.DB {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB) *sqlstore.DB {
		url := os.Getenv("CK_TEST_POSTGRES_URL")
		if url == "" {
			t.Skip("CK_TEST_POSTGRES_URL not set: skipping PostgreSQL tests (.ci/run sets it)")
		}
		s, _ := openSchema(t, url)
		t.Cleanup(func() { s.Close() })
		return s.(*sqlstore.DB)
	}},
}

func TestBlobs(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) blob.Store { return d.open(t).Blobs() })
		})
	}
}

func BenchmarkBlobs(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			blobtest.Bench(b, d.open(b).Blobs(), b.TempDir())
		})
	}
}

// TestBlobsReadBatches: a chunk missing at a batch border or inside a
// batch is reported after the chunks before it, whatever batch it is in.
func TestBlobsReadBatches(t *testing.T) {
	ctx := context.Background()
	const n = 3*sqlstore.ReadBatch + 5
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			bs := d.open(t).Blobs()
			for _, gap := range []int64{0, sqlstore.ReadBatch - 1, sqlstore.ReadBatch, sqlstore.ReadBatch + 1, 2 * sqlstore.ReadBatch, n - 1} {
				r := blob.Ref{Tenant: "t", Container: "c", ID: fmt.Sprint("gap-", gap)}
				for seq := int64(0); seq < n; seq++ {
					if seq != gap {
						if err := bs.Put(ctx, r, seq, blobtest.Chunk(r.ID, seq, 100)); err != nil {
							t.Fatal(err)
						}
					}
				}
				var next int64
				err := bs.Read(ctx, r, 0, n, func(seq int64, c []byte) error {
					if seq != next || !bytes.Equal(c, blobtest.Chunk(r.ID, seq, 100)) {
						return fmt.Errorf("got chunk %d, want %d", seq, next)
					}
					next++
					return nil
				})
				if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprintf("chunk %d:", gap)) {
					t.Fatalf("gap at %d: Read = %v, want chunk %d not found", gap, err, gap)
				}
				if next != gap {
					t.Fatalf("gap at %d: %d chunks handed out before it", gap, next)
				}
				// The chunks after the gap read on their own.
				if gap < n-1 {
					if err := bs.Read(ctx, r, gap+1, n, func(int64, []byte) error { return nil }); err != nil {
						t.Fatalf("gap at %d: Read(%d, %d): %v", gap, gap+1, n, err)
					}
				}
			}
		})
	}
}

// TestBlobsReadHoldsNoConnection: readers blocked in fn hold no database
// connection, so more of them than the pool has connections do not stop
// another read.
func TestBlobsReadHoldsNoConnection(t *testing.T) {
	ctx := context.Background()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			bs := d.open(t).Blobs()
			r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
			for seq := int64(0); seq < 2; seq++ {
				if err := bs.Put(ctx, r, seq, []byte("chunk")); err != nil {
					t.Fatal(err)
				}
			}
			release := make(chan struct{})
			var started, done sync.WaitGroup
			const readers = 24 // more than either pool (SQLite's 4 readers, PostgreSQL's 16)
			errs := make(chan error, readers)
			for range readers {
				started.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					first := true
					errs <- bs.Read(ctx, r, 0, 2, func(int64, []byte) error {
						if first {
							first = false
							started.Done()
							<-release
						}
						return nil
					})
				}()
			}
			waited := make(chan struct{})
			go func() { started.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(30 * time.Second):
				close(release)
				t.Fatal("not every reader reached its first chunk: readers blocked in fn hold connections")
			}
			if err := bs.Read(ctx, r, 0, 2, func(int64, []byte) error { return nil }); err != nil {
				t.Fatalf("a read beside %d blocked readers: %v", readers, err)
			}
			close(release)
			done.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestDeleteMailboxDeletesBlobChunks: deleting a container (the purge)
// deletes its chunks in the same transaction, and no other container's.
func TestDeleteMailboxDeletesBlobChunks(t *testing.T) {
	ctx := context.Background()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := d.open(t)
			bs := s.Blobs()
			m := store.Mailbox{Tenant: "t1", ID: "site:finance", Kind: "Site:EUR", DEP: "dep-a", ContainerKey: []byte("wrapped"), KeyVersion: 1, Created: time.Now(), Updated: time.Now()}
			if err := s.CreateMailbox(ctx, m); err != nil {
				t.Fatal(err)
			}
			refs := []blob.Ref{
				{Tenant: "t1", Container: "site:finance", ID: "a"},
				{Tenant: "t1", Container: "site:finance", ID: "b"},
				{Tenant: "t2", Container: "site:finance", ID: "a"},
				{Tenant: "t1", Container: "site:hr", ID: "a"},
			}
			for _, r := range refs {
				for seq := int64(0); seq < 3; seq++ {
					if err := bs.Put(ctx, r, seq, []byte(r.String())); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.DeleteMailbox(ctx, "t1", "Site:Finance"); err != nil {
				t.Fatal(err)
			}
			for i, r := range refs {
				err := bs.Read(ctx, r, 0, 3, func(int64, []byte) error { return nil })
				if i < 2 && !errors.Is(err, blob.ErrNotFound) {
					t.Errorf("%v after its container's deletion: %v, want ErrNotFound", r, err)
				}
				if i >= 2 && err != nil {
					t.Errorf("%v of another container: %v", r, err)
				}
			}
			if ids, err := bs.List(ctx, "t1", "site:finance"); err != nil || len(ids) != 0 {
				t.Fatalf("List after DeleteMailbox: %v, %v", ids, err)
			}
		})
	}
}

// TestBlobsSecureDelete: a deleted chunk's bytes are gone from the SQLite
// file (PRAGMA secure_delete), not only unlinked from the B-tree.
func TestBlobsSecureDelete(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "ck.db")
	s, err := sqlstore.OpenSQLite(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("MARKER-blob-secure-delete-0123456789")
	chunk := append(blobtest.Chunk("m", 0, blobtest.ChunkSize-len(marker)), marker...)
	r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
	if err := s.Blobs().Put(ctx, r, 0, chunk); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if data, _ := os.ReadFile(file); !bytes.Contains(data, marker) {
		t.Fatal("the marker is not in the file to begin with: the test shows nothing")
	}
	if s, err = sqlstore.OpenSQLite(ctx, file); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Blobs().DeleteContainer(ctx, "t", "c"); err != nil || n != 1 {
		t.Fatalf("DeleteContainer = %d, %v; want 1", n, err)
	}
	s.Close()
	for _, f := range []string{file, file + "-wal"} {
		if data, _ := os.ReadFile(f); bytes.Contains(data, marker) {
			t.Fatalf("%s still holds the deleted chunk", filepath.Base(f))
		}
	}
}

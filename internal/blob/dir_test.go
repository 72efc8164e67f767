package blob_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/blob/blobtest"
)

var ctx = context.Background()

func openDir(t testing.TB, root string) *blob.DirStore {
	t.Helper()
	d, err := blob.Dir(root, blobtest.ChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDir(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return openDir(t, t.TempDir()) })
}

func BenchmarkDir(b *testing.B) {
	dir := b.TempDir()
	blobtest.Bench(b, openDir(b, filepath.Join(dir, "blobs")), dir)
}

func TestDirArguments(t *testing.T) {
	for _, size := range []int{0, -1, blob.MaxChunkSize + 1} {
		if _, err := blob.Dir(t.TempDir(), size); !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Dir with chunk size %d: %v, want ErrInvalid", size, err)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := blob.Dir(file, 100); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Dir on a file: %v, want 'not a directory'", err)
	}
	d, err := blob.Dir(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
	if err := d.Put(ctx, r, 0, make([]byte, 101)); !errors.Is(err, blob.ErrInvalid) {
		t.Errorf("Put of 101 bytes in a store of 100-byte chunks: %v, want ErrInvalid", err)
	}
	if err := d.Put(ctx, r, 1<<60, []byte("x")); !errors.Is(err, blob.ErrInvalid) {
		t.Errorf("Put of chunk 2^60: %v, want ErrInvalid", err)
	}
}

var hexName = regexp.MustCompile(`^[0-9a-f]+$`)

// TestDirLayout: every path is root/hash/hash/hex(ID), files 0600 and
// directories 0700, whatever the names; a root readable by others is
// tightened.
func TestDirLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "blobs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, root)
	refs := []blob.Ref{
		{Tenant: "contoso", Container: "alice@contoso.com", ID: "0123456789abcdef"},
		{Tenant: "..", Container: "../..", ID: "../../../etc/passwd"},
		{Tenant: "/", Container: "/tmp", ID: "/x"},
		{Tenant: strings.Repeat("t", blob.MaxName), Container: "c", ID: strings.Repeat("é", blob.MaxID/2)},
	}
	for _, r := range refs {
		if err := d.Put(ctx, r, 3, []byte("chunk")); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	files := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, _ := e.Info()
		if e.IsDir() {
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("directory %s has mode %04o, want 0700", rel, fi.Mode().Perm())
			}
			return nil
		}
		files++
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 3 || len(parts[0]) != 64 || len(parts[1]) != 64 {
			t.Errorf("file %s: want hash/hash/hex(ID)", rel)
		}
		for _, p := range parts {
			if !hexName.MatchString(p) {
				t.Errorf("file %s: segment %q is not lower-case hex", rel, p)
			}
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("file %s has mode %04o, want 0600", rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != len(refs) {
		t.Fatalf("%d files under root, want %d", files, len(refs))
	}
}

// TestDirReopen: what was committed is read by a store opened later, with
// another chunk size too (a file keeps the size it was made with).
func TestDirReopen(t *testing.T) {
	root := t.TempDir()
	r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
	d := openDir(t, root)
	chunks := [][]byte{blobtest.Chunk("r", 0, blobtest.ChunkSize), blobtest.Chunk("r", 1, 7)}
	for i, c := range chunks {
		if err := d.Put(ctx, r, int64(i), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit(ctx, r); err != nil {
		t.Fatal(err)
	}
	other, err := blob.Dir(root, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := other.Read(ctx, r, 0, 2, func(_ int64, c []byte) error { got = append(got, bytes.Clone(c)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], chunks[0]) || !bytes.Equal(got[1], chunks[1]) {
		t.Fatal("chunks read by a reopened store differ")
	}
	// The old file still takes full-size chunks; a new one the new size.
	if err := other.Put(ctx, r, 2, chunks[0]); err != nil {
		t.Fatalf("Put into a file of the old chunk size: %v", err)
	}
	if err := other.Put(ctx, blob.Ref{Tenant: "t", Container: "c", ID: "new"}, 0, chunks[0]); !errors.Is(err, blob.ErrInvalid) {
		t.Fatalf("Put of a full chunk into a new file of 1000-byte chunks: %v, want ErrInvalid", err)
	}
}

// TestDirCorruption: bytes changed on disk are ErrCorrupt, a chunk never
// written is ErrNotFound, files the store did not make are not listed.
func TestDirCorruption(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
	for seq := int64(0); seq < 3; seq++ {
		if err := d.Put(ctx, r, seq, blobtest.Chunk("x", seq, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(root, hashHex("t"), hashHex("c"), hex.EncodeToString([]byte("b")))
	orig, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	slot := 12 + blobtest.ChunkSize
	for _, tc := range []struct {
		name   string
		change func([]byte) []byte
		want   error
		chunk  int64 // the first chunk that fails
	}{
		{"flipped chunk byte", func(b []byte) []byte { b[16+slot+12+500] ^= 1; return b }, blob.ErrCorrupt, 1},
		{"flipped length", func(b []byte) []byte { b[16+slot+7] ^= 1; return b }, blob.ErrCorrupt, 1},
		{"slot magic zeroed", func(b []byte) []byte { copy(b[16+slot:], make([]byte, 12)); return b }, blob.ErrNotFound, 1},
		{"slot magic changed", func(b []byte) []byte { b[16+slot] = 'x'; return b }, blob.ErrCorrupt, 1},
		{"cut in the last chunk", func(b []byte) []byte { return b[:len(b)-10] }, blob.ErrCorrupt, 2},
		{"cut in the last slot header", func(b []byte) []byte { return b[:16+2*slot+5] }, blob.ErrCorrupt, 2},
		{"file header changed", func(b []byte) []byte { b[9] ^= 1; return b }, blob.ErrCorrupt, 0},
		{"not a blob file", func(b []byte) []byte { return []byte("hello, world, not a blob") }, blob.ErrCorrupt, 0},
		{"empty file", func(b []byte) []byte { return nil }, blob.ErrNotFound, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(name, tc.change(bytes.Clone(orig)), 0o600); err != nil {
				t.Fatal(err)
			}
			var seen int64
			err := d.Read(ctx, r, 0, 3, func(seq int64, _ []byte) error { seen = seq + 1; return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read: %v, want %v", err, tc.want)
			}
			if seen != tc.chunk {
				t.Fatalf("Read handed out %d chunks before failing, want %d", seen, tc.chunk)
			}
		})
	}
	for _, junk := range []string{"notes.txt", "ABCD", "0", hex.EncodeToString([]byte("a\x00b"))} {
		os.WriteFile(filepath.Join(filepath.Dir(name), junk), nil, 0o600)
	}
	os.Mkdir(filepath.Join(filepath.Dir(name), "6464"), 0o700)
	ids, err := d.List(ctx, "t", "c")
	if err != nil || len(ids) != 1 || ids[0] != "b" {
		t.Fatalf("List beside files the store did not make: %q, %v; want [b]", ids, err)
	}
}

func hashHex(s string) string { return blob.HashName(s) }

// FuzzDirFiles: whatever a blob file holds, Read fails cleanly or hands out
// chunks no larger than the file's chunk size; never a panic.
func FuzzDirFiles(f *testing.F) {
	root := f.TempDir()
	d, _ := blob.Dir(root, 64)
	r := blob.Ref{Tenant: "t", Container: "c", ID: "b"}
	d.Put(ctx, r, 0, bytes.Repeat([]byte{1}, 64))
	d.Put(ctx, r, 1, []byte("short"))
	name := filepath.Join(root, blob.HashName("t"), blob.HashName("c"), hex.EncodeToString([]byte("b")))
	good, _ := os.ReadFile(name)
	f.Add(good)
	f.Add(good[:40])
	f.Add(good[:16])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, file []byte) {
		if err := os.WriteFile(name, file, 0o600); err != nil {
			t.Fatal(err)
		}
		err := d.Read(ctx, r, 0, 4, func(seq int64, c []byte) error {
			if len(c) > blob.MaxChunkSize {
				t.Fatalf("chunk %d of %d bytes", seq, len(c))
			}
			return nil
		})
		if err != nil && !errors.Is(err, blob.ErrNotFound) && !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("Read: %v (want nil, ErrNotFound or ErrCorrupt)", err)
		}
	})
}

// FuzzRefPaths: every valid Ref has its own file, three hex segments under
// the root, and List gives its ID back.
func FuzzRefPaths(f *testing.F) {
	f.Add("contoso", "alice@contoso.com", "0123456789abcdef")
	f.Add("..", "../..", "../x")
	f.Add("a/b", "c", "d")
	f.Add("t", "c", "é\u200b")
	f.Fuzz(func(t *testing.T, tenant, container, id string) {
		r := blob.Ref{Tenant: tenant, Container: container, ID: id}
		p := blob.FilePath("/root", r)
		if blob.CheckRef(r) != nil {
			return
		}
		rel, err := filepath.Rel("/root", p)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("%v: path %s outside the root", r, p)
		}
		parts := strings.Split(rel, "/")
		if len(parts) != 3 || parts[0] != blob.HashName(tenant) || parts[1] != blob.HashName(container) {
			t.Fatalf("%v: path %s", r, rel)
		}
		if got := blob.IDOfFile(parts[2]); got != id {
			t.Fatalf("%v: file name %s gives back ID %q", r, parts[2], got)
		}
		if len(parts[2]) > 255 {
			t.Fatalf("%v: file name of %d bytes", r, len(parts[2]))
		}
	})
}

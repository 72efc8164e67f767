package blob

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DirStore is a Store in a directory on disk, for a single node: one file
// per blob. Its layout (docs/format.md, "Blob files"):
//
//	root/hex(SHA-256(tenant))/hex(SHA-256(container))/hex(ID)
//
// so no name can reach outside root or another container's directory, and
// DeleteContainer removes one directory. A file is a 16-byte header that
// records the chunk size S it was made with, then chunk seq in the slot at
// offset 16 + seq × (12 + S): a 12-byte slot header (magic, length, a
// CRC-32C of seq and the bytes) and the chunk. A slot never written reads
// as zeros (a hole), which is how a missing chunk is told apart from a
// written one. Files are 0600 and directories 0700; Commit fsyncs the file
// and the directories above it. Puts of one blob from several goroutines
// at different seqs write different byte ranges of the file and are safe.
//
// The chunk size is a constructor parameter (not learnt from the first
// chunk, which may be the short last one when chunks come out of order):
// the largest chunk Put accepts for a new file. A file keeps the size it
// was made with, so files stay readable if the configured size changes.
type DirStore struct {
	root      string
	chunkSize int
	bufs      sync.Pool // *[]byte slot buffers
}

var _ Store = (*DirStore)(nil)

// Layout constants of a blob file.
const (
	fileMagic      = "ckblob\x01\x00" // "ckblob", version 1, reserved
	fileHeaderSize = len(fileMagic) + 4 + 4
	slotMagic      = "ckch"
	slotHeaderSize = len(slotMagic) + 4 + 4
	// MaxChunkSize bounds a DirStore's chunk size (16 MiB; the envelope
	// seals 64 KiB + 16).
	MaxChunkSize = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Dir opens the directory store at root, creating root (0700) if needed and
// tightening it to 0700 if others may read it. chunkSize is the largest
// chunk Put accepts (the envelope's sealed chunk: 64 KiB + 16 bytes).
func Dir(root string, chunkSize int) (*DirStore, error) {
	if chunkSize < 1 || chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d (1 to %d bytes)", ErrInvalid, chunkSize, MaxChunkSize)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("blob directory %s: not a directory", root)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(root, fi.Mode().Perm()&0o700); err != nil {
			return nil, fmt.Errorf("blob directory: %w", err)
		}
	}
	return &DirStore{root: root, chunkSize: chunkSize}, nil
}

// Root is the store's directory.
func (d *DirStore) Root() string { return d.root }

func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (d *DirStore) containerDir(tenant, container string) string {
	return filepath.Join(d.root, hashName(tenant), hashName(container))
}

func (d *DirStore) file(r Ref) string {
	return filepath.Join(d.containerDir(r.Tenant, r.Container), hex.EncodeToString([]byte(r.ID)))
}

// idOfFile is the blob ID a file name in a container directory stands for
// ("" if the name is not one DirStore makes).
func idOfFile(name string) string {
	b, err := hex.DecodeString(name)
	if err != nil || hex.EncodeToString(b) != name { // lower-case hex only
		return ""
	}
	if CheckName("blob ID", string(b), MaxID) != nil {
		return ""
	}
	return string(b)
}

func (d *DirStore) buf(n int) *[]byte {
	if p, ok := d.bufs.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, max(n, slotHeaderSize+d.chunkSize))
	return &b
}

// Put writes the chunk into its slot, creating the file and its directories
// as needed.
func (d *DirStore) Put(ctx context.Context, r Ref, seq int64, chunk []byte) error {
	if err := CheckRef(r); err != nil {
		return err
	}
	if err := CheckSeq(seq); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := d.file(r)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(name), 0o700); err == nil {
			f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	defer f.Close()
	size, err := d.header(f, true)
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	if len(chunk) > size {
		return fmt.Errorf("%w: blob %s: chunk %d of %d bytes is larger than the store's chunk size (%d)", ErrInvalid, r, seq, len(chunk), size)
	}
	off, err := slotOffset(seq, size)
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	p := d.buf(slotHeaderSize + len(chunk))
	defer d.bufs.Put(p)
	b := *p
	putSlotHeader(b, seq, chunk)
	copy(b[slotHeaderSize:], chunk)
	if _, err := f.WriteAt(b, off); err != nil {
		return fmt.Errorf("blob %s: chunk %d: %w", r, seq, err)
	}
	return nil
}

// slotOffset is where chunk seq's slot starts in a file of chunk size size.
func slotOffset(seq int64, size int) (int64, error) {
	slot := int64(slotHeaderSize + size)
	if seq > (1<<62)/slot {
		return 0, fmt.Errorf("%w: chunk %d is beyond the largest file", ErrInvalid, seq)
	}
	return int64(fileHeaderSize) + seq*slot, nil
}

// header reads the file header and returns the chunk size it records; if
// the file has none yet and create is set, it writes one with the store's
// chunk size.
func (d *DirStore) header(f *os.File, create bool) (int, error) {
	var h [fileHeaderSize]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && err != io.EOF {
		return 0, err
	}
	if n == fileHeaderSize && h != [fileHeaderSize]byte{} {
		return parseFileHeader(h[:])
	}
	if n > 0 && h != [fileHeaderSize]byte{} {
		return 0, fmt.Errorf("%w: file header of %d bytes", ErrCorrupt, n)
	}
	if !create {
		return 0, ErrNotFound
	}
	// A new file, or one another goroutine is creating: both write the
	// same header.
	h = fileHeader(d.chunkSize)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return 0, err
	}
	return d.chunkSize, nil
}

func fileHeader(chunkSize int) [fileHeaderSize]byte {
	var h [fileHeaderSize]byte
	copy(h[:], fileMagic)
	binary.BigEndian.PutUint32(h[len(fileMagic):], uint32(chunkSize))
	binary.BigEndian.PutUint32(h[len(fileMagic)+4:], crc32.Checksum(h[:len(fileMagic)+4], castagnoli))
	return h
}

// parseFileHeader returns the chunk size a blob file's header records.
func parseFileHeader(h []byte) (int, error) {
	if len(h) < fileHeaderSize || string(h[:len(fileMagic)]) != fileMagic {
		return 0, fmt.Errorf("%w: not a blob file (bad magic)", ErrCorrupt)
	}
	if crc32.Checksum(h[:len(fileMagic)+4], castagnoli) != binary.BigEndian.Uint32(h[len(fileMagic)+4:]) {
		return 0, fmt.Errorf("%w: file header checksum", ErrCorrupt)
	}
	size := binary.BigEndian.Uint32(h[len(fileMagic):])
	if size < 1 || size > MaxChunkSize {
		return 0, fmt.Errorf("%w: chunk size %d in the file header", ErrCorrupt, size)
	}
	return int(size), nil
}

func slotSum(seq int64, chunk []byte) uint32 {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(seq))
	return crc32.Update(crc32.Checksum(s[:], castagnoli), castagnoli, chunk)
}

func putSlotHeader(b []byte, seq int64, chunk []byte) {
	copy(b, slotMagic)
	binary.BigEndian.PutUint32(b[len(slotMagic):], uint32(len(chunk)))
	binary.BigEndian.PutUint32(b[len(slotMagic)+4:], slotSum(seq, chunk))
}

// parseSlot returns the chunk in slot bytes b (read from the slot's start,
// up to a whole slot or the end of the file) of chunk seq, in a file of
// chunk size size. A slot of zeros, or one past the end of the file, is
// ErrNotFound: the chunk was never written.
func parseSlot(b []byte, seq int64, size int) ([]byte, error) {
	if len(b) < slotHeaderSize {
		if allZero(b) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: chunk %d: slot header cut short", ErrCorrupt, seq)
	}
	if string(b[:len(slotMagic)]) != slotMagic {
		if allZero(b[:slotHeaderSize]) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: chunk %d: bad slot magic", ErrCorrupt, seq)
	}
	n := binary.BigEndian.Uint32(b[len(slotMagic):])
	if uint64(n) > uint64(size) {
		return nil, fmt.Errorf("%w: chunk %d: length %d exceeds the chunk size %d", ErrCorrupt, seq, n, size)
	}
	if len(b) < slotHeaderSize+int(n) {
		return nil, fmt.Errorf("%w: chunk %d: %d of %d bytes present", ErrCorrupt, seq, len(b)-slotHeaderSize, n)
	}
	chunk := b[slotHeaderSize : slotHeaderSize+int(n)]
	if slotSum(seq, chunk) != binary.BigEndian.Uint32(b[len(slotMagic)+4:]) {
		return nil, fmt.Errorf("%w: chunk %d: checksum (a torn write not followed by Commit?)", ErrCorrupt, seq)
	}
	return chunk, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Commit fsyncs the blob's file and the directories that lead to it (which
// its first Put may have created).
func (d *DirStore) Commit(ctx context.Context, r Ref) error {
	if err := CheckRef(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := d.file(r)
	if err := syncPath(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob %s: commit: no chunk written: %w", r, ErrNotFound)
		}
		return fmt.Errorf("blob %s: commit: %w", r, err)
	}
	for dir := filepath.Dir(name); ; dir = filepath.Dir(dir) {
		if err := syncPath(dir); err != nil {
			return fmt.Errorf("blob %s: commit: %w", r, err)
		}
		if dir == d.root {
			return nil
		}
	}
}

func syncPath(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Read reads each chunk's slot into one buffer and hands the chunk to fn.
func (d *DirStore) Read(ctx context.Context, r Ref, from, to int64, fn func(seq int64, chunk []byte) error) error {
	if err := CheckRef(r); err != nil {
		return err
	}
	if err := CheckRange(from, to); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if from == to {
		return nil
	}
	f, err := os.Open(d.file(r))
	if errors.Is(err, fs.ErrNotExist) {
		return Missing(r, from)
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	defer f.Close()
	size, err := d.header(f, false)
	if errors.Is(err, ErrNotFound) {
		return Missing(r, from)
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	p := d.buf(slotHeaderSize + size)
	defer d.bufs.Put(p)
	b := *p
	for seq := from; seq < to; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		off, err := slotOffset(seq, size)
		if err != nil {
			return fmt.Errorf("blob %s: %w", r, err)
		}
		n, err := f.ReadAt(b, off)
		if err != nil && err != io.EOF {
			return fmt.Errorf("blob %s: chunk %d: %w", r, seq, err)
		}
		chunk, err := parseSlot(b[:n], seq, size)
		if errors.Is(err, ErrNotFound) {
			return Missing(r, seq)
		}
		if err != nil {
			return fmt.Errorf("blob %s: %w", r, err)
		}
		if err := fn(seq, chunk); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the blob's file and makes the removal durable.
func (d *DirStore) Delete(ctx context.Context, r Ref) error {
	if err := CheckRef(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := d.file(r)
	err := os.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob %s: delete: %w", r, err)
	}
	if err := syncPath(filepath.Dir(name)); err != nil {
		return fmt.Errorf("blob %s: delete: %w", r, err)
	}
	return nil
}

// DeleteContainer removes the container's directory and makes the removal
// durable. Files removed this way are unlinked, not overwritten: what stays
// on the disk is ciphertext whose keys the purge destroys.
func (d *DirStore) DeleteContainer(ctx context.Context, tenant, container string) (int, error) {
	ids, err := d.List(ctx, tenant, container)
	if err != nil {
		return 0, err
	}
	dir := d.containerDir(tenant, container)
	if err := os.RemoveAll(dir); err != nil {
		return 0, fmt.Errorf("blob container %s/%s: delete: %w", tenant, container, err)
	}
	if err := syncPath(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob container %s/%s: delete: %w", tenant, container, err)
	}
	return len(ids), nil
}

// List reads the container's directory: file names are the IDs in hex, so
// os.ReadDir's order (by name) is the IDs' byte order.
func (d *DirStore) List(ctx context.Context, tenant, container string) ([]string, error) {
	if err := CheckName("tenant", tenant, MaxName); err != nil {
		return nil, err
	}
	if err := CheckName("container", container, MaxName); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.containerDir(tenant, container))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob container %s/%s: list: %w", tenant, container, err)
	}
	var ids []string
	for _, e := range entries {
		if id := idOfFile(e.Name()); id != "" && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

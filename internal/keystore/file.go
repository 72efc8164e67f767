package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// fileFormat names the layout of the keystore file (docs/format.md).
const fileFormat = "customerkey keystore v1"

// fileDoc is the keystore file: every version ever made, the destroyed
// ones without their key.
type fileDoc struct {
	Format   string        `json:"format"`
	Current  Version       `json:"current"`
	Versions []fileVersion `json:"versions"`
}

type fileVersion struct {
	Version   Version    `json:"version"`
	Created   time.Time  `json:"created"`
	Destroyed *time.Time `json:"destroyed,omitempty"`
	Key       string     `json:"key,omitempty"` // 64 hex characters; gone once destroyed
}

// File is the file keystore: the KEKs in one file, mode 0600, rewritten
// atomically (a temporary file in the same directory, fsync, rename, fsync
// of the directory) on every Rotate and Destroy. One process owns the
// file; several service nodes need a PKCS#11 token they share instead.
type File struct {
	path string

	mu       sync.RWMutex
	doc      fileDoc
	aeads    map[Version]cipher.AEAD
	testHook func(stage string) // test only: called between the steps of a write
}

var _ Keystore = (*File)(nil)

// OpenFile opens the file keystore at path; a missing file is an empty
// keystore, written on the first Rotate.
func OpenFile(path string) (*File, error) {
	f := &File{path: path, aeads: map[Version]cipher.AEAD{}, doc: fileDoc{Format: fileFormat}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore file: %w", err)
	}
	defer clear(data)
	if err := json.Unmarshal(data, &f.doc); err != nil {
		return nil, fmt.Errorf("keystore file %s: %w", path, err)
	}
	if f.doc.Format != fileFormat {
		return nil, fmt.Errorf("keystore file %s: format %q, want %q", path, f.doc.Format, fileFormat)
	}
	for _, v := range f.doc.Versions {
		if v.Destroyed != nil {
			continue
		}
		raw, err := hex.DecodeString(v.Key)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("keystore file %s: version %d: want a 64-hex-character key", path, v.Version)
		}
		f.aeads[v.Version], err = newGCM(raw)
		clear(raw)
		if err != nil {
			return nil, err
		}
	}
	if f.doc.Current != 0 && f.aeads[f.doc.Current] == nil {
		return nil, fmt.Errorf("keystore file %s: the current version %d has no key", path, f.doc.Current)
	}
	return f, nil
}

func newGCM(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Current is the version new seals use.
func (f *File) Current(context.Context) (Version, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.doc.Current, nil
}

func (f *File) aead(v Version) (cipher.AEAD, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if a := f.aeads[v]; a != nil {
		return a, nil
	}
	for _, x := range f.doc.Versions {
		if x.Version == v {
			return nil, fmt.Errorf("%w: %d", ErrDestroyed, v)
		}
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownVersion, v)
}

// Seal encrypts under version v.
func (f *File) Seal(_ context.Context, v Version, plaintext, aad []byte) ([]byte, error) {
	a, err := f.aead(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	rand.Read(out)
	return a.Seal(out, out, plaintext, aad), nil
}

// Open decrypts under version v.
func (f *File) Open(_ context.Context, v Version, sealed, aad []byte) ([]byte, error) {
	a, err := f.aead(v)
	if err != nil {
		return nil, err
	}
	if len(sealed) < nonceSize+tagSize {
		return nil, errAuth
	}
	out, err := a.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, errAuth
	}
	return out, nil
}

// Rotate makes a new version current.
func (f *File) Rotate(context.Context) (Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.doc.Current + 1
	for _, x := range f.doc.Versions {
		if x.Version >= next {
			next = x.Version + 1
		}
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	defer clear(raw)
	a, err := newGCM(raw)
	if err != nil {
		return 0, err
	}
	doc := f.doc
	doc.Versions = append(append([]fileVersion{}, f.doc.Versions...), fileVersion{Version: next, Created: time.Now().UTC(), Key: hex.EncodeToString(raw)})
	doc.Current = next
	if err := f.write(doc); err != nil {
		return 0, err
	}
	f.doc, f.aeads[next] = doc, a
	return next, nil
}

// Destroy destroys every version up to upTo: their keys leave the file
// (which is rewritten) and the process.
func (f *File) Destroy(_ context.Context, upTo Version) ([]Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if upTo >= f.doc.Current && f.doc.Current != 0 {
		return nil, fmt.Errorf("%w (version %d)", ErrCurrent, f.doc.Current)
	}
	doc := f.doc
	doc.Versions = append([]fileVersion{}, f.doc.Versions...)
	var gone []Version
	now := time.Now().UTC()
	for i, x := range doc.Versions {
		if x.Version <= upTo && x.Destroyed == nil {
			doc.Versions[i].Destroyed, doc.Versions[i].Key = &now, ""
			gone = append(gone, x.Version)
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	if err := f.write(doc); err != nil {
		return nil, err
	}
	f.doc = doc
	for _, v := range gone {
		delete(f.aeads, v)
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i] < gone[j] })
	return gone, nil
}

// write replaces the file with doc, atomically: a crash leaves the old
// file or the new one, never a mix.
func (f *File) write(doc fileDoc) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	defer clear(data)
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	f.hook("written")
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore file: sync %s: %w", dir, err)
	}
	return nil
}

func (f *File) hook(stage string) {
	if f.testHook != nil {
		f.testHook(stage)
	}
}

// Close drops the keys from memory.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.aeads)
	for i := range f.doc.Versions {
		f.doc.Versions[i].Key = ""
	}
	return nil
}

// Package blob keeps the sealed content of large items: a blob is a
// sequence of numbered chunks of ciphertext (the chunks of the envelope's
// stream format, docs/format.md), written in any order and read back in
// ranges, so neither an upload nor a download ever holds a whole item.
//
// A Store never sees plaintext or keys: the caller seals each chunk before
// Put and opens it after Read. Two kinds of store exist:
//
//   - the service database (sqlstore's DB.Blobs: SQLite embedded, PostgreSQL
//     at scale, so every node over one database sees the same blobs), one row
//     per chunk;
//   - a directory on disk (Dir) for a single node, one file per blob.
//
// Both pass the conformance suite in blobtest. The interface is small on
// purpose, so an S3-compatible store (one object per chunk, or multipart
// uploads committed by Commit) can join them later.
//
// Typical use, writing then reading a blob of n sealed chunks:
//
//	r := blob.Ref{Tenant: t, Container: c, ID: randomHex}
//	for seq, chunk := range sealedChunks {
//		err = st.Put(ctx, r, int64(seq), chunk)
//	}
//	err = st.Commit(ctx, r)
//	err = st.Read(ctx, r, 0, n, func(seq int64, chunk []byte) error {
//		return open(seq, chunk) // chunk is valid during the call only
//	})
package blob

import (
	"context"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Ref names a blob: its tenant, its container and its ID (unique within
// the container; the service makes IDs random, e.g. 16 bytes hex). Names
// are compared exactly (byte for byte): pass the container's canonical ID,
// as the service store keeps it (mailbox IDs lower-cased).
type Ref struct{ Tenant, Container, ID string }

func (r Ref) String() string { return r.Tenant + "/" + r.Container + "/" + r.ID }

// Limits of a Ref's names (CheckRef), the same for every store: a
// directory names a blob's file by its ID in hex, and a file name holds
// at most 255 bytes.
const (
	MaxName = 1024 // tenant and container, in bytes
	MaxID   = 120  // blob ID, in bytes
)

// A Store keeps blobs as numbered chunks of sealed bytes (ciphertext only;
// never plaintext). Every chunk of a blob but the last has the same size;
// chunks are written in any order and may be rewritten (a retried upload
// part rewrites its chunks). Stores are safe for concurrent use, Puts of
// one blob at different seqs included.
type Store interface {
	// Put stores chunk seq (0-based) of a blob, replacing it if present.
	Put(ctx context.Context, r Ref, seq int64, chunk []byte) error
	// Commit makes the chunks written so far durable (fsync for a
	// directory; nothing for a database, where each Put is a transaction).
	Commit(ctx context.Context, r Ref) error
	// Read calls fn with chunks from..to-1 of a blob, in order; a chunk that
	// is missing is an error wrapping ErrNotFound (so is a blob that does
	// not exist). fn's slice is valid only during the call; an error from
	// fn ends the read and is returned as it is. from == to reads nothing.
	Read(ctx context.Context, r Ref, from, to int64, fn func(seq int64, chunk []byte) error) error
	// Delete removes a blob (no error if it does not exist).
	Delete(ctx context.Context, r Ref) error
	// DeleteContainer removes every blob of a container (the purge); it
	// returns how many.
	DeleteContainer(ctx context.Context, tenant, container string) (int, error)
	// List lists the IDs of a container's blobs, sorted (the cleanup of
	// orphans).
	List(ctx context.Context, tenant, container string) ([]string, error)
}

// Sentinel errors, wrapped with what was asked.
var (
	// ErrNotFound: a chunk (or the whole blob) does not exist.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalid: a Ref, a seq, a range or a chunk breaks the rules of
	// this package (CheckRef, CheckRange); a caller's bug, never a user's.
	ErrInvalid = errors.New("blob: invalid argument")
	// ErrCorrupt: stored bytes are not what a store wrote (a torn write
	// not followed by Commit, or a file changed behind the store's back).
	ErrCorrupt = errors.New("blob: corrupt")
)

// CheckRef checks r against the rules every store applies: each name is
// non-empty UTF-8 without control characters, tenant and container at most
// MaxName bytes, the ID at most MaxID bytes.
func CheckRef(r Ref) error {
	if err := CheckName("tenant", r.Tenant, MaxName); err != nil {
		return err
	}
	if err := CheckName("container", r.Container, MaxName); err != nil {
		return err
	}
	return CheckName("blob ID", r.ID, MaxID)
}

// CheckName checks one name of a Ref (what is "tenant", "container" or
// "blob ID"), as CheckRef does.
func CheckName(what, name string, max int) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s (a blob names its tenant, container and ID)", ErrInvalid, what)
	case len(name) > max:
		return fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrInvalid, what, len(name), max)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s %q is not UTF-8", ErrInvalid, what, name)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return fmt.Errorf("%w: %s %q holds a control character", ErrInvalid, what, name)
		}
	}
	return nil
}

// CheckRange checks a Read's range: 0 <= from <= to.
func CheckRange(from, to int64) error {
	if from < 0 || to < from {
		return fmt.Errorf("%w: chunk range [%d, %d) (want 0 <= from <= to)", ErrInvalid, from, to)
	}
	return nil
}

// CheckSeq checks a Put's chunk number: seq >= 0.
func CheckSeq(seq int64) error {
	if seq < 0 {
		return fmt.Errorf("%w: chunk %d (chunks are numbered from 0)", ErrInvalid, seq)
	}
	return nil
}

// Missing is the error for chunk seq of r that is not stored.
func Missing(r Ref, seq int64) error {
	return fmt.Errorf("blob %s: chunk %d: %w", r, seq, ErrNotFound)
}

package workload

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Content of any size (SPEC D8). An item whose content fits in one chunk
// (64 KiB) is sealed in one piece and kept in its row, as always; a larger
// one is sealed chunk by chunk as it arrives (envelope.Stream) into a blob
// of its container (internal/blob), with the header, the sealed summary
// (size and SHA-256) and the blob's ID in its row. Neither a write nor a
// read holds more than a chunk or two of it. Every large write is an
// upload (store.Upload) from its first chunk to its commit, so a write cut
// off by a crash leaves a row the cleanup finds, never a blob no one knows.

// PutOptions are a write's options.
type PutOptions struct {
	// SHA256 is the content's digest as the writer declares it (32 bytes,
	// or none): the item is stored only if the content has it.
	SHA256 []byte
}

// Content is an item's content, opened for reading: its size and digest
// are known before a byte is read. Close destroys its keys.
type Content struct {
	Item   store.Item // as stored; ID is the item's name
	Size   int64
	SHA256 [sha256.Size]byte
	small  []byte           // an item sealed in one piece, opened
	st     *envelope.Stream // a chunked item's stream
	blobs  blob.Store
	ref    blob.Ref
	fail   func(error) error
	guard  *guard // a user's read: asked between chunks (nil: none)
	done   func() // gives back its stream's slot (Streams; nil: none)
	// statOnly: opened by Stat, without a slot, for its headers only.
	statOnly bool
}

// Close wipes what Content holds.
func (c *Content) Close() {
	clear(c.small)
	if c.st != nil {
		c.st.Close()
	}
	if c.done != nil {
		c.done()
	}
}

// Copy writes n bytes of the content from offset off to w (n < 0: to the
// end), reading and opening only the chunks that hold them.
func (c *Content) Copy(ctx context.Context, w io.Writer, off, n int64) error {
	if off < 0 || off > c.Size {
		return rule.New(rule.KindRange, client.RuleContentRange, "ask for bytes within the content's size", "offset %d is outside the content's %d bytes", off, c.Size)
	}
	if n < 0 || n > c.Size-off {
		n = c.Size - off
	}
	if c.st == nil {
		_, err := w.Write(c.small[off : off+n])
		return err
	}
	if n == 0 {
		return nil
	}
	if c.statOnly {
		return errors.New("workload: content opened by Stat is not read: open it with Open")
	}
	first, last := off/envelope.ChunkSize, (off+n-1)/envelope.ChunkSize
	lastChunk := envelope.Chunks(c.Size) - 1
	buf := make([]byte, 0, envelope.ChunkSize)
	defer clear(buf[:cap(buf)])
	return c.blobs.Read(ctx, c.ref, first, last+1, func(seq int64, sealed []byte) error {
		if err := c.guard.check(ctx); err != nil { // still the caller's, and the DEP's (guard.go)
			return err
		}
		pt, err := c.st.OpenChunk(buf[:0], uint64(seq), sealed, seq == lastChunk)
		if err != nil || int64(len(sealed)) != envelope.SealedSize(c.Size, seq) {
			return c.fail(fmt.Errorf("chunk %d: %w", seq, envelope.ErrOpen))
		}
		lo, hi := int64(0), int64(len(pt))
		if seq == first {
			lo = off - first*envelope.ChunkSize
		}
		if seq == last {
			hi = off + n - seq*envelope.ChunkSize
		}
		_, err = w.Write(pt[lo:hi])
		return err
	})
}

// Put writes a new version of an item (kind "" is the space's default)
// from body, sealed under a fresh item key. Content is not kept.
func (s *Service) Put(ctx context.Context, t store.ServiceTenant, r Ref, id, kind string, body io.Reader, o PutOptions) (store.Item, error) {
	sp := spaces[r.Space]
	if err := checkItemName(r, id); err != nil {
		return store.Item{}, err
	}
	if kind == "" {
		kind = sp.itemKind
	}
	if len(o.SHA256) != 0 && len(o.SHA256) != sha256.Size {
		return store.Item{}, rule.Invalid(client.RuleContentDigest, "give the SHA-256 of the content (32 bytes)", "a digest of %d bytes is not a SHA-256", len(o.SHA256))
	}
	// A transfer until the head is in: a body that comes slowly (or a
	// byte a minute) holds its head buffer for as long, so it holds a
	// slot too (Streams); content that turns out small gives it back at
	// once.
	done, err := s.streams.take(t.ID)
	if err != nil {
		return store.Item{}, err
	}
	defer done()
	hp := heads.Get().(*[]byte)
	head := *hp
	n, err := io.ReadFull(body, head)
	defer func() { clear(head[:n]); heads.Put(hp) }()
	small := err == io.EOF || err == io.ErrUnexpectedEOF
	if err != nil && !small {
		return store.Item{}, err
	}
	if small { // one chunk or less: one piece
		done()
		return s.putSmall(ctx, t, r, id, kind, head[:n], o)
	}
	m, version, _, err := s.nextVersion(ctx, t, r, id, true)
	if err != nil {
		return store.Item{}, err
	}
	ck, g, err := s.keyGuarded(ctx, t, r, m, "write "+sp.item)
	if err != nil {
		return store.Item{}, err
	}
	defer ck.Destroy()
	u, st, err := s.begin(ctx, t, m, ck, r, id, kind, version, -1, o.SHA256)
	if err != nil {
		return store.Item{}, err
	}
	defer st.Close()
	// The write holds a claim on its upload while it streams, however
	// long it takes: the cleanup of abandoned uploads leaves it alone.
	claim, stopClaim, err := s.holdClaim(ctx, u)
	if err != nil {
		s.abandon(ctx, u, "")
		return store.Item{}, err
	}
	defer stopClaim()
	h := sha256.New()
	p := s.storeBehind(ctx, blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob})
	w := st.Writer(0, -1, p.put)
	defer w.Discard() // wipes the plaintext it holds on every path (after Close: nothing)
	// The body is read as it comes, for as long as the writer takes: its
	// guard stops it if the caller or the DEP is revoked meanwhile.
	size, err := copyWiped(io.MultiWriter(h, w), io.MultiReader(bytes.NewReader(head[:n]), guardedReader{ctx, body, g}))
	if err == nil {
		err = w.Close()
	}
	if perr := p.close(); err == nil {
		err = perr
	}
	if err != nil {
		s.abandon(ctx, u, claim)
		return store.Item{}, err
	}
	return s.commit(ctx, t, r, m, u, claim, st, size, h)
}

// putSmall writes content (one chunk or less) as the next version of an
// item, in one piece. A site's version is a new item, written once. An
// item kept in place (mailbox items, records) is written only over the
// version it was read at, so two writes never store the same version
// and the version replaced is the one whose blob goes; a write that lost
// that race is written again after the winner. A small write needs no
// look at uploads in progress: one of the same version that commits later
// finds this version stored and gives way (CommitUpload).
func (s *Service) putSmall(ctx context.Context, t store.ServiceTenant, r Ref, id, kind string, content []byte, o PutOptions) (store.Item, error) {
	sp := spaces[r.Space]
	if err := checkDigest(o.SHA256, sha256.Sum256(content)); err != nil {
		return store.Item{}, err
	}
	if r.Space != Sites {
		defer s.writing.lock(t.ID + "\x00" + r.id() + "\x00" + id)()
	}
	for attempt := 1; ; attempt++ {
		m, version, prevBlob, err := s.nextVersion(ctx, t, r, id, r.Space == Sites)
		if err != nil {
			return store.Item{}, err
		}
		ck, err := s.Key(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: "write " + sp.item + " in " + m.ID + " by " + tenant.Actor(tenant.Caller(ctx))})
		if err != nil {
			return store.Item{}, err
		}
		stored := storedID(r, id, version)
		sealed, err := envelope.Seal(ck, KeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: stored, Version: version}, content)
		ck.Destroy()
		if err != nil {
			return store.Item{}, err
		}
		it := store.Item{Tenant: t.ID, Mailbox: m.ID, ID: stored, Kind: kind, Version: version, Sealed: sealed, Created: s.now().UTC(), ContentSize: int64(len(content)),
			KeyVersion: m.KeyVersion} // written only under the key it is sealed with: a move meanwhile writes it again
		ws := []store.ItemWrite{{Item: it, Prev: version - 1}}
		switch r.Space {
		case Sites: // a new item: never over another's
			ws[0].Prev = 0
		case Mailboxes: // with its mark for the search index: a catch-up sees both or neither
			ws = append(ws, store.ItemWrite{Item: s.pendingMark(t, m, id), Put: true})
		}
		err = s.st.WriteItems(ctx, ws)
		switch {
		case errors.Is(err, store.ErrConflict) && s.moved(ctx, t, m) && attempt < 16:
			continue // sealed under the key version before a move: again, under the new one
		case errors.Is(err, store.ErrConflict) && r.Space == Sites:
			return store.Item{}, rule.Conflict(client.RuleUploadNewer, "write it again: it becomes the next version", "another version %d of file %q was written at the same moment", version, id)
		case errors.Is(err, store.ErrConflict) && attempt < 16:
			// Another write of the item landed first: this one goes after
			// it, after a random pause that grows, so writers of one item
			// do not keep colliding.
			select {
			case <-ctx.Done():
				return store.Item{}, ctx.Err()
			case <-time.After(time.Duration(mrand.N(attempt*500)) * time.Microsecond):
			}
			continue
		case errors.Is(err, store.ErrConflict):
			return store.Item{}, rule.Conflict(client.RuleUploadNewer, "write it again", "%s %q is being written by others without pause", sp.item, id)
		case err != nil:
			return store.Item{}, err
		}
		s.written(ctx, t, r, m, prevBlob, id, true)
		it.Size, it.ID = len(sealed), id
		return it, nil
	}
}

// moved reports whether container m is no longer at the key version it
// was read at (a move gave it a new one).
func (s *Service) moved(ctx context.Context, t store.ServiceTenant, m store.Mailbox) bool {
	now, err := s.st.Mailbox(ctx, t.ID, m.ID)
	return err == nil && now.KeyVersion != m.KeyVersion
}

// checkItemName checks an item's name as the API gives it.
func checkItemName(r Ref, id string) error {
	sp := spaces[r.Space]
	if !itemIDRE.MatchString(id) || r.Space == Sites && strings.Contains(id, "@") {
		return rule.Invalid(sp.itemRule, "use 1-128 letters, digits, '.', '_' or '-'", "%s %q is invalid", sp.item, id)
	}
	return nil
}

// storedID is the ID an item's version is stored under: a site's file
// versions are items of their own.
func storedID(r Ref, id string, version uint32) string {
	if r.Space == Sites {
		return fmt.Sprintf("%s@%06d", id, version)
	}
	return id
}

// heads are the buffers a write reads its first chunk (and a byte) into,
// to tell a small item from a large one.
var heads = sync.Pool{New: func() any { b := make([]byte, envelope.ChunkSize+1); return &b }}

// nextVersion resolves the container a write goes to and the version it
// writes: one past the stored one (and, with uploads, past every upload
// in progress).
//
// prevBlob is the blob of the version stored now, which a write in place
// (mailbox items, records) replaces; a site's versions are items of
// their own and keep theirs.
func (s *Service) nextVersion(ctx context.Context, t store.ServiceTenant, r Ref, id string, uploads bool) (m store.Mailbox, version uint32, prevBlob string, err error) {
	switch r.Space {
	case Mailboxes: // the mailbox and the item's version in one query
		m, version, prevBlob, err = s.st.MailboxItemVersion(ctx, t.ID, r.id(), id)
		m, err = s.ofKind(t, r, m, err)
	case Sites:
		if m, err = s.resolve(ctx, t, r); err == nil {
			var versions []store.Item
			versions, err = s.fileVersions(ctx, t, m.ID, id)
			if len(versions) > 0 { // by number: a cancelled upload leaves a gap
				version = versions[len(versions)-1].Version
			}
		}
	case Records:
		if m, err = s.resolve(ctx, t, r); err == nil {
			var it store.Item
			if it, err = s.st.Item(ctx, t.ID, m.ID, id); errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			version, prevBlob = it.Version, it.Blob
		}
	}
	if err != nil || !uploads {
		return m, version + 1, prevBlob, err
	}
	vs, err := s.st.UploadVersions(ctx, t.ID, m.ID, id)
	if err != nil {
		return m, 0, "", err
	}
	for _, v := range vs {
		version = max(version, v)
	}
	return m, version + 1, prevBlob, nil
}

// written follows a write: the version it replaced loses its blob, and a
// mailbox's search index catches up (marked: the write marked its item in
// its own transaction; otherwise it is marked again now).
func (s *Service) written(ctx context.Context, t store.ServiceTenant, r Ref, m store.Mailbox, prevBlob, id string, marked bool) {
	if prevBlob != "" && r.Space != Sites {
		s.dropBlob(ctx, blob.Ref{Tenant: t.ID, Container: m.ID, ID: prevBlob})
	}
	switch {
	case r.Space != Mailboxes:
	case marked:
		s.indexSoon(t, m)
	default:
		s.itemChanged(ctx, t, m, id)
	}
}

// pending marks a mailbox item as due for the search index before it is
// written (search.go), so a write cut off is indexed by the next catch-up.
func (s *Service) pending(ctx context.Context, t store.ServiceTenant, r Ref, m store.Mailbox, id string) error {
	if r.Space != Mailboxes {
		return nil
	}
	return s.markPending(ctx, t, m, id)
}

// dropBlob deletes a blob no item refers to any more. If that fails, its
// chunks (sealed under the container's key) stay until the container is
// deleted or purged, which deletes every blob of it.
func (s *Service) dropBlob(ctx context.Context, b blob.Ref) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.blobs.Delete(ctx, b); err != nil {
		s.log.Warn("workload: a replaced blob was not deleted; the container's deletion will", "tenant", b.Tenant, "container", b.Container, "blob", b.ID, "err", err)
	}
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// begin starts an upload of a chunked item: its stream (fresh item key)
// and its row, before the first chunk is written.
func (s *Service) begin(ctx context.Context, t store.ServiceTenant, m store.Mailbox, ck *envelope.Key, r Ref, id, kind string, version uint32, size int64, want []byte) (store.Upload, *envelope.Stream, error) {
	st, err := envelope.NewStream(ck, KeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: storedID(r, id, version), Version: version})
	if err != nil {
		return store.Upload{}, nil, err
	}
	// The declared digest is kept sealed: in the clear, it would tell
	// anyone with the database whether the tenant holds a known file,
	// and outlive a purge in its copies.
	var sealedWant []byte
	if want != nil {
		if sealedWant, err = st.SealNote(append([]byte(wantNote), want...)); err != nil {
			st.Close()
			return store.Upload{}, nil, err
		}
	}
	now := s.now().UTC()
	u := store.Upload{Tenant: t.ID, ID: randomID(), Container: m.ID, Item: id, Kind: kind, Version: version, Blob: randomID(),
		Header: st.Header(), Size: size, WantSHA256: sealedWant, By: tenant.Caller(ctx).Subject, Created: now, Updated: now}
	if err := s.st.CreateUpload(ctx, u); errors.Is(err, store.ErrConflict) {
		st.Close()
		return u, nil, rule.Conflict(client.RuleUploadNewer, "write it again", "another write of %s %q began at the same moment", spaces[r.Space].item, id)
	} else if err != nil {
		st.Close()
		return u, nil, err
	}
	return u, st, nil
}

// wantNote starts the note an upload's declared digest is sealed in, so
// that it is never taken for the note of the digest so far.
const wantNote = "declared sha-256:"

// openWant opens an upload's declared digest (nil: none declared). An
// upload begun before digests were sealed holds it as it came, 32 bytes
// (no sealed note is that short): it finishes as it was begun.
func openWant(st *envelope.Stream, sealed []byte) ([]byte, error) {
	switch len(sealed) {
	case 0:
		return nil, nil
	case sha256.Size:
		return sealed, nil
	}
	note, err := st.OpenNote(sealed)
	if err != nil || len(note) != len(wantNote)+sha256.Size || string(note[:len(wantNote)]) != wantNote {
		return nil, envelope.ErrOpen
	}
	return note[len(wantNote):], nil
}

// behind stores a blob's sealed chunks from a goroutine of its own, so
// that reading and sealing the next chunks overlaps storing this one:
// the store's write is the slowest step of a large write. At most
// behindDepth chunks (ciphertext) wait; the first failure stops it and is
// what put and close return.
type behind struct {
	ch     chan sealedChunk
	failed chan struct{} // closed at the first failure, once err is set
	done   chan struct{} // closed when every chunk handed over is dealt with
	err    error
}

type sealedChunk struct {
	i   uint64
	buf *[]byte
}

const behindDepth = 4

var sealedBufs = sync.Pool{New: func() any { b := make([]byte, 0, envelope.ChunkSize+envelope.TagSize); return &b }}

func (s *Service) storeBehind(ctx context.Context, ref blob.Ref) *behind {
	b := &behind{ch: make(chan sealedChunk, behindDepth), failed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for c := range b.ch { // after a failure, only drained
			if b.err == nil {
				if b.err = s.blobs.Put(ctx, ref, int64(c.i), *c.buf); b.err != nil {
					close(b.failed)
				}
			}
			sealedBufs.Put(c.buf)
		}
	}()
	return b
}

// put hands a sealed chunk (copied: the caller reuses its slice) to the
// goroutine.
func (b *behind) put(i uint64, sealed []byte) error {
	select {
	case <-b.failed:
		return b.err
	default:
	}
	buf := sealedBufs.Get().(*[]byte)
	*buf = append((*buf)[:0], sealed...)
	select {
	case b.ch <- sealedChunk{i, buf}:
		return nil
	case <-b.failed:
		sealedBufs.Put(buf)
		return b.err
	}
}

// close waits until every chunk handed over is stored, and says whether
// all were.
func (b *behind) close() error {
	close(b.ch)
	<-b.done
	return b.err
}

// abandon deletes an upload that will not finish, with its chunks.
func (s *Service) abandon(ctx context.Context, u store.Upload, claim string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	// The row first, with the claim: if it is gone, or held by another
	// (a part sent again took the upload over, and may commit it), the
	// blob is not this write's to delete.
	if err := s.st.DeleteUpload(ctx, u.Tenant, u.ID, claim); errors.Is(err, store.ErrNotFound) {
		s.dropIfGone(ctx, u)
		return
	} else if err != nil {
		s.log.Warn("workload: an abandoned upload was not deleted; the cleanup will", "tenant", u.Tenant, "upload", u.ID, "err", err)
		return
	}
	if err := s.blobs.Delete(ctx, blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob}); err != nil {
		s.log.Warn("workload: an abandoned upload's chunks were not deleted; its container's deletion will", "tenant", u.Tenant, "upload", u.ID, "err", err)
	}
}

// dropIfGone deletes an upload's blob once its row is gone and no item
// holds the blob: cancelled, cleaned, or its container deleted or purged
// while this write stored chunks. Whoever removed the row deleted the
// blob then; the chunks this write stored after would be no one's. A row
// still there was taken over by a part sent again, whose blob it is; an
// item holding the blob is that part's commit (the row and the item go
// in one transaction, so one of the two is always seen).
func (s *Service) dropIfGone(ctx context.Context, u store.Upload) {
	if _, err := s.st.Upload(ctx, u.Tenant, u.ID); !errors.Is(err, store.ErrNotFound) {
		return
	}
	id := u.Item
	if strings.HasPrefix(u.Container, spaces[Sites].prefix) {
		id = storedID(SiteRef(""), u.Item, u.Version)
	}
	if it, err := s.st.Item(ctx, u.Tenant, u.Container, id); err == nil && it.Blob == u.Blob || err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	s.dropBlob(ctx, blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob})
}

// commit ends an upload whose size bytes are all sealed and stored: the
// digest is checked, the summary sealed, and the item written.
func (s *Service) commit(ctx context.Context, t store.ServiceTenant, r Ref, m store.Mailbox, u store.Upload, claim string, st *envelope.Stream, size int64, h hash.Hash) (store.Item, error) {
	sum := envelope.Summary{Size: size}
	h.Sum(sum.SHA256[:0])
	want, err := openWant(st, u.WantSHA256)
	if err != nil {
		s.abandon(ctx, u, claim)
		return store.Item{}, rule.Internal(client.RuleItemIntegrity, "write it again", "upload %s's declared digest does not open", u.ID)
	}
	if err := checkDigest(want, sum.SHA256); err != nil {
		s.abandon(ctx, u, claim)
		return store.Item{}, err
	}
	summary, err := st.SealSummary(sum)
	if err == nil {
		err = s.blobs.Commit(ctx, blob.Ref{Tenant: t.ID, Container: m.ID, ID: u.Blob})
	}
	if err != nil {
		s.abandon(ctx, u, claim)
		return store.Item{}, err
	}
	stored := storedID(r, u.Item, u.Version)
	// Committed only while the container is at the key version the
	// upload is sealed under (the parts checked it as they came): a move
	// meanwhile cancels it (T8).
	it := store.Item{Tenant: t.ID, Mailbox: m.ID, ID: stored, Kind: u.Kind, Version: u.Version, Sealed: u.Header, Created: s.now().UTC(),
		Blob: u.Blob, Summary: summary, ContentSize: size, KeyVersion: m.KeyVersion}
	if err := s.pending(ctx, t, r, m, u.Item); err != nil {
		s.abandon(ctx, u, claim)
		return store.Item{}, err
	}
	prevBlob, err := s.st.CommitUpload(ctx, it, u.ID, claim)
	if errors.Is(err, store.ErrConflict) {
		s.abandon(ctx, u, claim)
		sp := spaces[r.Space]
		if s.moved(ctx, t, m) {
			return store.Item{}, rule.Conflict(client.RuleUploadMoved, "write it again: the "+sp.container+" moved to another DEP (a roll or a re-assignment) while it was written", "%s %q was sealed under the %s's earlier key; it is not kept", sp.item, u.Item, sp.container)
		}
		return store.Item{}, rule.Conflict(client.RuleUploadNewer, "read the item: the newer version stands", "a newer version of %s %q was written while this one was uploaded", sp.item, u.Item)
	} else if errors.Is(err, store.ErrNotFound) {
		s.dropIfGone(ctx, u)
		if _, merr := s.st.Mailbox(ctx, t.ID, m.ID); errors.Is(merr, store.ErrNotFound) && r.Space == Mailboxes {
			// Its container deleted (or purged) meanwhile: the mark just
			// made for the search index is no one's either.
			if err := s.st.DeleteItem(context.WithoutCancel(ctx), t.ID, indexRow(m), pendingRow(u.Item)); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("workload: the index mark of a write to a deleted container stayed", "tenant", t.ID, "container", m.ID, "err", err)
			}
		}
		return store.Item{}, rule.NotFound(client.RuleUploadExists, "start the upload again", "the upload was cancelled or expired before it finished")
	} else if err != nil {
		return store.Item{}, err
	}
	s.written(ctx, t, r, m, prevBlob, u.Item, false)
	it.Size, it.ID = len(it.Sealed), u.Item
	return it, nil
}

// copyWiped is io.Copy of plaintext through a buffer of its own, wiped
// after: io.Copy (through the reader's WriteTo) leaves a 32 KiB buffer of
// the content for the garbage collector.
func copyWiped(dst io.Writer, src io.Reader) (int64, error) {
	return copyThrough(dst, src, make([]byte, 32<<10))
}

// copyThrough copies through buf only, and wipes it.
func copyThrough(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	defer clear(buf)
	return io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, buf)
}

// onlyReader and onlyWriter hide WriteTo and ReadFrom, so that
// io.CopyBuffer uses the buffer it is given.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

func checkDigest(want []byte, got [sha256.Size]byte) error {
	if len(want) != 0 && !bytes.Equal(want, got[:]) {
		return rule.Invalid(client.RuleContentDigest, "send the content again, or declare its right SHA-256", "the content's SHA-256 is %x, not the %x declared; nothing was stored", got, want)
	}
	return nil
}

// Open opens an item for reading: for a site, version 0 is the latest.
// The caller must Close it.
func (s *Service) Open(ctx context.Context, t store.ServiceTenant, r Ref, id string, version int) (*Content, error) {
	c, err := s.openItem(ctx, t, r, id, version)
	if err != nil || c.st == nil {
		return c, err
	}
	if c.done, err = s.streams.take(t.ID); err != nil { // chunked: a stream
		c.Close()
		return nil, err
	}
	return c, nil
}

// Stat opens an item for its size, digest and version only (a HEAD): as
// Open, with the same checks, but it takes no transfer slot, since none of
// the content is read; its Copy of chunked content is refused. The caller
// must Close it.
func (s *Service) Stat(ctx context.Context, t store.ServiceTenant, r Ref, id string, version int) (*Content, error) {
	c, err := s.openItem(ctx, t, r, id, version)
	if err == nil {
		c.statOnly = true
	}
	return c, err
}

// openItem is Open without its stream slot.
func (s *Service) openItem(ctx context.Context, t store.ServiceTenant, r Ref, id string, version int) (*Content, error) {
	if r.Space == Mailboxes {
		return s.openMailboxItem(ctx, t, r, id)
	}
	sp := spaces[r.Space]
	if r.Space == Records { // a read makes no workload container (a write does)
		if _, err := s.find(ctx, t, r); rule.Is(err, rule.KindNotFound) {
			return nil, rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q", sp.container, r.Name, sp.item, id)
		} else if err != nil {
			return nil, err
		}
	}
	m, ck, g, err := s.openGuarded(ctx, t, r, "read "+sp.item)
	if err != nil {
		return nil, err
	}
	defer ck.Destroy()
	var it store.Item
	if r.Space == Sites {
		versions, err := s.fileVersions(ctx, t, m.ID, id)
		if err != nil {
			return nil, err
		}
		found := false
		for _, v := range versions { // oldest first: the last is the latest
			if version == 0 || v.Version == uint32(version) {
				it, found = v, true
			}
		}
		if !found || version < 0 {
			return nil, rule.NotFound(sp.existsRule, sp.listFix, "site %s has no file %q version %d", r.Name, id, version)
		}
		if it, err = s.st.Item(ctx, t.ID, m.ID, it.ID); errors.Is(err, store.ErrNotFound) {
			return nil, rule.NotFound(sp.existsRule, sp.listFix, "site %s has no file %q version %d", r.Name, id, version)
		} else if err != nil {
			return nil, err
		}
	} else {
		it, err = s.st.Item(ctx, t.ID, m.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q", sp.container, r.Name, sp.item, id)
		} else if err != nil {
			return nil, err
		}
	}
	c, err := s.openContent(ck, t, m, it)
	if err != nil {
		return nil, err
	}
	c.Item.ID, c.guard = id, g
	return c, nil
}

// openContent opens a stored item of a container: one in one piece is
// decrypted now; a chunked one's header and summary are.
func (s *Service) openContent(ck *envelope.Key, t store.ServiceTenant, m store.Mailbox, it store.Item) (*Content, error) {
	ck, done, err := s.keyFor(t, m, ck, it.Sealed)
	if err != nil {
		return nil, err
	}
	defer done()
	c := &Content{Item: it, blobs: s.blobs, ref: blob.Ref{Tenant: t.ID, Container: m.ID, ID: it.Blob}}
	c.fail = func(err error) error {
		s.log.Error("workload: stored item does not open", "tenant", t.ID, "container", m.ID, "item", it.ID, "err", err)
		return rule.Internal(client.RuleItemIntegrity, "the operator should restore this item from backup", "%s of %s failed its integrity check", it.ID, m.ID)
	}
	want := envelope.Item{Tenant: t.ID, Container: m.ID, ID: it.ID, Version: it.Version}
	if it.Blob == "" {
		content, err := envelope.Open(ck, want, it.Sealed)
		if err != nil {
			return nil, c.fail(err)
		}
		c.small, c.Size, c.SHA256 = content, int64(len(content)), sha256.Sum256(content)
		return c, nil
	}
	st, err := envelope.OpenStream(ck, want, it.Sealed)
	if err != nil {
		return nil, c.fail(err)
	}
	sum, err := st.OpenSummary(it.Summary)
	if err != nil {
		st.Close()
		return nil, c.fail(err)
	}
	c.st, c.Size, c.SHA256 = st, sum.Size, sum.SHA256
	return c, nil
}

// readAll reads at most limit bytes of an item's content, with ctx for
// a chunked item's blob.
func (s *Service) readAll(ctx context.Context, ck *envelope.Key, t store.ServiceTenant, m store.Mailbox, it store.Item, limit int64) ([]byte, error) {
	c, err := s.openContent(ck, t, m, it)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if c.st == nil {
		return bytes.Clone(c.small[:min(int64(len(c.small)), limit)]), nil
	}
	var b bytes.Buffer
	err = c.Copy(ctx, &b, 0, limit)
	return b.Bytes(), err
}

// sha256State is the running digest of an upload, kept between parts.
type sha256State interface {
	hash.Hash
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

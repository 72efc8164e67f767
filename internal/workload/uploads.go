package workload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Resumable uploads (SPEC D8): a large file is sent as parts, each a PUT
// of whole chunks (the last part ends the content) at the offset the
// upload stands at; a part cut off is sent again from there. Each part is
// sealed as it arrives, so nothing but sealed chunks is ever stored; the
// running SHA-256 is kept between parts sealed under the item key. The
// last part commits the item.
//
// A nonce must never seal two plaintexts: chunk i's nonce is fixed by i,
// so one part writes at a time (a claim, renewed as it goes, lapsing
// claimLease after a part is cut off), and a part sent again over chunks
// a cut-off part may have sealed must carry the same bytes there (each is
// opened and compared before it is sealed again).
const (
	claimLease = 30 * time.Second
	// claimMargin: every store write of a part ends this long before its
	// claim lapses (its context's deadline), so a part that stalled can
	// never land a chunk after another part took the upload over, even
	// with the nodes' clocks this far apart.
	claimMargin = 10 * time.Second
	// An upload left unfinished lasts a day: these bound what one tenant
	// can keep open meanwhile. Each write of a file reads its open
	// uploads (their versions), so without a bound per file a tenant
	// that began thousands made every write of it slower.
	maxUploadsPerFile   = 16
	maxUploadsPerTenant = 10000
)

// BeginUpload starts a resumable upload of size bytes for an item.
func (s *Service) BeginUpload(ctx context.Context, t store.ServiceTenant, r Ref, id, kind string, size int64, o PutOptions) (store.Upload, error) {
	sp := spaces[r.Space]
	if err := checkItemName(r, id); err != nil {
		return store.Upload{}, err
	}
	if size <= envelope.ChunkSize || envelope.Chunks(size) > 1<<32 {
		return store.Upload{}, rule.Invalid(client.RuleUploadSize, "upload content of 64 KiB or less with one PUT", "an upload is for 64 KiB (65536 bytes) to 256 TiB; %d bytes given", size)
	}
	if len(o.SHA256) != 0 && len(o.SHA256) != sha256.Size {
		return store.Upload{}, rule.Invalid(client.RuleContentDigest, "give the SHA-256 of the content (32 bytes)", "a digest of %d bytes is not a SHA-256", len(o.SHA256))
	}
	if kind == "" {
		kind = sp.itemKind
	}
	m, version, _, err := s.nextVersion(ctx, t, r, id, true)
	if err != nil {
		return store.Upload{}, err
	}
	if err := s.roomForUpload(ctx, t, m, id); err != nil {
		return store.Upload{}, err
	}
	ck, err := s.Key(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: "upload " + sp.item + " to " + m.ID + " by " + tenant.Actor(tenant.Caller(ctx))})
	if err != nil {
		return store.Upload{}, err
	}
	defer ck.Destroy()
	u, st, err := s.begin(ctx, t, m, ck, r, id, kind, version, size, o.SHA256)
	if err != nil {
		return u, err
	}
	st.Close()
	return u, nil
}

// roomForUpload refuses a new upload of item id of m while the tenant, or
// that item, has as many in progress as it may (429 Upload.Open).
func (s *Service) roomForUpload(ctx context.Context, t store.ServiceTenant, m store.Mailbox, id string) error {
	const fix = "finish or cancel uploads in progress (an unfinished upload lapses a day after its last part)"
	vs, err := s.st.UploadVersions(ctx, t.ID, m.ID, id)
	if err != nil {
		return err
	}
	if len(vs) >= maxUploadsPerFile {
		return rule.New(rule.KindBusy, client.RuleUploadsOpen, fix, "%q of %s has %d uploads in progress, the most one item may have", id, m.ID, len(vs))
	}
	n, err := s.st.CountUploads(ctx, t.ID)
	if err != nil {
		return err
	}
	if n >= maxUploadsPerTenant {
		return rule.New(rule.KindBusy, client.RuleUploadsOpen, fix, "tenant %s has %d uploads in progress, the most one tenant may have", t.Name, n)
	}
	return nil
}

// Upload reads an upload in progress of a container.
func (s *Service) Upload(ctx context.Context, t store.ServiceTenant, r Ref, uploadID string) (store.Upload, error) {
	m, err := s.find(ctx, t, r)
	if err != nil {
		return store.Upload{}, err
	}
	u, err := s.st.Upload(ctx, t.ID, uploadID)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Container != m.ID {
		return store.Upload{}, rule.NotFound(client.RuleUploadExists, "start an upload (it may have been committed, cancelled, or expired after a day without a part)", "%s %s has no upload %q", spaces[r.Space].container, r.Name, uploadID)
	}
	return u, err
}

// CancelUpload ends an upload and deletes what it stored.
func (s *Service) CancelUpload(ctx context.Context, t store.ServiceTenant, r Ref, uploadID string) error {
	u, err := s.Upload(ctx, t, r, uploadID)
	if err != nil {
		return err
	}
	// Claimed first, as a part would be: a part still writing would land
	// chunks after the delete.
	claim := randomID()
	if _, err := s.st.ClaimUpload(ctx, t.ID, u.ID, u.Received, u.Received, claim, s.now().Add(claimLease), s.now()); errors.Is(err, store.ErrConflict) {
		return rule.Conflict(client.RuleUploadBusy, "wait for the part being sent, or retry in 30 s if it was cut off", "a part is being written to upload %s", u.ID)
	} else if err != nil {
		return err
	}
	// Only if this claim removed the row is the blob this cancel's: a
	// part that took the upload over after the claim lapsed may have
	// committed it.
	if err := s.st.DeleteUpload(ctx, t.ID, u.ID, claim); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return s.blobs.Delete(ctx, blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob})
}

// UploadPart writes a part of an upload from offset, which must be where
// the upload stands; body holds length bytes (-1: not said) of whole
// chunks, or the rest of the content. The part that completes the content
// commits the item and returns it.
func (s *Service) UploadPart(ctx context.Context, t store.ServiceTenant, r Ref, uploadID string, offset, length int64, body io.Reader) (store.Upload, *store.Item, error) {
	u, err := s.Upload(ctx, t, r, uploadID)
	if err != nil {
		return u, nil, err
	}
	done, err := s.streams.take(t.ID)
	if err != nil {
		return u, nil, err
	}
	defer done()
	if offset != u.Received {
		return u, nil, rule.Conflict(client.RuleUploadOffset, "send the part that starts where the upload stands", "upload %s stands at byte %d, not %d", u.ID, u.Received, offset)
	}
	m, ck, g, err := s.openGuarded(ctx, t, r, "upload "+spaces[r.Space].item)
	if err != nil {
		return u, nil, err
	}
	defer ck.Destroy()
	// An upload begun before its container moved to another DEP is under
	// the key version it began with, which a copy of the database from
	// before the move opens with a key the service still holds: no more
	// of it is sealed so (T8). It is cancelled; the client begins again.
	if kid, err := envelope.KeyIDOf(u.Header); err == nil && kid != KeyID(m) {
		if err := s.CancelUpload(ctx, t, r, u.ID); err != nil {
			s.log.Warn("workload: an upload begun before its container moved was not cancelled; the cleanup will", "tenant", t.ID, "upload", u.ID, "err", err)
		}
		sp := spaces[r.Space]
		return u, nil, rule.Conflict(client.RuleUploadMoved, "begin the upload again: the "+sp.container+" moved to another DEP (a roll or a re-assignment) since it began", "upload %s was begun under the %s's earlier key; it is cancelled", u.ID, sp.container)
	}
	st, err := envelope.OpenStream(ck, envelope.Item{Tenant: t.ID, Container: m.ID, ID: storedID(r, u.Item, u.Version), Version: u.Version}, u.Header)
	if err != nil {
		return u, nil, rule.Internal(client.RuleItemIntegrity, "cancel the upload and start again", "upload %s does not open: %v", u.ID, err)
	}
	defer st.Close()
	h := sha256.New().(sha256State)
	if u.State != nil {
		// The note is the bytes received so far and the digest of them:
		// an older note put back (by someone writing the database) does
		// not match where the upload stands.
		note, err := st.OpenNote(u.State)
		if err == nil && (len(note) < 8 || int64(binary.BigEndian.Uint64(note)) != u.Received) {
			err = envelope.ErrOpen
		}
		if err == nil {
			err = h.UnmarshalBinary(note[8:])
		}
		if err != nil {
			return u, nil, rule.Internal(client.RuleItemIntegrity, "cancel the upload and start again", "upload %s's digest so far does not open", u.ID)
		}
	}
	upTo := u.Size
	if length >= 0 { // the part's Content-Length: it cannot run past the upload
		if length > u.Size-u.Received {
			return u, nil, rule.Invalid(client.RuleUploadPart, "send no more than the size the upload was begun with", "a part of %d bytes from byte %d runs past the upload's %d bytes", length, u.Received, u.Size)
		}
		upTo = u.Received + length
	}
	claim := randomID()
	leaseUntil := s.now().Add(claimLease)
	prev, err := s.st.ClaimUpload(ctx, t.ID, u.ID, u.Received, upTo, claim, leaseUntil, s.now())
	if errors.Is(err, store.ErrConflict) {
		return u, nil, rule.Conflict(client.RuleUploadBusy, "wait for the other part, or retry in 30 s if it was cut off", "another part is being written to upload %s", u.ID)
	} else if err != nil {
		return u, nil, err
	}
	ref := blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob}
	written := (prev.Written + envelope.ChunkSize - 1) / envelope.ChunkSize // chunks a cut-off part may have sealed
	put := func(i uint64, sealed []byte) error {
		if int64(i) < written {
			if same, err := s.sameChunk(ctx, st, ref, int64(i), sealed, u.Size); err != nil {
				return err
			} else if same {
				return nil
			}
		}
		// The claim must hold while the chunk is stored: renewed when half
		// of it is gone (a renewal fails once another part holds the
		// upload), and the write ends before it lapses.
		if leaseUntil.Sub(s.now()) < claimLease/2 {
			next := s.now().Add(claimLease)
			if err := s.st.RenewClaim(ctx, t.ID, u.ID, claim, next); err != nil {
				return rule.Conflict(client.RuleUploadBusy, "send the part again from where the upload stands", "upload %s's part lost its claim (it stalled past %s)", u.ID, claimLease)
			}
			leaseUntil = next
		}
		pctx, cancel := context.WithDeadline(ctx, leaseUntil.Add(-claimMargin))
		defer cancel()
		return s.blobs.Put(pctx, ref, int64(i), sealed)
	}
	w := st.Writer(uint64(u.Received/envelope.ChunkSize), u.Size, put)
	defer w.Discard() // wipes the plaintext it holds on every path (after Close: nothing)
	// No further than the claim says (its Content-Length), so no chunk
	// past what the claim recorded as possibly sealed is ever sealed.
	// The guard stops a part if the caller or the DEP is revoked meanwhile.
	n, err := copyWiped(io.MultiWriter(h, w), io.LimitReader(guardedReader{ctx, body, g}, upTo-u.Received))
	if err == nil {
		if k, _ := io.ReadFull(body, make([]byte, 1)); k > 0 {
			err = rule.Invalid(client.RuleUploadPart, "send no more than the part's Content-Length, and no more than the size the upload was begun with", "the part runs past its %d bytes", upTo-u.Received)
		}
	}
	if err == nil && u.Received+n != u.Size && n%envelope.ChunkSize != 0 {
		err = rule.Invalid(client.RuleUploadPart, "send parts of a multiple of 65536 bytes, but the last", "a part of %d bytes ends inside a chunk", n)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// Nothing of this part counts; its chunks are checked if it is sent again.
		s.release(ctx, u, claim)
		return u, nil, err
	}
	if n == 0 && u.Received < u.Size {
		// An empty part moves nothing: the upload stays as old as its last
		// bytes, so one kept alive with empty parts is still cleaned up.
		s.release(ctx, u, claim)
		return u, nil, nil
	}
	u.Received += n
	u.Updated = s.now().UTC()
	if u.Received < u.Size {
		state, err := h.MarshalBinary()
		if err == nil {
			note := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(state)), uint64(u.Received))
			u.State, err = st.SealNote(append(note, state...))
			clear(state)
		}
		if err == nil {
			err = s.st.AdvanceUpload(ctx, u, claim)
		}
		return u, nil, err
	}
	it, err := s.commit(ctx, t, r, m, u, claim, st, u.Size, h)
	if err != nil {
		return u, nil, err
	}
	return u, &it, nil
}

// sameChunk reports whether chunk i of a blob is already sealed (the
// same bytes as sealed: the nonce is i's, and the plaintext the same);
// a different one there means the part sent again is not the one that
// was cut off.
func (s *Service) sameChunk(ctx context.Context, st *envelope.Stream, ref blob.Ref, i int64, sealed []byte, size int64) (bool, error) {
	var same bool
	err := s.blobs.Read(ctx, ref, i, i+1, func(_ int64, old []byte) error {
		same = bytes.Equal(old, sealed)
		if !same {
			if _, err := st.OpenChunk(nil, uint64(i), old, i == envelope.Chunks(size)-1); err == nil {
				return rule.Invalid(client.RuleUploadPart, "send the part again with the bytes first sent, or cancel the upload and start again", "chunk %d was first sent with other bytes", i)
			}
		}
		return nil
	})
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	return same, err
}

// release gives up a claim without moving the upload.
func (s *Service) release(ctx context.Context, u store.Upload, claim string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.st.AdvanceUpload(ctx, u, claim); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.Warn("workload: an upload's claim was not released; it lapses in 30 s", "tenant", u.Tenant, "upload", u.ID, "err", err)
	}
}

// holdClaim claims upload u, just begun, for a streamed write and renews
// the claim every third of its lease until the returned func is called
// (the write's end, or the process's: then the claim runs out, and the
// upload is cleaned a day later). A renewal that fails is logged; the
// write's commit or abandon ends the upload either way.
func (s *Service) holdClaim(ctx context.Context, u store.Upload) (string, func(), error) {
	claim := randomID()
	if _, err := s.st.ClaimUpload(ctx, u.Tenant, u.ID, 0, 0, claim, s.now().Add(claimLease), s.now()); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(claimLease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimLease/3)
				err := s.st.RenewClaim(rctx, u.Tenant, u.ID, claim, s.now().Add(claimLease))
				cancel()
				if errors.Is(err, store.ErrConflict) {
					s.log.Warn("workload: a streamed write lost its upload's claim; the cleanup may take the upload", "tenant", u.Tenant, "upload", u.ID)
				} else if err != nil {
					s.log.Warn("workload: a streamed write could not renew its upload's claim", "tenant", u.Tenant, "upload", u.ID, "err", err)
				}
			}
		}
	}()
	return claim, func() { close(done); <-stopped }, nil
}

// CleanUploads deletes the uploads of every tenant without a part since
// before, with their chunks: writes cut off by a crash, and resumable
// uploads abandoned. It returns how many.
func (s *Service) CleanUploads(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for {
		stale, err := s.st.StaleUploads(ctx, before, 100)
		if err != nil || len(stale) == 0 {
			return n, err
		}
		for _, u := range stale {
			// Claimed first, as a cancel does: a part that resumes the
			// upload meanwhile wins it, and the cleanup leaves it.
			claim := randomID()
			if _, err := s.st.ClaimUpload(ctx, u.Tenant, u.ID, u.Received, u.Received, claim, s.now().Add(claimLease), s.now()); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return n, err
			}
			if err := s.st.DeleteUpload(ctx, u.Tenant, u.ID, claim); errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return n, err
			}
			if err := s.blobs.Delete(ctx, blob.Ref{Tenant: u.Tenant, Container: u.Container, ID: u.Blob}); err != nil {
				s.log.Warn("workload: an abandoned upload's chunks were not deleted; its container's deletion will", "tenant", u.Tenant, "upload", u.ID, "err", err)
			}
			n++
		}
	}
}

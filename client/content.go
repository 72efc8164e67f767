package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/rest"
)

// Content of any size (SPEC D8): files stream both ways, never whole in
// memory on either side.

// ChunkSize is the service's chunk: every part of a resumable upload but
// the last is a multiple of it.
const ChunkSize = 64 << 10

// Content is a file, or a range of one, being read. Read it to the end
// and close it; for a whole file, Verify then checks what was read
// against the service's digest.
type Content struct {
	io.ReadCloser
	Length  int64  // bytes this answer carries
	Offset  int64  // where they start in the file
	Size    int64  // the whole file's size
	SHA256  []byte // the whole file's SHA-256, as the service sealed it
	Version string // the file version's ETag
	h       hashWriter
}

// hashWriter is the digest of what was read, for a whole file.
type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func (c *Content) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if c.h != nil {
		_, _ = c.h.Write(p[:n]) // a hash.Hash never fails
	}
	return n, err
}

// Verify checks, once a whole file has been read to its end, that its
// bytes have the digest the service sealed with it.
func (c *Content) Verify() error {
	if c.h == nil {
		return errors.New("client: only a whole file's content can be verified")
	}
	if got := c.h.Sum(nil); len(c.SHA256) == 0 || string(got) != string(c.SHA256) {
		return fmt.Errorf("client: the file read has SHA-256 %x, the service sealed %x: it was cut short or changed on the way", got, c.SHA256)
	}
	return nil
}

// Range is a byte range of a file: Length < 0 reads to the end; an Offset
// < 0 asks for the last -Offset bytes.
type Range struct{ Offset, Length int64 }

func (r *Range) header() string {
	if r.Offset < 0 {
		return fmt.Sprintf("bytes=%d", r.Offset)
	}
	if r.Length < 0 {
		return fmt.Sprintf("bytes=%d-", r.Offset)
	}
	return fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1)
}

// OpenFile reads a version of a file (0: the latest), or a range of it
// (nil: all of it), as a stream.
func (c *Client) OpenFile(ctx context.Context, tenant, site, file string, version int, rng *Range) (*Content, error) {
	path := withQuery(tenantPath(tenant, "sites", site, "files", file), "version", itoa(version))
	return c.openContent(ctx, path, rng)
}

// OpenItem reads a mailbox item's content as a stream.
func (c *Client) OpenItem(ctx context.Context, tenant, mailbox, item string) (*Content, error) {
	return c.openContent(ctx, tenantPath(tenant, "mailboxes", mailbox, "items", item), nil)
}

// OpenRecord reads a record's content as a stream.
func (c *Client) OpenRecord(ctx context.Context, tenant, workload, record string) (*Content, error) {
	return c.openContent(ctx, tenantPath(tenant, "records", workload, record), nil)
}

func (c *Client) openContent(ctx context.Context, path string, rng *Range) (*Content, error) {
	req := rest.Request{Header: http.Header{}}
	if rng != nil {
		if rng.Length == 0 {
			return nil, errors.New("client: a range holds at least one byte")
		}
		req.Header.Set("Range", rng.header())
	}
	resp, err := c.rest().Stream(ctx, http.MethodGet, path, req)
	if err != nil {
		return nil, err
	}
	out := &Content{ReadCloser: resp.Body, Length: resp.ContentLength, Size: resp.ContentLength, Version: resp.Header.Get("ETag")}
	out.SHA256 = ParseDigest(resp.Header.Get("Repr-Digest"))
	if resp.StatusCode == http.StatusPartialContent {
		var first, last int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &out.Size); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("client: the service answered a range with Content-Range %q", resp.Header.Get("Content-Range"))
		}
		out.Offset = first
	} else {
		out.h = sha256.New()
	}
	return out, nil
}

// ParseDigest reads the SHA-256 of a Repr-Digest header (RFC 9530,
// sha-256=:BASE64:, among other algorithms); nil if it holds none.
func ParseDigest(h string) []byte {
	for _, d := range strings.Split(h, ",") {
		alg, v, ok := strings.Cut(strings.TrimSpace(d), "=")
		if ok && strings.EqualFold(alg, "sha-256") {
			b, err := base64.StdEncoding.DecodeString(strings.Trim(v, ":"))
			if err == nil && len(b) == sha256.Size {
				return b
			}
		}
	}
	return nil
}

// PutFileFrom writes a new version of a file from r, size bytes (-1 if not
// known), streamed. With sum (its SHA-256), the service stores it only if
// the bytes it received have it.
func (c *Client) PutFileFrom(ctx context.Context, tenant, site, file string, r io.Reader, size int64, sum []byte) (ItemInfo, error) {
	return putStream[ItemInfo](ctx, c, tenantPath(tenant, "sites", site, "files", file), r, size, sum)
}

func putStream[T any](ctx context.Context, c *Client, path string, r io.Reader, size int64, sum []byte) (T, error) {
	var out T
	req := rest.Request{Body: r, Length: size, Header: http.Header{"Content-Type": {"application/octet-stream"}}}
	if len(sum) > 0 {
		req.Header.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	resp, err := c.rest().Stream(ctx, http.MethodPut, path, req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, rest.MaxAnswer))
	if err != nil {
		return out, err
	}
	return out, rest.Decode(data, &out)
}

// NewUpload begins a resumable upload of a file of size bytes (more than
// ChunkSize) with its SHA-256 (nil: not checked).
func (c *Client) NewUpload(ctx context.Context, tenant, site, file string, size int64, sum []byte) (Upload, error) {
	return call[Upload](ctx, c, http.MethodPost, tenantPath(tenant, "sites", site, "files", file, "uploads"), NewUploadRequest{Size: size, SHA256: hex.EncodeToString(sum)})
}

// Upload reads an upload in progress: Received is where the next part starts.
func (c *Client) Upload(ctx context.Context, tenant, site, file, id string) (Upload, error) {
	return call[Upload](ctx, c, http.MethodGet, tenantPath(tenant, "sites", site, "files", file, "uploads", id), nil)
}

// UploadPart sends length bytes of r as the part of an upload at offset:
// whole chunks, or the rest of the file (which commits it).
func (c *Client) UploadPart(ctx context.Context, tenant, site, file, id string, offset int64, r io.Reader, length int64) (UploadPart, error) {
	path := withQuery(tenantPath(tenant, "sites", site, "files", file, "uploads", id), "offset", strconv.FormatInt(offset, 10))
	return putStream[UploadPart](ctx, c, path, r, length, nil)
}

// CancelUpload cancels an upload and deletes what it stored.
func (c *Client) CancelUpload(ctx context.Context, tenant, site, file, id string) error {
	return c.Do(ctx, http.MethodDelete, tenantPath(tenant, "sites", site, "files", file, "uploads", id), nil, nil)
}

// UploadOptions tune UploadFile.
type UploadOptions struct {
	PartSize int64                       // bytes per part, a multiple of ChunkSize (default 8 MiB)
	Resume   string                      // an upload's ID to go on with (its file must be the same bytes)
	Attempts int                         // tries per part before giving up (default 5)
	Progress func(done int64)            // called as parts are stored
	Started  func(id string)             // called once the upload's ID is known
	Wait     func(try int) time.Duration // pause before try (default: 1 s × try; 15 s while another part holds the upload; a busy service: Wait(try+1) or its Retry-After if longer, for up to 10 minutes, tries not counted)
}

// busyFor is how long UploadFile waits out a busy service (busy) before
// it gives up: each refusal is a pause of Wait(try+1), not a try.
const busyFor = 10 * time.Minute

// busy reports whether err is a refusal for load: the tenant's share or
// the node's bound of transfers taken (429 Content.Streams, 503
// Content.StreamsNode, with Retry-After). Retried, it goes through once
// other transfers end.
func busy(err error) bool {
	return IsRule(err, RuleContentStreams) || IsRule(err, RuleContentStreamsNode)
}

// wait is the pause before a part is sent again: a part cut off holds the
// upload until its claim lapses (30 s), so Upload.Busy waits half that;
// an answer with Retry-After is waited out at least as long as it asks.
func wait(w func(int) time.Duration, try int, err error) time.Duration {
	if IsRule(err, RuleUploadBusy) {
		return max(w(try), 15*time.Second, retryAfter(err, 0))
	}
	return max(w(try), retryAfter(err, 0))
}

// committed reports whether version of file holds the size bytes whose
// SHA-256 is sum (as the service sealed it): an upload's commit whose
// answer was lost.
func (c *Client) committed(ctx context.Context, tenant, site, file string, version uint32, size int64, sum []byte) (ItemInfo, bool) {
	if len(sum) != sha256.Size || version == 0 {
		return ItemInfo{}, false
	}
	f, err := c.OpenFile(ctx, tenant, site, file, int(version), &Range{Offset: 0, Length: 1})
	for start := time.Now(); busy(err) && time.Since(start) < busyFor; { // its reading is a transfer too
		select {
		case <-ctx.Done():
			return ItemInfo{}, false
		case <-time.After(retryAfter(err, time.Second)):
		}
		f, err = c.OpenFile(ctx, tenant, site, file, int(version), &Range{Offset: 0, Length: 1})
	}
	if err != nil {
		return ItemInfo{}, false
	}
	defer f.Close()
	if f.Size != size || !bytes.Equal(f.SHA256, sum) {
		return ItemInfo{}, false
	}
	return ItemInfo{ID: file, Kind: "file", Version: version, Size: size}, true
}

// UploadFile uploads a file of size bytes from r as a resumable upload:
// parts of opts.PartSize, each sent again (from where the upload stands)
// when it fails, so a dropped connection costs one part. It returns the
// file's new version.
func (c *Client) UploadFile(ctx context.Context, tenant, site, file string, r io.ReaderAt, size int64, sum []byte, opts UploadOptions) (ItemInfo, error) {
	if opts.PartSize <= 0 {
		opts.PartSize = 8 << 20
	}
	if opts.PartSize%ChunkSize != 0 {
		return ItemInfo{}, fmt.Errorf("client: a part size must be a multiple of %d bytes", ChunkSize)
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Wait == nil {
		opts.Wait = func(try int) time.Duration { return time.Duration(try) * time.Second }
	}
	var u Upload
	var err error
	if opts.Resume != "" {
		u, err = c.Upload(ctx, tenant, site, file, opts.Resume)
		if err == nil && u.Size != size {
			err = fmt.Errorf("client: upload %s is of %d bytes, the file of %d", u.ID, u.Size, size)
		}
	} else {
		u, err = c.NewUpload(ctx, tenant, site, file, size, sum)
	}
	if err != nil {
		return ItemInfo{}, err
	}
	if opts.Started != nil {
		opts.Started(u.ID)
	}
	offset := u.Received
	var busySince time.Time // the first of the busy refusals in a row
	for try := 0; ; {
		if opts.Progress != nil {
			opts.Progress(offset)
		}
		n := min(opts.PartSize, size-offset)
		part, err := c.UploadPart(ctx, tenant, site, file, u.ID, offset, io.NewSectionReader(r, offset, n), n)
		if !busy(err) {
			busySince = time.Time{}
		}
		if err == nil {
			try = 0
			offset = part.Upload.Received
			if part.File != nil {
				if opts.Progress != nil {
					opts.Progress(size)
				}
				return *part.File, nil
			}
			continue
		}
		var p *Problem
		if errors.As(err, &p) && p.Rule == RuleUploadExists && offset+n == size {
			// The last part, sent again: the first may have committed the
			// file and lost its answer. The version the upload reserved,
			// holding these bytes, says so.
			if info, ok := c.committed(ctx, tenant, site, file, u.Version, size, sum); ok {
				if opts.Progress != nil {
					opts.Progress(size)
				}
				return info, nil
			}
		}
		if busy(err) && ctx.Err() == nil {
			if busySince.IsZero() {
				busySince = time.Now()
			}
			if time.Since(busySince) > busyFor {
				return ItemInfo{}, fmt.Errorf("upload %s stopped at byte %d: the service stayed busy for %s: %w", u.ID, offset, busyFor, err)
			}
			select {
			case <-ctx.Done():
				return ItemInfo{}, ctx.Err()
			case <-time.After(max(opts.Wait(try+1), retryAfter(err, 0))):
			}
			continue
		}
		if errors.As(err, &p) && p.Status < 500 && p.Rule != RuleUploadBusy && p.Rule != RuleUploadOffset || ctx.Err() != nil {
			return ItemInfo{}, err
		}
		if try++; try >= opts.Attempts {
			return ItemInfo{}, fmt.Errorf("upload %s stopped at byte %d after %d tries: %w", u.ID, offset, try, err)
		}
		select {
		case <-ctx.Done():
			return ItemInfo{}, ctx.Err()
		case <-time.After(wait(opts.Wait, try, err)):
		}
		if now, err := c.Upload(ctx, tenant, site, file, u.ID); err == nil {
			offset = now.Received // where the upload stands: parts it already has are not sent again
		}
	}
}

package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/lifecycle"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

// Content streams both ways (SPEC D8): a write's body is sealed chunk by
// chunk as it arrives and a read is opened chunk by chunk as it is sent,
// so no request holds more than a chunk or two of it, whatever its size.
// Huma does not read these bodies (their inputs have no Body field): the
// input's Resolve takes the request's reader. Instead of the server's
// whole-request timeouts, each read and write of the body gets its own
// deadline (idleWait), so a slow link moving bytes is never cut off and a
// stalled one is.
const idleWait = time.Minute

// StreamIn is a streamed request body with the headers that describe it.
type StreamIn struct {
	Digest string `header:"Repr-Digest" doc:"The content's SHA-256 as RFC 9530 says (sha-256=:BASE64:); the content is stored only if it matches"`
	BodyIn
}

// BodyIn is a streamed request body: a part of a resumable upload, whose
// digest is the whole file's, given when the upload begins.
type BodyIn struct {
	body   io.Reader
	length int64 // Content-Length, -1 if not given
}

// Resolve takes the request's body reader, with a deadline per read.
func (b *BodyIn) Resolve(ctx huma.Context) []error {
	b.body = &idleReader{ctx: ctx, r: ctx.BodyReader()}
	b.length = -1
	if n, err := strconv.ParseInt(ctx.Header("Content-Length"), 10, 64); err == nil && n >= 0 {
		b.length = n
	}
	return nil
}

// options turns the headers into the write's options.
func (b *StreamIn) options() (workload.PutOptions, error) {
	if b.Digest == "" {
		return workload.PutOptions{}, nil
	}
	if sum := client.ParseDigest(b.Digest); sum != nil {
		return workload.PutOptions{SHA256: sum}, nil
	}
	return workload.PutOptions{}, rule.Invalid(client.RuleContentDigest, "send Repr-Digest: sha-256=:BASE64 OF THE 32-BYTE SHA-256:", "Repr-Digest %q has no SHA-256 this service reads", b.Digest)
}

// limit cuts the body at the route's limit with a clear refusal.
func (b *StreamIn) limit(max int64, what string) io.Reader {
	return &limitReader{r: b.body, left: max, max: max, what: what}
}

type idleReader struct {
	ctx huma.Context
	r   io.Reader
}

func (r *idleReader) Read(p []byte) (int, error) {
	_ = r.ctx.SetReadDeadline(time.Now().Add(idleWait)) // without it (a server that cannot set one), the server's own timeouts hold
	return r.r.Read(p)
}

type limitReader struct {
	r         io.Reader
	left, max int64
	what      string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		n, err := l.r.Read(one[:])
		for n == 0 && err == nil { // a reader may say nothing: ask again
			n, err = l.r.Read(one[:])
		}
		if n == 0 {
			return 0, err // io.EOF, or a broken connection: not a clean end
		}
		return 0, rule.New(rule.KindTooLarge, client.RuleContentTooLarge, "split the content, or ask the operator to raise the limit (limits in the configuration)", "%s is limited to %d bytes", l.what, l.max)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// RangeIn is a read's Range header.
type RangeIn struct {
	Range   string `header:"Range" doc:"One byte range (bytes=FIRST-LAST, bytes=FIRST-, bytes=-SUFFIX): the answer is 206 with those bytes, opened from the chunks that hold them"`
	IfRange string `header:"If-Range" doc:"The ETag of the content a range continues: if it is another now, the answer is 200 with the whole content"`
}

// etag names one stored version of an item: its number and when it was
// written (a mailbox item's numbers start again after a delete).
func etag(it store.Item) string {
	return fmt.Sprintf(`"%d.%d"`, it.Version, it.Created.UnixMilli())
}

// parseRange reads a single byte range of content of size bytes: ok false
// means the whole content (no Range, or one this service does not
// answer, such as several ranges, which RFC 9110 lets a server ignore).
func parseRange(h string, size int64) (off, n int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	unsatisfiable := rule.New(rule.KindRange, client.RuleContentRange, "ask for bytes within the content's size", "range %q is outside the content's %d bytes", h, size)
	if first == "" { // the last n bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k < 0 {
			return 0, 0, false, nil
		}
		if k == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		k = min(k, size)
		return size - k, k, true, nil
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false, nil
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, 0, false, nil
		}
		b = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, unsatisfiable
	}
	return a, b - a + 1, true, nil
}

// streamOut answers a read with the content, or the range asked of it.
func (s *Server) streamOut(ctx context.Context, c *workload.Content, in RangeIn) (*huma.StreamResponse, error) {
	rangeHeader, tag := in.Range, etag(c.Item)
	if in.IfRange != "" && in.IfRange != tag {
		rangeHeader = "" // the content changed since: all of it (RFC 9110 13.1.5)
	}
	off, n, partial, err := parseRange(rangeHeader, c.Size)
	if err != nil {
		c.Close()
		if e, ok := rule.As(err); ok && e.Kind == rule.KindRange { // 416 says the size (RFC 9110 15.5.17)
			return nil, huma.ErrorWithHeaders(err, http.Header{"Content-Range": {fmt.Sprintf("bytes */%d", c.Size)}})
		}
		return nil, err
	}
	if !partial {
		off, n = 0, c.Size
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer c.Close()
		hctx.SetHeader("Content-Type", "application/octet-stream")
		hctx.SetHeader("Content-Length", strconv.FormatInt(n, 10))
		hctx.SetHeader("Accept-Ranges", "bytes")
		hctx.SetHeader("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(c.SHA256[:])+":")
		hctx.SetHeader("ETag", tag)
		hctx.SetHeader("Last-Modified", c.Item.Created.UTC().Format(http.TimeFormat))
		if partial {
			hctx.SetHeader("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, c.Size))
			hctx.SetStatus(http.StatusPartialContent)
		} else {
			hctx.SetStatus(http.StatusOK)
		}
		if hctx.Method() == http.MethodHead {
			return // the headers say it all; the content is not read (net/http would drop it)
		}
		w := hctx.BodyWriter()
		out := w
		if rw, ok := w.(http.ResponseWriter); ok {
			rc := http.NewResponseController(rw)
			out = writerFunc(func(p []byte) (int, error) {
				_ = rc.SetWriteDeadline(time.Now().Add(idleWait)) // likewise
				return w.Write(p)
			})
		}
		// The status is sent: a failure now can only cut the body short,
		// which the client sees against Content-Length (and the digest);
		// the log says why, with the request's ID (T9). A stream stopped
		// because its caller's token or its DEP was revoked meanwhile
		// (T1, T6: workload's guard) is no failure of the service.
		if err := c.Copy(hctx.Context(), out, off, n); err != nil && hctx.Context().Err() == nil {
			if e, ok := rule.As(err); ok && stopped[e.Kind] {
				logOf(hctx.Context(), s.cfg.Logger).Warn("api: content stream stopped: it may no longer be served", "item", c.Item.ID, "offset", off, "length", n, "rule", e.Rule, "err", err)
			} else {
				log5xx(hctx.Context(), s.cfg.Logger, slog.LevelError, "api: content cut short after its status was sent", "item", c.Item.ID, "offset", off, "length", n, "err", err)
			}
		}
	}}, nil
}

// stopped are the kinds of refusal that stop a stream under way: the
// caller's token revoked or expired, the DEP revoked or being purged, the
// container deleted.
var stopped = map[rule.Kind]bool{rule.KindUnauthenticated: true, rule.KindRefused: true, rule.KindGone: true, rule.KindNotFound: true}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// UploadPath names an upload of a site's file.
type UploadPath struct {
	FilePath
	Upload string `path:"upload"`
}

func uploadOut(u store.Upload) client.Upload {
	return client.Upload{ID: u.ID, File: u.Item, Version: u.Version, Size: u.Size, Received: u.Received, ChunkSize: envelope.ChunkSize,
		Updated: u.Updated, Expires: u.Updated.Add(lifecycle.UploadExpiry)}
}

func (s *Server) newUpload(ctx context.Context, in *struct {
	FilePath
	Body client.NewUploadRequest
}) (*body[client.Upload], error) {
	var o workload.PutOptions
	if in.Body.SHA256 != "" {
		sum, err := hex.DecodeString(in.Body.SHA256)
		if err != nil || len(sum) != 32 {
			return nil, rule.Invalid(client.RuleContentDigest, "give the file's SHA-256 as 64 hex digits", "sha256 %q is not a SHA-256 in hex", in.Body.SHA256)
		}
		o.SHA256 = sum
	}
	if in.Body.Size > s.cfg.Limits.File {
		return nil, rule.New(rule.KindTooLarge, client.RuleContentTooLarge, "split the content, or ask the operator to raise the limit (limits in the configuration)", "a file is limited to %d bytes; %d given", s.cfg.Limits.File, in.Body.Size)
	}
	u, err := s.boxes.BeginUpload(ctx, tenantOf(ctx), workload.SiteRef(in.Site), in.File, "", in.Body.Size, o)
	if err != nil {
		return nil, err
	}
	return &body[client.Upload]{uploadOut(u)}, nil
}

func (s *Server) getUpload(ctx context.Context, in *UploadPath) (*body[client.Upload], error) {
	u, err := s.boxes.Upload(ctx, tenantOf(ctx), workload.SiteRef(in.Site), in.Upload)
	if err != nil || u.Item != in.File {
		return nil, uploadMissing(in, err)
	}
	return &body[client.Upload]{uploadOut(u)}, nil
}

// uploadMissing keeps a lookup's error, or says an upload of another
// file is not found under this one.
func uploadMissing(in *UploadPath, err error) error {
	if err != nil {
		return err
	}
	return rule.NotFound(client.RuleUploadExists, "name the upload under its own file", "file %q has no upload %q", in.File, in.Upload)
}

func (s *Server) putUploadPart(ctx context.Context, in *struct {
	UploadPath
	Offset int64 `query:"offset" doc:"Where the part starts: the upload's received bytes"`
	BodyIn
}) (*body[client.UploadPart], error) {
	r := workload.SiteRef(in.Site)
	if u, err := s.boxes.Upload(ctx, tenantOf(ctx), r, in.Upload); err != nil || u.Item != in.File {
		return nil, uploadMissing(&in.UploadPath, err)
	}
	u, it, err := s.boxes.UploadPart(ctx, tenantOf(ctx), r, in.Upload, in.Offset, in.length, in.body)
	if err != nil {
		return nil, err
	}
	out := client.UploadPart{Upload: uploadOut(u)}
	if it != nil {
		info := itemInfo(*it)
		out.File = &info
	}
	return &body[client.UploadPart]{out}, nil
}

func (s *Server) cancelUpload(ctx context.Context, in *UploadPath) (*struct{}, error) {
	r := workload.SiteRef(in.Site)
	if u, err := s.boxes.Upload(ctx, tenantOf(ctx), r, in.Upload); err != nil || u.Item != in.File {
		return nil, uploadMissing(in, err)
	}
	return &struct{}{}, s.boxes.CancelUpload(ctx, tenantOf(ctx), r, in.Upload)
}

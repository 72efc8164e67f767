package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/customerkey/customerkey/client"
)

// RequestIDHeader carries a request's ID both ways: a caller (or a proxy
// in front) may give one; the service answers with the ID it used, also
// in every problem body (requestId), and logs it with every 5xx.
const RequestIDHeader = "X-Request-ID"

// maxRequestID bounds a caller's request ID; a longer one, or one with a
// character outside [A-Za-z0-9._:-], is replaced by a fresh ID.
const maxRequestID = 64

// request is what the API knows of a request while serving it.
type request struct {
	id  string
	log *slog.Logger // the server's logger, carrying request_id
	// logged: a 5xx of this request has been logged with its cause, so
	// withRequestID does not log it again.
	logged atomic.Bool
	route  string // the route table's operation ID, once known
	// closeUnread: an HTTP/1 request with a body, whose connection a
	// refusal that leaves the body unread closes (closesUnread).
	closeUnread bool
	head        bool // a HEAD: answered with headers only
}

// closesUnread says whether ctx's request is answered with Connection:
// close when refused before its body is read. Go's HTTP/1 server reads
// up to 256 KiB of an unread body before it writes the answer, which a
// caller sending slowly never gets to; closing skips that (the connection
// may still read that much after the answer, until its read deadline: it
// holds no transfer slot then). HTTP/2 ends
// each stream on its own, and there the header would close the
// connection every other stream shares.
func closesUnread(ctx context.Context) bool {
	r := requestOf(ctx)
	return r != nil && r.closeUnread
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// RequestID is the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if r := requestOf(ctx); r != nil {
		return r.id
	}
	return ""
}

// logOf is the logger of ctx's request (with its request_id), or fallback.
func logOf(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if r := requestOf(ctx); r != nil {
		return r.log
	}
	return fallback
}

// log5xx logs a 5xx answer's cause once, with the request's ID.
func log5xx(ctx context.Context, fallback *slog.Logger, level slog.Level, msg string, args ...any) {
	if r := requestOf(ctx); r != nil {
		r.logged.Store(true)
	}
	logOf(ctx, fallback).Log(ctx, level, msg, args...)
}

// saneRequestID says whether a caller's request ID may be used (and
// logged) as it is.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestID gives each request its ID and a logger carrying it, sets
// the X-Request-ID response header, answers a panic as a 500 problem, and
// logs every 5xx whose cause no one logged (SPEC T9).
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		req := &request{id: id, log: s.cfg.Logger.With("request_id", id), closeUnread: r.ProtoMajor == 1 && r.ContentLength != 0, head: r.Method == http.MethodHead}
		w.Header().Set(RequestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		began := time.Now()
		ctx := context.WithValue(r.Context(), requestKey{}, req)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log5xx(ctx, nil, slog.LevelError, "api: panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					p := problem(http.StatusInternalServerError, client.RuleInternal, internalFix, "the service failed to answer this request")
					p.RequestID = id
					writeProblemTo(sw, p)
				}
			}
			if sw.status >= 500 && !req.logged.Load() {
				req.log.Error("api: server error", "method", r.Method, "path", r.URL.Path, "status", sw.status)
			}
			took, status := time.Since(began), sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.cfg.Metrics.observe(req.route, status, took)
			req.log.Debug("api: request", "method", r.Method, "route", req.route, "status", status, "duration", took)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// statusWriter records the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines of streamed answers).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

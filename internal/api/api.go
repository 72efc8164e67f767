// Package api is the Customer Key service's REST API over the domain
// packages: one route table (routes.go) gives each operation its method,
// path, roles, body limit, timeout and handler; middleware authenticates
// the bearer token, records admin actions in the audit log and enforces
// the route's roles on the tenant the path names; each handler decodes,
// calls one domain function and encodes client's types. Every error is
// application/problem+json naming the rule and the fix (problem.go). It is
// described by OpenAPI 3.1 (docs/openapi.json, served at /openapi.json).
package api

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/lifecycle"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/workload"
)

// Config is what the API serves: the domain services (built by
// internal/service, the composition root), the key that signs audit heads,
// a logger and a clock.
type Config struct {
	Tenants    *tenant.Service
	Onboarding *onboarding.Requests
	DEPs       *dep.Service
	Containers *workload.Service
	Lifecycle  *lifecycle.Service
	Access     *access.Service
	Audit      *audit.Log
	// Signer signs audit heads and crypto-shred certificates; its public
	// key is served at /v1/service/signing-key.
	Signer ed25519.PrivateKey
	// Metrics counts requests (nil: none); Gatherer is what /metrics
	// serves (nil: an empty page).
	Metrics  *Metrics
	Gatherer prometheus.Gatherer
	// Ready are the dependencies /readyz asks.
	Ready []ReadyCheck
	// Console, if set, serves the web console at /console/ (its assets
	// only; it calls this API like any client).
	Console http.Handler
	Logger  *slog.Logger
	Now     func() time.Time
	// Limits are the largest contents each kind of write takes.
	Limits Limits
}

// Limits are the largest contents the API takes, in bytes (0: default).
type Limits struct {
	File   int64 `json:"file,omitempty"`   // a site's file (default 250 GB, as SharePoint)
	Item   int64 `json:"item,omitempty"`   // a mailbox item or attachment (default 150 MB, as Exchange Online)
	Record int64 `json:"record,omitempty"` // a multi-workload record (default 250 GB)
	// Transfers of content (reads of chunked content, writes until their
	// first chunk is in and larger ones to the end, upload parts) the
	// node runs at once, and one tenant runs on it
	// (default workload.DefaultStreams, workload.DefaultTenantStreams).
	Streams       int `json:"streams,omitempty"`
	TenantStreams int `json:"tenantStreams,omitempty"`
}

func (l Limits) withDefaults() Limits {
	if l.File <= 0 {
		l.File = 250_000_000_000
	}
	if l.Item <= 0 {
		l.Item = 150_000_000
	}
	if l.Record <= 0 {
		l.Record = 250_000_000_000
	}
	return l
}

// Server is the service API.
type Server struct {
	cfg        Config
	table      []route // every operation, as routes() declares it
	api        huma.API
	mux        *http.ServeMux
	audit      *audit.Log
	tenants    *tenant.Service
	onboarding *onboarding.Requests
	deps       *dep.Service
	boxes      *workload.Service
	life       *lifecycle.Service
	access     *access.Service
}

// Version of the API document.
const Version = "0.1.0"

// New builds the API and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Tenants == nil || cfg.Onboarding == nil || cfg.DEPs == nil || cfg.Containers == nil || cfg.Lifecycle == nil || cfg.Access == nil || cfg.Audit == nil {
		return nil, errors.New("api: the domain services are missing (internal/service builds them)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry() // nothing counted: an empty page
	}
	cfg.Limits = cfg.Limits.withDefaults()
	s := &Server{cfg: cfg, mux: http.NewServeMux(), tenants: cfg.Tenants, onboarding: cfg.Onboarding, deps: cfg.DEPs, boxes: cfg.Containers, life: cfg.Lifecycle, access: cfg.Access, audit: cfg.Audit}
	hc := huma.DefaultConfig("customerkey service API", Version)
	hc.Info.Description = "Customer Key: encryption at rest under root keys that tenants hold in their own key vaults. Every error is application/problem+json with the rule broken and how to fix it."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{"bearer": {Type: "http", Scheme: "bearer", Description: "A token the service issued (ck tenant token)."}}
	hc.DocsPath = ""
	s.api = humago.New(s.mux, hc)
	s.api.UseMiddleware(s.noteRoute, s.checkParams, s.authenticate, s.auditAdmin, s.authorize)
	s.routes()
	if cfg.Console != nil {
		s.mux.Handle("/console/", cfg.Console)
		s.mux.Handle("/console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	}
	return s, nil
}

// Handler serves the API. Paths and methods it does not serve are
// answered as problems too.
func (s *Server) Handler() http.Handler {
	return s.withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			s.mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer (404, or 405 with Allow), as a problem.
		rec := &headerRecorder{h: http.Header{}}
		s.mux.ServeHTTP(rec, r)
		p := problem(http.StatusNotFound, client.RuleRequestPath, "check the path and method against the API document (/openapi.json)", "no operation at %s %s", r.Method, r.URL.Path)
		if rec.status == http.StatusMethodNotAllowed {
			p = problem(http.StatusMethodNotAllowed, client.RuleRequestMethod, "use one of the methods the path allows: "+rec.h.Get("Allow"), "%s is not allowed on %s", r.Method, r.URL.Path)
			w.Header().Set("Allow", rec.h.Get("Allow"))
		}
		writeProblemTo(w, withID(r.Context(), p))
	}))
}

// headerRecorder keeps the status and headers of an answer, not its body.
type headerRecorder struct {
	h      http.Header
	status int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(status int)      { r.status = status }

// OpenAPI returns the API's OpenAPI document as JSON.
func (s *Server) OpenAPI() ([]byte, error) { return s.api.OpenAPI().MarshalJSON() }

// authenticate resolves the bearer token of operations that need one.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	h := ctx.Header("Authorization")
	tok := ""
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		tok = strings.TrimSpace(h[7:])
	}
	t, err := s.tenants.Authenticate(ctx.Context(), tok)
	if err != nil {
		s.writeProblem(ctx, s.problemOf(ctx.Context(), err))
		return
	}
	next(huma.WithContext(ctx, tenant.WithCaller(ctx.Context(), t)))
}

func (s *Server) writeProblem(ctx huma.Context, p *Problem) {
	p = withID(ctx.Context(), p)
	if p.Status == http.StatusUnauthorized {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="customerkey"`)
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	b, _ := json.Marshal(p)
	ctx.BodyWriter().Write(b)
}

// Serve serves the API over TLS on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	// Clone: an http.Server writes its protocols into its TLS config, and
	// this one may be shared with other listeners of the process.
	srv := &http.Server{Handler: s.Handler(), TLSConfig: tlsConfig.Clone(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug)}
	jctx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() { s.RunJobs(jctx); close(jobsDone) }()
	defer func() { stopJobs(); <-jobsDone }()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// RunJobs runs the service's background jobs until ctx is done. Serve
// calls it; tests that serve Handler call it.
func (s *Server) RunJobs(ctx context.Context) { s.life.Run(ctx) }

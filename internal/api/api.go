// Package api is the Customer Key service's REST API: tenants, tokens and
// (as the service grows) onboarding, policies and the data plane. It is
// described by OpenAPI 3.1 (docs/openapi.json, served at /openapi.json),
// authenticates bearer tokens the service issues and keeps only as hashes,
// authorizes every call by role and tenant, and answers every error as
// application/problem+json naming the rule and the fix.
package api

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// OperatorTokenFile holds the operator's token in the data dir (dev).
const OperatorTokenFile = tenant.OperatorTokenFile

// EnsureOperatorToken returns the operator's token, kept in file.
var EnsureOperatorToken = tenant.EnsureOperatorToken

// Config configures the API.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Workloads by DEP kind (mailbox, site, mdep): the service principal
	// and keyring that reach customer keys for that kind.
	Workloads map[string]Workload
	// Azure is where onboarding reads subscriptions and vaults.
	Azure onboarding.Azure
	// Signer signs crypto-shred certificates (R6); its public key is
	// served at /v1/service/signing-key. Without it purges are refused.
	Signer ed25519.PrivateKey
	// PurgeApprovals is how many distinct authorised officers must
	// approve a purge (default 1).
	PurgeApprovals int
	// JobLease is how long a crashed process holds its jobs before
	// another resumes them (default 30 s).
	JobLease time.Duration
}

// Server is the service API.
type Server struct {
	cfg     Config
	api     huma.API
	mux     *http.ServeMux
	audit   *audit.Log
	index   indexer
	jobs    *jobs.Runner
	tenants *tenant.Service
}

// Version of the API document.
const Version = "0.1.0"

// New builds the API and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.tenants = tenant.New(cfg.Store, cfg.Now, cfg.Logger)
	s.audit = audit.New(cfg.Store, cfg.Now, cfg.Logger)
	if cfg.PurgeApprovals <= 0 {
		s.cfg.PurgeApprovals = 1
	}
	s.jobs = jobs.New(jobs.Config{Store: cfg.Store, Logger: cfg.Logger, Now: cfg.Now, Lease: cfg.JobLease})
	hc := huma.DefaultConfig("customerkey service API", Version)
	hc.Info.Description = "Customer Key: encryption at rest under root keys that tenants hold in their own key vaults. Every error is application/problem+json with the rule broken and how to fix it."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{"bearer": {Type: "http", Scheme: "bearer", Description: "A token the service issued (ck tenant token)."}}
	hc.DocsPath = ""
	s.api = humago.New(s.mux, hc)
	s.api.UseMiddleware(s.authenticate, s.auditAdmin)
	s.routes()
	return s, nil
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.mux }

// OpenAPI returns the API's OpenAPI document as JSON.
func (s *Server) OpenAPI() ([]byte, error) { return s.api.OpenAPI().MarshalJSON() }

var bearerAuth = []map[string][]string{{"bearer": {}}}

func (s *Server) routes() {
	register(s, huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/healthz", Summary: "Liveness", Tags: []string{"service"}},
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			out := &healthOutput{}
			out.Body.Status = "ok"
			return out, nil
		})
	register(s, huma.Operation{OperationID: "whoami", Method: http.MethodGet, Path: "/v1/me", Summary: "Who the token belongs to", Tags: []string{"service"}, Security: bearerAuth},
		func(ctx context.Context, _ *struct{}) (*meOutput, error) {
			p := tenant.Caller(ctx)
			return &meOutput{Body: me{Subject: p.Subject, Role: p.Role, Tenant: p.Tenant, Expires: p.Expires}}, nil
		})
	s.tenantRoutes()
	s.depRoutes()
	s.mailboxRoutes()
	s.onboardingRoutes()
	s.recordRoutes()
	s.siteRoutes()
	s.searchRoutes()
	s.auditRoutes()
	s.recoveryRoutes()
	s.jobRoutes()
	s.purgeRoutes()
	s.rollbackRoutes()
}

type healthOutput struct {
	Body struct {
		Status string `json:"status"`
	}
}

type me struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Tenant  string    `json:"tenant,omitempty" doc:"Empty for the service operator"`
	Expires time.Time `json:"expires"`
}

type meOutput struct{ Body me }

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
	if p.Status == http.StatusUnauthorized {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="customerkey"`)
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	b, _ := jsonMarshal(p)
	ctx.BodyWriter().Write(b)
}

// Serve serves the API over TLS on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	// Clone: an http.Server writes its protocols into its TLS config, and
	// this one may be shared with other listeners of the process.
	srv := &http.Server{Handler: s.mux, TLSConfig: tlsConfig.Clone(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute,
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

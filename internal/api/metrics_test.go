package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
)

// metricsEnv serves the API with the node's metrics, the given readiness
// checks and a JSON debug log.
func metricsEnv(t *testing.T, ready []api.ReadyCheck) (srv *httptest.Server, operator string, logs *logBuffer, m *service.Metrics) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs, m = &logBuffer{}, service.NewMetrics()
	s, err := service.NewAPI(service.Parts{Store: st, Metrics: m, Ready: ready,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if operator, err = tenant.EnsureOperatorToken(ctx, st, filepath.Join(dir, tenant.OperatorTokenFile), time.Now()); err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewTLSServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, operator, logs, m
}

// refusingKMS is a customer key whose access was removed.
type refusingKMS struct{}

func (refusingKMS) Get(context.Context, string) (kms.KeyInfo, error) { return kms.KeyInfo{}, nil }
func (refusingKMS) Wrap(context.Context, string, []byte) (kms.Wrapped, error) {
	return kms.Wrapped{}, nil
}
func (refusingKMS) Unwrap(context.Context, string, []byte) ([]byte, error) {
	return nil, &kms.Error{Reason: kms.AccessRemoved}
}

func fetch(t *testing.T, srv *httptest.Server, token, path, requestID string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if requestID != "" {
		req.Header.Set(api.RequestIDHeader, requestID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// /metrics serves the node's metrics to the operator only: the API's
// requests by route and status among them, and the keyring's, jobs',
// vault calls' and events' families (SPEC S5). Every request's log line
// carries its request ID.
func TestMetrics(t *testing.T) {
	srv, op, logs, m := metricsEnv(t, nil)
	m.Job("roll", "started")
	m.Job("roll", "retry")
	m.Events.WithLabelValues("revocation", "published").Inc()
	m.KMS(refusingKMS{}).Unwrap(context.Background(), "https://contoso.localhost:8443/keys/k1/0123456789abcdef0123456789abcdef", nil)
	if code, _, _ := fetch(t, srv, op, "/v1/me", "req-me-1"); code != 200 {
		t.Fatalf("GET /v1/me: %d", code)
	}
	fetch(t, srv, "", "/v1/me", "")
	if code, _, _ := fetch(t, srv, "", "/metrics", ""); code != 401 {
		t.Errorf("GET /metrics without a token: %d, want 401", code)
	}
	code, ct, body := fetch(t, srv, op, "/metrics", "")
	if code != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics as the operator: %d %s", code, ct)
	}
	for _, want := range []string{
		`customerkey_http_requests_total{route="whoami",status="200"} 1`,
		`customerkey_http_requests_total{route="whoami",status="401"} 1`,
		`customerkey_http_request_seconds_bucket{route="whoami"`,
		"# TYPE customerkey_keyring_cache_hits_total counter",
		`customerkey_jobs_total{event="retry",kind="roll"} 1`,
		`customerkey_jobs_running{kind="roll"} 0`,
		`customerkey_vault_calls_total{op="unwrap",result="access removed",vault="contoso.localhost:8443"} 1`,
		`customerkey_events_total{direction="published",kind="revocation"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	found := false
	for _, r := range logs.records(t) {
		if r["msg"] == "api: request" && r["request_id"] == "req-me-1" && r["route"] == "whoami" && r["status"] == float64(200) {
			found = true
		}
	}
	if !found {
		t.Errorf("no request log line with request_id, route and status: %v", logs.records(t))
	}
}

// /readyz is 200 while every dependency answers, else a 503 problem that
// names each one down; /healthz stays 200 (SPEC S5).
func TestReady(t *testing.T) {
	var dbDown, ksDown bool
	check := func(down *bool) func(context.Context) error {
		return func(context.Context) error {
			if *down {
				return errors.New("connection refused")
			}
			return nil
		}
	}
	srv, _, _, _ := metricsEnv(t, []api.ReadyCheck{{Name: "database", Check: check(&dbDown)}, {Name: "keystore", Check: check(&ksDown)}})
	if code, _, body := fetch(t, srv, "", "/readyz", ""); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("GET /readyz: %d %s, want 200", code, body)
	}
	dbDown, ksDown = true, true
	code, ct, body := fetch(t, srv, "", "/readyz", "")
	if code != 503 || ct != "application/problem+json" || !strings.Contains(body, client.RuleServiceReady) ||
		!strings.Contains(body, "database") || !strings.Contains(body, "keystore") || strings.Contains(body, "connection refused") {
		t.Errorf("GET /readyz with both down: %d %s %s; want a 503 problem naming database and keystore, not the cause", code, ct, body)
	}
	dbDown = false
	if _, _, body := fetch(t, srv, "", "/readyz", ""); strings.Contains(body, "database") || !strings.Contains(body, "keystore") {
		t.Errorf("GET /readyz with the keystore down: %s", body)
	}
	if code, _, _ := fetch(t, srv, "", "/healthz", ""); code != 200 {
		t.Errorf("GET /healthz: %d, want 200", code)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json")

type env struct {
	t        *testing.T
	srv      *httptest.Server
	operator string
	dbFile   string
}

func start(t *testing.T) *env { return startOn(t, nil) }

// startOn is start with the service's store wrapped by wrap (nil: none),
// for a test that watches what the service asks of it.
func startOn(t *testing.T, wrap func(*sqlstore.DB) store.Store) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "ck.db")
	st, err := sqlstore.OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var used store.Store = st
	if wrap != nil {
		used = wrap(st)
	}
	s, err := service.NewAPI(service.Parts{Store: used})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tenant.EnsureOperatorToken(ctx, st, filepath.Join(dir, tenant.OperatorTokenFile), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, operator: tok, dbFile: db}
}

// call sends a request and returns status, content type and body.
func (e *env) call(token, method, path, body string) (int, string, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(data, &out)
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

// must calls the API and fails the test unless the status is want.
func (e *env) must(token, method, path, body string, want int) map[string]any {
	e.t.Helper()
	st, _, out := e.call(token, method, path, body)
	if st != want {
		e.t.Fatalf("%s %s: %d %v, want %d", method, path, st, out, want)
	}
	return out
}

func (e *env) wantProblem(status int, rule string, gotStatus int, ct string, body map[string]any) {
	e.t.Helper()
	if gotStatus != status || ct != "application/problem+json" || body["rule"] != rule || body["detail"] == "" || body["fix"] == "" {
		e.t.Fatalf("got %d %s %v, want a problem+json %d with rule %s, a detail and a fix", gotStatus, ct, body, status, rule)
	}
}

// TestOpenAPIDocument: docs/openapi.json is the document the server serves.
func TestOpenAPIDocument(t *testing.T) {
	e := start(t)
	resp, err := e.srv.Client().Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served, _ := io.ReadAll(resp.Body)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, served, "", "  "); err != nil {
		t.Fatalf("served document is not JSON: %v", err)
	}
	pretty.WriteByte('\n')
	const file = "../../docs/openapi.json"
	if *update {
		if err := os.WriteFile(file, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, pretty.Bytes()) {
		t.Fatal("docs/openapi.json differs from the served document; run: go test ./internal/api -run TestOpenAPIDocument -update")
	}
}

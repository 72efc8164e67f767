package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/logtest"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
)

// logBuffer is a slog handler's output, safe for the server's goroutines.
type logBuffer struct{ logtest.Buffer }

// records are the JSON log records written so far.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRequestIDAndFiveHundreds (SPEC T9): every answer carries a request
// ID (the caller's when it is sane), so does every problem body; a 500 is
// logged once with the ID and its cause, and answered without the cause.
func TestRequestIDAndFiveHundreds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	s, err := service.NewAPI(service.Parts{Store: st, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tenant.EnsureOperatorToken(ctx, st, filepath.Join(dir, tenant.OperatorTokenFile), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	defer srv.Close()
	call := func(method, path, requestID string) (int, string, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if requestID != "" {
			req.Header.Set("X-Request-ID", requestID)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var body map[string]any
		json.Unmarshal(data, &body)
		return resp.StatusCode, resp.Header.Get("X-Request-ID"), body
	}

	// The caller's ID when sane; a fresh one otherwise.
	for _, tc := range []struct{ given, want string }{
		{"abc-123.x:y_z", "abc-123.x:y_z"},
		{"", ""},
		{strings.Repeat("a", 65), ""},
		{"evil\tid", ""},
		{"evil id", ""},
	} {
		status, id, _ := call("GET", "/v1/me", tc.given)
		if status != 200 || id == "" || tc.want != "" && id != tc.want || tc.want == "" && id == tc.given {
			t.Errorf("X-Request-ID %q: got %d and ID %q, want 200 and %q", tc.given, status, id, cmp.Or(tc.want, "a fresh ID"))
		}
	}
	// Problems carry it: a 404 from a handler, a 404 from the mux.
	for _, path := range []string{"/v1/tenants/Nowhere", "/v1/nothing-here"} {
		status, id, body := call("GET", path, "")
		if status != 404 || id == "" || body["requestId"] != id {
			t.Errorf("GET %s: got %d, header ID %q, body %v; want 404 with requestId equal to the header", path, status, id, body)
		}
	}
	if n := len(logs.records(t)); n != 0 {
		t.Fatalf("answers below 500 logged %d records, want none: %v", n, logs.records(t))
	}

	// A 500: the store is gone under the service.
	st.Close()
	status, id, body := call("GET", "/v1/tenants", "trace-500")
	if status != 500 || id != "trace-500" || body["requestId"] != id || body["rule"] != "Internal" {
		t.Fatalf("after the store closed: got %d, ID %q, body %v; want a 500 Internal problem with requestId trace-500", status, id, body)
	}
	if b, _ := json.Marshal(body); strings.Contains(string(b), "closed") || strings.Contains(string(b), "sql") {
		t.Errorf("the 500 tells the client its cause: %s", b)
	}
	recs := logs.records(t)
	if len(recs) != 1 {
		t.Fatalf("a 500 logged %d records, want 1: %v", len(recs), recs)
	}
	if r := recs[0]; r["request_id"] != "trace-500" || r["level"] != "ERROR" || !strings.Contains(r["err"].(string), "closed") {
		t.Fatalf("the 500's log record %v: want level ERROR, request_id trace-500 and the error", r)
	}
}

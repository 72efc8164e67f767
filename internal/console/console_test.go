package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/client"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/console/", 200, "text/html; charset=utf-8"},
		{"GET", "/console/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/console/style.css", 200, "text/css; charset=utf-8"},
		{"HEAD", "/console/ui.js", 200, "text/javascript; charset=utf-8"},
		// Errors are problems, as the API's (T9).
		{"GET", "/console/nothing.js", 404, "application/problem+json"},
		{"GET", "/console/../console.go", 404, "application/problem+json"},
		{"POST", "/console/", 405, "application/problem+json"},
	} {
		res := get(t, h, tc.method, tc.path)
		if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if tc.status >= 400 {
			var p client.Problem
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p.Status != tc.status || p.Rule == "" || p.Fix == "" {
				t.Errorf("%s %s: the problem: %+v %v", tc.method, tc.path, p, err)
			}
		}
		// Every answer, errors included, carries the policy.
		if csp := res.Header.Get("Content-Security-Policy"); csp != CSP || res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, res.Header)
		}
	}
	if strings.Contains(CSP, "unsafe-inline") || strings.Contains(CSP, "unsafe-eval") || !strings.Contains(CSP, "script-src 'self'") {
		t.Errorf("CSP allows more than the service's own scripts: %s", CSP)
	}
}

// TestRevalidate: gzip when asked, the same ETag either way, and a 304
// with no body for a browser that has the asset.
func TestRevalidate(t *testing.T) {
	h := Handler()
	plain := get(t, h, "GET", "/console/app.js")
	body, _ := io.ReadAll(plain.Body)
	gz := get(t, h, "GET", "/console/app.js", "Accept-Encoding", "br, gzip;q=0.9")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") != plain.Header.Get("ETag") || plain.Header.Get("ETag") == "" {
		t.Fatalf("gzip answer: %v (plain ETag %q)", gz.Header, plain.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, body) || len(body) == 0 {
		t.Fatalf("the gzip body is not the asset (%d vs %d bytes)", len(unzipped), len(body))
	}
	if res := get(t, h, "GET", "/console/app.js", "Accept-Encoding", "identity"); res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip without asking: %v", res.Header)
	}
	again := get(t, h, "GET", "/console/app.js", "If-None-Match", plain.Header.Get("ETag"))
	if b, _ := io.ReadAll(again.Body); again.StatusCode != 304 || len(b) != 0 {
		t.Fatalf("revalidation: %d with %d bytes", again.StatusCode, len(b))
	}
	if res := get(t, h, "GET", "/console/app.js", "If-None-Match", `"stale"`); res.StatusCode != 200 {
		t.Fatalf("a stale ETag: %d", res.StatusCode)
	}
}

// TestAssetsSelfContained: every file the page and its modules load is
// embedded, and none comes from another origin or runs inline.
func TestAssetsSelfContained(t *testing.T) {
	h := Handler()
	ref := regexp.MustCompile(`(?:src|href)="([^"]+)"|from '(\./[^']+)'`)
	for _, f := range []string{"index.html", "app.js", "api.js", "ui.js", "audit.js"} {
		res := get(t, h, "GET", "/console/"+f)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", f, res.StatusCode)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			u := m[1] + m[2]
			if strings.HasPrefix(u, "#") || strings.HasPrefix(u, "data:") {
				continue
			}
			if strings.Contains(u, "//") {
				t.Errorf("%s loads %s from another origin", f, u)
				continue
			}
			if res := get(t, h, "GET", "/console/"+strings.TrimPrefix(u, "./")); res.StatusCode != 200 {
				t.Errorf("%s loads %s: %d", f, u, res.StatusCode)
			}
		}
		if f == "index.html" && regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(b) {
			t.Errorf("index.html has an inline script")
		}
	}
}

package rest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"v1", "tenants", "Contoso"}, "/v1/tenants/Contoso"},
		{[]string{"v1", "tenants", "a/b c", "mailboxes", "alice@contoso.com"}, "/v1/tenants/a%2Fb%20c/mailboxes/alice@contoso.com"},
		{[]string{"v1", "tenants", "..", "x?y#z"}, "/v1/tenants/../x%3Fy%23z"},
	} {
		if got := Path(tc.in...); got != tc.want {
			t.Errorf("Path(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A server that refuses connections is skipped for the next base; an
// answer, even an error, is final.
func TestFailOverAndProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/bad" {
			http.Error(w, `{"rule":"X"}`, http.StatusConflict)
			return
		}
		fmt.Fprintf(w, `{"path":%q,"query":%q}`, r.URL.Path, r.URL.RawQuery)
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	c := &Client{HTTP: srv.Client(), Bases: []string{refused, srv.URL}, Token: "tok",
		Problem: func(status int, _ http.Header, body []byte) error {
			return fmt.Errorf("%d %s: %w", status, body, errors.ErrUnsupported)
		}}
	var out struct{ Path, Query string }
	if err := c.Do(context.Background(), http.MethodGet, "/v1/x?a=b", nil, &out); err != nil || out.Path != "/v1/x" || out.Query != "a=b" {
		t.Fatalf("got %+v, %v; want the second base's answer", out, err)
	}
	if err := c.Do(context.Background(), http.MethodPost, "/bad", map[string]int{"n": 1}, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a 409 gave %v, want the Problem decoder's error", err)
	}
	c.Bases = []string{refused}
	c.Unreachable = func(base string, err error) error { return fmt.Errorf("unreachable at %s: %w", base, net.ErrClosed) }
	if err := c.Do(context.Background(), http.MethodGet, "/v1/x", nil, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("no server gave %v, want the Unreachable error", err)
	}
}

// TestSendRefusesOversizedAnswer: an answer larger than MaxAnswer is an
// error, not its first MaxAnswer bytes taken for the whole.
func TestSendRefusesOversizedAnswer(t *testing.T) {
	for _, n := range []int{MaxAnswer, MaxAnswer + 1} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, n))
		}))
		c := &Client{HTTP: srv.Client(), Bases: []string{srv.URL}}
		data, err := c.Send(context.Background(), http.MethodGet, "/x", nil)
		srv.Close()
		if n == MaxAnswer && (err != nil || len(data) != n) {
			t.Errorf("an answer of MaxAnswer bytes: %d bytes, %v", len(data), err)
		}
		if n > MaxAnswer && err == nil {
			t.Errorf("an answer of %d bytes was read as %d, without an error", n, len(data))
		}
	}
}

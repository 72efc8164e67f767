package kms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// Defence in depth: whatever builds a request, the client's transport
// refuses a host outside the domains, and so does its dialer when asked
// directly.
func TestGuardTransportAndDialer(t *testing.T) {
	l := vaulttest.Listen(t, vaulttest.PlainTCP, 0)
	d, err := ParseDomains([]string{"vault.azure.net"})
	if err != nil {
		t.Fatal(err)
	}
	c := guard(nil, d)
	for _, u := range []string{fmt.Sprintf("https://127.0.0.1:%d/", l.Port), fmt.Sprintf("http://x.vault.azure.net:%d/", l.Port), fmt.Sprintf("https://localhost:%d/", l.Port)} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := c.Do(req); !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("GET %s: got %v, want %v", u, err, ErrHostNotAllowed)
		}
	}
	tr := c.Transport.(hostGuard).next.(*http.Transport)
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", l.Port), fmt.Sprintf("localhost:%d", l.Port)} {
		if _, err := tr.DialContext(context.Background(), "tcp", addr); !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("dial %s: got %v, want %v", addr, err, ErrHostNotAllowed)
		}
	}
	if n := l.Accepts(); n != 0 {
		t.Fatalf("the listener accepted %d connections, want none", n)
	}
}

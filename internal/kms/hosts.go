package kms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AzureDomains are the vault domains of Azure's public cloud: Key Vault
// and Managed HSM (SPEC T4).
var AzureDomains = []string{"vault.azure.net", "managedhsm.azure.net"}

// Domains are the vault hosts the service may connect to (SPEC T4): a
// vault host is exactly one label under a configured domain
// ({vault}.vault.azure.net), on the domain's port: 443 unless the domain
// names one ("localhost:8443", a region of the built-in vault). Anything
// else a key URI names is refused before a connection is made, so that a
// tenant cannot make the service dial into the provider's network.
type Domains struct {
	list []domain
}

type domain struct{ suffix, port string }

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// ParseDomains reads domain entries ("vault.azure.net",
// "localhost:8443"). It refuses an empty list: a client that may dial
// nothing is a configuration mistake.
func ParseDomains(entries []string) (Domains, error) {
	var d Domains
	for _, e := range entries {
		x, err := parseDomain(e)
		if err != nil {
			return Domains{}, err
		}
		d.list = append(d.list, x)
	}
	if len(d.list) == 0 {
		return Domains{}, errors.New("no vault domains: give at least one, e.g. vault.azure.net")
	}
	return d, nil
}

func parseDomain(e string) (domain, error) {
	s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e)), ".")
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return domain{}, fmt.Errorf("vault domain %q: port %q is not 1-65535", e, p)
		}
	}
	if net.ParseIP(host) != nil || !domainRE.MatchString(host) || !strings.ContainsFunc(host, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }) {
		return domain{}, fmt.Errorf("vault domain %q: want a DNS name with an optional port, e.g. vault.azure.net or localhost:8443", e)
	}
	return domain{suffix: host, port: port}, nil
}

// Allows reports whether hostport (a URL's host, with or without a port)
// is a vault host under one of the domains.
func (d Domains) Allows(hostport string) bool {
	host, port := strings.ToLower(hostport), "443"
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(host, ".")
	if net.ParseIP(host) != nil {
		return false
	}
	for _, x := range d.list {
		label, ok := strings.CutSuffix(host, "."+x.suffix)
		want := x.port
		if want == "" {
			want = "443"
		}
		if ok && label != "" && !strings.Contains(label, ".") && port == want {
			return true
		}
	}
	return false
}

// String lists the domains as configured.
func (d Domains) String() string {
	var out []string
	for _, x := range d.list {
		if x.port == "" {
			out = append(out, x.suffix)
		} else {
			out = append(out, net.JoinHostPort(x.suffix, x.port))
		}
	}
	return strings.Join(out, ", ")
}

// ErrHostNotAllowed refuses a connection to a host outside the vault
// domains.
var ErrHostNotAllowed = errors.New("host outside the configured vault domains")

// guard returns an HTTP client that reaches vault hosts of d only: each
// request's host is checked before it is sent, and the dialer checks
// again what it is asked to dial (defence in depth: whatever builds a
// request, nothing else is connected to). base is the client to wrap (nil:
// Go's default transport); its timeout is kept.
func guard(base *http.Client, d Domains) *http.Client {
	out := &http.Client{}
	rt := http.DefaultTransport
	if base != nil {
		out.Timeout = base.Timeout
		if base.Transport != nil {
			rt = base.Transport
		}
	}
	if tr, ok := rt.(*http.Transport); ok {
		tr = tr.Clone()
		if tr.TLSHandshakeTimeout == 0 {
			// A listener that accepts and says nothing holds no connection
			// for long.
			tr.TLSHandshakeTimeout = 10 * time.Second
		}
		dialOK := d.Allows
		if tr.Proxy != nil {
			// Behind a proxy the dialer is asked for the proxy: allow the
			// proxies the environment names for vault hosts, nothing else.
			proxies := map[string]bool{}
			for _, x := range d.list {
				u := &url.URL{Scheme: "https", Host: net.JoinHostPort("vault."+x.suffix, x.portOr443())}
				if p, err := tr.Proxy(&http.Request{URL: u}); err == nil && p != nil {
					proxies[strings.ToLower(canonicalAddr(p))] = true
				}
			}
			dialOK = func(addr string) bool { return d.Allows(addr) || proxies[strings.ToLower(addr)] }
		}
		dial := tr.DialContext
		if dial == nil {
			dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !dialOK(addr) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: ErrHostNotAllowed}
			}
			return dial(ctx, network, addr)
		}
		if dial := tr.DialTLSContext; dial != nil {
			tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if !dialOK(addr) {
					return nil, &net.OpError{Op: "dial", Net: network, Err: ErrHostNotAllowed}
				}
				return dial(ctx, network, addr)
			}
		}
		rt = tr
	}
	out.Transport = hostGuard{next: rt, domains: d}
	return out
}

func (x domain) portOr443() string {
	if x.port == "" {
		return "443"
	}
	return x.port
}

// canonicalAddr is a proxy URL's host:port.
func canonicalAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := map[string]string{"http": "80", "https": "443", "socks5": "1080"}[u.Scheme]
	return net.JoinHostPort(u.Hostname(), port)
}

// hostGuard refuses a request to a host outside the vault domains before
// the transport sees it.
type hostGuard struct {
	next    http.RoundTripper
	domains Domains
}

func (g hostGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || r.URL.Scheme != "https" || !g.domains.Allows(r.URL.Host) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, ErrHostNotAllowed
	}
	return g.next.RoundTrip(r)
}

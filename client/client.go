// Package client is the Go SDK of the Customer Key service API: every
// operation as a typed method, every request and answer as a type, and
// the rule IDs of the service's errors as constants.
//
// A Client acts with one token: the operator's (which `ck dev` writes to
// its connection file), or a token the operator or a tenant's global admin
// issued with CreateToken.
//
//	c, err := client.New(client.Config{URL: "https://localhost:8445", Token: token, CAFile: "ck-data/ca.pem"})
//	t, err := c.CreateTenant(ctx, client.CreateTenantRequest{Name: "Contoso"})
//	d, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{Name: "Contoso-EXO-DEP-1", AzureKeyIDs: keys})
//
// Errors the service answers are *Problem values: RFC 9457 problem
// details naming the rule that was broken (a Rule... constant) and how to
// fix it.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/rest"
)

// Config says where the service is and who calls it.
type Config struct {
	URL    string // https://host:port
	Token  string // a token the service issued
	CAFile string // a CA to trust (the local CA under ck dev); "" for the system roots
	// HTTPClient, if set, sends the requests (and CAFile is not read).
	HTTPClient *http.Client
}

// Client calls the service API. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("client: no service URL (is the service running? ck dev writes it to dev.json)")
	}
	if cfg.HTTPClient != nil {
		return &Client{cfg: cfg, hc: cfg.HTTPClient}, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no certificate", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{cfg: cfg, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// WithToken returns a copy of c that calls with another token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.cfg.Token = token
	return &cp
}

// URL is the service's URL.
func (c *Client) URL() string { return c.cfg.URL }

// Problem is an error the service answered: RFC 9457 problem details,
// with the rule that was broken and how to fix it.
type Problem struct {
	Type   string         `json:"type" doc:"urn:customerkey:problem:{rule}"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Rule   string         `json:"rule" doc:"The rule that was broken, e.g. D1.NameWithoutSpaces"`
	Fix    string         `json:"fix,omitempty" doc:"How to fix it"`
	Errors []*ErrorDetail `json:"errors,omitempty"`
	// RequestID is the request's X-Request-ID, under which the service
	// logged a 5xx with its cause: give it to the operator.
	RequestID string `json:"requestId,omitempty" doc:"The request's ID (the X-Request-ID header); the service log names it with every 5xx"`
	// RetryAfter is how long the service asked the caller to wait before
	// trying again (the Retry-After header of a 429 or 503; 0: none).
	RetryAfter time.Duration `json:"-"`
}

// ErrorDetail says where a request did not match the API.
type ErrorDetail struct {
	Message  string `json:"message,omitempty" doc:"Error message text"`
	Location string `json:"location,omitempty" doc:"Where the error occurred, e.g. 'body.items[3].tags' or 'path.thing-id'"`
	Value    any    `json:"value,omitempty" doc:"The value at the given location"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	for _, e := range p.Errors {
		if e != nil {
			msg += "; " + strings.TrimSpace(e.Location+" "+e.Message)
		}
	}
	if p.Fix != "" {
		msg += ". Fix: " + p.Fix
	}
	if p.Status >= 500 && p.RequestID != "" {
		return fmt.Sprintf("%s (%d, rule %s, request ID %s)", msg, p.Status, p.Rule, p.RequestID)
	}
	return fmt.Sprintf("%s (%d, rule %s)", msg, p.Status, p.Rule)
}

// IsRule reports whether err is a Problem that names rule.
func IsRule(err error, rule string) bool {
	var p *Problem
	return errors.As(err, &p) && p.Rule == rule
}

// parseProblem reads a non-2xx answer.
func parseProblem(status int, header http.Header, body []byte) error {
	p := &Problem{Status: status, Detail: strings.TrimSpace(string(body))}
	json.Unmarshal(body, p)
	p.RetryAfter = parseRetryAfter(header.Get("Retry-After"), time.Now())
	return p
}

// maxRetryAfter bounds the pause a Retry-After may ask for.
const maxRetryAfter = 5 * time.Minute

// parseRetryAfter reads a Retry-After value (RFC 9110 10.2.3): seconds, or
// an HTTP date; 0 if there is none or it cannot be read. It is bounded by
// maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// retryAfter is the pause err's Retry-After asks for, or def.
func retryAfter(err error, def time.Duration) time.Duration {
	var p *Problem
	if errors.As(err, &p) && p.RetryAfter > 0 {
		return p.RetryAfter
	}
	return def
}

func (c *Client) rest() *rest.Client {
	return &rest.Client{HTTP: c.hc, Bases: []string{c.cfg.URL}, Token: c.cfg.Token, Problem: parseProblem,
		Unreachable: func(base string, err error) error {
			return fmt.Errorf("Customer Key service unreachable at %s: %w", base, err)
		}}
}

// Do sends a JSON request (in, if not nil) to path and decodes the JSON
// answer into out (if not nil). The typed methods cover every operation;
// Do is for what they do not.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.rest().Do(ctx, method, path, in, out)
}

// call is Do returning the answer as a T.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.rest().Do(ctx, method, path, in, &out)
	return out, err
}

// putRaw writes content (application/octet-stream) and decodes the answer.
func putRaw[T any](ctx context.Context, c *Client, path string, content []byte) (T, error) {
	var out T
	data, err := c.rest().Send(ctx, http.MethodPut, path, &rest.Body{ContentType: "application/octet-stream", Data: content})
	if err != nil {
		return out, err
	}
	return out, rest.Decode(data, &out)
}

// getRaw reads content.
func (c *Client) getRaw(ctx context.Context, path string) ([]byte, error) {
	return c.rest().Send(ctx, http.MethodGet, path, nil)
}

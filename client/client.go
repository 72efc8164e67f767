// Package client is the Go SDK of the Customer Key service API. Errors the
// service answers are *Problem values: RFC 9457 problem details with the
// rule that was broken and how to fix it.
//
//	c, _ := client.New(client.Config{URL: "https://localhost:8445", Token: token, CAFile: "ck-data/ca.pem"})
//	var t client.Tenant
//	err := c.Do(ctx, "POST", "/v1/tenants", map[string]string{"name": "Contoso"}, &t)
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Config says where the service is and who calls it.
type Config struct {
	URL    string // https://host:port
	Token  string // a token the service issued
	CAFile string // a CA to trust (the local CA under ck dev); "" for the system roots
}

// Client calls the service API.
type Client struct {
	cfg Config
	hc  *http.Client
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("client: no service URL (is the service running? ck dev writes it to dev.json)")
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

// Problem is an error the service answered.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Rule   string `json:"rule"`
	Fix    string `json:"fix"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	for _, e := range p.Errors {
		msg += "; " + strings.TrimSpace(e.Location+" "+e.Message)
	}
	if p.Fix != "" {
		msg += ". Fix: " + p.Fix
	}
	return fmt.Sprintf("%s (%d, rule %s)", msg, p.Status, p.Rule)
}

// Do sends a JSON request and decodes the answer into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.URL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("Customer Key service unreachable at %s: %w", c.cfg.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode, Detail: strings.TrimSpace(string(data))}
		json.Unmarshal(data, p)
		return p
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	return json.Unmarshal(data, out)
}

// DoRaw sends raw bytes (application/octet-stream) and decodes a JSON answer.
func (c *Client) DoRaw(ctx context.Context, method, path string, body []byte, out any) error {
	data, err := c.send(ctx, method, path, "application/octet-stream", body)
	if err != nil {
		return err
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Get returns a raw answer (an item's content).
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	return c.send(ctx, http.MethodGet, path, "", nil)
}

func (c *Client) send(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Customer Key service unreachable at %s: %w", c.cfg.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode, Detail: strings.TrimSpace(string(data))}
		json.Unmarshal(data, p)
		return nil, p
	}
	return data, nil
}

// Tenant is a customer organisation of the service.
type Tenant struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Token is an issued API token (its value is shown once).
type Token struct {
	Token   string    `json:"token"`
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Tenant  string    `json:"tenant"`
	Expires time.Time `json:"expires"`
}

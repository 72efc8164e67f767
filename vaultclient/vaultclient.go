// Package vaultclient connects Go programs to the customerkey built-in key
// vault: it reads the connection file that `ck dev` (or `ck vault server`)
// writes, builds an HTTP client that trusts the local CA and resolves
// *.localhost to the loopback interface, calls the management API, and
// supplies an azcore.TokenCredential so the official azkeys client works
// against the vault unchanged:
//
//	cfg, _ := vaultclient.LoadConfig("ck-data/dev.json")
//	mc, _ := vaultclient.New(cfg)
//	kc, _ := mc.KeysClient("https://contosoekv01.localhost:8443", "c066d759-24ae-40e7-a56f-027002b5d3e4")
//	kc.WrapKey(ctx, "key1", "", azkeys.KeyOperationParameters{...}, nil)
package vaultclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/rest"
)

// Config is the connection file written by `ck dev` and `ck vault server`.
type Config struct {
	CAFile        string `json:"ca_file"`
	ManagementURL string `json:"management_url"`
	AdminToken    string `json:"admin_token,omitempty"`
	// WorkloadToken, in the connection file the Customer Key service is
	// given (workload.json) instead of the admin token: it mints tokens
	// for the service's applications (WorkloadApps) only and reads the
	// directory (subscriptions, vaults, principals); it grants no access
	// and reaches no key.
	WorkloadToken string   `json:"workload_token,omitempty"`
	Regions       []Region `json:"regions"`
	DataDir       string   `json:"data_dir,omitempty"`
	// The Customer Key service, when it runs (ck dev): its URL and the
	// operator's token.
	ServiceURL   string `json:"service_url,omitempty"`
	ServiceToken string `json:"service_token,omitempty"`
}

// WorkloadApps are the applications the Customer Key service acts as:
// what a workload token may mint tokens for.
var WorkloadApps = []string{
	"00000002-0000-0ff1-ce00-000000000000", // Office 365 Exchange Online: mailbox DEPs
	"00000003-0000-0ff1-ce00-000000000000", // Office 365 SharePoint Online: site DEPs
	"c066d759-24ae-40e7-a56f-027002b5d3e4", // M365DataAtRestEncryption: the multi-workload DEP
	"19f7f505-34aa-44a4-9dcc-6a768854d2ea", // the Customer Key onboarding application
}

// Region is one vault region: its name and base URL.
type Region struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// LoadConfig reads a connection file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connection file: %w (start the system with `ck dev`, or pass --config)", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("connection file %s: %w", path, err)
	}
	if c.ManagementURL == "" || c.CAFile == "" {
		return nil, fmt.Errorf("connection file %s: management_url and ca_file are required", path)
	}
	return &c, nil
}

// HTTPClient returns a client that trusts the CA in caFile and dials
// localhost and *.localhost on the loopback interface.
func HTTPClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// Client calls the vault's management API.
type Client struct {
	cfg   *Config
	base  string
	token string
	hc    *http.Client
}

// New returns a client acting with the config's admin token, or its
// workload token when it has none.
func New(cfg *Config) (*Client, error) {
	hc, err := HTTPClient(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	token := cfg.AdminToken
	if token == "" {
		token = cfg.WorkloadToken
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.ManagementURL, "/"), token: token, hc: hc}, nil
}

// WithToken returns a copy of c that authenticates with token instead
// (for example a principal's access token).
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// HTTP is the underlying HTTP client.
func (c *Client) HTTP() *http.Client { return c.hc }

// VaultDomains are the domains the vaults of this connection are served
// under: each region's host and port (a vault is at
// https://{vault}.{domain}), e.g. "localhost:8443".
func (c *Client) VaultDomains() []string {
	var out []string
	for _, r := range c.cfg.Regions {
		if u, err := url.Parse(r.URL); err == nil && u.Host != "" && !slices.Contains(out, strings.ToLower(u.Host)) {
			out = append(out, strings.ToLower(u.Host))
		}
	}
	return out
}

// Error is an error answered by the vault.
type Error struct {
	Status  int
	Code    string
	Inner   string
	Message string
}

func (e *Error) Error() string {
	code := e.Code
	if e.Inner != "" {
		code += "/" + e.Inner
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, code)
}

// ParseError reads an error answer in Azure's JSON shape
// ({"error":{"code","message","innererror":{"code"}}}), as the vault's keys
// and management APIs send it.
func ParseError(status int, body []byte) *Error {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	ae := &Error{Status: status, Message: strings.TrimSpace(string(body))}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		ae.Code, ae.Message = e.Error.Code, e.Error.Message
		if e.Error.InnerError != nil {
			ae.Inner = e.Error.InnerError.Code
		}
	}
	return ae
}

// Do sends a JSON request to the management API and decodes the answer
// into out. Every region serves the management API: if the first refuses
// connections (an outage drill, say), the others are tried in turn.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.rest().Do(ctx, method, path, in, out)
}

// rest is the request helper for the management API: the management URL
// first, then every other region; errors in Azure's shape.
func (c *Client) rest() *rest.Client {
	bases := []string{c.base}
	for _, r := range c.cfg.Regions {
		if r.URL != c.base {
			bases = append(bases, r.URL)
		}
	}
	return &rest.Client{
		HTTP: c.hc, Bases: bases, Token: c.token,
		Problem: func(status int, _ http.Header, body []byte) error { return ParseError(status, body) },
		Unreachable: func(base string, err error) error {
			return fmt.Errorf("vault management API unreachable at %s: %w (is `ck dev` running?)", base, err)
		},
	}
}

// Token is an access token from the vault's local issuer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresOn   int64  `json:"expires_on"`
	TenantID    string `json:"tenant_id"`
	Principal   string `json:"principal"`
}

// Token asks the local issuer for a token for principal (a UPN or an
// application ID). tenant may be empty when the name is unique; scope is a
// region URL (with or without /.default), empty for the management region.
func (c *Client) Token(ctx context.Context, principal, tenant, scope string) (Token, error) {
	var t Token
	err := c.Do(ctx, http.MethodPost, "/issuer/token", map[string]string{"principal": principal, "tenant": tenant, "scope": scope}, &t)
	return t, err
}

// Credential returns an azcore.TokenCredential that gets tokens for
// principal from the local issuer, for whatever tenant and scope the
// vault's challenge names.
func (c *Client) Credential(principal string) azcore.TokenCredential {
	return &credential{c: c, principal: principal}
}

type credential struct {
	c         *Client
	principal string
}

func (cr *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	scope := ""
	if len(opts.Scopes) > 0 {
		scope = opts.Scopes[0]
	}
	t, err := cr.c.Token(ctx, cr.principal, opts.TenantID, scope)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("get a token for %s: %w", cr.principal, err)
	}
	return azcore.AccessToken{Token: t.AccessToken, ExpiresOn: time.Unix(t.ExpiresOn, 0)}, nil
}

// KeysClient returns the official azkeys client for a vault URL, acting as
// principal. Resource verification stays on.
func (c *Client) KeysClient(vaultURL, principal string) (*azkeys.Client, error) {
	return azkeys.NewClient(vaultURL, c.Credential(principal), &azkeys.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: c.hc},
	})
}

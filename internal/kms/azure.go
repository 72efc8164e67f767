package kms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/vaultclient"
)

// AzureConfig configures the azkeys-based client.
type AzureConfig struct {
	// Credential gets tokens: vaultclient's local issuer for the built-in
	// vault, an azidentity credential for Azure.
	Credential azcore.TokenCredential
	// HTTPClient carries the requests: one that trusts the built-in vault's
	// CA and resolves *.localhost for it; nil for Azure.
	HTTPClient *http.Client
	// TryTimeout bounds each attempt (default 10s); MaxRetries is the
	// number of retries of transient failures (default 1, so that a failing
	// vault hands over to the other one quickly).
	TryTimeout time.Duration
	MaxRetries int32
	// Domains are the vault domains the client may connect to (see
	// Domains): AzureDomains for Azure, the regions of the built-in vault
	// (vaultclient.Client.VaultDomains). Required.
	Domains []string
	// Logger receives what a connection failure was (refused, reset, TLS,
	// timeout), which errors do not tell (default: discarded, as every
	// package of the service does without a logger).
	Logger *slog.Logger
}

// Azure implements Client with the official azkeys client.
type Azure struct {
	cfg     AzureConfig
	domains Domains
	hc      *http.Client // reaches hosts of domains only
	log     *slog.Logger
	mu      sync.Mutex
	clients map[string]*azkeys.Client // by vault URL
}

// NewAzure returns a client.
func NewAzure(cfg AzureConfig) (*Azure, error) {
	if cfg.Credential == nil {
		return nil, errors.New("kms: a credential is required")
	}
	d, err := ParseDomains(cfg.Domains)
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	if cfg.TryTimeout <= 0 {
		cfg.TryTimeout = 10 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Azure{cfg: cfg, domains: d, hc: guard(cfg.HTTPClient, d), log: cfg.Logger, clients: map[string]*azkeys.Client{}}, nil
}

// Local returns a client for the built-in vault described by a connection
// file, acting as the given principal (the workload's application ID),
// reaching the vaults of the connection's regions only.
func Local(vc *vaultclient.Client, principal string) (*Azure, error) {
	return NewAzure(AzureConfig{Credential: vc.Credential(principal), HTTPClient: vc.HTTP(), Domains: vc.VaultDomains()})
}

// Domains are the vault domains the client reaches.
func (a *Azure) Domains() Domains { return a.domains }

var keyPathRE = regexp.MustCompile(`^/keys/([0-9a-zA-Z-]{1,127})(?:/([0-9a-fA-F]{32}))?/?$`)

// ParseKeyURI splits a key URI into its vault URL, name and version ("" if
// absent).
func ParseKeyURI(keyURI string) (vault, name, version string, err error) {
	u, err := url.Parse(keyURI)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", "", fmt.Errorf("key URI %q: want https://{vault}/keys/{name}[/{version}]", keyURI)
	}
	m := keyPathRE.FindStringSubmatch(u.Path)
	if m == nil {
		return "", "", "", fmt.Errorf("key URI %q: want https://{vault}/keys/{name}[/{version}] with a 32-hex version", keyURI)
	}
	return "https://" + strings.ToLower(u.Host), m[1], strings.ToLower(m[2]), nil
}

func (a *Azure) client(vault string) (*azkeys.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[vault]; ok {
		return c, nil
	}
	opts := &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: a.cfg.MaxRetries, TryTimeout: a.cfg.TryTimeout, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: time.Second},
	}}
	opts.Transport = a.hc
	c, err := azkeys.NewClient(vault, a.cfg.Credential, opts)
	if err != nil {
		return nil, err
	}
	a.clients[vault] = c
	return c, nil
}

func (a *Azure) prepare(op, keyURI string) (*azkeys.Client, string, string, error) {
	vault, name, version, err := ParseKeyURI(keyURI)
	if err != nil {
		return nil, "", "", &Error{Class: Invalid, Reason: BadKeyURI, Op: op, KeyURI: keyURI, Cause: err.Error(), Err: err}
	}
	if err := a.allow(op, keyURI, vault); err != nil {
		return nil, "", "", err
	}
	c, err := a.client(vault)
	if err != nil {
		return nil, "", "", &Error{Class: Invalid, Reason: BadKeyURI, Op: op, KeyURI: keyURI, Cause: err.Error(), Err: err}
	}
	return c, name, version, nil
}

// allow refuses a vault outside the domains, before any connection.
func (a *Azure) allow(op, keyURI, vault string) *Error {
	host := strings.TrimPrefix(vault, "https://")
	if a.domains.Allows(host) {
		return nil
	}
	return &Error{Class: Invalid, Reason: HostNotAllowed, Op: op, KeyURI: keyURI, Err: ErrHostNotAllowed,
		Cause: fmt.Sprintf("vault host %s is outside the vault domains this service connects to (%s)", host, a.domains)}
}

// fail classifies err; what a connection failure was goes to the log
// only (the error says the same for every kind).
func (a *Azure) fail(op, keyURI string, err error) *Error {
	e := classify(op, keyURI, err)
	if e.Reason == Unreachable || e.Reason == TimedOut {
		a.log.Warn("kms: vault not reached", "op", op, "key", keyURI, "reason", e.Reason.String(), "err", err)
	}
	return e
}

// Directory returns the directory (Entra tenant ID) the vault of keyURI
// belongs to, as the vault names it in its bearer challenge
// (WWW-Authenticate: Bearer authorization="https://login.../{tenant}"),
// or "" when the challenge names no particular directory ("common", as
// the built-in vault answers for a vault it does not have). The request
// carries no token: it reads only the challenge.
func (a *Azure) Directory(ctx context.Context, keyURI string) (string, error) {
	vault, _, _, err := ParseKeyURI(keyURI)
	if err != nil {
		return "", &Error{Class: Invalid, Reason: BadKeyURI, Op: "directory", KeyURI: keyURI, Cause: err.Error(), Err: err}
	}
	if err := a.allow("directory", keyURI, vault); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.TryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, vault+"/keys?api-version="+challengeAPIVersion, nil)
	if err != nil {
		return "", &Error{Class: Invalid, Reason: BadKeyURI, Op: "directory", KeyURI: keyURI, Cause: err.Error(), Err: err}
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", a.fail("directory", keyURI, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusUnauthorized {
		return "", &Error{Class: Invalid, Reason: BadRequest, Op: "directory", KeyURI: keyURI, Status: resp.StatusCode,
			Cause: fmt.Sprintf("the vault answered %d without a bearer challenge, so it names no directory", resp.StatusCode)}
	}
	return ChallengeDirectory(resp.Header.Values("WWW-Authenticate")), nil
}

// challengeAPIVersion is the keys API version of the challenge request.
const challengeAPIVersion = "2025-07-01"

// ChallengeDirectory reads the directory from WWW-Authenticate values:
// the first path segment of the Bearer challenge's authorization (or
// authorization_uri) URL. It returns "" if there is none, or if it is
// one of Entra's multi-tenant names (common, organizations, consumers).
func ChallengeDirectory(values []string) string {
	for _, v := range values {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		for _, p := range strings.FieldsFunc(params, func(r rune) bool { return r == ',' || r == ' ' }) {
			k, val, ok := strings.Cut(p, "=")
			if !ok || (!strings.EqualFold(k, "authorization") && !strings.EqualFold(k, "authorization_uri")) {
				continue
			}
			u, err := url.Parse(strings.Trim(val, `"`))
			if err != nil || u.Scheme != "https" {
				return ""
			}
			dir, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
			switch strings.ToLower(dir) {
			case "", "common", "organizations", "consumers":
				return ""
			}
			return strings.ToLower(dir)
		}
	}
	return ""
}

func (a *Azure) Get(ctx context.Context, keyURI string) (KeyInfo, error) {
	c, name, version, err := a.prepare("get", keyURI)
	if err != nil {
		return KeyInfo{}, err
	}
	resp, err := c.GetKey(ctx, name, version, nil)
	if err != nil {
		return KeyInfo{}, a.fail("get", keyURI, err)
	}
	info := KeyInfo{URI: string(*resp.Key.KID), Bits: len(resp.Key.N) * 8}
	if at := resp.Attributes; at != nil {
		info.Enabled = at.Enabled != nil && *at.Enabled
		info.NotBefore, info.Expires = at.NotBefore, at.Expires
		if at.RecoveryLevel != nil {
			info.RecoveryLevel = *at.RecoveryLevel
		}
	}
	for _, op := range resp.Key.KeyOps {
		info.Ops = append(info.Ops, string(*op))
	}
	return info, nil
}

func (a *Azure) Wrap(ctx context.Context, keyURI string, key []byte) (Wrapped, error) {
	c, name, version, err := a.prepare("wrap", keyURI)
	if err != nil {
		return Wrapped{}, err
	}
	resp, err := c.WrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: key}, nil)
	if err != nil {
		return Wrapped{}, a.fail("wrap", keyURI, err)
	}
	return Wrapped{KeyURI: string(*resp.KID), Data: resp.Result}, nil
}

func (a *Azure) Unwrap(ctx context.Context, keyURI string, wrapped []byte) ([]byte, error) {
	c, name, version, err := a.prepare("unwrap", keyURI)
	if err != nil {
		return nil, err
	}
	if version == "" {
		return nil, &Error{Class: Invalid, Reason: BadKeyURI, Op: "unwrap", KeyURI: keyURI, Cause: "unwrap needs the versioned key URI that wrapped the key"}
	}
	resp, err := c.UnwrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wrapped}, nil)
	if err != nil {
		return nil, a.fail("unwrap", keyURI, err)
	}
	return resp.Result, nil
}

// classify turns an azkeys error into a classified Error. The Cause texts
// are kept as they are: people and older callers read them.
func classify(op, keyURI string, err error) *Error {
	e := &Error{Op: op, KeyURI: keyURI, Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
		msg := ""
		if re.RawResponse != nil && re.RawResponse.Body != nil {
			body, _ := io.ReadAll(re.RawResponse.Body)
			ve := vaultclient.ParseError(re.StatusCode, body)
			msg = ve.Message
			if ve.Inner != "" {
				e.Code = ve.Inner
			} else if ve.Code != "" {
				e.Code = ve.Code
			}
		}
		switch s := re.StatusCode; {
		case s == http.StatusTooManyRequests:
			e.Reason = Throttled
			e.Cause = fmt.Sprintf("vault answered %d %s", s, e.Code)
		case s == http.StatusRequestTimeout || s >= 500:
			e.Reason = VaultFailing
			e.Cause = fmt.Sprintf("vault answered %d %s", s, e.Code)
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			e.Reason = deniedReason(e.Code)
			e.Cause = deniedCause(e.Code)
		case s == http.StatusNotFound:
			e.Reason = KeyNotFound
			e.Cause = "key or vault deleted or not found"
		default:
			e.Reason = BadRequest
			e.Cause = fmt.Sprintf("vault refused the request (%d %s)", s, e.Code)
		}
		e.Class = e.Reason.Class()
		if msg != "" {
			e.Cause += ": " + msg
		}
		return e
	}
	if code, ok := appRemoved(err); ok {
		e.Class, e.Reason, e.Code = Denied, AppRemoved, code
		e.Cause = "the tenant's directory gives the service's application no token: it was deleted or disabled there (" + code + ")"
		return e
	}
	if errors.Is(err, ErrHostNotAllowed) { // a redirect, say: refused before dialling
		e.Class, e.Reason, e.Cause = Invalid, HostNotAllowed, "the vault's answer pointed outside the vault domains this service connects to"
		return e
	}
	// No answer. Refused, reset, a TLS failure, a plain-TCP or silent
	// listener, DNS: all say the same, so that errors do not tell what
	// listens on a port (SPEC T4); the service log has the detail.
	e.Class = Transient
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Reason = TimedOut
	case errors.Is(err, context.Canceled):
		e.Reason, e.Cause = Cancelled, "cancelled" // the caller gave up: not the vault's doing
		return e
	default:
		e.Reason = Unreachable
	}
	e.Cause = "the vault at " + hostOf(keyURI) + " could not be reached"
	return e
}

// hostOf is a key URI's host (with its port), as the caller gave it.
func hostOf(keyURI string) string {
	if u, err := url.Parse(keyURI); err == nil && u.Host != "" {
		return strings.ToLower(u.Host)
	}
	return "the key URI"
}

// aadsts finds Entra ID's error codes in a token error's text.
var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

// appRemoved reports whether err is the tenant's directory refusing the
// service's application a token because the tenant deleted or disabled
// it (its code, e.g. AADSTS700016): the customer's doing, as removing its
// access policy is (K3), not an outage. Without this a deleted
// application read as a vault not answering, and users were served with
// the availability key. The service's own credential failing (a wrong
// or expired secret: AADSTS7000215, 7000222) is not the tenant's doing
// and stays as it was.
func appRemoved(err error) (string, bool) {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		for _, m := range aadsts.FindAllStringSubmatch(af.Error(), -1) {
			switch m[1] {
			case "700016", "7000112": // not found in the directory; disabled
				return m[0], true
			}
		}
		return "", false
	}
	var ve *vaultclient.Error // the built-in vault's issuer
	if errors.As(err, &ve) && ve.Status == http.StatusNotFound && ve.Code == "PrincipalNotFound" {
		return ve.Code, true
	}
	return "", false
}

func deniedReason(code string) Reason {
	switch code {
	case "ForbiddenByPolicy", "ForbiddenByRbac", "Unauthorized", "Forbidden":
		return AccessRemoved
	case "KeyDisabled":
		return KeyDisabled
	case "KeyExpired":
		return KeyExpired
	case "KeyNotYetValid":
		return KeyNotYetValid
	case "KeyOperationForbidden":
		return OperationNotAllowed
	}
	return Refused
}

func deniedCause(code string) string {
	switch code {
	case "ForbiddenByPolicy", "ForbiddenByRbac", "Unauthorized", "Forbidden":
		return "access removed (" + code + ")"
	case "KeyDisabled":
		return "key disabled"
	case "KeyExpired":
		return "key expired"
	case "KeyNotYetValid":
		return "key not yet valid"
	case "KeyOperationForbidden":
		return "operation not allowed by the key's key_ops"
	}
	return "refused (" + code + ")"
}

// ForAzure returns a client for real Azure Key Vault, authenticated by
// azidentity's DefaultAzureCredential (environment, workload identity,
// managed identity, Azure CLI, in that order). tenantID pins the Entra
// tenant of the workload's service principal ("" lets the vault's
// challenge name it).
// It connects to vaults under domains only (AzureDomains if none).
func ForAzure(tenantID string, domains []string, log *slog.Logger) (*Azure, error) {
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: tenantID, AdditionallyAllowedTenants: []string{"*"}})
	if err != nil {
		return nil, fmt.Errorf("kms: Azure credential: %w", err)
	}
	if len(domains) == 0 {
		domains = AzureDomains
	}
	return NewAzure(AzureConfig{Credential: cred, Domains: domains, Logger: log})
}

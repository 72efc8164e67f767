package kms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
}

// Azure implements Client with the official azkeys client.
type Azure struct {
	cfg     AzureConfig
	mu      sync.Mutex
	clients map[string]*azkeys.Client // by vault URL
}

// NewAzure returns a client.
func NewAzure(cfg AzureConfig) (*Azure, error) {
	if cfg.Credential == nil {
		return nil, errors.New("kms: a credential is required")
	}
	if cfg.TryTimeout <= 0 {
		cfg.TryTimeout = 10 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 1
	}
	return &Azure{cfg: cfg, clients: map[string]*azkeys.Client{}}, nil
}

// Local returns a client for the built-in vault described by a connection
// file, acting as the given principal (the workload's application ID).
func Local(vc *vaultclient.Client, principal string) (*Azure, error) {
	return NewAzure(AzureConfig{Credential: vc.Credential(principal), HTTPClient: vc.HTTP()})
}

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
	if a.cfg.HTTPClient != nil {
		opts.Transport = a.cfg.HTTPClient
	}
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
	c, err := a.client(vault)
	if err != nil {
		return nil, "", "", &Error{Class: Invalid, Reason: BadKeyURI, Op: op, KeyURI: keyURI, Cause: err.Error(), Err: err}
	}
	return c, name, version, nil
}

func (a *Azure) Get(ctx context.Context, keyURI string) (KeyInfo, error) {
	c, name, version, err := a.prepare("get", keyURI)
	if err != nil {
		return KeyInfo{}, err
	}
	resp, err := c.GetKey(ctx, name, version, nil)
	if err != nil {
		return KeyInfo{}, classify("get", keyURI, err)
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
		return Wrapped{}, classify("wrap", keyURI, err)
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
		return nil, classify("unwrap", keyURI, err)
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
	e.Class = Transient
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Reason, e.Cause = TimedOut, "vault did not answer in time"
	case errors.As(err, &dnsErr):
		e.Reason, e.Cause = Unreachable, "vault host not found (DNS): "+dnsErr.Name
	case errors.As(err, &opErr):
		e.Reason, e.Cause = Unreachable, "vault unreachable: "+opErr.Err.Error()
	case errors.Is(err, context.Canceled):
		e.Reason, e.Cause = Cancelled, "cancelled"
	default:
		e.Reason, e.Cause = Unreachable, "vault unreachable: "+err.Error()
	}
	if e.Reason == Unreachable && errors.Is(err, context.Canceled) {
		e.Reason = Cancelled // a dial the caller cancelled: not the vault's doing
	}
	return e
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
func ForAzure(tenantID string) (*Azure, error) {
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: tenantID, AdditionallyAllowedTenants: []string{"*"}})
	if err != nil {
		return nil, fmt.Errorf("kms: Azure credential: %w", err)
	}
	return NewAzure(AzureConfig{Credential: cred})
}

// Package kms is how the service reaches a customer key: get, wrap and
// unwrap by key URI. Failures are classified so callers can branch on them
// (SPEC K3): a transient failure (the vault is unreachable, slow, throttled
// or failing) is not the tenant's doing; a denial (access removed, key
// disabled, expired, deleted or not found) is a deliberate customer action.
// Each failure also carries a Reason (AccessRemoved, KeyDisabled,
// KeyNotFound, KeyExpired, Unreachable, ...) to branch on with ReasonOf or
// errors.Is(err, kms.KeyDisabled); its Cause text is for people only.
//
// Azure is the one implementation, on the official azkeys client; it serves
// the built-in vault and real Azure Key Vault alike, with the credential and
// transport as configuration.
//
// A key URI is a tenant's input, so the client connects only to vault hosts
// under the configured Domains (SPEC T4): anything else is refused with
// HostNotAllowed before a connection, and again by the transport and its
// dialer. A failed connection says the same whatever happened on the port
// (the detail goes to the log), and Directory tells which directory a vault
// belongs to, from its bearer challenge.
package kms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Client reaches customer keys by URI.
type Client interface {
	// Get returns a key's public attributes. keyURI may omit the version.
	Get(ctx context.Context, keyURI string) (KeyInfo, error)
	// Wrap wraps key with RSA-OAEP-256 under keyURI (latest version if none
	// is given) and returns the versioned URI that can unwrap it.
	Wrap(ctx context.Context, keyURI string, key []byte) (Wrapped, error)
	// Unwrap unwraps with the exact versioned key URI the wrap returned.
	Unwrap(ctx context.Context, keyURI string, wrapped []byte) ([]byte, error)
}

// DirectoryReader is a Client that can tell which directory (Entra
// tenant) the vault of a key belongs to, as the vault itself says (SPEC
// T4): the service uses a tenant's keys only in vaults of that tenant's
// directory.
type DirectoryReader interface {
	// Directory returns the vault's directory ID, or "" if the vault
	// names none.
	Directory(ctx context.Context, keyURI string) (string, error)
}

// KeyInfo is what the service needs to know of a customer key.
type KeyInfo struct {
	URI           string // with version
	Enabled       bool
	NotBefore     *time.Time
	Expires       *time.Time
	Ops           []string
	RecoveryLevel string
	Bits          int
}

// Wrapped is the result of a wrap.
type Wrapped struct {
	KeyURI string // versioned
	Data   []byte
}

// Class says whose doing a failure is.
type Class int

const (
	// Transient: timeout, connection refused, DNS failure, 408, 429, 5xx.
	Transient Class = iota + 1
	// Denied: a deliberate customer action: 401/403 (access removed, key
	// disabled, expired or not yet valid), 404 (key or vault deleted or not
	// found).
	Denied
	// Invalid: the request itself was refused (400): neither an outage nor
	// the customer's doing, e.g. a corrupt wrapped key.
	Invalid
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Denied:
		return "denied by customer"
	case Invalid:
		return "invalid request"
	}
	return "unknown"
}

// Reason says why an operation on a key failed, for callers to branch on
// (the Cause text is for people). Each reason belongs to one Class.
type Reason int

const (
	// Denied: the customer's doing.

	// AccessRemoved: the caller has no access policy or role for the
	// operation (401/403 ForbiddenByPolicy, ForbiddenByRbac, Unauthorized,
	// Forbidden).
	AccessRemoved Reason = iota + 1
	// KeyDisabled: the key (version) is disabled (403 KeyDisabled).
	KeyDisabled
	// KeyNotFound: the key, the version or the vault is deleted or never
	// existed (404).
	KeyNotFound
	// KeyExpired: past the key's exp (403 KeyExpired; wrap only, unwrap
	// keeps working).
	KeyExpired
	// KeyNotYetValid: before the key's nbf (403 KeyNotYetValid; wrap only).
	KeyNotYetValid
	// OperationNotAllowed: the key's key_ops leave out the operation (403
	// KeyOperationForbidden).
	OperationNotAllowed
	// AppRemoved: the tenant's directory gives the service's application
	// no token: deleted from it or disabled there (Entra ID's AADSTS700016
	// and AADSTS7000112; the built-in vault's PrincipalNotFound).
	AppRemoved
	// Refused: another 401/403 the vault gave a code this package does not
	// know.
	Refused

	// Transient: not the customer's doing, passing.

	// Unreachable: no answer: DNS failure, connection refused or dropped,
	// or no TLS with a certificate for the vault's name. Which of these it
	// was goes to the service log only: the Cause says the same for all,
	// so that errors do not tell what listens on a port (SPEC T4).
	Unreachable
	// TimedOut: no answer in time.
	TimedOut
	// Cancelled: the caller gave up (e.g. the losing request of a hedged
	// unwrap).
	Cancelled
	// Throttled: 429.
	Throttled
	// VaultFailing: 408 or 5xx.
	VaultFailing

	// Invalid: the request itself.

	// BadKeyURI: the key URI cannot be used (not a key URI, or an unwrap
	// without the version).
	BadKeyURI
	// BadRequest: the vault refused the request (400 and other 4xx), e.g. a
	// corrupt wrapped key.
	BadRequest
	// HostNotAllowed: the key URI names a host outside the vault domains
	// the service may connect to (SPEC T4); nothing was dialled.
	HostNotAllowed
)

var reasonNames = map[Reason]string{
	AccessRemoved: "access removed", KeyDisabled: "key disabled", KeyNotFound: "key or vault deleted or not found",
	KeyExpired: "key expired", KeyNotYetValid: "key not yet valid", OperationNotAllowed: "operation not allowed by the key's key_ops",
	AppRemoved: "the service's application removed from the tenant's directory", Refused: "refused",
	Unreachable: "vault unreachable", TimedOut: "vault did not answer in time", Cancelled: "cancelled",
	Throttled: "vault throttled the request", VaultFailing: "vault failing", BadKeyURI: "bad key URI", BadRequest: "vault refused the request",
	HostNotAllowed: "host outside the vault domains",
}

func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return "unknown"
}

// Class returns the class the reason belongs to.
func (r Reason) Class() Class {
	switch {
	case r >= AccessRemoved && r <= Refused:
		return Denied
	case r >= Unreachable && r <= VaultFailing:
		return Transient
	case r >= BadKeyURI && r <= HostNotAllowed:
		return Invalid
	}
	return 0
}

// Error makes a Reason usable with errors.Is: errors.Is(err, kms.KeyDisabled).
func (r Reason) Error() string { return r.String() }

// Error is a classified failure of one operation on one key.
type Error struct {
	Class  Class
	Reason Reason // why, for callers to branch on; its Class is Class
	Op     string // get, wrap, unwrap
	KeyURI string
	Status int    // HTTP status; 0 if no answer came
	Code   string // the vault's error code (inner code when given)
	Cause  string // what happened, for people; do not parse it, use Reason
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s with %s: %s: %s", e.Op, e.KeyURI, e.Class, e.Cause)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Reason, so that errors.Is(err,
// kms.KeyDisabled) works through any wrapping.
func (e *Error) Is(target error) bool {
	r, ok := target.(Reason)
	return ok && r != 0 && r == e.Reason
}

// ClassOf returns the class of err, or 0 if it is not a kms error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}

// ReasonOf returns the reason of err, or 0 if it is not a kms error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// Package kms is how the service reaches a customer key: get, wrap and
// unwrap by key URI. Failures are classified so callers can branch on them
// (SPEC K3): a transient failure (the vault is unreachable, slow, throttled
// or failing) is not the tenant's doing; a denial (access removed, key
// disabled, expired, deleted or not found) is a deliberate customer action.
//
// Azure is the one implementation, on the official azkeys client; it serves
// the built-in vault and real Azure Key Vault alike, with the credential and
// transport as configuration.
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

// Error is a classified failure of one operation on one key.
type Error struct {
	Class  Class
	Op     string // get, wrap, unwrap
	KeyURI string
	Status int    // HTTP status; 0 if no answer came
	Code   string // the vault's error code (inner code when given)
	Cause  string // what happened, for people
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s with %s: %s: %s", e.Op, e.KeyURI, e.Class, e.Cause)
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err, or 0 if it is not a kms error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}

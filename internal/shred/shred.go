// Package shred makes and checks crypto-shred certificates: the service's
// signed statement that a DEP's data was purged (SPEC R6), which anyone can
// verify with the service's Ed25519 public key.
//
// A certificate file is JSON: {"certificate": {...}, "signature": "..."}.
// The signature is Ed25519 over the exact bytes of the "certificate"
// member as they appear in the file, so it can also be checked without
// this package (see docs/format.md).
//
// Since version 2 (Type) every approval in the certificate carries the
// officer's own signature over the purge request the certificate states,
// with the officer's public key (SPEC T7): Verify checks each against the
// canonical statement (client.PurgeStatement), so the certificate proves
// who approved, not only what the service says. Version 1 certificates,
// issued before officers signed, still verify; their approvals are the
// service's word only (Certificate.Type says which).
package shred

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/client"
)

// Type names what a certificate states: version 2, with the officers'
// signatures.
const Type = "customerkey.crypto-shred.v2"

// TypeV1 is the type of certificates issued before officers signed their
// approvals: they verify, and their approvals carry no signature.
const TypeV1 = "customerkey.crypto-shred.v1"

// Key is a destroyed or revoked key.
type Key struct {
	ID     string     `json:"id"`
	Kind   string     `json:"kind"`             // availability-key | customer-key | key-encryption-key
	State  string     `json:"state"`            // destroyed | access-removed
	Time   *time.Time `json:"time,omitempty"`   // when it was destroyed, or found revoked
	Detail string     `json:"detail,omitempty"` // e.g. the vault's answer
}

// Approval is an officer's approval: from version 2 on, the officer's
// Ed25519 signature over the purge request the certificate states
// (client.PurgeStatement built from the certificate), and the public key
// that verifies it.
type Approval struct {
	Officer       string     `json:"officer"`
	At            time.Time  `json:"at"`
	Fingerprint   string     `json:"fingerprint,omitempty"`   // of PublicKey, SHA256:... (ssh-keygen -l)
	PublicKey     string     `json:"publicKey,omitempty"`     // the officer's registered Ed25519 key, base64
	KeyRegistered *time.Time `json:"keyRegistered,omitempty"` // when it was registered
	Signature     string     `json:"signature,omitempty"`     // base64
	SubmittedBy   string     `json:"submittedBy,omitempty"`   // whose token sent it
}

// Certificate is what the service states.
type Certificate struct {
	Type        string     `json:"type"`
	Serial      string     `json:"serial"`
	Issuer      string     `json:"issuer"`
	Tenant      string     `json:"tenant"`
	TenantName  string     `json:"tenantName"`
	DEP         string     `json:"dataEncryptionPolicyID"`
	DEPName     string     `json:"dataEncryptionPolicy"`
	Containers  []string   `json:"containers"`
	Keys        []Key      `json:"keys"`
	Reason      string     `json:"reason"`
	Contact     string     `json:"contact"`
	RequestedBy string     `json:"requestedBy"`
	Requested   time.Time  `json:"requested"`
	Approvals   []Approval `json:"approvals"`
	Completed   time.Time  `json:"completed"`
	PublicKey   string     `json:"publicKey" doc:"The signer's Ed25519 public key, base64"`
}

type file struct {
	Certificate json.RawMessage `json:"certificate"`
	Signature   string          `json:"signature"`
}

// Sign returns the certificate file, signed with key.
func Sign(c Certificate, key ed25519.PrivateKey) ([]byte, error) {
	c.Type = Type
	c.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(file{Certificate: body, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ErrSignature means the signature does not match the certificate.
var ErrSignature = errors.New("shred: the signature does not match: the certificate was changed or another key signed it")

// ApprovalError means an officer's approval in a certificate does not
// verify: the signature is missing, altered, by another key than the one
// stated, or over another request.
type ApprovalError struct {
	Officer string
	Reason  string
}

func (e *ApprovalError) Error() string {
	return "shred: the approval of " + e.Officer + " does not verify: " + e.Reason
}

// Statement is what each officer signed, as the certificate states it.
func (c Certificate) Statement(officer string) client.PurgeStatement {
	return client.PurgeStatement{Officer: officer, Tenant: c.Tenant, DEP: c.DEP, DEPName: c.DEPName, Reason: c.Reason, Contact: c.Contact,
		RequestedBy: c.RequestedBy, Requested: c.Requested, Containers: c.Containers}
}

// VerifyApprovals checks every officer's signature in a version 2
// certificate over the request it states; distinct officers with
// distinct keys. A version 1 certificate has none to check.
func (c Certificate) VerifyApprovals() error {
	if c.Type == TypeV1 {
		return nil
	}
	if len(c.Approvals) == 0 {
		return errors.New("shred: the certificate states no approval")
	}
	seen := map[string]bool{}
	for _, a := range c.Approvals {
		fail := func(why string) error { return &ApprovalError{Officer: a.Officer, Reason: why} }
		pub, err := base64.StdEncoding.DecodeString(a.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return fail("no Ed25519 public key")
		}
		if a.Fingerprint != client.KeyFingerprint(pub) {
			return fail("the fingerprint is not the public key's")
		}
		sig, err := client.DecodeSignature(a.Signature)
		if err != nil {
			return fail("no signature")
		}
		if !client.VerifyPurge(pub, c.Statement(a.Officer), sig) {
			return fail("the signature does not match the request the certificate states")
		}
		if seen[a.Officer] || seen[a.PublicKey] {
			return fail("an officer or a key approves twice")
		}
		seen[a.Officer], seen[a.PublicKey] = true, true
	}
	return nil
}

// Encode is how a certificate writes bytes: base64.
func Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Fingerprint is an Ed25519 public key's SHA256:... fingerprint.
func Fingerprint(pub []byte) string { return client.KeyFingerprint(pub) }

// Verify checks a certificate file against the service's public key and,
// from version 2 on, every officer's signature over the request it
// states (an *ApprovalError if one fails); it returns what it states.
func Verify(data []byte, pub ed25519.PublicKey) (Certificate, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return Certificate{}, fmt.Errorf("shred: not a certificate file: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(f.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || len(f.Certificate) == 0 {
		return Certificate{}, errors.New("shred: not a certificate file: want a certificate and a base64 Ed25519 signature")
	}
	if len(pub) != ed25519.PublicKeySize {
		return Certificate{}, errors.New("shred: the public key is not an Ed25519 key")
	}
	// Indentation re-formats the member in the file: verify the compact
	// form, which is what was signed.
	var compact bytes.Buffer
	if err := json.Compact(&compact, f.Certificate); err != nil {
		return Certificate{}, fmt.Errorf("shred: %w", err)
	}
	if !ed25519.Verify(pub, compact.Bytes(), sig) {
		return Certificate{}, ErrSignature
	}
	var c Certificate
	if err := json.Unmarshal(compact.Bytes(), &c); err != nil {
		return Certificate{}, fmt.Errorf("shred: %w", err)
	}
	if c.Type != Type && c.Type != TypeV1 {
		return Certificate{}, fmt.Errorf("shred: certificate of type %q, want %q (or %q)", c.Type, Type, TypeV1)
	}
	if err := c.VerifyApprovals(); err != nil {
		return c, err
	}
	return c, nil
}

// PublicKeyPEM encodes an Ed25519 public key as PEM (SubjectPublicKeyInfo),
// as openssl reads it.
func PublicKeyPEM(pub ed25519.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ParsePublicKey reads an Ed25519 public key as PEM or base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	if b, _ := pem.Decode([]byte(s)); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if pk, ok := k.(ed25519.PublicKey); ok && err == nil {
			return pk, nil
		}
		return nil, errors.New("shred: the PEM key is not an Ed25519 public key")
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(s))))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("shred: want an Ed25519 public key as PEM or base64 (32 bytes)")
	}
	return raw, nil
}

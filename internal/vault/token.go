package vault

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IssuerKeyFile is the token-signing key file inside the data dir.
const IssuerKeyFile = "issuer-key.pem"

// issuer mints and verifies the short-lived access tokens of the local
// identity provider: Ed25519-signed JWTs bound to a principal, its tenant
// and one vault region (the audience).
type issuer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	now  func() time.Time

	mu       sync.Mutex
	verified map[[32]byte]*Claims // SHA-256 of a token -> its checked claims
}

// verifiedMax bounds the verified-token cache.
const verifiedMax = 10000

// Claims of a vault access token.
type Claims struct {
	jwt.RegisteredClaims
	TenantID string `json:"tid"`
	Kind     string `json:"kind"` // User | ServicePrincipal
}

func loadIssuer(path string, now func() time.Time) (*issuer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, merr := x509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return nil, merr
		}
		data = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("token issuer key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("token issuer key %s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	priv, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("token issuer key %s: want an Ed25519 PKCS#8 key", path)
	}
	return &issuer{priv: priv, pub: priv.Public().(ed25519.PublicKey), now: now, verified: map[[32]byte]*Claims{}}, nil
}

func (i *issuer) issue(iss, tenantID, principal, kind, audience string, ttl time.Duration) (string, time.Time, error) {
	now := i.now()
	exp := now.Add(ttl)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Subject:   principal,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		TenantID: tenantID,
		Kind:     kind,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(i.priv)
	return tok, exp, err
}

// verify checks signature, algorithm, lifetime and audience. A token that
// verified once is remembered (by its SHA-256) until it expires, so the
// signature is checked once per token, not once per request; lifetime and
// audience are still checked on every call.
func (i *issuer) verify(token, audience string) (*Claims, error) {
	sum := sha256.Sum256([]byte(token))
	i.mu.Lock()
	c, ok := i.verified[sum]
	i.mu.Unlock()
	if ok {
		now := i.now()
		if c.ExpiresAt.After(now) && !c.NotBefore.After(now) && slices.Contains(c.Audience, audience) {
			return c, nil
		}
	}
	c, err := i.verifySignature(token, audience)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	if len(i.verified) >= verifiedMax {
		now := i.now()
		for k, v := range i.verified {
			if !v.ExpiresAt.After(now) || len(i.verified) >= verifiedMax {
				delete(i.verified, k)
			}
		}
	}
	i.verified[sum] = c
	i.mu.Unlock()
	return c, nil
}

func (i *issuer) verifySignature(token, audience string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(i.now),
	)
	if err != nil {
		return nil, err
	}
	if c.Subject == "" || c.TenantID == "" {
		return nil, errors.New("token has no subject or tenant")
	}
	return &c, nil
}

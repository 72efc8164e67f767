package api

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/shred"
	"github.com/customerkey/customerkey/internal/tenant"
)

// body is a handler's answer: a JSON body with the route's status.
type body[T any] struct{ Body T }

// statusBody is a handler's answer whose status depends on the outcome.
type statusBody[T any] struct {
	Status int
	Body   T
}

func (s *Server) health(ctx context.Context, _ *struct{}) (*body[client.Health], error) {
	return &body[client.Health]{client.Health{Status: "ok"}}, nil
}

func (s *Server) whoami(ctx context.Context, _ *struct{}) (*body[client.Me], error) {
	p := tenant.Caller(ctx)
	return &body[client.Me]{client.Me{Subject: p.Subject, Role: p.Role, Tenant: p.Tenant, Expires: p.Expires}}, nil
}

func (s *Server) signingKey(ctx context.Context, _ *struct{}) (*body[client.SigningKey], error) {
	if s.cfg.Signer == nil {
		return nil, rule.Unavailable(client.RulePurgeSigner, "the operator must give the service a signing key", "the service has no signing key")
	}
	pub := s.cfg.Signer.Public().(ed25519.PublicKey)
	return &body[client.SigningKey]{client.SigningKey{Algorithm: "Ed25519", PublicKey: base64.StdEncoding.EncodeToString(pub), PEM: shred.PublicKeyPEM(pub)}}, nil
}

// verifyCertificate checks a crypto-shred certificate file against the
// service's signing key, and every officer's approval in it (shred.Verify,
// as ck dep purge verify does offline). A file that does not verify is an
// answer (valid: false, and why), not an error.
func (s *Server) verifyCertificate(ctx context.Context, in *struct {
	Body client.CertificateFile
}) (*body[client.CertificateCheck], error) {
	if s.cfg.Signer == nil {
		return nil, rule.Unavailable(client.RulePurgeSigner, "the operator must give the service a signing key", "the service has no signing key")
	}
	pub := s.cfg.Signer.Public().(ed25519.PublicKey)
	out := client.CertificateCheck{PublicKey: base64.StdEncoding.EncodeToString(pub)}
	data, err := json.Marshal(in.Body)
	if err != nil {
		return nil, err
	}
	c, err := shred.Verify(data, pub)
	if err != nil {
		out.Error = err.Error()
		return &body[client.CertificateCheck]{out}, nil
	}
	out.Valid, out.Serial, out.DEP, out.DEPName, out.Approvals = true, c.Serial, c.DEP, c.DEPName, len(c.Approvals)
	return &body[client.CertificateCheck]{out}, nil
}

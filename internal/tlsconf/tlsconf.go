// Package tlsconf holds the one TLS configuration every listener of the
// process serves with: the service API (ck server, ck dev) and the regions
// of the built-in vault. It accepts TLS 1.2 and 1.3 only, and of TLS 1.2
// only ECDHE key exchange with an AEAD (AES-GCM or ChaCha20-Poly1305): no
// CBC suite, no RSA key exchange, no static DH (SPEC T9). TLS 1.3 suites
// are all AEADs and Go does not let them be configured.
//
//	cfg := tlsconf.Server()
//	cfg.Certificates = []tls.Certificate{pair} // or cfg.GetCertificate = ...
package tlsconf

import "crypto/tls"

// CipherSuites are the TLS 1.2 suites a listener accepts, strongest first.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Server returns a new server configuration without a certificate: the
// caller sets Certificates or GetCertificate.
func Server() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: append([]uint16(nil), CipherSuites...),
	}
}

package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/internal/tlsconf"
)

// PKI file names inside the data dir.
const (
	CAFile         = "ca.pem"
	caKeyFile      = "ca-key.pem"
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// EnsurePKI loads the local CA and the server certificate from dir, creating
// them on first start (SPEC V12). The server certificate covers localhost,
// *.localhost, 127.0.0.1, ::1, the base domain and its wildcard, and any extra
// names; it is re-issued from the same CA when the wanted names change. The
// configuration is tlsconf's (TLS 1.2+, AEAD suites only) and serves that
// one certificate for every name: only the vault server mints per-vault
// certificates, and only for vaults that exist.
func EnsurePKI(dir, baseDomain string, extra []string) (*tls.Config, string, error) {
	l, caPath, err := ensurePKI(dir, baseDomain, extra, nil)
	if err != nil {
		return nil, "", err
	}
	return l.config(), caPath, nil
}

// ensurePKI is EnsurePKI's work; known says whether a vault name exists
// (nil: none does).
func ensurePKI(dir, baseDomain string, extra []string, known func(ctx context.Context, vault string) bool) (*leafCerts, string, error) {
	caPath := filepath.Join(dir, CAFile)
	caCert, caKey, err := loadPair(caPath, filepath.Join(dir, caKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		caCert, caKey, err = newCA(caPath, filepath.Join(dir, caKeyFile))
	}
	if err != nil {
		return nil, "", fmt.Errorf("local CA in %s: %w", dir, err)
	}
	dns := []string{"localhost", "*.localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, n := range append([]string{baseDomain, "*." + baseDomain}, extra...) {
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if n != "" && !slices.Contains(dns, n) {
			dns = append(dns, n)
		}
	}
	certPath, keyPath := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	cert, _, err := loadPair(certPath, keyPath)
	if err != nil || !covers(cert, dns, ips) || time.Until(cert.NotAfter) < 30*24*time.Hour {
		if err := newServerCert(certPath, keyPath, caCert, caKey, dns, ips); err != nil {
			return nil, "", fmt.Errorf("server certificate: %w", err)
		}
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, "", fmt.Errorf("server certificate: %w", err)
	}
	leaves := &leafCerts{ca: caCert, caKey: caKey, base: "." + strings.ToLower(baseDomain), fallback: &pair, known: known, m: map[string]*tls.Certificate{}}
	return leaves, caPath, nil
}

// leafCerts issues, on first use, a certificate naming one vault host
// exactly ({vault}.{base}). Go accepts the wildcard *.localhost, but
// OpenSSL-based clients (curl among them) refuse a wildcard directly under
// a single-label domain, so each vault host gets its own name. Only a
// vault that exists gets one (SPEC T9): any other name is served the
// server certificate, so a client cannot make the vault sign keys at will.
type leafCerts struct {
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	base     string
	fallback *tls.Certificate
	known    func(ctx context.Context, vault string) bool

	mu sync.Mutex
	m  map[string]*tls.Certificate
}

// maxLeafCerts bounds the cache should there ever be more vaults.
const maxLeafCerts = 10000

func (l *leafCerts) config() *tls.Config {
	c := tlsconf.Server()
	c.GetCertificate = l.get
	return c
}

// minted is how many vault certificates have been issued.
func (l *leafCerts) minted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

func (l *leafCerts) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	label, ok := strings.CutSuffix(name, l.base)
	if !ok || l.known == nil || validVaultName(label) != nil {
		return l.fallback, nil
	}
	l.mu.Lock()
	c, ok := l.m[name]
	l.mu.Unlock()
	if ok {
		return c, nil
	}
	if !l.known(hello.Context(), label) {
		return l.fallback, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.m[name]; ok {
		return c, nil
	}
	if len(l.m) >= maxLeafCerts {
		return l.fallback, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"customerkey"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     l.fallback.Leaf.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.ca, &key.PublicKey, l.caKey)
	if err != nil {
		return nil, err
	}
	c = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	l.m[name] = c
	return c, nil
}

func covers(c *x509.Certificate, dns []string, ips []net.IP) bool {
	for _, d := range dns {
		if !slices.Contains(c.DNSNames, d) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func newCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "customerkey local CA", Organization: []string{"customerkey"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newServerCert(certPath, keyPath string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dns []string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "customerkey vault", Organization: []string{"customerkey"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(certPath, keyPath, der, key)
}

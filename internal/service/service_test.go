package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/tlsconf/tlsconftest"
	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// start builds cfg, serves it until the test ends and returns it.
func start(t *testing.T, cfg Config) *Service {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// get calls the service API and decodes its JSON answer.
func get(t *testing.T, s *Service, path, token string, out any) int {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// devConfig is ck dev's shape: a vault region and the service over SQLite.
func devConfig(dir string) Config {
	return Config{
		Version: Version, DataDir: dir,
		Service:     &ServiceConfig{Listen: "127.0.0.1:0"},
		VaultServer: &VaultServerConfig{Regions: []RegionConfig{{Name: "eastus", Listen: "127.0.0.1:0"}}},
	}
}

func TestNewVaultAndService(t *testing.T) {
	dir := t.TempDir()
	s := start(t, devConfig(dir))
	if s.Vault() == nil || s.Handler() == nil || s.Keyring("mailbox") == nil || s.KMS("mdep") == nil {
		t.Fatal("ck dev's shape did not build the vault, the API and the workloads")
	}
	if s.Keyring("mailbox") == s.Keyring("site") {
		t.Error("mailbox and site share a keyring, but they are different applications")
	}
	var me struct{ Role string }
	if code := get(t, s, "/v1/me", s.OperatorToken(), &me); code != 200 || me.Role != "operator" {
		t.Fatalf("GET /v1/me with the operator token: %d %+v", code, me)
	}
	cc := s.ClientConfig()
	if cc.ServiceURL != s.URL() || cc.ServiceToken != s.OperatorToken() || len(cc.Regions) != 1 || cc.AdminToken == "" {
		t.Errorf("ClientConfig() = %+v", cc)
	}
	for _, f := range []string{DatabaseFile, KeystoreFile, SigningKeyFile, OperatorTokenFile, "ca.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("first start did not create %s: %v", f, err)
		}
	}
}

// TestSecretFilesArePrivate: every file with a secret that ck dev's shape
// writes into its data dir is readable by the service's user only (SPEC
// T9): the database (and its -wal and -shm), the master keys, the signing
// and issuer keys, the tokens and the local CA's keys.
func TestSecretFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	s := start(t, devConfig(dir))
	if code := get(t, s, "/v1/me", s.OperatorToken(), nil); code != 200 {
		t.Fatalf("GET /v1/me: %d", code)
	}
	for _, f := range []string{DatabaseFile, DatabaseFile + "-wal", DatabaseFile + "-shm", KeystoreFile, SigningKeyFile, OperatorTokenFile,
		vault.MasterKeyFile, vault.AdminTokenFile, vault.IssuerKeyFile, "ca-key.pem", "server-key.pem"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, got)
		}
	}
}

// Secrets from the configuration (SPEC S1): two nodes with the same
// configuration over one store accept the same operator token and sign
// with the same key, and nothing is minted into their data dirs.
func TestSecretsFromConfig(t *testing.T) {
	shared := t.TempDir()
	seed := strings.Repeat("5a", 32)
	token := "cksvc_" + strings.Repeat("k", 40)
	node := func() *Service {
		dir := t.TempDir()
		return start(t, Config{
			Version: Version, DataDir: dir,
			Store:    StoreConfig{SQLite: filepath.Join(shared, "ck.db")},
			Service:  &ServiceConfig{Listen: "127.0.0.1:0"},
			Keystore: KeystoreConfig{File: filepath.Join(shared, "keystore.json")},
			Signer:   SignerConfig{Key: Secret(seed)},
			Operator: OperatorConfig{Token: Secret(token)},
		})
	}
	raw, _ := hex.DecodeString(seed)
	wantPub := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(raw).Public().(ed25519.PublicKey))
	for i := range 2 {
		s := node()
		if s.OperatorToken() != token || s.OperatorTokenFile() != "" {
			t.Errorf("node %d: operator token %q from %q, want the configured one", i, s.OperatorToken(), s.OperatorTokenFile())
		}
		var me struct{ Role string }
		if code := get(t, s, "/v1/me", token, &me); code != 200 || me.Role != "operator" {
			t.Errorf("node %d: GET /v1/me with the configured token: %d %+v", i, code, me)
		}
		var key struct{ PublicKey string }
		if get(t, s, "/v1/service/signing-key", "", &key); key.PublicKey != wantPub {
			t.Errorf("node %d: signing key %s, want %s", i, key.PublicKey, wantPub)
		}
		for _, f := range []string{KeystoreFile, MasterKeyFile, SigningKeyFile, OperatorTokenFile} {
			if _, err := os.Stat(filepath.Join(s.cfg.DataDir, f)); err == nil {
				t.Errorf("node %d: %s was created although the configuration gives the secret", i, f)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"invalid", Config{Version: Version, DataDir: dir, Service: &ServiceConfig{Listen: "nowhere"}}, "service.listen"},
		{"builtin without a connection", Config{Version: Version, DataDir: dir, Service: &ServiceConfig{}, Vaults: VaultsConfig{Kind: VaultsBuiltin}}, "vaults.connectionFile"},
	}
	for _, tc := range cases {
		tc.cfg.Logger = slog.New(slog.DiscardHandler)
		s, err := New(context.Background(), tc.cfg)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: New() = %v, want an error on %s", tc.name, err, tc.field)
		}
		if s != nil {
			s.Close()
		}
	}
	// A missing connection file names the field.
	_, err := New(context.Background(), Config{Version: Version, DataDir: dir, Logger: slog.New(slog.DiscardHandler), Service: &ServiceConfig{},
		Vaults: VaultsConfig{ConnectionFile: filepath.Join(dir, "missing.json")}})
	if err == nil || !strings.HasPrefix(err.Error(), "vaults.connectionFile: ") {
		t.Errorf("New with a missing connection file = %v, want an error on vaults.connectionFile", err)
	}
}

// A service without a listener is served by its caller (the bench).
func TestHandlerOnly(t *testing.T) {
	s, err := New(context.Background(), Config{Version: Version, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Service: &ServiceConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != nil || s.URL() != "" || s.Handler() == nil || s.Keyring("mailbox") != nil {
		t.Errorf("no listener and no vaults: Addr %v, URL %q, handler %v, keyring %v", s.Addr(), s.URL(), s.Handler() != nil, s.Keyring("mailbox"))
	}
}

// TestConsoleMounted: the service serves the web console's assets at
// /console/ (and sends /console there), beside the API, not instead of it.
func TestConsoleMounted(t *testing.T) {
	s, err := New(context.Background(), Config{Version: Version, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Service: &ServiceConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		path   string
		status int
		header string // a header the answer must have, "name: value prefix"
	}{
		{"/console/", 200, "Content-Security-Policy: default-src 'none'"},
		{"/console/app.js", 200, "Content-Type: text/javascript"},
		{"/console", 301, "Location: /console/"},
		{"/console/missing", 404, "Content-Security-Policy: default-src 'none'"},
		{"/healthz", 200, "Content-Type: application/json"},
	} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		name, want, _ := strings.Cut(tc.header, ": ")
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get(name), want) {
			t.Errorf("GET %s: %d %s %q, want %d and %q", tc.path, w.Code, name, w.Header().Get(name), tc.status, want)
		}
	}
}

// TestEveryListenerTLSPolicy: every listener the process opens speaks TLS
// 1.2+ with AEAD suites only (SPEC T9): ck dev's service and vault region
// (one shared configuration), ck server with its own local CA, and ck
// server with a configured (RSA) certificate.
func TestEveryListenerTLSPolicy(t *testing.T) {
	dev := start(t, devConfig(t.TempDir()))
	tlsconftest.Check(t, dev.Addr().String(), "localhost")
	for _, r := range dev.Vault().Regions() {
		tlsconftest.Check(t, "127.0.0.1"+strings.TrimPrefix(r.URL, "https://localhost"), "localhost")
	}

	own := start(t, Config{Version: Version, DataDir: t.TempDir(), Service: &ServiceConfig{Listen: "127.0.0.1:0"}})
	tlsconftest.Check(t, own.Addr().String(), "localhost")

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeRSACert(t, certFile, keyFile)
	cfg := Config{Version: Version, DataDir: t.TempDir(), Service: &ServiceConfig{Listen: "127.0.0.1:0", TLS: TLSFiles{CertFile: certFile, KeyFile: keyFile}}}
	tlsconftest.Check(t, start(t, cfg).Addr().String(), "localhost")
}

// writeRSACert writes a self-signed RSA certificate for localhost.
func writeRSACert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWorkloadConnectionApps: with the built-in vault's workload token
// the service acts only as its own applications; another application
// configured for a workload is refused at start, naming the field, where
// every unwrap would otherwise have failed on a 403 later.
func TestWorkloadConnectionApps(t *testing.T) {
	env := vaulttest.Start(t, vaulttest.Options{})
	base := Config{Version: Version, Logger: slog.New(slog.DiscardHandler), Service: &ServiceConfig{}, Vaults: VaultsConfig{Connection: &env.Workload}}
	cfg := base
	cfg.DataDir = t.TempDir()
	cfg.Workloads = map[string]WorkloadConfig{"mailbox": {App: "11111111-2222-3333-4444-555555555555"}}
	s, err := New(context.Background(), cfg)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "workloads" || !strings.Contains(err.Error(), "workload.json") {
		t.Fatalf("New with another application on the workload token = %v, want an error on workloads", err)
	}
	if s != nil {
		s.Close()
	}
	cfg = base
	cfg.DataDir = t.TempDir()
	s, err = New(context.Background(), cfg) // the default applications
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

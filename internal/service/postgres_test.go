package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault"
)

// postgresURL is a fresh schema of CK_TEST_POSTGRES_URL's database,
// dropped when the test ends; without the variable the test skips.
func postgresURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping the service over PostgreSQL (.ci/run sets it)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "ck_servicetest_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// clusterNode is the configuration of one node of a cluster over url:
// the cluster's secrets, its CA copied into the node's data dir, and a
// vaults section (azure, never reached) so that the keystore is opened.
func clusterNode(t *testing.T, url, caDir, keys, signingKey, token string) Config {
	dir := t.TempDir()
	for _, f := range []string{vault.CAFile, "ca-key.pem"} {
		b, err := os.ReadFile(filepath.Join(caDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Config{
		Version: Version, DataDir: dir,
		Store:    StoreConfig{Postgres: Secret(url)},
		Service:  &ServiceConfig{Listen: "127.0.0.1:0"},
		Vaults:   VaultsConfig{Kind: VaultsAzure},
		Keystore: KeystoreConfig{File: keys},
		Signer:   SignerConfig{Key: Secret(signingKey)},
		Operator: OperatorConfig{Token: Secret(token)},
	}
}

// Two nodes over one PostgreSQL database with the same configured secrets
// accept the same operator token, and what one signs verifies with the
// other's /v1/service/signing-key (SPEC S1).
func TestPostgresNodes(t *testing.T) {
	url := postgresURL(t)
	token := "cksvc_" + strings.Repeat("p", 40)
	signing := strings.Repeat("5a", 32)
	caDir := t.TempDir()
	if _, _, err := vault.EnsurePKI(caDir, "localhost", nil); err != nil { // the cluster's CA
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keystore.json") // the same file provisioned to each node
	var nodes [2]*Service
	for i := range nodes {
		nodes[i] = start(t, clusterNode(t, url, caDir, keys, signing, token))
		var me struct{ Role string }
		if code := get(t, nodes[i], "/v1/me", token, &me); code != 200 || me.Role != "operator" {
			t.Errorf("node %d: GET /v1/me with the configured token: %d %+v", i, code, me)
		}
	}
	if err := nodes[0].Store().CreateServiceTenant(context.Background(), store.ServiceTenant{ID: "contoso-id", Name: "Contoso", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var head client.AuditHead
	if code := get(t, nodes[0], "/v1/tenants/Contoso/audit/head", token, &head); code != 200 {
		t.Fatalf("node 0: GET the audit head: %d", code)
	}
	var key client.SigningKey
	if code := get(t, nodes[1], "/v1/service/signing-key", "", &key); code != 200 {
		t.Fatalf("node 1: GET /v1/service/signing-key: %d", code)
	}
	pub, err := base64.StdEncoding.DecodeString(key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyHead(head, ed25519.PublicKey(pub)); err != nil {
		t.Errorf("node 0's signed audit head with node 1's signing key: %v", err)
	}
	// Each node is ready (database and keystore reachable) and serves its
	// metrics to the operator (SPEC S5).
	for i, n := range nodes {
		if code := get(t, n, "/readyz", "", nil); code != 200 {
			t.Errorf("node %d: GET /readyz: %d", i, code)
		}
		if code := get(t, n, "/metrics", token, nil); code != 200 {
			t.Errorf("node %d: GET /metrics: %d", i, code)
		}
	}
}

// A node whose secrets are not the cluster's refuses to start, naming
// the secret; so does a node left to make its own (SPEC S1).
func TestPostgresNodeSecretsDiffer(t *testing.T) {
	url := postgresURL(t)
	token := "cksvc_" + strings.Repeat("p", 40)
	signing := strings.Repeat("5a", 32)
	caDir := t.TempDir()
	if _, _, err := vault.EnsurePKI(caDir, "localhost", nil); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keystore.json")
	start(t, clusterNode(t, url, caDir, keys, signing, token))

	other := filepath.Join(t.TempDir(), "other-keystore.json")
	if k, err := keystore.OpenFile(other); err != nil {
		t.Fatal(err)
	} else if _, err := k.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "new.json")
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"signing key", func(c *Config) { c.Signer.Key = Secret(strings.Repeat("6b", 32)) }, "signer.key: this node's signing key"},
		{"operator token", func(c *Config) { c.Operator.Token = Secret("cksvc_" + strings.Repeat("q", 40)) }, "operator.token: this node's operator token is not the cluster's"},
		{"keystore", func(c *Config) { c.Keystore.File = other }, "keystore.file: this node's keystore is not the cluster's"},
		{"new keystore", func(c *Config) { c.Keystore.File = fresh }, "keystore.file: this node's keystore"},
		{"no signing key", func(c *Config) { c.Signer.Key = "" }, "signer.key: missing"},
		{"no operator token", func(c *Config) { c.Operator.Token = "" }, "operator.token: missing"},
		{"no keystore", func(c *Config) { c.Keystore.File = "" }, "keystore: missing"},
		{"no CA", func(c *Config) { os.Remove(filepath.Join(c.DataDir, vault.CAFile)) }, "service.tls: a node of many makes no CA of its own"},
		{"signing key file not provisioned", func(c *Config) { c.Signer = SignerConfig{KeyFile: filepath.Join(c.DataDir, "nope.key")} }, "signer.keyFile:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clusterNode(t, url, caDir, keys, signing, token)
			tc.edit(&cfg)
			cfg.Logger = slog.New(slog.DiscardHandler)
			s, err := New(context.Background(), cfg)
			if err == nil {
				s.Close()
				t.Fatalf("New started a node with another %s; want an error containing %q", tc.name, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Fix: ") {
				t.Errorf("New: %v\nwant an error containing %q with a fix", err, tc.want)
			}
		})
	}
	// The keystore file no node was given is not left behind.
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a refused node left a keystore of its own")
	}

	// cluster.shared: false runs one node over PostgreSQL with per-node
	// files, and warns.
	var log strings.Builder
	no := false
	s, err := New(context.Background(), Config{
		Version: Version, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Store: StoreConfig{Postgres: Secret(url)}, Cluster: ClusterConfig{Shared: &no}, Service: &ServiceConfig{},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{"signer.key", "operator.token"} {
		if !strings.Contains(log.String(), "per-node secret") || !strings.Contains(log.String(), "field="+f) {
			t.Errorf("no warning about %s left to a per-node file; log:\n%s", f, log.String())
		}
	}
	if strings.Contains(log.String(), strings.TrimPrefix(url, "postgres://")) {
		t.Errorf("the log shows the store URL:\n%s", log.String())
	}
}

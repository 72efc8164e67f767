package service

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// Two nodes over one PostgreSQL database with the same configured secrets
// accept the same operator token; a node left to per-node secret files
// warns, naming each field (SPEC S1).
func TestPostgresNodes(t *testing.T) {
	url := postgresURL(t)
	token := "cksvc_" + strings.Repeat("p", 40)
	keys := filepath.Join(t.TempDir(), "keystore.json") // a stand-in for a shared PKCS#11 token
	for i := range 2 {
		s := start(t, Config{
			Version: Version, DataDir: t.TempDir(),
			Store:    StoreConfig{Postgres: Secret(url)},
			Service:  &ServiceConfig{Listen: "127.0.0.1:0"},
			Keystore: KeystoreConfig{File: keys},
			Signer:   SignerConfig{Key: Secret(strings.Repeat("5a", 32))},
			Operator: OperatorConfig{Token: Secret(token)},
		})
		var me struct{ Role string }
		if code := get(t, s, "/v1/me", token, &me); code != 200 || me.Role != "operator" {
			t.Errorf("node %d: GET /v1/me with the configured token: %d %+v", i, code, me)
		}
	}

	var log strings.Builder
	s, err := New(context.Background(), Config{
		Version: Version, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Store: StoreConfig{Postgres: Secret(url)}, Service: &ServiceConfig{},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(log.String(), "a file keystore over a shared PostgreSQL store") {
		t.Errorf("no warning about a per-node keystore file; log:\n%s", log.String())
	}
	for _, f := range []string{"signer.key", "operator.token"} {
		if !strings.Contains(log.String(), "per-node secret") || !strings.Contains(log.String(), "field="+f) {
			t.Errorf("no warning about %s left to a per-node file; log:\n%s", f, log.String())
		}
	}
	if strings.Contains(log.String(), strings.TrimPrefix(url, "postgres://")) {
		t.Errorf("the log shows the store URL:\n%s", log.String())
	}
}

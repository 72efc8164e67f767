package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "ck.db")
	s, err := sqlstore.OpenSQLite(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", Name: "Contoso"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlstore.OpenSQLite(ctx, file) // migrations must not re-run
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Tenant(ctx, "t1"); err != nil {
		t.Fatalf("tenant lost across reopen: %v", err)
	}
}

// PostgresURL returns CK_TEST_POSTGRES_URL or skips the test, saying why.
func postgresURL(t *testing.T) string {
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping PostgreSQL tests (.ci/run sets it)")
	}
	return url
}

func TestPostgres(t *testing.T) {
	url := postgresURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSchema(t, url)
	})
}

// openSchema opens the store in a fresh schema dropped when t ends, so runs
// never see each other's rows.
func openSchema(t *testing.T, url string) store.Store {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "ck_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := sqlstore.OpenPostgres(ctx, url+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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
	"time"

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

// TestSQLiteFilesArePrivate: the database and its -wal and -shm files are
// readable by their owner only (SPEC T9), whether SQLite creates them or an
// earlier version left them readable by others.
func TestSQLiteFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "ck.db")
	check := func(when string) {
		t.Helper()
		for _, name := range []string{file, file + "-wal", file + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: %s has mode %04o, want 0600", when, filepath.Base(name), got)
			}
		}
	}
	s, err := sqlstore.OpenSQLite(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", Name: "Contoso"}); err != nil {
		t.Fatal(err)
	}
	check("created")
	s.Close()
	for _, name := range []string{file, file + "-wal", file + "-shm"} {
		if err := os.Chmod(name, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	s, err = sqlstore.OpenSQLite(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t2", Name: "Fabrikam"}); err != nil {
		t.Fatal(err)
	}
	check("reopened after chmod 0644")
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
		s, _ := openSchema(t, url)
		return s
	})
}

// TestPostgresLockAcrossNodes: a lock one node holds, another node (its
// own connections to the same database) waits for; and a node that dies
// holding it lets go of it.
func TestPostgresLockAcrossNodes(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	a, schema := openSchema(t, url)
	b := openIn(t, url, schema)
	defer b.Close()
	unlock, err := a.Lock(ctx, "rotation")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "rotation"); err == nil {
		t.Fatal("a lock node A holds was taken by node B")
	}
	unlock()
	u, err := b.Lock(ctx, "rotation")
	if err != nil {
		t.Fatalf("node B after node A let go: %v", err)
	}
	u()
	// Node A holds it and dies: the server ends its connection.
	if _, err := a.Lock(ctx, "rotation"); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objid = (hashtext($1)::bigint & 4294967295)::oid`, schema+":customerkey:rotation").Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("end node A's connection: %d, %v", killed, err)
	}
	waited, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if u, err := b.Lock(waited, "rotation"); err != nil {
		t.Fatalf("node B after node A died holding the lock: %v", err)
	} else {
		u()
	}
}

// openSchema opens the store in a fresh schema dropped when t ends, so runs
// never see each other's rows.
func openSchema(t testing.TB, url string) (store.Store, string) {
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
	return openIn(t, url, schema), schema
}

// openIn opens a store (a node) over schema.
func openIn(t testing.TB, url, schema string) *sqlstore.DB {
	t.Helper()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := sqlstore.OpenPostgres(context.Background(), url+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The audit log is append-only in the database itself: an UPDATE or DELETE
// that bypasses the store is refused too.
func TestAuditLogAppendOnly(t *testing.T) {
	ctx := context.Background()
	type opened struct {
		st  store.Store
		raw *sql.DB
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) opened
	}{
		{"sqlite", func(t *testing.T) opened {
			file := filepath.Join(t.TempDir(), "ck.db")
			s, err := sqlstore.OpenSQLite(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			return opened{s, raw}
		}},
		{"postgres", func(t *testing.T) opened {
			url := postgresURL(t)
			s, schema := openSchema(t, url)
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			raw, err := sql.Open("pgx", url+sep+"search_path="+schema)
			if err != nil {
				t.Fatal(err)
			}
			return opened{s, raw}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.open(t)
			t.Cleanup(func() { o.raw.Close(); o.st.Close() })
			if _, err := o.st.AppendAudit(ctx, "t1", func(last store.AuditRecord) store.AuditRecord {
				return store.AuditRecord{Tenant: "t1", Seq: 1, Action: "wrap", Outcome: "ok", Hash: []byte{1}}
			}); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`UPDATE svc_audit SET outcome = 'forged'`, `DELETE FROM svc_audit`} {
				_, err := o.raw.ExecContext(ctx, q)
				if err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: err = %v, want the append-only refusal", q, err)
				}
			}
			rs, err := o.st.ListAudit(ctx, "t1", 0, 0)
			if err != nil || len(rs) != 1 || rs[0].Outcome != "ok" {
				t.Fatalf("after the refused changes: %+v, %v", rs, err)
			}
		})
	}
}

// Every SQLite connection overwrites what it deletes (PRAGMA
// secure_delete, SPEC T8): a destroyed key's bytes and a deleted item's
// are gone from the file once it is checkpointed.
func TestSQLiteSecureDelete(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "ck.db")
	s, err := sqlstore.OpenSQLite(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("MARKER-secure-delete-0123456789")
	if err := s.CreateAvailabilityKey(ctx, store.AvailabilityKey{ID: "avk-1", Tenant: "t", DEP: "d", Sealed: marker, KEKVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutItem(ctx, store.Item{Tenant: "t", Mailbox: "m", ID: "i", Kind: "message", Version: 1, Sealed: append([]byte("item-"), marker...)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if data, _ := os.ReadFile(file); !strings.Contains(string(data), string(marker)) {
		t.Fatal("the marker is not in the file to begin with: the test shows nothing")
	}
	if s, err = sqlstore.OpenSQLite(ctx, file); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyAvailabilityKey(ctx, "avk-1", time.Now(), "test", "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteItem(ctx, "t", "m", "i"); err != nil {
		t.Fatal(err)
	}
	s.Close() // checkpoints the WAL into the file
	for _, f := range []string{file, file + "-wal"} {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), string(marker)) {
			t.Fatalf("%s still holds the deleted bytes", filepath.Base(f))
		}
	}
}

package api_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// TestAtRestPostgres writes marker content through the service over a
// PostgreSQL store, then reads every row of every table as text: neither
// the marker nor its hex (how bytea renders) is anywhere.
func TestAtRestPostgres(t *testing.T) {
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping the PostgreSQL at-rest scan (.ci/run sets it)")
	}
	e := startDEPsOn(t, envOptions{Options: vaulttest.Options{PostgresURL: url}})
	const base = "/v1/tenants/Contoso"
	if st, _, body := e.call(e.admin, "POST", base+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso-EXO-DEP-1","azureKeyIDs":%s}`, e.keys)); st != 201 {
		t.Fatalf("DEP: %d %v", st, body)
	}
	if st, _, body := e.call(e.admin, "POST", base+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	marker := "CUSTOMERKEY-PG-AT-REST-MARKER-9c2e"
	for i := range 5 {
		if st, _ := e.raw(e.admin, "PUT", fmt.Sprintf("%s/mailboxes/alice@contoso.com/items/m%d", base, i), []byte(marker+" confidential board minutes")); st != 200 {
			t.Fatalf("put: %d", st)
		}
	}
	if st, got := e.raw(e.admin, "GET", base+"/mailboxes/alice@contoso.com/items/m3", nil); st != 200 || !strings.HasPrefix(string(got), marker) {
		t.Fatalf("read back: %d %q", st, got)
	}

	ctx := context.Background()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, e.vault.PostgresSchema)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("found only tables %v in schema %s", tables, e.vault.PostgresSchema)
	}
	needles := []string{marker, "confidential board minutes", hex.EncodeToString([]byte(marker)), hex.EncodeToString([]byte("confidential board minutes"))}
	// Nor the DEP key, as the keyring holds it in memory.
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "Contoso-EXO-DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	kd := keyring.DEP{ID: d.ID, Tenant: d.Tenant, Kind: keyring.Mailbox}
	if err := kd.UnmarshalKeys(d.Keys); err != nil {
		t.Fatal(err)
	}
	depKey, err := e.ring.DEPKey(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	needles = append(needles, hex.EncodeToString(depKey.Bytes()))
	scanned := 0
	for _, table := range tables {
		rs, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT row_to_json(t)::text FROM %s.%s t`, e.vault.PostgresSchema, table))
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var row string
			rs.Scan(&row)
			scanned++
			for _, n := range needles {
				if strings.Contains(strings.ToLower(row), strings.ToLower(n)) {
					t.Errorf("plaintext at rest in table %s: %.120s", table, row)
				}
			}
		}
		rs.Close()
	}
	t.Logf("scanned %d rows in %d tables", scanned, len(tables))
}

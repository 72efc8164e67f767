package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// The carve test (SPEC T8): an attacker holds copies of the database made
// before and after a purge (SQLite: ck.db, its -wal and -shm; PostgreSQL:
// the availability-key table copied before the purge, the live one, and
// the raw bytes of the table's heap file and of the latest WAL segments)
// and every key the service still holds (its keystore as it is now; there
// is no master key any more). With the documented formats
// (docs/format.md) it tries every availability-key record it can find,
// by SQL and by carving the raw file bytes, under every KEK version, then
// the purged DEP's key, its mailbox key and its items. Nothing opens.
// With the rotation switched off, the same attack recovers the items:
// the test can fail.
func TestCarveSQLite(t *testing.T) {
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotation=%v", rotate), func(t *testing.T) { carve(t, vaulttest.Options{}, rotate) })
	}
}

func TestCarvePostgres(t *testing.T) {
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping the PostgreSQL carve test (.ci/run sets it)")
	}
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotation=%v", rotate), func(t *testing.T) { carve(t, vaulttest.Options{PostgresURL: url}, rotate) })
	}
}

const carveMarker = "CARVE-MARKER-7f3a purged board minutes"

// sealedAVK is an availability-key record as the attacker finds it.
type sealedAVK struct {
	where  string
	sealed []byte
}

func carve(t *testing.T, opts vaulttest.Options, rotate bool) {
	e := startDEPsOn(t, envOptions{Options: opts})
	ctx := context.Background()
	const T = "/v1/tenants/Contoso"
	if !rotate {
		e.ring.Keystore().DisableRotationForTesting()
	}
	e.onboardEXO("cso@contoso.com")
	e.must(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-1","azureKeyIDs":%s}`, e.keys), 201)
	e.must(e.admin, "POST", T+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"DEP-2","azureKeyIDs":%s}`, e.keys), 201)
	e.must(e.admin, "POST", T+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"DEP-1"}`, 201)
	e.must(e.admin, "POST", T+"/mailboxes", `{"id":"bob@contoso.com","dataEncryptionPolicy":"DEP-2"}`, 201)
	for i := range 3 {
		if st, body := e.raw(e.admin, "PUT", fmt.Sprintf("%s/mailboxes/alice@contoso.com/items/m%d", T, i), []byte(carveMarker)); st != 200 {
			t.Fatalf("put: %d %s", st, body)
		}
	}
	// A large attachment: its sealed chunks live in the blob store, and
	// the purge must delete every one of them (D8).
	large := bytes.Repeat([]byte(carveMarker+" "), 300<<10/len(carveMarker))
	if st, body := e.raw(e.admin, "PUT", T+"/mailboxes/alice@contoso.com/items/deck?kind=attachment", large); st != 200 {
		t.Fatalf("put a large attachment: %d %s", st, body)
	}
	blobs := e.st.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
	if ids, err := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com"); err != nil || len(ids) != 1 {
		t.Fatalf("the large attachment's blob: %v %v", ids, err)
	}
	// What the attacker keeps from before: the DEP row, the mailbox row,
	// the items (a backup has them all).
	d, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-1")
	if err != nil {
		t.Fatal(err)
	}
	survivor, err := e.st.DEP(ctx, e.seed.Tenant, "mailbox", "DEP-2")
	if err != nil {
		t.Fatal(err)
	}
	kd := keyring.DEP{ID: d.ID, Tenant: d.Tenant, Kind: keyring.Mailbox}
	if err := kd.UnmarshalKeys(d.Keys); err != nil {
		t.Fatal(err)
	}
	box, err := e.st.Mailbox(ctx, e.seed.Tenant, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	var items []store.Item
	for i := range 3 {
		it, err := e.st.Item(ctx, e.seed.Tenant, box.ID, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	before := e.copyDatabase(t, "before")

	// The purge: access removed, requested, approved, run.
	e.purgeDEP("DEP-1")
	after := e.copyDatabase(t, "after")
	if ids, err := blobs.List(ctx, e.seed.Tenant, "alice@contoso.com"); err != nil || len(ids) != 0 {
		t.Fatalf("blobs of the purged mailbox left: %v %v", ids, err)
	}

	// The surviving DEP's availability key still opens, under the new version.
	sd := keyring.DEP{ID: survivor.ID, Tenant: survivor.Tenant, Kind: keyring.Mailbox}
	if err := sd.UnmarshalKeys(survivor.Keys); err != nil {
		t.Fatal(err)
	}
	if k, err := e.ring.RecoveryKey(ctx, sd, keyring.Request{Initiator: keyring.Service, Reason: "test: survivor after rotation"}); err != nil {
		t.Fatalf("the surviving DEP's availability key after the purge: %v", err)
	} else {
		k.Destroy()
	}

	// The attacker: every record found, every key the service holds.
	ks, err := keystore.OpenFile(e.master)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	cur, _ := ks.Current(ctx)
	var found []sealedAVK
	for _, c := range append(before, after...) {
		found = append(found, c.records(t, kd.AvailabilityKeyID)...)
	}
	if len(found) == 0 {
		t.Fatal("the attacker found no availability-key record: the test shows nothing")
	}
	recovered := 0
	for _, f := range found {
		for v := keystore.Version(1); v <= cur; v++ {
			aad := []byte("customerkey availability key v2\x00" + kd.AvailabilityKeyID + "\x00" + d.Tenant + "\x00" + d.ID + "\x00" + strconv.Itoa(int(v)))
			raw, err := ks.Open(ctx, v, f.sealed, aad)
			if err != nil {
				continue
			}
			avk, _ := envelope.KeyFromBytes(raw)
			depKey, err := envelope.UnwrapWithAvailabilityKey(avk, envelope.DEP{Tenant: d.Tenant, ID: d.ID}, kd.Availability)
			if err != nil {
				t.Fatalf("%s opened under KEK version %d, but not the DEP key: %v", f.where, v, err)
			}
			rec, _ := envelope.ParseRecord(box.ContainerKey)
			ck, err := envelope.UnwrapContainerKey(depKey, envelope.Container{Tenant: d.Tenant, DEP: d.ID, ID: box.ID}, rec)
			if err != nil {
				t.Fatalf("mailbox key: %v", err)
			}
			for _, it := range items {
				if content, err := envelope.Open(ck, envelope.Item{Tenant: it.Tenant, Container: it.Mailbox, ID: it.ID, Version: it.Version}, it.Sealed); err == nil && string(content) == carveMarker {
					recovered++
				}
			}
			t.Logf("recovered through %s under KEK version %d", f.where, v)
		}
	}
	t.Logf("%d availability-key records found in the copies, %d items recovered (KEK versions 1..%d, rotation %v)", len(found), recovered, cur, rotate)
	switch {
	case rotate && recovered != 0:
		t.Fatalf("recovered %d purged items from the copies: the purge did not shred", recovered)
	case !rotate && recovered == 0:
		t.Fatal("with the rotation off, nothing was recovered: the attack does not work, so the test proves nothing")
	}
}

// dbCopy is a copy of the database an attacker holds.
type dbCopy struct {
	label string
	files map[string][]byte // SQLite: ck.db, ck.db-wal, ck.db-shm
	dir   string            // SQLite: the copy, openable
	rows  []sealedAVK       // PostgreSQL: the availability-key rows, read by SQL
}

func (e *depEnv) copyDatabase(t *testing.T, label string) []dbCopy {
	t.Helper()
	ctx := context.Background()
	if e.vault.PostgresSchema == "" {
		c := dbCopy{label: label, files: map[string][]byte{}, dir: t.TempDir()}
		for _, f := range []string{"ck.db", "ck.db-wal", "ck.db-shm"} {
			data, err := os.ReadFile(filepath.Join(e.vault.Dir, f))
			if err != nil {
				continue
			}
			c.files[f] = data
			os.WriteFile(filepath.Join(c.dir, f), data, 0o600)
		}
		return []dbCopy{c}
	}
	// PostgreSQL: the live table, and a copy of it kept in the database
	// (a table made before the purge stays as it was: dead rows of the
	// live table are not reachable by SQL; a dump or a base backup made
	// before is what this copy stands for).
	db, err := sql.Open("pgx", os.Getenv("CK_TEST_POSTGRES_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := e.vault.PostgresSchema
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s.carve_%s AS SELECT * FROM %s.availability_keys`, schema, label, schema)); err != nil {
		t.Fatal(err)
	}
	// What a stolen disk holds: the table's heap file (dead row versions
	// included, until VACUUM) and the WAL segments written during the
	// test, read as bytes through the server after a checkpoint
	// (pg_read_binary_file: the test's role is a superuser here).
	raw := dbCopy{label: label + " raw", files: map[string][]byte{}}
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	var heap string
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT pg_relation_filepath('%s.availability_keys')`, schema)).Scan(&heap); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := db.QueryRowContext(ctx, `SELECT pg_read_binary_file($1)`, heap).Scan(&data); err != nil {
		t.Fatal(err)
	}
	raw.files["heap "+heap] = data
	segs, err := db.QueryContext(ctx, `SELECT name FROM pg_ls_waldir() WHERE modification > now() - interval '10 minutes' ORDER BY modification DESC LIMIT 2`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for segs.Next() {
		var n string
		segs.Scan(&n)
		names = append(names, n)
	}
	segs.Close()
	for _, n := range names {
		var wal []byte
		if err := db.QueryRowContext(ctx, `SELECT pg_read_binary_file('pg_wal/' || $1)`, n).Scan(&wal); err == nil {
			raw.files["wal "+n] = wal
		}
	}
	out := []dbCopy{raw}
	for _, table := range []string{"availability_keys", "carve_" + label} {
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT id, sealed FROM %s.%s WHERE sealed IS NOT NULL`, schema, table))
		if err != nil {
			t.Fatal(err)
		}
		c := dbCopy{label: label + " " + table}
		for rows.Next() {
			var id string
			var sealed []byte
			rows.Scan(&id, &sealed)
			c.rows = append(c.rows, sealedAVK{where: c.label + " row " + id, sealed: sealed})
		}
		rows.Close()
		out = append(out, c)
	}
	return out
}

// records are the candidate sealings of availability key id in a copy: the
// row read by SQL, and, carved from the raw bytes, every 60-byte window
// (nonce ‖ ct ‖ tag) shortly after each place the key's ID appears, which
// covers old row versions in the WAL and freed pages.
func (c dbCopy) records(t *testing.T, id string) []sealedAVK {
	out := append([]sealedAVK{}, c.rows...)
	if c.dir != "" {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(c.dir, "ck.db"))
		if err != nil {
			t.Fatal(err)
		}
		var sealed []byte
		if err := db.QueryRow(`SELECT sealed FROM availability_keys WHERE id = ?`, id).Scan(&sealed); err == nil && sealed != nil {
			out = append(out, sealedAVK{where: c.label + " ck.db row (SQL)", sealed: sealed})
		}
		db.Close()
	}
	for name, data := range c.files {
		for off := 0; ; {
			i := bytes.Index(data[off:], []byte(id))
			if i < 0 {
				break
			}
			at := off + i
			for w := at; w < at+600 && w+60 <= len(data); w++ {
				out = append(out, sealedAVK{where: fmt.Sprintf("%s %s carved at %d", c.label, name, w), sealed: data[w : w+60]})
			}
			off = at + len(id)
		}
	}
	return out
}

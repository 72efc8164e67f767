package vault_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

func TestKeyLifecycleThroughAzkeys(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKeyLifecycle(t, newFixture(t, "accessPolicy", false)) })
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("CK_TEST_POSTGRES_URL")
		if url == "" {
			t.Skip("CK_TEST_POSTGRES_URL not set: skipping the vault on PostgreSQL (.ci/run sets it)")
		}
		testKeyLifecycle(t, newFixtureOn(t, vaulttest.Options{PostgresURL: url}, "accessPolicy", false))
	})
}

func testKeyLifecycle(t *testing.T, f *fixture) {
	c := f.keys(t, adminUPN)

	created := createKey(t, c, "ContosoEXOKey1", azkeys.KeyTypeRSAHSM)
	id := *created.Key.KID
	if !regexp.MustCompile(`^https://contosoexoakv01\.localhost:\d+/keys/ContosoEXOKey1/[0-9a-f]{32}$`).MatchString(string(id)) {
		t.Fatalf("key ID %s is not https://{vault}.localhost:{port}/keys/{name}/{32-hex}", id)
	}
	if created.Key.D != nil || created.Key.P != nil || len(created.Key.N) != 256 {
		t.Fatalf("response must carry only the public key: %+v", created.Key)
	}
	if got := *created.Attributes.RecoveryLevel; got != "Recoverable+Purgeable" {
		t.Fatalf("recovery level %s, want Recoverable+Purgeable (no retention feature, no purge protection)", got)
	}
	if *created.Attributes.RecoverableDays != 90 || created.Attributes.Expires != nil {
		t.Fatalf("attributes %+v", created.Attributes)
	}

	// Get latest and by version.
	got, err := c.GetKey(ctx, "contosoexokey1", "", nil)
	must(t, err)
	if *got.Key.KID != id {
		t.Fatalf("latest %s, want %s", *got.Key.KID, id)
	}
	got, err = c.GetKey(ctx, "ContosoEXOKey1", id.Version(), nil)
	must(t, err)
	if !bytes.Equal(got.Key.N, created.Key.N) {
		t.Fatal("get by version returned another key")
	}

	// Wrap locally-made DEK, unwrap in the vault; both algorithms.
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(created.Key.N), E: 65537}
	for _, alg := range []azkeys.EncryptionAlgorithm{azkeys.EncryptionAlgorithmRSAOAEP256, azkeys.EncryptionAlgorithmRSAOAEP} {
		dek := make([]byte, 32)
		rand.Read(dek)
		w, err := c.WrapKey(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: dek}, nil)
		must(t, err)
		if *w.KID != id || len(w.Result) != 256 {
			t.Fatalf("%s wrap: kid %s, %d bytes", alg, *w.KID, len(w.Result))
		}
		u, err := c.UnwrapKey(ctx, "ContosoEXOKey1", id.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: w.Result}, nil)
		must(t, err)
		if !bytes.Equal(u.Result, dek) {
			t.Fatalf("%s: unwrap returned other bytes", alg)
		}
		e, err := c.Encrypt(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: []byte("hello")}, nil)
		must(t, err)
		d, err := c.Decrypt(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: e.Result}, nil)
		must(t, err)
		if string(d.Result) != "hello" {
			t.Fatalf("%s decrypt: %q", alg, d.Result)
		}
	}
	// The public key from the bundle really is the vault's key: a local wrap opens in the vault.
	local, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("dep key"), nil)
	must(t, err)
	u, err := c.UnwrapKey(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: local}, nil)
	must(t, err)
	if string(u.Result) != "dep key" {
		t.Fatal("unwrap of a locally wrapped key failed")
	}

	// Rotate: a new version; the old one still unwraps.
	old, err := c.WrapKey(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("k1")}, nil)
	must(t, err)
	rot, err := c.RotateKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	if rot.Key.KID.Version() == id.Version() {
		t.Fatal("rotate kept the version")
	}
	again := createKey(t, c, "ContosoEXOKey1", azkeys.KeyTypeRSAHSM) // Add-AzKeyVaultKey on an existing name: a new version
	u, err = c.UnwrapKey(ctx, "ContosoEXOKey1", old.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: old.Result}, nil)
	must(t, err)
	if string(u.Result) != "k1" {
		t.Fatal("old version no longer unwraps")
	}
	var versions []string
	for p := c.NewListKeyPropertiesVersionsPager("ContosoEXOKey1", nil); p.More(); {
		page, err := p.NextPage(ctx)
		must(t, err)
		for _, k := range page.Value {
			versions = append(versions, k.KID.Version())
		}
	}
	if want := []string{id.Version(), rot.Key.KID.Version(), again.Key.KID.Version()}; !slices.Equal(versions, want) {
		t.Fatalf("versions %v, want %v", versions, want)
	}

	// Update: expiry can move to 9999-12-31; key_ops can shrink.
	endOfTime := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	upd, err := c.UpdateKey(ctx, "ContosoEXOKey1", "", azkeys.UpdateKeyParameters{
		KeyAttributes: &azkeys.KeyAttributes{Expires: to.Ptr(time.Now().Add(time.Hour))}, KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationWrapKey), to.Ptr(azkeys.KeyOperationUnwrapKey)}}, nil)
	must(t, err)
	upd, err = c.UpdateKey(ctx, "ContosoEXOKey1", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: &endOfTime}}, nil)
	must(t, err)
	if !upd.Attributes.Expires.Equal(endOfTime) || len(upd.Key.KeyOps) != 2 {
		t.Fatalf("update: exp %v ops %v", upd.Attributes.Expires, upd.Key.KeyOps)
	}
	_, err = c.Encrypt(ctx, "ContosoEXOKey1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("x")}, nil)
	wantErr(t, err, 403, "KeyOperationForbidden")

	// Backup, delete, purge, restore: all versions come back with their IDs.
	backup, err := c.BackupKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	if bytes.Contains(backup.Value, pub.N.Bytes()) {
		t.Fatal("backup blob carries key material in the clear")
	}
	del, err := c.DeleteKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	if del.ScheduledPurgeDate.Sub(*del.DeletedDate) != 90*24*time.Hour || *del.RecoveryID != f.uri+"/deletedkeys/ContosoEXOKey1" {
		t.Fatalf("deleted key: %v %v %v", del.DeletedDate, del.ScheduledPurgeDate, *del.RecoveryID)
	}
	_, err = c.GetKey(ctx, "ContosoEXOKey1", "", nil)
	wantErr(t, err, 404, "KeyNotFound")
	_, err = c.CreateKey(ctx, "ContosoEXOKey1", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	wantErr(t, err, 409, "ObjectIsDeletedButRecoverable")
	dk, err := c.GetDeletedKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	if *dk.Key.KID != *again.Key.KID {
		t.Fatalf("deleted key %s, want latest %s", *dk.Key.KID, *again.Key.KID)
	}
	var deletedNames []string
	for p := c.NewListDeletedKeyPropertiesPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		must(t, err)
		for _, k := range page.Value {
			deletedNames = append(deletedNames, k.KID.Name())
		}
	}
	if !slices.Equal(deletedNames, []string{"ContosoEXOKey1"}) {
		t.Fatalf("deleted keys %v", deletedNames)
	}
	_, err = c.PurgeDeletedKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	_, err = c.GetDeletedKey(ctx, "ContosoEXOKey1", nil)
	wantErr(t, err, 404, "KeyNotFound")
	rest, err := c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	must(t, err)
	if *rest.Key.KID != *again.Key.KID {
		t.Fatalf("restored latest %s, want %s", *rest.Key.KID, *again.Key.KID)
	}
	u, err = c.UnwrapKey(ctx, "ContosoEXOKey1", old.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: old.Result}, nil)
	must(t, err)
	if string(u.Result) != "k1" {
		t.Fatal("restored old version does not unwrap")
	}
	// Restore over an existing name: 409.
	_, err = c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	wantErr(t, err, 409, "KeyAlreadyExists")

	// Delete, then recover.
	_, err = c.DeleteKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	rec, err := c.RecoverDeletedKey(ctx, "ContosoEXOKey1", nil)
	must(t, err)
	if *rec.Key.KID != *again.Key.KID {
		t.Fatal("recover returned another version")
	}
	_, err = c.GetKey(ctx, "ContosoEXOKey1", "", nil)
	must(t, err)
}

func TestImportAndPaging(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	k := sharedKey(t)
	const n = 30 // more than one page of 25
	for i := range n {
		_, err := c.ImportKey(ctx, fmt.Sprintf("imported-%02d", i), azkeys.ImportKeyParameters{Key: jwkOf(k), HSM: to.Ptr(i%2 == 0)}, nil)
		must(t, err)
	}
	var names []string
	pages := 0
	for p := c.NewListKeyPropertiesPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		must(t, err)
		pages++
		for _, it := range page.Value {
			names = append(names, it.KID.Name())
			if it.KID.Version() != "" {
				t.Fatalf("list must return versionless kids, got %s", *it.KID)
			}
		}
	}
	if len(names) != n || pages != 2 || names[0] != "imported-00" || names[n-1] != "imported-29" {
		t.Fatalf("listed %d keys in %d pages: %v", len(names), pages, names)
	}
	// The imported key is the one we hold: a local wrap opens in the vault.
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, []byte("secret"), nil)
	u, err := c.UnwrapKey(ctx, "imported-07", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: ct}, nil)
	must(t, err)
	if string(u.Result) != "secret" {
		t.Fatal("imported key does not unwrap")
	}
	got, err := c.GetKey(ctx, "imported-00", "", nil)
	must(t, err)
	if *got.Key.Kty != azkeys.KeyTypeRSAHSM {
		t.Fatalf("import with Hsm=true gave %s, want RSA-HSM", *got.Key.Kty)
	}
}

func TestChallengeComesFirst(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	// A request with no token and a body over the limit still gets the 401
	// challenge: the body is never read.
	big := bytes.Repeat([]byte("x"), 3<<20)
	req, _ := http.NewRequest("POST", f.uri+"/keys/k/create?api-version=2025-07-01", bytes.NewReader(big))
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	resp.Body.Close()
	www := resp.Header.Get("WWW-Authenticate")
	want := fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, f.env.Config.Regions[0].URL, f.tenant, f.env.Config.Regions[0].URL)
	if resp.StatusCode != 401 || www != want {
		t.Fatalf("got %d %q, want 401 %q", resp.StatusCode, www, want)
	}
}

// TestVaultHostCertificate: each vault host gets a certificate naming it
// exactly (OpenSSL clients such as curl refuse *.localhost), chained to the
// local CA; other names get the wildcard certificate.
func TestVaultHostCertificate(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	host := strings.TrimPrefix(f.uri, "https://")
	for _, tc := range []struct{ serverName, want string }{
		{"contosoexoakv01.localhost", "contosoexoakv01.localhost"},
		{"localhost", "*.localhost"},
	} {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strings.Split(host, ":")[1], &tls.Config{ServerName: tc.serverName, RootCAs: caPool(t, f)})
		must(t, err)
		names := conn.ConnectionState().PeerCertificates[0].DNSNames
		conn.Close()
		if !slices.Contains(names, tc.want) {
			t.Fatalf("SNI %s: certificate names %v, want %s", tc.serverName, names, tc.want)
		}
	}
}

func caPool(t *testing.T, f *fixture) *x509.CertPool {
	pem, err := os.ReadFile(f.env.Config.CAFile)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

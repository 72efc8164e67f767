package vault_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/vault/vaulttest"
	"github.com/customerkey/customerkey/vaultclient"
)

var ctx = context.Background()

// Principals of the seed set-up.
const (
	adminUPN       = "admin@contoso.com"       // subscription owner, key vault administrator
	contributorUPN = "contributor@contoso.com" // Contributor role on the vault
	exoApp         = "00000002-0000-0ff1-ce00-000000000000"
	otherApp       = "c066d759-24ae-40e7-a56f-027002b5d3e4"
)

// fixture is a vault with a tenant, a paid subscription and principals.
type fixture struct {
	env    *vaulttest.Env
	tenant string
	sub    string
	vault  string
	uri    string
}

type obj = map[string]any

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) mgmt(t testing.TB, method, path string, in any) map[string]any {
	t.Helper()
	var out map[string]any
	must(t, f.env.Client.Do(ctx, method, path, in, &out))
	return out
}

// newFixture creates tenant Contoso, subscription CK1, principals and a
// vault in eastus using access policies (or RBAC).
func newFixture(t testing.TB, model string, purgeProtection bool) *fixture {
	return newFixtureOn(t, vaulttest.Options{}, model, purgeProtection)
}

func newFixtureOn(t testing.TB, opts vaulttest.Options, model string, purgeProtection bool) *fixture {
	t.Helper()
	env := vaulttest.Start(t, opts)
	f := &fixture{env: env}
	f.tenant = f.mgmt(t, "POST", "/tenants", obj{"name": "Contoso"})["id"].(string)
	for _, p := range []string{adminUPN, contributorUPN, exoApp, otherApp} {
		f.mgmt(t, "POST", "/tenants/Contoso/principals", obj{"name": p})
	}
	f.sub = f.mgmt(t, "POST", "/subscriptions", obj{"name": "CK1", "tenant": "Contoso", "owner": adminUPN})["id"].(string)
	v := f.mgmt(t, "POST", "/vaults", obj{"name": "ContosoEXOAKV01", "subscription": f.sub, "region": "eastus", "sku": "premium",
		"permissionModel": model, "purgeProtection": purgeProtection})
	f.vault, f.uri = v["name"].(string), v["uri"].(string)
	if model == "rbac" {
		f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": adminUPN, "role": "Key Vault Crypto Officer"})
	} else {
		f.setPolicy(t, adminUPN, "all")
	}
	return f
}

func (f *fixture) setPolicy(t testing.TB, principal string, perms ...string) {
	t.Helper()
	f.mgmt(t, "PUT", "/vaults/"+f.vault+"/accessPolicies/"+principal, obj{"permissions": obj{"keys": perms}})
}

func (f *fixture) keys(t testing.TB, principal string) *azkeys.Client {
	t.Helper()
	c, err := f.env.Client.KeysClient(f.uri, principal)
	must(t, err)
	return c
}

// wantErr checks an azkeys error's status and (inner) error code.
func wantErr(t testing.TB, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want HTTP %d %s", err, status, code)
	}
	if re.StatusCode != status || !strings.Contains(re.Error(), `"`+code+`"`) {
		t.Fatalf("got HTTP %d:\n%v\nwant HTTP %d with code %s", re.StatusCode, re.Error(), status, code)
	}
}

func wantMgmtErr(t testing.TB, err error, status int, code string) {
	t.Helper()
	var ve *vaultclient.Error
	if !errors.As(err, &ve) || ve.Status != status || (ve.Code != code && ve.Inner != code) {
		t.Fatalf("got %v, want HTTP %d %s", err, status, code)
	}
}

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// sharedKey is one RSA-2048 key for tests that import many keys.
func sharedKey(t testing.TB) *rsa.PrivateKey {
	testKeyOnce.Do(func() {
		var err error
		testKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(t, err)
	})
	return testKey
}

func jwkOf(k *rsa.PrivateKey) *azkeys.JSONWebKey {
	k.Precompute()
	return &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeRSA), N: k.N.Bytes(), E: []byte{1, 0, 1}, D: k.D.Bytes(),
		P: k.Primes[0].Bytes(), Q: k.Primes[1].Bytes(), DP: k.Precomputed.Dp.Bytes(), DQ: k.Precomputed.Dq.Bytes(), QI: k.Precomputed.Qinv.Bytes()}
}

func createKey(t testing.TB, c *azkeys.Client, name string, kty azkeys.KeyType) azkeys.KeyBundle {
	t.Helper()
	resp, err := c.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(kty), KeySize: to.Ptr[int32](2048)}, nil)
	must(t, err)
	return resp.KeyBundle
}

var _ = http.MethodGet

package vault_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
	"github.com/customerkey/customerkey/vaultclient"
)

var oaep256 = to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256)

func wrapParams(v []byte) azkeys.KeyOperationParameters {
	return azkeys.KeyOperationParameters{Algorithm: oaep256, Value: v}
}

func TestAccessPolicyEnforcedOnEveryCall(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSAHSM)
	exo := f.keys(t, exoApp)

	// No policy at all: 403 ForbiddenByPolicy.
	_, err := exo.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")

	// The seed's workload permissions: get, wrapKey, unwrapKey.
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	w, err := exo.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	_, err = exo.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)
	_, err = exo.GetKey(ctx, "key1", "", nil)
	must(t, err)
	// ... but nothing else.
	_, err = exo.DeleteKey(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	_, err = exo.CreateKey(ctx, "key2", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	pager := exo.NewListKeyPropertiesPager(nil)
	_, err = pager.NextPage(ctx)
	wantErr(t, err, 403, "ForbiddenByPolicy")

	// Removing unwrapKey takes effect on the very next call, same client, same token.
	f.setPolicy(t, exoApp, "get", "wrapKey")
	_, err = exo.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	_, err = f.env.Client.Do(ctx, "DELETE", "/vaults/"+f.vault+"/accessPolicies/"+exoApp, nil, nil), nil
	must(t, err)
	_, err = exo.GetKey(ctx, "key1", "", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
}

// TestRemoveAccessPolicyIsIdempotent: removing a policy the principal does
// not have succeeds, as Remove-AzKeyVaultAccessPolicy does in Azure, so a
// script that takes a workload off every vault does not stop at a vault
// that never served it. Other principals' policies stay.
func TestRemoveAccessPolicyIsIdempotent(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSA)
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	remove := func(principal string) error {
		return f.env.Client.Do(ctx, "DELETE", "/vaults/"+f.vault+"/accessPolicies/"+principal, nil, nil)
	}
	must(t, remove(otherApp))                  // a principal of the tenant without a policy here
	must(t, remove(strings.ToUpper(exoApp)))   // the policy, named in another case
	must(t, remove(exoApp))                    // again: nothing left to remove
	must(t, remove("nobody@fabrikam.example")) // no such principal: nothing to remove either
	_, err := f.keys(t, exoApp).GetKey(ctx, "key1", "", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	_, err = f.keys(t, adminUPN).GetKey(ctx, "key1", "", nil)
	must(t, err)

	// On an RBAC vault there are no policies; removing one is a no-op too.
	rv := f.mgmt(t, "POST", "/vaults", obj{"name": "contoso-rbac", "subscription": f.sub, "region": "eastus", "permissionModel": "rbac"})
	must(t, f.env.Client.Do(ctx, "DELETE", "/vaults/"+rv["name"].(string)+"/accessPolicies/"+exoApp, nil, nil))

	// What still fails: a vault that does not exist, and a caller who may not
	// change the vault's policies.
	wantMgmtErr(t, f.env.Client.Do(ctx, "DELETE", "/vaults/nosuch-vault/accessPolicies/"+exoApp, nil, nil), 404, "VaultNotFound")
	f.mgmt(t, "POST", "/tenants/Contoso/principals", obj{"name": "keyadmin@contoso.com"})
	tok, err := f.env.Client.Token(ctx, "keyadmin@contoso.com", "", "")
	must(t, err)
	wantMgmtErr(t, f.env.Client.WithToken(tok.AccessToken).Do(ctx, "DELETE", "/vaults/"+f.vault+"/accessPolicies/"+otherApp, nil, nil), 403, "AuthorizationFailed")
}

func TestRBACEnforcedOnEveryCall(t *testing.T) {
	f := newFixture(t, "rbac", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSAHSM)
	exo := f.keys(t, exoApp)
	_, err := exo.UnwrapKey(ctx, "key1", "", wrapParams(make([]byte, 256)), nil)
	wantErr(t, err, 403, "ForbiddenByRbac")

	ra := f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": exoApp, "role": "Key Vault Crypto Service Encryption User"})
	w, err := exo.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	_, err = exo.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)
	_, err = exo.Decrypt(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByRbac") // not in the role
	_, err = exo.BackupKey(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByRbac")

	// Access policies do not apply to an RBAC vault, and saying so is an error.
	err = f.env.Client.Do(ctx, "PUT", "/vaults/"+f.vault+"/accessPolicies/"+exoApp, obj{"permissions": obj{"keys": []string{"all"}}}, nil)
	wantMgmtErr(t, err, 400, "BadParameter")

	must(t, f.env.Client.Do(ctx, "DELETE", "/vaults/"+f.vault+"/roleAssignments/"+ra["id"].(string), nil, nil))
	_, err = exo.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByRbac")

	// A Reader reads metadata and may wrap (public key), never unwrap.
	f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": otherApp, "role": "Key Vault Reader"})
	reader := f.keys(t, otherApp)
	_, err = reader.GetKey(ctx, "key1", "", nil)
	must(t, err)
	_, err = reader.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByRbac")
}

func TestMigrateAccessPoliciesToRBAC(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSAHSM)
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	v := f.mgmt(t, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true})
	roles := map[string]string{}
	for _, m := range v["migratedAssignments"].([]any) {
		m := m.(map[string]any)
		roles[m["principal"].(string)] = m["role"].(string)
	}
	if roles[exoApp] != "Key Vault Crypto Service Encryption User" || roles[adminUPN] != "Key Vault Crypto Officer" {
		t.Fatalf("migrated roles %v", roles)
	}
	exo := f.keys(t, exoApp)
	w, err := exo.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	_, err = exo.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)
}

func TestDisabledAndExpiredKeys(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	createKey(t, c, "key1", azkeys.KeyTypeRSAHSM)
	w, err := c.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)

	_, err = c.UpdateKey(ctx, "key1", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil)
	must(t, err)
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := c.GetKey(ctx, "key1", "", nil); return err },
		"wrap":   func() error { _, err := c.WrapKey(ctx, "key1", "", wrapParams([]byte("x")), nil); return err },
		"unwrap": func() error { _, err := c.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil); return err },
	} {
		t.Run("disabled/"+name, func(t *testing.T) { wantErr(t, call(), 403, "KeyDisabled") })
	}
	_, err = c.UpdateKey(ctx, "key1", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true)}}, nil)
	must(t, err)

	// Expired: wrap refused; unwrap still works so data is never locked.
	_, err = c.UpdateKey(ctx, "key1", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: to.Ptr(time.Now().Add(time.Hour))}}, nil)
	must(t, err)
	f.env.Clock.Advance(2 * time.Hour)
	_, err = c.WrapKey(ctx, "key1", "", wrapParams([]byte("x")), nil)
	wantErr(t, err, 403, "KeyExpired")
	_, err = c.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)

	// Not yet valid.
	createKey(t, c, "key2", azkeys.KeyTypeRSA)
	_, err = c.UpdateKey(ctx, "key2", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{NotBefore: to.Ptr(f.env.Clock.Now().Add(time.Hour))}}, nil)
	must(t, err)
	_, err = c.WrapKey(ctx, "key2", "", wrapParams([]byte("x")), nil)
	wantErr(t, err, 403, "KeyNotYetValid")

	// An expiry can move to 9999-12-31, never be removed.
	err = rawJSON(t, f, adminUPN, "PATCH", "/keys/key1/", `{"attributes":{"exp":null}}`, 400)
	if !strings.Contains(err.Error(), "cannot be removed") {
		t.Fatalf("removing an expiry: %v", err)
	}
	upd, err := c.UpdateKey(ctx, "key1", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: to.Ptr(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))}}, nil)
	must(t, err)
	if upd.Attributes.Expires.Year() != 9999 {
		t.Fatalf("expiry %v", upd.Attributes.Expires)
	}
	_, err = c.WrapKey(ctx, "key1", "", wrapParams([]byte("x")), nil)
	must(t, err)
}

func TestPurgeProtectionAndRetention(t *testing.T) {
	f := newFixture(t, "accessPolicy", true)
	c := f.keys(t, adminUPN)
	k := createKey(t, c, "key1", azkeys.KeyTypeRSAHSM)
	if *k.Attributes.RecoveryLevel != "Recoverable" {
		t.Fatalf("purge protection: recovery level %s, want Recoverable", *k.Attributes.RecoveryLevel)
	}
	_, err := c.DeleteKey(ctx, "key1", nil)
	must(t, err)
	_, err = c.PurgeDeletedKey(ctx, "key1", nil)
	wantErr(t, err, 403, "PurgeProtected")
	// Purge protection cannot be turned off.
	err = f.env.Client.Do(ctx, "PATCH", "/vaults/"+f.vault, obj{"purgeProtection": false}, nil)
	wantMgmtErr(t, err, 400, "BadParameter")
	// Recover works under purge protection.
	_, err = c.RecoverDeletedKey(ctx, "key1", nil)
	must(t, err)
	// After the retention period the system purges it.
	_, err = c.DeleteKey(ctx, "key1", nil)
	must(t, err)
	f.env.Clock.Advance(91 * 24 * time.Hour)
	_, err = c.GetDeletedKey(ctx, "key1", nil)
	wantErr(t, err, 404, "KeyNotFound")
	createKey(t, c, "key1", azkeys.KeyTypeRSAHSM) // the name is free again
}

func TestPurgeNeedsPermission(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSA)
	f.setPolicy(t, contributorUPN, "get", "list", "delete", "recover")
	c := f.keys(t, contributorUPN)
	_, err := c.DeleteKey(ctx, "key1", nil)
	must(t, err)
	_, err = c.PurgeDeletedKey(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
}

func TestRestoreOnlyIntoSameSubscription(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	createKey(t, c, "key1", azkeys.KeyTypeRSAHSM)
	backup, err := c.BackupKey(ctx, "key1", nil)
	must(t, err)

	// A second vault in the same subscription (westus) accepts it.
	v2 := f.mgmt(t, "POST", "/vaults", obj{"name": "ContosoEXOAKV03", "subscription": f.sub, "region": "westus", "sku": "premium"})
	f.mgmt(t, "PUT", "/vaults/contosoexoakv03/accessPolicies/"+adminUPN, obj{"permissions": obj{"keys": []string{"all"}}})
	c2, err := f.env.Client.KeysClient(v2["uri"].(string), adminUPN)
	must(t, err)
	_, err = c2.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	must(t, err)

	// A vault of another subscription refuses it.
	sub2 := f.mgmt(t, "POST", "/subscriptions", obj{"name": "CK2", "tenant": "Contoso", "owner": adminUPN})["id"].(string)
	v3 := f.mgmt(t, "POST", "/vaults", obj{"name": "ContosoEXOAKV02", "subscription": sub2, "region": "westus", "sku": "premium"})
	f.mgmt(t, "PUT", "/vaults/contosoexoakv02/accessPolicies/"+adminUPN, obj{"permissions": obj{"keys": []string{"all"}}})
	c3, err := f.env.Client.KeysClient(v3["uri"].(string), adminUPN)
	must(t, err)
	_, err = c3.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	wantErr(t, err, 400, "BadParameter")
	if !strings.Contains(err.Error(), "same subscription") {
		t.Fatalf("error does not say why: %v", err)
	}
	// A tampered blob is refused, never half-restored.
	bad := bytes.Clone(backup.Value)
	bad[len(bad)-1] ^= 1
	_, err = c2.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: bad}, nil)
	wantErr(t, err, 400, "BadParameter")
}

func TestVaultOfAnotherTenantOrRegion(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSA)
	// Fabrikam's principal cannot reach Contoso's vault: its token is for the wrong tenant.
	f.mgmt(t, "POST", "/tenants", obj{"name": "Fabrikam"})
	f.mgmt(t, "POST", "/tenants/Fabrikam/principals", obj{"name": "eve@fabrikam.com"})
	tok, err := f.env.Client.Token(ctx, "eve@fabrikam.com", "", f.env.Config.Regions[0].URL)
	must(t, err)
	req, _ := http.NewRequest("GET", f.uri+"/keys/key1?api-version=2025-07-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), f.tenant) {
		t.Fatalf("cross-tenant token: got %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The same vault name on the other region's listener is not served.
	wrong := strings.Replace(f.uri, strings.TrimPrefix(f.env.Config.Regions[0].URL, "https://localhost"), strings.TrimPrefix(f.env.Config.Regions[1].URL, "https://localhost"), 1)
	c, err := f.env.Client.KeysClient(wrong, adminUPN)
	must(t, err)
	_, err = c.GetKey(ctx, "key1", "", nil)
	wantErr(t, err, 404, "VaultNotFound")
}

// rawJSON sends a raw request to the vault as principal and checks the status.
func rawJSON(t *testing.T, f *fixture, principal, method, path, body string, status int) error {
	t.Helper()
	tok, err := f.env.Client.Token(ctx, principal, "", f.env.Config.Regions[0].URL)
	must(t, err)
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if !strings.Contains(path, "api-version") {
		path += sep + "api-version=2025-07-01"
	}
	req, _ := http.NewRequest(method, f.uri+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s %s: got %d %s, want %d", method, path, body, resp.StatusCode, data, status)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if status >= 400 && (json.Unmarshal(data, &e) != nil || e.Error.Code == "" || e.Error.Message == "") {
		t.Fatalf("%s %s: error body not in Azure's shape: %s", method, path, data)
	}
	return fmt.Errorf("%s", e.Error.Message)
}

func TestBadInputIsA400NamingTheProblem(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	k := createKey(t, c, "key1", azkeys.KeyTypeRSA)
	w, err := c.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	padded := base64.URLEncoding.EncodeToString(w.Result)
	std := base64.StdEncoding.EncodeToString(w.Result)
	if !strings.HasSuffix(padded, "=") && !strings.ContainsAny(std, "+/") {
		t.Log("note: ciphertext happens to need no padding and no +/")
	}
	// Padded and standard-alphabet base64 are accepted on input.
	for _, v := range []string{padded, std, base64.RawURLEncoding.EncodeToString(w.Result)} {
		rawJSON(t, f, adminUPN, "POST", "/keys/key1/unwrapkey", `{"alg":"RSA-OAEP-256","value":"`+v+`"}`, 200)
	}
	version := k.Key.KID.Version()
	cases := []struct {
		name, method, path, body, want string
	}{
		{"malformed JSON", "POST", "/keys/key2/create", `{"kty":`, "not valid JSON"},
		{"empty body", "POST", "/keys/key2/create", ``, "body is required"},
		{"wrong type", "POST", "/keys/key2/create", `{"kty":"RSA","key_size":"big"}`, "key_size"},
		{"float timestamp", "POST", "/keys/key2/create", `{"kty":"RSA","attributes":{"exp":1.7e9}}`, "exp"},
		{"name with underscore", "POST", "/keys/bad_name/create", `{"kty":"RSA"}`, "key name"},
		{"name too long", "POST", "/keys/" + strings.Repeat("a", 128) + "/create", `{"kty":"RSA"}`, "1-127"},
		{"size 1024", "POST", "/keys/key2/create", `{"kty":"RSA","key_size":1024}`, "2048, 3072 or 4096"},
		{"EC key", "POST", "/keys/key2/create", `{"kty":"EC","crv":"P-256"}`, "elliptic-curve"},
		{"no kty", "POST", "/keys/key2/create", `{}`, "kty is required"},
		{"bad key op", "POST", "/keys/key2/create", `{"kty":"RSA","key_ops":["fly"]}`, "key operation"},
		{"exponent 3", "POST", "/keys/key2/create", `{"kty":"RSA","public_exponent":3}`, "public_exponent"},
		{"exp before nbf", "POST", "/keys/key2/create", `{"kty":"RSA","attributes":{"nbf":2000000000,"exp":1900000000}}`, "after nbf"},
		{"bad alg", "POST", "/keys/key1/wrapkey", `{"alg":"A256KW","value":"AAAA"}`, "RSA-OAEP-256"},
		{"RSA1_5", "POST", "/keys/key1/wrapkey", `{"alg":"RSA1_5","value":"AAAA"}`, "RSA1_5"},
		{"no value", "POST", "/keys/key1/wrapkey", `{"alg":"RSA-OAEP-256"}`, "value is required"},
		{"bad base64", "POST", "/keys/key1/wrapkey", `{"alg":"RSA-OAEP-256","value":"!!!"}`, "base64url"},
		{"too much to wrap", "POST", "/keys/key1/wrapkey", `{"alg":"RSA-OAEP-256","value":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 191)) + `"}`, "at most 190"},
		{"short ciphertext", "POST", "/keys/key1/unwrapkey", `{"alg":"RSA-OAEP-256","value":"AAAA"}`, "256 bytes"},
		{"garbage ciphertext", "POST", "/keys/key1/" + version + "/unwrapkey", `{"alg":"RSA-OAEP-256","value":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 256)) + `"}`, "not a RSA-OAEP-256 ciphertext"},
		{"bad version", "GET", "/keys/key1/xyz", ``, "32 hexadecimal"},
		{"bad api-version", "GET", "/keys?api-version=1999-01-01", ``, "not recognized"},
		{"bad maxresults", "GET", "/keys?maxresults=26", ``, "maxresults"},
		{"bad skiptoken", "GET", "/keys?$skiptoken=!!", ``, "skiptoken"},
		{"import without private key", "PUT", "/keys/key3", `{"key":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`, "no private key"},
		{"import no key", "PUT", "/keys/key3", `{}`, "key is required"},
		{"too many tags", "POST", "/keys/key2/create", `{"kty":"RSA","tags":{` + manyTags(16) + `}}`, "at most 15 tags"},
		{"oversize body", "POST", "/keys/key2/create", `{"kty":"RSA","tags":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`, "larger than the limit"},
		{"restore garbage", "POST", "/keys/restore", `{"value":"AAAA"}`, "corrupt"},
		{"RSA-HSM in standard vault", "POST", "/keys/key2/create", `{"kty":"RSA-HSM"}`, "premium"},
	}
	// The last case needs a standard vault.
	sv := f.mgmt(t, "POST", "/vaults", obj{"name": "contoso-standard", "subscription": f.sub, "region": "eastus", "sku": "standard"})
	f.mgmt(t, "PUT", "/vaults/contoso-standard/accessPolicies/"+adminUPN, obj{"permissions": obj{"keys": []string{"all"}}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ff := f
			if strings.Contains(tc.name, "standard vault") {
				cp := *f
				cp.uri = sv["uri"].(string)
				ff = &cp
			}
			msg := rawJSON(t, ff, adminUPN, tc.method, tc.path, tc.body, 400)
			if !strings.Contains(msg.Error(), tc.want) {
				t.Fatalf("message %q does not name the problem (%q)", msg, tc.want)
			}
		})
	}
}

func manyTags(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"t%d":"v"`, i))
	}
	return strings.Join(parts, ",")
}

func TestManagementRules(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	do := func(method, path string, in any) error { return f.env.Client.Do(ctx, method, path, in, nil) }
	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"duplicate vault name", "POST", "/vaults", obj{"name": "CONTOSOEXOAKV01", "subscription": f.sub, "region": "westus"}, 409, "Conflict"},
		{"vault name too short", "POST", "/vaults", obj{"name": "ab", "subscription": f.sub, "region": "eastus"}, 400, "BadParameter"},
		{"vault name too long", "POST", "/vaults", obj{"name": strings.Repeat("a", 25), "subscription": f.sub, "region": "eastus"}, 400, "BadParameter"},
		{"vault name double dash", "POST", "/vaults", obj{"name": "a--b", "subscription": f.sub, "region": "eastus"}, 400, "BadParameter"},
		{"unknown region", "POST", "/vaults", obj{"name": "vault-x", "subscription": f.sub, "region": "mars"}, 400, "BadParameter"},
		{"bad sku", "POST", "/vaults", obj{"name": "vault-x", "subscription": f.sub, "region": "eastus", "sku": "gold"}, 400, "BadParameter"},
		{"retention 6", "POST", "/vaults", obj{"name": "vault-x", "subscription": f.sub, "region": "eastus", "retentionDays": 6}, 400, "BadParameter"},
		{"retention 91", "POST", "/vaults", obj{"name": "vault-x", "subscription": f.sub, "region": "eastus", "retentionDays": 91}, 400, "BadParameter"},
		{"soft delete off", "POST", "/vaults", obj{"name": "vault-x", "subscription": f.sub, "region": "eastus", "softDelete": false}, 400, "BadParameter"},
		{"rename vault", "PATCH", "/vaults/" + f.vault, obj{"name": "other"}, 400, "BadParameter"},
		{"change retention", "PATCH", "/vaults/" + f.vault, obj{"retentionDays": 30}, 400, "BadParameter"},
		{"unknown permission", "PUT", "/vaults/" + f.vault + "/accessPolicies/" + exoApp, obj{"permissions": obj{"keys": []string{"fly"}}}, 400, "BadParameter"},
		{"unknown principal", "PUT", "/vaults/" + f.vault + "/accessPolicies/nobody@contoso.com", obj{"permissions": obj{"keys": []string{"get"}}}, 404, "PrincipalNotFound"},
		{"unknown role", "POST", "/vaults/" + f.vault + "/roleAssignments", obj{"principal": exoApp, "role": "Janitor"}, 400, "BadParameter"},
		{"bad principal name", "POST", "/tenants/Contoso/principals", obj{"name": "not a principal"}, 400, "BadParameter"},
		{"bad subscription kind", "POST", "/subscriptions", obj{"name": "x", "tenant": "Contoso", "owner": adminUPN, "kind": "free"}, 400, "BadParameter"},
		{"unknown feature", "POST", "/subscriptions/" + f.sub + "/providers/Microsoft.Resources/features/fly/register", nil, 404, "FeatureNotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantMgmtErr(t, do(tc.method, tc.path, tc.body), tc.status, tc.code) })
	}

	req, _ := http.NewRequest("POST", f.env.Config.ManagementURL+"/vaults", strings.NewReader(`{"name":`))
	req.Header.Set("Authorization", "Bearer "+f.env.Config.AdminToken)
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "not valid JSON") {
		t.Fatalf("malformed management JSON: %d %s", resp.StatusCode, body)
	}

	// A principal token may not use the admin-only issuer, and a key
	// administrator may not change the vault's access policies; a
	// contributor may.
	f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": contributorUPN, "role": "Contributor"})
	f.mgmt(t, "POST", "/tenants/Contoso/principals", obj{"name": "keyadmin@contoso.com"})
	asUser := func(upn string) func(method, path string, in any) error {
		tok, err := f.env.Client.Token(ctx, upn, "", "")
		must(t, err)
		cl := f.env.Client.WithToken(tok.AccessToken)
		return func(method, path string, in any) error { return cl.Do(ctx, method, path, in, nil) }
	}
	keyAdmin, contributor := asUser("keyadmin@contoso.com"), asUser(contributorUPN)
	policy := obj{"permissions": obj{"keys": []string{"get", "wrapKey", "unwrapKey"}}}
	wantMgmtErr(t, keyAdmin("PUT", "/vaults/"+f.vault+"/accessPolicies/"+exoApp, policy), 403, "AuthorizationFailed")
	wantMgmtErr(t, keyAdmin("POST", "/issuer/token", obj{"principal": adminUPN}), 403, "AuthorizationFailed")
	must(t, contributor("PUT", "/vaults/"+f.vault+"/accessPolicies/"+exoApp, policy))
	// A contributor cannot hand out roles (that needs Owner).
	wantMgmtErr(t, contributor("POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": exoApp, "role": "Key Vault Administrator"}), 403, "AuthorizationFailed")
}

func TestSubscriptionRetentionFeature(t *testing.T) {
	// A delay no real time reaches during the test; the clock is advanced.
	f := newFixtureOn(t, vaulttest.Options{FeatureDelay: time.Hour}, "accessPolicy", false)
	path := "/subscriptions/" + f.sub + "/providers/Microsoft.Resources/features/mandatoryRetentionPeriodEnabled"
	if s := f.mgmt(t, "GET", path, nil)["state"]; s != "NotRegistered" {
		t.Fatalf("state %v", s)
	}
	if s := f.mgmt(t, "POST", path+"/register", nil)["state"]; s != "Registering" {
		t.Fatalf("after register: %v, want Registering", s)
	}
	// Cancelling while Registering or Registered is refused.
	wantMgmtErr(t, f.env.Client.Do(ctx, "POST", "/subscriptions/"+f.sub+"/cancel", nil, nil), 409, "MandatoryRetentionPeriod")
	f.env.Clock.Advance(time.Hour)
	if s := f.mgmt(t, "GET", path, nil)["state"]; s != "Registered" {
		t.Fatalf("state %v, want Registered", s)
	}
	wantMgmtErr(t, f.env.Client.Do(ctx, "POST", "/subscriptions/"+f.sub+"/cancel", nil, nil), 409, "MandatoryRetentionPeriod")
	// Keys now report Recoverable+ProtectedSubscription.
	k := createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSAHSM)
	if *k.Attributes.RecoveryLevel != "Recoverable+ProtectedSubscription" {
		t.Fatalf("recovery level %s", *k.Attributes.RecoveryLevel)
	}
	// A subscription without the feature can be cancelled.
	sub2 := f.mgmt(t, "POST", "/subscriptions", obj{"name": "Trial", "tenant": "Contoso", "owner": adminUPN, "kind": "trial"})
	if sub2["kind"] != "trial" {
		t.Fatalf("kind %v", sub2["kind"])
	}
	if s := f.mgmt(t, "POST", "/subscriptions/"+sub2["id"].(string)+"/cancel", nil)["state"]; s != "Cancelled" {
		t.Fatalf("cancel: %v", s)
	}
}

func TestOperationLog(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, exoApp)
	_, err := c.GetKey(ctx, "nokey", "", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	var out struct {
		Value []struct {
			Principal, Operation, Vault, Key, Code string
			Status                                 int
		}
	}
	must(t, f.env.Client.Do(ctx, "GET", "/log?vault="+f.vault, nil, &out))
	found := false
	for _, op := range out.Value {
		if op.Principal == exoApp && op.Operation == "KeyGet" && op.Key == "nokey" && op.Status == 403 && op.Code == "ForbiddenByPolicy" {
			found = true
		}
	}
	if !found {
		t.Fatalf("denied KeyGet by %s not in the log: %+v", exoApp, out.Value)
	}
}

// TestPermissionModelIsTheOwners: a Contributor, who may edit access
// policies, cannot change the vault's permission model or migrate it. It
// could: back to access policies, a policy of "all" for itself, then a
// migration that made it a Crypto Officer (a role assignment, which is
// the Owner's), and the tenant's key was its to unwrap and delete.
func TestPermissionModelIsTheOwners(t *testing.T) {
	f := newFixture(t, "rbac", false)
	f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": contributorUPN, "role": "Contributor"})
	tok, err := f.env.Client.Token(ctx, contributorUPN, "", "")
	must(t, err)
	contributor := f.env.Client.WithToken(tok.AccessToken)
	do := func(method, path string, in any) error { return contributor.Do(ctx, method, path, in, nil) }
	wantMgmtErr(t, do("PATCH", "/vaults/"+f.vault, obj{"permissionModel": "accessPolicy"}), 403, "AuthorizationFailed")
	// Under access policies (the owner's choice) the contributor edits
	// policies, its own included, but cannot turn them into roles.
	f.mgmt(t, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "accessPolicy"})
	must(t, do("PUT", "/vaults/"+f.vault+"/accessPolicies/"+contributorUPN, obj{"permissions": obj{"keys": []string{"all"}}}))
	wantMgmtErr(t, do("PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true}), 403, "AuthorizationFailed")
	wantMgmtErr(t, do("PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac"}), 403, "AuthorizationFailed")
	// A setting that is a Contributor's still is.
	must(t, do("PATCH", "/vaults/"+f.vault, obj{"purgeProtection": true}))
}

// TestMigrationGrantsNoMore: a migration gives each principal the
// narrowest role covering what its policy allows. A workload left with
// "get" (its unwrap taken away) came out a Crypto Service Encryption User,
// able to unwrap again; "get" with "getrotationpolicy" came out a Crypto
// Officer, able to delete and purge.
func TestMigrationGrantsNoMore(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	admin := f.keys(t, adminUPN)
	createKey(t, admin, "key1", azkeys.KeyTypeRSAHSM)
	w, err := admin.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	f.setPolicy(t, exoApp, "get")
	f.setPolicy(t, otherApp, "get", "getrotationpolicy")
	v := f.mgmt(t, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true})
	roles := map[string]string{}
	for _, m := range v["migratedAssignments"].([]any) {
		m := m.(map[string]any)
		roles[m["principal"].(string)] = m["role"].(string)
	}
	if roles[exoApp] != "Key Vault Reader" || roles[otherApp] != "Key Vault Reader" {
		t.Fatalf("migrated roles %v, want Key Vault Reader for both", roles)
	}
	_, err = f.keys(t, exoApp).UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByRbac")
	_, err = f.keys(t, otherApp).DeleteKey(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByRbac")
}

// TestMigrationKeepsWrapOnly: a workload whose unwrap the tenant took away
// (get, list, wrapKey left) and one allowed only encrypt still wrap and
// encrypt after the vault moves to RBAC, and unwrap, decrypt, update and
// back up nothing: they were given a role that unwraps before.
func TestMigrationKeepsWrapOnly(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	admin := f.keys(t, adminUPN)
	createKey(t, admin, "key1", azkeys.KeyTypeRSAHSM)
	w, err := admin.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	f.setPolicy(t, exoApp, "get", "list", "wrapKey")
	f.setPolicy(t, otherApp, "encrypt")
	f.mgmt(t, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true})
	for _, p := range []string{exoApp, otherApp} {
		kc := f.keys(t, p)
		_, err := kc.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
		must(t, err)
		_, err = kc.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
		wantErr(t, err, 403, "ForbiddenByRbac")
		_, err = kc.UpdateKey(ctx, "key1", "", azkeys.UpdateKeyParameters{Tags: map[string]*string{}}, nil)
		wantErr(t, err, 403, "ForbiddenByRbac")
		_, err = kc.BackupKey(ctx, "key1", nil)
		wantErr(t, err, 403, "ForbiddenByRbac")
	}
}

// TestMigrationRefusesWidening: a migration that would give a principal
// more than its policy allows changes nothing and names each such
// principal, its role and what the role adds. An administrator allowed to
// create, back up and restore keys came out a Crypto Officer, able to
// purge them and to unwrap with them; one allowed encrypt and decrypt, a
// Crypto User, able to unwrap.
func TestMigrationRefusesWidening(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	admin := f.keys(t, adminUPN)
	createKey(t, admin, "key1", azkeys.KeyTypeRSAHSM)
	w, err := admin.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	f.setPolicy(t, contributorUPN, "get", "list", "create", "backup", "restore", "update")
	f.setPolicy(t, otherApp, "get", "encrypt", "decrypt")
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	err = f.env.Client.Do(ctx, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true}, nil)
	wantMgmtErr(t, err, 400, "BadParameter")
	for _, want := range []string{"2 principal(s)", contributorUPN, `"Key Vault Crypto Officer", also allows: import,rotate,delete,recover,purge,unwrapKey,decrypt`,
		otherApp, `"Key Vault Crypto User", also allows: update,backup,unwrapKey`, "Nothing was changed", "ck vault role assign"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), exoApp) {
		t.Errorf("error names %s, whose role allows no more than its policy: %v", exoApp, err)
	}
	var v vaultclient.Vault
	must(t, f.env.Client.Do(ctx, "GET", "/vaults/"+f.vault, nil, &v))
	if v.PermissionModel != "accessPolicy" || len(v.RoleAssignments) != 0 {
		t.Fatalf("refused migration changed the vault: model %q, role assignments %+v", v.PermissionModel, v.RoleAssignments)
	}
	// Under access policies still: the contributor cannot unwrap.
	_, err = f.keys(t, contributorUPN).UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")

	// Given what their roles add, both migrate.
	f.setPolicy(t, contributorUPN, "all")
	f.setPolicy(t, otherApp, "get", "encrypt", "decrypt", "update", "backup", "unwrapKey")
	f.mgmt(t, "PATCH", "/vaults/"+f.vault, obj{"permissionModel": "rbac", "migrateAccessPolicies": true})
	_, err = f.keys(t, otherApp).UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)
}

// TestWidening: what a policy's narrowest role allows beyond it, reads and
// public-key operations aside.
func TestWidening(t *testing.T) {
	for _, tc := range []struct {
		perms []string
		want  string
	}{
		{[]string{"get", "wrapKey", "unwrapKey"}, ""},
		{[]string{"get", "list", "wrapKey"}, ""},
		{[]string{"encrypt"}, ""},
		{[]string{"get", "getrotationpolicy"}, ""},
		{[]string{"all"}, ""},
		{[]string{"get", "encrypt", "decrypt"}, "update,backup,unwrapKey"},
		{[]string{"backup"}, "update,unwrapKey,decrypt"},
		{[]string{"get", "delete"}, "create,import,update,rotate,recover,purge,backup,restore,unwrapKey,decrypt"},
		{[]string{"create", "import", "get", "list", "update", "rotate", "delete", "recover", "purge", "backup", "restore", "unwrapKey", "decrypt"}, ""},
	} {
		role, _ := vault.BestRole(tc.perms)
		if got := strings.Join(vault.Widening(tc.perms, role), ","); got != tc.want {
			t.Errorf("widening(%v, %q) = %q, want %q", tc.perms, role.Name, got, tc.want)
		}
	}
}

// TestBestRole: the narrowest built-in role covering what a policy allows.
func TestBestRole(t *testing.T) {
	for _, tc := range []struct {
		perms []string
		want  string // "" no role
	}{
		{[]string{"get"}, "Key Vault Reader"},
		{[]string{"get", "list", "getrotationpolicy"}, "Key Vault Reader"},
		{[]string{"get", "wrapKey", "unwrapKey"}, "Key Vault Crypto Service Encryption User"},
		// Wrap and encrypt need only the public key, which keys/read
		// gives: a workload left with wrapKey does not come out able to
		// unwrap, nor one with encrypt able to decrypt.
		{[]string{"get", "list", "wrapKey"}, "Key Vault Reader"},
		{[]string{"encrypt"}, "Key Vault Reader"},
		{[]string{"get", "encrypt", "decrypt"}, "Key Vault Crypto User"},
		{[]string{"get", "delete"}, "Key Vault Crypto Officer"},
		{[]string{"all"}, "Key Vault Crypto Officer"},
		{[]string{"sign"}, ""},
		{nil, ""},
	} {
		role, ok := vault.BestRole(tc.perms)
		if got := map[bool]string{true: role.Name}[ok]; got != tc.want {
			t.Errorf("bestRole(%v) = %q, want %q", tc.perms, got, tc.want)
		}
	}
}

// TestLogOfAReusedName: a vault's operation log starts when it was
// created. Fabrikam, creating a vault under the name of Contoso's purged
// one, read Contoso's operations on it (principals, keys, addresses).
func TestLogOfAReusedName(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "ContosoMailboxKey", azkeys.KeyTypeRSAHSM)
	f.mgmt(t, "DELETE", "/vaults/"+f.vault, nil)
	f.mgmt(t, "DELETE", "/deletedvaults/"+f.vault, nil)
	m := f.mallory(t)
	var sub map[string]any
	must(t, m.Do(ctx, "POST", "/subscriptions", obj{"name": "F1", "tenant": "Fabrikam"}, &sub))
	must(t, m.Do(ctx, "POST", "/vaults", obj{"name": f.vault, "subscription": sub["id"], "region": "eastus"}, nil))
	var out vaultclient.List[vaultclient.Op]
	must(t, m.Do(ctx, "GET", "/log?vault="+f.vault, nil, &out))
	if len(out.Value) == 0 {
		t.Fatal("Fabrikam's vault has no log: its own creation is missing")
	}
	for _, op := range out.Value {
		if op.TenantID != sub["tenantId"] || op.Key == "ContosoMailboxKey" {
			t.Errorf("Fabrikam reads an operation of the earlier vault of that name: %+v", op)
		}
	}
}

// TestDirectorySaysNothingOfOtherTenants: what a principal learns of what
// is not its tenant's is the same as of what does not exist.
func TestDirectorySaysNothingOfOtherTenants(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	f.mgmt(t, "DELETE", "/vaults/"+f.vault, nil)
	m := f.mallory(t)
	same := func(what, exists, missing string) {
		t.Helper()
		e1, e2 := m.Do(ctx, "GET", exists, nil, nil), m.Do(ctx, "GET", missing, nil, nil)
		msg := func(err error) string {
			return strings.NewReplacer(strings.ToLower(f.vault), "X", "nosuchvault", "X", adminUPN, "X", "nobody@contoso.com", "X").Replace(strings.ToLower(fmt.Sprint(err)))
		}
		if e1 == nil || msg(e1) != msg(e2) {
			t.Errorf("%s: another tenant's answers %v, a missing one %v", what, e1, e2)
		}
	}
	same("a deleted vault", "/vaults/"+f.vault, "/vaults/nosuchvault")
	for _, tenant := range []string{"common", "Contoso"} {
		same("a principal via "+tenant, "/tenants/"+tenant+"/principals/"+adminUPN, "/tenants/"+tenant+"/principals/nobody@contoso.com")
	}
	must(t, m.Do(ctx, "GET", "/tenants/Fabrikam/principals/mallory@fabrikam.com", nil, nil))
	must(t, m.Do(ctx, "GET", "/tenants/common/principals/mallory@fabrikam.com", nil, nil))
	wantMgmtErr(t, m.Do(ctx, "GET", "/faults", nil, nil), 403, "AuthorizationFailed")
}

// TestPurgeForgetsTheKey: a purged key's parsed private key leaves the
// vault's memory with the purge (it stayed in the key cache until the
// cache was full or the process ended), a purged vault's keys too.
func TestPurgeForgetsTheKey(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	admin := f.keys(t, adminUPN)
	for _, name := range []string{"gone", "kept"} {
		createKey(t, admin, name, azkeys.KeyTypeRSA)
		w, err := admin.WrapKey(ctx, name, "", wrapParams([]byte("dek")), nil)
		must(t, err)
		_, err = admin.UnwrapKey(ctx, name, "", wrapParams(w.Result), nil)
		must(t, err)
	}
	srv := f.env.Server
	if vault.CachedKeys(srv, f.vault+"/gone/") != 1 || vault.CachedKeys(srv, f.vault+"/kept/") != 1 {
		t.Fatal("the unwraps did not cache the private keys: the test shows nothing")
	}
	_, err := admin.DeleteKey(ctx, "gone", nil)
	must(t, err)
	_, err = admin.PurgeDeletedKey(ctx, "gone", nil)
	must(t, err)
	if n := vault.CachedKeys(srv, f.vault+"/gone/"); n != 0 {
		t.Fatalf("%d private keys of the purged key still in memory", n)
	}
	if vault.CachedKeys(srv, f.vault+"/kept/") != 1 {
		t.Fatal("another key's was dropped")
	}
	f.mgmt(t, "DELETE", "/vaults/"+f.vault, nil)
	f.mgmt(t, "DELETE", "/deletedvaults/"+f.vault, nil)
	if n := vault.CachedKeys(srv, f.vault+"/"); n != 0 {
		t.Fatalf("%d private keys of the purged vault still in memory", n)
	}
}

// TestWorkloadToken (T1, T5): the connection the Customer Key service is
// given acts as the service's applications and reads the directory, and
// nothing more. With the admin token it had, whoever ran the service could
// give its workload back the access a tenant removed, or act as the
// tenant's own admin, and the tenant's revocation meant nothing.
func TestWorkloadToken(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSAHSM)
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	svc := f.env.WorkloadClient
	if f.env.Workload.AdminToken != "" || f.env.Workload.WorkloadToken == "" {
		t.Fatalf("the workload connection: %+v", f.env.Workload)
	}
	do := func(method, path string, in any) error { return svc.Do(ctx, method, path, in, nil) }

	// What the service does: act as its applications, read the directory,
	// register the retention feature (onboarding's Prepare).
	for _, app := range []string{exoApp, otherApp} {
		_, err := svc.Token(ctx, app, "", "")
		must(t, err)
	}
	kc, err := svc.KeysClient(f.uri, exoApp)
	must(t, err)
	w, err := kc.WrapKey(ctx, "key1", "", wrapParams([]byte("dek")), nil)
	must(t, err)
	_, err = kc.UnwrapKey(ctx, "key1", "", wrapParams(w.Result), nil)
	must(t, err)
	for _, path := range []string{"/subscriptions/" + f.sub, "/vaults/" + f.vault, "/tenants/" + f.tenant + "/principals/" + exoApp} {
		must(t, do("GET", path, nil))
	}
	must(t, do("POST", "/subscriptions/"+f.sub+"/providers/Microsoft.Resources/features/mandatoryRetentionPeriodEnabled/register", nil))

	// What it may not: a token for a user (the tenant's admin) or another
	// application; any change of access, vaults or roles; the log.
	for _, p := range []string{adminUPN, contributorUPN} {
		_, err := svc.Token(ctx, p, "", "")
		wantMgmtErr(t, err, 403, "AuthorizationFailed")
	}
	f.mgmt(t, "POST", "/tenants/Contoso/principals", obj{"name": "11111111-2222-3333-4444-555555555555"})
	_, err = svc.Token(ctx, "11111111-2222-3333-4444-555555555555", "", "")
	wantMgmtErr(t, err, 403, "AuthorizationFailed")
	policy := obj{"permissions": obj{"keys": []string{"all"}}}
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/vaults/" + f.vault + "/accessPolicies/" + exoApp, policy},
		{"DELETE", "/vaults/" + f.vault + "/accessPolicies/" + adminUPN, nil},
		{"POST", "/vaults/" + f.vault + "/roleAssignments", obj{"principal": exoApp, "role": "Key Vault Administrator"}},
		{"PATCH", "/vaults/" + f.vault, obj{"permissionModel": "rbac"}},
		{"DELETE", "/vaults/" + f.vault, nil},
		{"POST", "/vaults", obj{"name": "ProviderVault", "subscription": f.sub, "region": "eastus"}},
		{"POST", "/tenants/Contoso/principals", obj{"name": "provider@contoso.com"}},
		{"GET", "/log", nil},
		{"GET", "/faults", nil},
	} {
		var ve *vaultclient.Error
		if err := do(tc.method, tc.path, tc.body); !errors.As(err, &ve) || ve.Status != 403 || (ve.Code != "AuthorizationFailed" && ve.Inner != "AuthorizationFailed") {
			t.Errorf("the workload token %s %s: %v, want 403 AuthorizationFailed", tc.method, tc.path, err)
		}
	}
	// The keys API takes no management token.
	req, _ := http.NewRequest("GET", f.uri+"/keys/key1?api-version=2025-07-01", nil)
	req.Header.Set("Authorization", "Bearer "+f.env.Workload.WorkloadToken)
	resp, err := svc.HTTP().Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the workload token on the keys API: %d, want 401", resp.StatusCode)
	}
}

// TestDeletedVaultIsItsTenantsToKnow: that a vault is soft-deleted, and
// whose it was, is told only to its tenant. Another tenant creating a
// vault of that name is told the name is in use, as for a live vault;
// another tenant's token on its keys API gets VaultNotFound as for a name
// that does not exist; and the anonymous challenge names no tenant.
func TestDeletedVaultIsItsTenantsToKnow(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	m := f.mallory(t)
	var sub map[string]any
	must(t, m.Do(ctx, "POST", "/subscriptions", obj{"name": "F1", "tenant": "Fabrikam"}, &sub))
	live := m.Do(ctx, "POST", "/vaults", obj{"name": f.vault, "subscription": sub["id"], "region": "eastus"}, nil)
	f.mgmt(t, "DELETE", "/vaults/"+f.vault, nil)

	deleted := m.Do(ctx, "POST", "/vaults", obj{"name": f.vault, "subscription": sub["id"], "region": "eastus"}, nil)
	if deleted == nil || live == nil || deleted.Error() != live.Error() {
		t.Errorf("another tenant creating the deleted vault's name: %v; want what a live vault's name gets: %v", deleted, live)
	}
	if own := f.env.Client.Do(ctx, "POST", "/vaults", obj{"name": f.vault, "subscription": f.sub, "region": "eastus"}, nil); own == nil || !strings.Contains(own.Error(), "soft-deleted") {
		t.Errorf("its own tenant creating the name: %v; want to be told to recover or purge it", own)
	}

	req, _ := http.NewRequest("GET", f.uri+"/keys?api-version=2025-07-01", nil)
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || strings.Contains(ch, f.tenant) {
		t.Errorf("anonymous on the deleted vault: %d, challenge %q names its tenant %s", resp.StatusCode, ch, f.tenant)
	}
	kc, err := f.env.Client.KeysClient(f.uri, "mallory@fabrikam.com") // a token of Fabrikam's
	must(t, err)
	_, err = kc.GetKey(ctx, "key1", "", nil)
	if err == nil || strings.Contains(err.Error(), "deleted") || !strings.Contains(err.Error(), "VaultNotFound") {
		t.Errorf("another tenant's token on the deleted vault: %v; want VaultNotFound as for no vault", err)
	}
}

// TestSubscriptionIDsAreGiven: a principal creating a subscription gets a
// new ID; one that names an ID is refused, whether or not another
// tenant's subscription has it (which it would otherwise learn, or take
// first). The administrator may choose one.
func TestSubscriptionIDsAreGiven(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	m := f.mallory(t)
	taken := m.Do(ctx, "POST", "/subscriptions", obj{"name": "F1", "tenant": "Fabrikam", "id": f.sub}, nil)
	free := m.Do(ctx, "POST", "/subscriptions", obj{"name": "F1", "tenant": "Fabrikam", "id": "00000000-0000-4000-8000-00000000f00d"}, nil)
	if taken == nil || free == nil || taken.Error() != free.Error() {
		t.Errorf("a principal naming a taken ID: %v; a free one: %v; want one refusal for both", taken, free)
	}
	var sub map[string]any
	must(t, m.Do(ctx, "POST", "/subscriptions", obj{"name": "F1", "tenant": "Fabrikam"}, &sub))
	if id, _ := sub["id"].(string); id == "" || id == f.sub {
		t.Errorf("a principal's new subscription: %v", sub)
	}
	must(t, f.env.Client.Do(ctx, "POST", "/subscriptions", obj{"name": "F2", "tenant": "Fabrikam", "owner": "mallory@fabrikam.com", "id": "00000000-0000-4000-8000-00000000f00d"}, nil))
}

// mallory makes another tenant, Fabrikam, with one user, and returns a
// management client signed in as that user.
func (f *fixture) mallory(t *testing.T) *vaultclient.Client {
	t.Helper()
	f.mgmt(t, "POST", "/tenants", obj{"name": "Fabrikam"})
	f.mgmt(t, "POST", "/tenants/Fabrikam/principals", obj{"name": "mallory@fabrikam.com"})
	tok, err := f.env.Client.Token(ctx, "mallory@fabrikam.com", "", "")
	must(t, err)
	return f.env.Client.WithToken(tok.AccessToken)
}

package vault_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// TestTwoVaultNodes: two built-in vault servers over one PostgreSQL
// database. Whatever node A is told that takes access away (an access
// policy or a role assignment removed, a key disabled or deleted) is
// refused by node B on the very next request, although B served the same
// call from its snapshot just before (SPEC V5, S2). Each round changes
// through A and asks B at once: B must not wait for A's notification.
func TestTwoVaultNodes(t *testing.T) {
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL is not set: two vault nodes need a shared PostgreSQL database")
	}
	a := newFixtureOn(t, vaulttest.Options{PostgresURL: url}, "accessPolicy", false)
	bEnv := vaulttest.Start(t, vaulttest.Options{Join: a.env})
	// The same vault as node B serves it (its own listener, tokens for it).
	b := &fixture{env: bEnv, tenant: a.tenant, sub: a.sub, vault: a.vault, uri: bEnv.Server.VaultURL(a.vault, "eastus")}
	if b.uri == "" || b.uri == a.uri {
		t.Fatalf("node B serves vault %s at %q (node A at %q)", a.vault, b.uri, a.uri)
	}

	k := sharedKey(t)
	_, err := a.keys(t, adminUPN).ImportKey(ctx, "nodes", azkeys.ImportKeyParameters{Key: jwkOf(k)}, nil)
	must(t, err)
	dek := make([]byte, 32)
	rand.Read(dek)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, dek, nil)
	must(t, err)
	unwrap := func(c *azkeys.Client) error {
		t.Helper()
		resp, err := c.UnwrapKey(ctx, "nodes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wrapped}, nil)
		if err == nil && string(resp.Result) != string(dek) {
			t.Fatal("unwrap on node B returned other bytes than the wrapped key")
		}
		return err
	}
	onB := b.keys(t, exoApp)
	adminA := a.keys(t, adminUPN)
	const rounds = 20

	t.Run("AccessPolicyRemoved", func(t *testing.T) {
		for i := range rounds {
			a.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
			for range 2 { // the second from B's snapshot
				if err := unwrap(onB); err != nil {
					t.Fatalf("round %d: unwrap on B after A granted access: %v", i, err)
				}
			}
			a.mgmt(t, "DELETE", "/vaults/"+a.vault+"/accessPolicies/"+exoApp, nil)
			wantErr(t, unwrap(onB), http.StatusForbidden, "ForbiddenByPolicy")
		}
	})

	t.Run("KeyDisabled", func(t *testing.T) {
		a.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
		for i := range rounds {
			for range 2 {
				if err := unwrap(onB); err != nil {
					t.Fatalf("round %d: unwrap on B of an enabled key: %v", i, err)
				}
			}
			_, err := adminA.UpdateKey(ctx, "nodes", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil)
			must(t, err)
			wantErr(t, unwrap(onB), http.StatusForbidden, "KeyDisabled")
			_, err = adminA.UpdateKey(ctx, "nodes", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true)}}, nil)
			must(t, err)
		}
	})

	t.Run("KeyDeleted", func(t *testing.T) {
		if err := unwrap(onB); err != nil {
			t.Fatalf("unwrap on B before the delete: %v", err)
		}
		_, err := adminA.DeleteKey(ctx, "nodes", nil)
		must(t, err)
		wantErr(t, unwrap(onB), http.StatusNotFound, "KeyNotFound")
		_, err = adminA.RecoverDeletedKey(ctx, "nodes", nil)
		must(t, err)
		if err := unwrap(onB); err != nil {
			t.Fatalf("unwrap on B after A recovered the key: %v", err)
		}
	})

	// A node that removed access and died before its event was recorded
	// (here: the store changed with no event): B refuses once its
	// snapshot is snapshotMaxAge old. Before, B served from its snapshot
	// until some other event was recorded.
	t.Run("ChangeWithoutAnEvent", func(t *testing.T) {
		defer vault.SetSnapshotMaxAge(300 * time.Millisecond)()
		a.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
		for range 2 {
			if err := unwrap(onB); err != nil {
				t.Fatalf("unwrap on B with access: %v", err)
			}
		}
		must(t, a.env.Store.DeleteAccessPolicy(ctx, a.vault, exoApp))
		deadline := time.Now().Add(5 * time.Second)
		for unwrap(onB) == nil {
			if time.Now().After(deadline) {
				t.Fatal("B still unwraps 5 s after the access policy was removed with no event")
			}
			time.Sleep(20 * time.Millisecond)
		}
		wantErr(t, unwrap(onB), http.StatusForbidden, "ForbiddenByPolicy")
	})

	t.Run("RoleAssignmentRemoved", func(t *testing.T) {
		a.mgmt(t, "PATCH", "/vaults/"+a.vault, obj{"permissionModel": "rbac"})
		a.mgmt(t, "POST", "/vaults/"+a.vault+"/roleAssignments", obj{"principal": adminUPN, "role": "Key Vault Crypto Officer"})
		for i := range rounds {
			ra := a.mgmt(t, "POST", "/vaults/"+a.vault+"/roleAssignments", obj{"principal": exoApp, "role": "Key Vault Crypto Service Encryption User"})
			for range 2 {
				if err := unwrap(onB); err != nil {
					t.Fatalf("round %d: unwrap on B after A assigned the role: %v", i, err)
				}
			}
			a.mgmt(t, "DELETE", "/vaults/"+a.vault+"/roleAssignments/"+ra["id"].(string), nil)
			wantErr(t, unwrap(onB), http.StatusForbidden, "ForbiddenByRbac")
		}
	})
}

package vault_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// rawBody sends a raw request with no body to the vault as principal,
// checks the status and returns the response body.
func rawBody(t *testing.T, f *fixture, principal, method, path string, status int) string {
	t.Helper()
	tok, err := f.env.Client.Token(ctx, principal, "", f.env.Config.Regions[0].URL)
	must(t, err)
	req, _ := http.NewRequest(method, f.uri+path+"?api-version=2025-07-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := f.env.Client.HTTP().Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, data, status)
	}
	return string(data)
}

// wantNotSupported: 400 BadParameter, innererror NotSupported, and a
// message that says so.
func wantNotSupported(t *testing.T, err error) {
	t.Helper()
	wantErr(t, err, 400, "NotSupported")
	if !strings.Contains(err.Error(), "not supported by this vault") {
		t.Fatalf("got %v, want a message saying it is not supported by this vault", err)
	}
}

// TestRotationPolicyThroughAzkeys: a key's rotation policy reads as Azure's
// default for a key that never had one; setting one is refused clearly.
func TestRotationPolicyThroughAzkeys(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	createKey(t, c, "key1", azkeys.KeyTypeRSA)

	resp, err := c.GetKeyRotationPolicy(ctx, "key1", nil)
	must(t, err)
	p := resp.KeyRotationPolicy
	if len(p.LifetimeActions) != 1 {
		t.Fatalf("got %d lifetime actions, want 1 (Notify 30 days before expiry)", len(p.LifetimeActions))
	}
	la := p.LifetimeActions[0]
	if la.Action == nil || la.Action.Type == nil || *la.Action.Type != azkeys.KeyRotationPolicyActionNotify ||
		la.Trigger == nil || la.Trigger.TimeBeforeExpiry == nil || *la.Trigger.TimeBeforeExpiry != "P30D" || la.Trigger.TimeAfterCreate != nil {
		t.Fatalf("got lifetime action %+v / %+v, want Notify at timeBeforeExpiry P30D", la.Action, la.Trigger)
	}
	// Azure's default policy was never set: no id, no expiry, no times.
	if p.ID != nil || p.Attributes == nil || p.Attributes.ExpiryTime != nil || p.Attributes.Created != nil || p.Attributes.Updated != nil {
		t.Fatalf("got id %v attributes %+v, want the unset default (no id, empty attributes)", p.ID, p.Attributes)
	}
	// Byte for byte: Azure's default, not null fields.
	if got, want := rawBody(t, f, adminUPN, "GET", "/keys/key1/rotationpolicy", 200), `{"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Notify"}}],"attributes":{}}`; got != want {
		t.Fatalf("default policy:\ngot  %s\nwant %s", got, want)
	}
	// The name is case-insensitive, as for every key operation.
	_, err = c.GetKeyRotationPolicy(ctx, "KEY1", nil)
	must(t, err)

	// No key, no policy; a deleted key has none either.
	_, err = c.GetKeyRotationPolicy(ctx, "nosuchkey", nil)
	wantErr(t, err, 404, "KeyNotFound")
	createKey(t, c, "gone", azkeys.KeyTypeRSA)
	_, err = c.DeleteKey(ctx, "gone", nil)
	must(t, err)
	_, err = c.GetKeyRotationPolicy(ctx, "gone", nil)
	wantErr(t, err, 404, "KeyNotFound")

	// Reading it needs getrotationpolicy (get alone is not enough, as in Azure).
	f.setPolicy(t, exoApp, "get", "wrapKey", "unwrapKey")
	exo := f.keys(t, exoApp)
	_, err = exo.GetKeyRotationPolicy(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByPolicy")
	f.setPolicy(t, exoApp, "get", "getrotationpolicy")
	_, err = exo.GetKeyRotationPolicy(ctx, "key1", nil)
	must(t, err)

	// Setting a policy is refused, and nothing changes.
	_, err = c.UpdateKeyRotationPolicy(ctx, "key1", azkeys.KeyRotationPolicy{
		LifetimeActions: []*azkeys.LifetimeAction{{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)}, Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P90D")}}},
		Attributes:      &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P1Y")},
	}, nil)
	wantNotSupported(t, err)
	if !strings.Contains(err.Error(), "ck vault key rotate") {
		t.Fatalf("refusal %v does not say how to rotate instead", err)
	}
	resp, err = c.GetKeyRotationPolicy(ctx, "key1", nil)
	must(t, err)
	if *resp.LifetimeActions[0].Action.Type != azkeys.KeyRotationPolicyActionNotify {
		t.Fatal("the refused update changed the policy")
	}
}

// TestRBACRotationPolicyRead: keyrotationpolicies/read comes with the
// Crypto Officer and Reader roles, not with the workload's role.
func TestRBACRotationPolicyRead(t *testing.T) {
	f := newFixture(t, "rbac", false)
	createKey(t, f.keys(t, adminUPN), "key1", azkeys.KeyTypeRSA)
	_, err := f.keys(t, adminUPN).GetKeyRotationPolicy(ctx, "key1", nil) // Crypto Officer
	must(t, err)
	f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": exoApp, "role": "Key Vault Crypto Service Encryption User"})
	_, err = f.keys(t, exoApp).GetKeyRotationPolicy(ctx, "key1", nil)
	wantErr(t, err, 403, "ForbiddenByRbac")
	f.mgmt(t, "POST", "/vaults/"+f.vault+"/roleAssignments", obj{"principal": otherApp, "role": "Key Vault Reader"})
	_, err = f.keys(t, otherApp).GetKeyRotationPolicy(ctx, "key1", nil)
	must(t, err)
}

// TestSecureKeyReleaseRefused: an exportable key, a release policy, a
// release and an attestation are refused with 400 NotSupported; no key is
// made without what was asked.
func TestSecureKeyReleaseRefused(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	policy := &azkeys.KeyReleasePolicy{ContentType: to.Ptr("application/json; charset=utf-8"),
		EncodedPolicy: []byte(`{"version":"1.0.0","anyOf":[{"authority":"https://sharedeus.eus.attest.azure.net","allOf":[{"claim":"x-ms-attestation-type","equals":"sevsnpvm"}]}]}`)}

	cases := []struct {
		name       string
		exportable *bool
		policy     *azkeys.KeyReleasePolicy
		want       string
	}{
		{"exportable with a release policy", to.Ptr(true), policy, "release policy"},
		{"exportable alone", to.Ptr(true), nil, "exportable"},
		{"release policy alone", nil, policy, "release_policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateKey(ctx, "skr", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048),
				KeyAttributes: &azkeys.KeyAttributes{Exportable: tc.exportable}, ReleasePolicy: tc.policy}, nil)
			wantNotSupported(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refusal %v does not name %q", err, tc.want)
			}
			_, err = c.GetKey(ctx, "skr", "", nil)
			wantErr(t, err, 404, "KeyNotFound")
		})
	}
	// exportable false is what every key is: accepted.
	k, err := c.CreateKey(ctx, "plain", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048),
		KeyAttributes: &azkeys.KeyAttributes{Exportable: to.Ptr(false)}}, nil)
	must(t, err)
	if k.Attributes.Exportable == nil || *k.Attributes.Exportable || k.ReleasePolicy != nil {
		t.Fatalf("got exportable %v, release policy %v; want false and none", k.Attributes.Exportable, k.ReleasePolicy)
	}

	// Import and update refuse them too.
	_, err = c.ImportKey(ctx, "imported", azkeys.ImportKeyParameters{Key: jwkOf(sharedKey(t)), ReleasePolicy: policy,
		KeyAttributes: &azkeys.KeyAttributes{Exportable: to.Ptr(true)}}, nil)
	wantNotSupported(t, err)
	_, err = c.UpdateKey(ctx, "plain", "", azkeys.UpdateKeyParameters{ReleasePolicy: policy}, nil)
	wantNotSupported(t, err)
	_, err = c.UpdateKey(ctx, "plain", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Exportable: to.Ptr(true)}}, nil)
	wantNotSupported(t, err)

	// Release itself, with and without a version.
	_, err = c.Release(ctx, "plain", "", azkeys.ReleaseParameters{TargetAttestationToken: to.Ptr("token")}, nil)
	wantNotSupported(t, err)
	_, err = c.Release(ctx, "plain", k.Key.KID.Version(), azkeys.ReleaseParameters{TargetAttestationToken: to.Ptr("token")}, nil)
	wantNotSupported(t, err)

	// Attestation, with and without a version; a key-level PATCH or DELETE
	// of the policy is refused alike.
	for _, r := range []struct{ method, path string }{
		{"GET", "/keys/plain//attestation"},
		{"GET", "/keys/plain/attestation"},
		{"PATCH", "/keys/plain/rotationpolicy"},
		{"DELETE", "/keys/plain/rotationpolicy"},
	} {
		if body := rawBody(t, f, adminUPN, r.method, r.path, 400); !strings.Contains(body, `"innererror":{"code":"NotSupported"}`) {
			t.Fatalf("%s %s: %s, want innererror NotSupported", r.method, r.path, body)
		}
	}
	_, err = c.GetKeyAttestation(ctx, "plain", k.Key.KID.Version(), nil)
	wantNotSupported(t, err)
	_, err = c.GetKeyAttestation(ctx, "plain", "", nil)
	wantNotSupported(t, err)
}

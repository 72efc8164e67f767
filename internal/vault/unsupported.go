package vault

import (
	"encoding/json"
	"net/http"

	"github.com/customerkey/customerkey/internal/store"
)

// Parts of the Azure Key Vault keys API the built-in vault does not
// implement. Clients read some of them routinely (tools fetch a key's
// rotation policy on every refresh), so each answers as Azure does where
// that is possible without the feature (the default rotation policy), and
// otherwise with a clear 400 NotSupported rather than a confusing 404.

// opGetRotationPolicy reads a key's rotation policy: the access-policy
// permission getrotationpolicy, the RBAC action keyrotationpolicies/read.
var opGetRotationPolicy = keyOp{"KeyGetRotationPolicy", "getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read", false}

// rotationPolicy is Azure's KeyRotationPolicy.
type rotationPolicy struct {
	ID              string                   `json:"id,omitempty"`
	LifetimeActions []lifetimeAction         `json:"lifetimeActions"`
	Attributes      rotationPolicyAttributes `json:"attributes"`
}

type lifetimeAction struct {
	Trigger lifetimeTrigger `json:"trigger"`
	Action  lifetimeType    `json:"action"`
}

type lifetimeTrigger struct {
	TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
}

type lifetimeType struct {
	Type string `json:"type"` // Rotate or Notify
}

type rotationPolicyAttributes struct {
	ExpiryTime string `json:"expiryTime,omitempty"`
	Created    *int64 `json:"created,omitempty"`
	Updated    *int64 `json:"updated,omitempty"`
}

// getRotationPolicy answers GET /keys/{name}/rotationpolicy with the policy
// Azure reports for a key whose policy was never set: one Notify action 30
// days before expiry, no rotation, no expiryTime. As in Azure, that default
// has no id and no created or updated time (those appear once a policy is
// set, which this vault does not support; Get-AzKeyVaultKeyRotationPolicy
// shows Id, CreatedOn and UpdatedOn empty for it). The key must exist.
func (s *Server) getRotationPolicy(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opGetRotationPolicy); err != nil {
		return err
	}
	if _, err := s.liveKey(c, v, name, ""); err != nil {
		return err
	}
	c.reply(http.StatusOK, defaultRotationPolicy())
	return nil
}

func defaultRotationPolicy() rotationPolicy {
	return rotationPolicy{LifetimeActions: []lifetimeAction{{Trigger: lifetimeTrigger{TimeBeforeExpiry: "P30D"}, Action: lifetimeType{Type: "Notify"}}}}
}

// refuseRotationPolicy answers a change of a key's rotation policy.
func refuseRotationPolicy(c *call, method, name string) error {
	c.op, c.key = "KeySetRotationPolicy", name
	return notSupported("%s of a key rotation policy is not supported by this vault: it never rotates keys on its own. Rotate key %s yourself: ck vault key rotate VAULT %s (Invoke-AzKeyVaultKeyRotation)", method, name, name)
}

// refuseAttestation answers GetKeyAttestation.
func refuseAttestation(c *call, name, version string) error {
	c.op, c.key, c.version = "KeyGetAttestation", name, version
	return notSupported("key attestation is not supported by this vault: its keys are not held in an attesting HSM, so there is no attestation for key %s", name)
}

// refuseKeyRelease refuses secure key release: an exportable key or a
// release policy (on create, import or update). Releasing a key needs an
// attested confidential environment this vault does not have, and Customer
// Key only wraps and unwraps; the key is refused rather than created
// without what was asked.
func refuseKeyRelease(a *attributesIn, policy json.RawMessage) error {
	exportable := a != nil && a.Exportable != nil && *a.Exportable
	hasPolicy := len(policy) > 0 && string(policy) != "null"
	switch {
	case exportable && hasPolicy:
		return notSupported("exportable keys with a release policy (secure key release) are not supported by this vault: leave out attributes.exportable and release_policy; Customer Key needs only wrapKey and unwrapKey")
	case exportable:
		return notSupported("exportable keys (secure key release) are not supported by this vault: leave out attributes.exportable; Customer Key needs only wrapKey and unwrapKey")
	case hasPolicy:
		return notSupported("key release policies (secure key release) are not supported by this vault: leave out release_policy; Customer Key needs only wrapKey and unwrapKey")
	}
	return nil
}

package dep

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// endOfTime is the only expiry Customer Key accepts (12/31/9999).
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Spec is what a new DEP is made of.
type Spec struct {
	Kind        Kind
	Name        string
	Description string
	KeyURIs     []string // exactly two, in two vaults
	// Onboarded: the tenant must be onboarded for one of these scenarios
	// first (O3); none: no check.
	Onboarded []string
}

// descriptionReaders: who reads a DEP's description, and where.
const descriptionReaders = "the tenant's admins must read it as it is, in the console and the CLI"

// Create checks the name and both keys (D1) and that both keys are the
// tenant's own, in vaults under the configured vault domains (T4; asked
// of each vault before its key is used), creates the DEP (its key
// wrapped by both customer keys and a new availability key), proves both
// keys can unwrap it, and stores it.
func (s *Service) Create(ctx context.Context, t store.ServiceTenant, n Spec) (store.DEP, error) {
	if len(n.Onboarded) > 0 {
		if err := s.RequireOnboarded(ctx, t, n.Onboarded...); err != nil {
			return store.DEP{}, err
		}
	}
	w, ok := s.cfg.Workloads[n.Kind]
	if !ok {
		return store.DEP{}, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure this workload", "the service is not configured to reach customer keys for %s DEPs", n.Kind)
	}
	max := MaxMailboxDEPs
	rk := keyring.Mailbox
	if n.Kind == Site {
		max, rk = MaxSiteDEPs, keyring.Site
	}
	if !nameRE.MatchString(n.Name) {
		return store.DEP{}, rule.Invalid(client.RuleDEPName, "use 1-64 letters, digits, '.', '_' or '-', without spaces, e.g. Contoso-EXO-DEP-1", "DEP name %q is invalid", n.Name)
	}
	if err := plainText(client.RuleDEPDescription, "description", "-Description", n.Description, descriptionReaders); err != nil {
		return store.DEP{}, err
	}
	if len(n.KeyURIs) != 2 {
		return store.DEP{}, rule.Invalid(client.RuleDEPTwoKeys, "give exactly two key URIs, one in each of two vaults (ck vault key show VAULT KEY -o json | jq -r .key.kid)", "a DEP needs two customer keys, %d given", len(n.KeyURIs))
	}
	var vaults [2]string
	for i, uri := range n.KeyURIs {
		v, _, _, err := kms.ParseKeyURI(uri)
		if err != nil {
			return store.DEP{}, rule.Invalid(client.RuleDEPKeyURI, "give key URIs as https://{vault}/keys/{name}[/{version}]", "key %d: %v", i+1, err)
		}
		vaults[i] = v
	}
	if vaults[0] == vaults[1] {
		return store.DEP{}, rule.Invalid(client.RuleDEPTwoVaults, "put the two keys in two different vaults, ideally in two regions", "both keys are in vault %s", vaults[0])
	}
	kind := string(n.Kind)
	if _, err := s.st.DEP(ctx, t.ID, kind, n.Name); err == nil {
		return store.DEP{}, rule.Conflict(client.RuleDEPUniqueName, "choose another name", "tenant %s already has a %s DEP named %q", t.Name, kind, n.Name)
	}
	if ds, err := s.st.ListDEPs(ctx, t.ID, kind); err != nil {
		return store.DEP{}, err
	} else if len(ds) >= max {
		return store.DEP{}, rule.Invalid(client.RuleDEPLimit, "reuse or remove one of the existing DEPs", "tenant %s has %d %s DEPs, the most allowed", t.Name, len(ds), kind)
	}
	for i, uri := range n.KeyURIs {
		// Own keys only (T4), asked of the vault before the key is used.
		named, err := s.ownVault(ctx, t, w, i, uri)
		if err != nil {
			return store.DEP{}, err
		}
		info, err := w.KMS.Get(ctx, uri)
		if err != nil {
			return store.DEP{}, keyError(i, uri, w.App, err)
		}
		switch {
		case !named:
			return store.DEP{}, notOwn(t, i, uri, "its vault names no directory in its bearer challenge")
		case !info.Enabled:
			return store.DEP{}, rule.Invalid(client.RuleKeyEnabled, "enable it: ck vault key update VAULT KEY --enabled=true", "key %d %s is disabled", i+1, uri)
		case info.Expires != nil && !info.Expires.Equal(endOfTime):
			return store.DEP{}, rule.Invalid(client.RuleKeyNeverExpires, "remove the need for an expiry, or move it to 12/31/9999: ck vault key update VAULT KEY --expires 9999-12-31", "key %d %s expires on %s", i+1, uri, info.Expires.Format("2006-01-02"))
		case !slices.Contains(info.Ops, "wrapKey") || !slices.Contains(info.Ops, "unwrapKey"):
			return store.DEP{}, rule.Invalid(client.RuleKeyOperations, "allow wrapKey and unwrapKey in the key's key_ops: ck vault key update VAULT KEY --ops wrapKey,unwrapKey,...", "key %d %s does not allow wrapKey and unwrapKey (key_ops %v)", i+1, uri, info.Ops)
		}
	}
	id := uuid.NewString()
	by := tenant.Caller(ctx).Subject
	req := keyring.Request{Initiator: keyring.User, Reason: "New-DataEncryptionPolicy " + n.Name + " by " + by}
	kd, err := w.Ring.NewDEP(ctx, t.ID, id, rk, [2]string{n.KeyURIs[0], n.KeyURIs[1]}, req)
	if err != nil {
		var ke *kms.Error
		if errors.As(err, &ke) {
			return store.DEP{}, keyError(slices.Index(n.KeyURIs, ke.KeyURI), ke.KeyURI, w.App, err)
		}
		return store.DEP{}, err
	}
	// Both keys must also unwrap: the service reads with either.
	for i, rec := range kd.CustomerKeys {
		if _, err := w.KMS.Unwrap(ctx, rec.KeyID, rec.Data); err != nil {
			w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "DEP "+id+" not created: key "+rec.KeyID+" cannot unwrap")
			return store.DEP{}, keyError(i, rec.KeyID, w.App, err)
		}
	}
	now := s.cfg.Now().UTC()
	d := store.DEP{ID: id, Tenant: t.ID, Kind: kind, Name: n.Name, Description: n.Description, KeyURIs: [2]string{n.KeyURIs[0], n.KeyURIs[1]}, Enabled: true, Keys: kd.MarshalKeys(), Created: now, Updated: now}
	if err := s.st.CreateDEP(ctx, d, max); err != nil {
		w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "DEP "+id+" not stored: "+err.Error())
		switch {
		case errors.Is(err, store.ErrLimit):
			return store.DEP{}, rule.Invalid(client.RuleDEPLimit, "reuse or remove one of the existing DEPs", "tenant %s has reached the limit of %d %s DEPs", t.Name, max, kind)
		case errors.Is(err, store.ErrConflict):
			return store.DEP{}, rule.Conflict(client.RuleDEPUniqueName, "choose another name", "tenant %s already has a %s DEP named %q", t.Name, kind, n.Name)
		}
		return store.DEP{}, err
	}
	s.cfg.Logger.Info("dep: created", "tenant", t.ID, "dep", id, "name", n.Name, "kind", kind, "by", by)
	return d, nil
}

// keyError explains why customer key i cannot serve, by the reason kms
// gives.
func keyError(i int, uri, app string, err error) error {
	var ke *kms.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch {
	case ke.Reason == kms.HostNotAllowed:
		return rule.Invalid(client.RuleKeyVaultHost, "use a key in a vault under the vault domains this service connects to (the detail names them); the operator configures them (vaults.domains)", "key %d %s: %s", i+1, uri, ke.Cause)
	case ke.Class == kms.Transient:
		return rule.Unavailable(client.RuleKeyReachable, "check that the vault is up and reachable, then retry", "key %d %s: %s", i+1, uri, ke.Cause)
	case ke.Reason == kms.KeyDisabled:
		return rule.Invalid(client.RuleKeyEnabled, "enable it: ck vault key update VAULT KEY --enabled=true", "key %d %s is disabled: %s", i+1, uri, ke.Cause)
	case ke.Reason == kms.KeyNotFound:
		return rule.Invalid(client.RuleKeyExists, "check the key URI; if the key was deleted, recover it (ck vault key recover VAULT KEY)", "key %d %s: %s", i+1, uri, ke.Cause)
	case ke.Reason == kms.AccessRemoved:
		return rule.Invalid(client.RuleKeyAccessPermissions, "grant the workload's service principal "+app+" get, wrapKey and unwrapKey on the key's vault (ck vault access-policy set VAULT --spn "+app+" --key-permissions get,wrapKey,unwrapKey, or the Key Vault Crypto Service Encryption User role)", "key %d %s: %s", i+1, uri, ke.Cause)
	}
	return rule.Invalid(client.RuleKeyUsable, "make the key usable for wrapKey and unwrapKey", "key %d %s: %s", i+1, uri, ke.Cause)
}

// ServiceDEP returns the tenant's service-managed DEP, creating it once.
func (s *Service) ServiceDEP(ctx context.Context, t store.ServiceTenant) (store.DEP, error) {
	if d, err := s.st.DEP(ctx, t.ID, string(ServiceManaged), ServiceName); err == nil {
		return d, nil
	}
	w, ok := s.cfg.Workloads[Mailbox]
	if !ok {
		return store.DEP{}, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure the service's key store", "the service cannot create service-managed keys")
	}
	id := uuid.NewString()
	kd, err := w.Ring.NewServiceDEP(ctx, t.ID, id)
	if err != nil {
		return store.DEP{}, err
	}
	now := s.cfg.Now().UTC()
	d := store.DEP{ID: id, Tenant: t.ID, Kind: string(ServiceManaged), Name: ServiceName, Description: "service-managed keys", Enabled: true, Keys: kd.MarshalKeys(), Created: now, Updated: now}
	if err := s.st.CreateDEP(ctx, d, 1); err != nil {
		w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "duplicate service-managed DEP")
		if d, err2 := s.st.DEP(ctx, t.ID, string(ServiceManaged), ServiceName); err2 == nil {
			return d, nil // created meanwhile by another request
		}
		return store.DEP{}, err
	}
	return d, nil
}

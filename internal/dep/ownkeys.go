package dep

import (
	"context"
	"errors"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Own keys only (SPEC T4). A workload's service principal is the same
// application in every directory, so a vault of one tenant that grants
// it access would serve another tenant's DEP just as well (a confused
// deputy). Every DEP kind is created by Create, and Create asks this of
// each key before it touches the key: the vault must name the tenant's
// own directory in its bearer challenge, and where the service's vault
// directory knows the vault, its subscription must belong to the tenant
// too.

// ownVault refuses key i of a new DEP of t when its vault is in another
// directory. named is false when the vault names no directory at all (a
// vault the built-in vault does not have answers for "common"): Create
// then refuses the key once it knows the key exists, so that a mistyped
// vault still reads as one that does not exist.
func (s *Service) ownVault(ctx context.Context, t store.ServiceTenant, w Workload, i int, uri string) (named bool, err error) {
	dr, ok := w.KMS.(kms.DirectoryReader)
	if !ok {
		return false, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure a vault client that reads a vault's directory (vaults.kind builtin or azure)",
			"the service cannot tell which directory the vault of key %d belongs to", i+1)
	}
	dir, err := dr.Directory(ctx, uri)
	if err != nil {
		return false, keyError(i, uri, w.App, err)
	}
	if dir == "" {
		return false, nil
	}
	if !strings.EqualFold(dir, t.ID) {
		return false, notOwn(t, i, uri, "its vault belongs to another directory")
	}
	if s.cfg.Azure == nil {
		return true, nil
	}
	vault, _, _, _ := kms.ParseKeyURI(uri) // parsed by Create already
	name, _, _ := strings.Cut(strings.TrimPrefix(vault, "https://"), ".")
	v, err := s.cfg.Azure.Vault(ctx, name)
	switch {
	case errors.Is(err, onboarding.ErrNotFound):
		return true, nil // not a vault the service's directory knows: the vault's own word decides
	case err != nil:
		return false, err
	case !strings.EqualFold(strings.TrimSuffix(v.URI, "/"), vault):
		return true, nil // another vault of that name elsewhere
	}
	sub, err := s.cfg.Azure.Subscription(ctx, v.SubscriptionID)
	if err != nil && !errors.Is(err, onboarding.ErrNotFound) {
		return false, err
	}
	if err != nil || !strings.EqualFold(sub.TenantID, t.ID) {
		return false, notOwn(t, i, uri, "its vault's subscription belongs to another directory")
	}
	return true, nil
}

// notOwn is the refusal of a key outside the tenant's own directory.
func notOwn(t store.ServiceTenant, i int, uri, why string) error {
	return rule.Invalid(client.RuleKeyOwnDirectory,
		"use a key in a vault of a subscription of your own directory ("+t.ID+"): create the vault and key there (ck vault create, ck vault key add) and grant the workload get, wrapKey and unwrapKey",
		"key %d %s cannot serve tenant %s: %s", i+1, uri, t.Name, why)
}

package dep

import (
	"context"
	"errors"

	"github.com/customerkey/customerkey/client"
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
// too (onboarding.VaultOwner, which the onboarding rules ask as well).

// ownVault refuses key i of a new DEP of t when its vault is in another
// directory. named is false when the vault names no directory at all (a
// vault the built-in vault does not have answers for "common"): Create
// then refuses the key once it knows the key exists, so that a mistyped
// vault still reads as one that does not exist.
func (s *Service) ownVault(ctx context.Context, t store.ServiceTenant, w Workload, i int, uri string) (named bool, err error) {
	owner, err := onboarding.VaultOwner(ctx, w.KMS, s.cfg.Azure, t.ID, uri)
	switch {
	case errors.Is(err, onboarding.ErrNoDirectoryReader):
		return false, rule.Unavailable(client.RuleServiceWorkload, "the operator must configure a vault client that reads a vault's directory (vaults.kind builtin or azure)",
			"the service cannot tell which directory the vault of key %d belongs to", i+1)
	case err != nil:
		return false, keyError(i, uri, w.App, err)
	}
	switch owner {
	case onboarding.OwnerNone:
		return false, nil
	case onboarding.OwnerOtherDirectory:
		return false, notOwn(t, i, uri, "its vault belongs to another directory")
	case onboarding.OwnerOtherSubscription:
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

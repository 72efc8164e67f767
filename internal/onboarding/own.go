package onboarding

import (
	"context"
	"errors"
	"strings"

	"github.com/customerkey/customerkey/internal/kms"
)

// Own keys only (SPEC T4). A workload's service principal is the same
// application in every directory, so a vault of one tenant that grants it
// access would serve another tenant just as well (a confused deputy).
// VaultOwner is the one answer to "whose vault is this?" that the service
// asks before it touches a key: DEP creation (dep) and the onboarding
// rules (Check) alike.

// Owner is whose a vault is, as far as the service can tell.
type Owner int

const (
	// OwnerNone: the vault names no directory in its bearer challenge (a
	// vault the built-in vault does not have answers for "common").
	OwnerNone Owner = iota
	// OwnerTenant: the vault names the tenant's directory and, where the
	// service's vault directory knows it, its subscription is the tenant's.
	OwnerTenant
	// OwnerOtherDirectory: the vault names another directory.
	OwnerOtherDirectory
	// OwnerOtherSubscription: the vault names the tenant's directory, but
	// the service's vault directory puts it in a subscription of another
	// directory (or in one it does not know).
	OwnerOtherSubscription
)

// ErrNoDirectoryReader: the key client cannot read a vault's directory
// (it is not a kms.DirectoryReader), so no key of it may be used.
var ErrNoDirectoryReader = errors.New("the service's key client cannot read a vault's directory")

// VaultOwner tells whose the vault of keyURI is, for tenant (a directory
// ID): first by the vault's own word (its bearer challenge, read by keys,
// which must be a kms.DirectoryReader; no token is sent and no key is
// touched), then, if az is not nil and knows the vault by its name and URI,
// by the directory of the vault's subscription. Its error is
// ErrNoDirectoryReader, the *kms.Error of reading the vault's directory,
// or az's.
func VaultOwner(ctx context.Context, keys kms.Client, az Azure, tenant, keyURI string) (Owner, error) {
	dr, ok := keys.(kms.DirectoryReader)
	if !ok {
		return OwnerNone, ErrNoDirectoryReader
	}
	dir, err := dr.Directory(ctx, keyURI)
	switch {
	case err != nil:
		return OwnerNone, err
	case dir == "":
		return OwnerNone, nil
	case !strings.EqualFold(dir, tenant):
		return OwnerOtherDirectory, nil
	case az == nil:
		return OwnerTenant, nil
	}
	vault, _, _, err := kms.ParseKeyURI(keyURI)
	if err != nil { // Directory parsed it already
		return OwnerNone, err
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(vault, "https://"), ".")
	v, err := az.Vault(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return OwnerTenant, nil // not a vault the service's directory knows: the vault's own word decides
	case err != nil:
		return OwnerNone, err
	case !strings.EqualFold(strings.TrimSuffix(v.URI, "/"), vault):
		return OwnerTenant, nil // another vault of that name elsewhere
	}
	sub, err := az.Subscription(ctx, v.SubscriptionID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return OwnerNone, err
	}
	if err != nil || !strings.EqualFold(sub.TenantID, tenant) {
		return OwnerOtherSubscription, nil
	}
	return OwnerTenant, nil
}

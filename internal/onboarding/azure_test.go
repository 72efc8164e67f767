package onboarding_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// The built-in vault tells which service principals a tenant registered,
// and the rules name a missing one with its fix (the key probe of a workload
// without its principal sees only "transient: the vault at HOST could not be reached": the vault
// issues it no token).
func TestVaultDirectoryPrincipals(t *testing.T) {
	env := vaulttest.Start(t, vaulttest.Options{})
	seed, err := env.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := onboarding.VaultDirectory{C: env.WorkloadClient} // as the service reads it
	if err := dir.ServicePrincipal(ctx, seed.Tenant, onboarding.ExchangeApp); err != nil {
		t.Errorf("Exchange principal: %v, want registered", err)
	}
	for _, tenant := range []string{seed.Tenant, "00000000-0000-4000-8000-000000000000"} {
		if err := dir.ServicePrincipal(ctx, tenant, onboarding.SharePointApp); !errors.Is(err, onboarding.ErrNotFound) {
			t.Errorf("SharePoint principal in tenant %s: %v, want ErrNotFound", tenant, err)
		}
	}

	keys, err := kms.Local(env.WorkloadClient, onboarding.SharePointApp)
	if err != nil {
		t.Fatal(err)
	}
	req := onboarding.Request{Scenario: onboarding.SPO, Mode: onboarding.Validate}
	rules := onboarding.Check(ctx, req, onboarding.Facts{Tenant: seed.Tenant, Plans: []string{"E5"}, Onboarded: []string{onboarding.EXO}, App: onboarding.SharePointApp}, dir, keys)
	var found bool
	for _, r := range rules {
		if r.Name == "ServicePrincipalRegistered" && r.Expected == onboarding.SharePointApp {
			found = true
			if r.Passed || r.Advisory || r.Actual != "not registered" || !strings.Contains(r.Details, "ck vault principal create "+onboarding.SharePointApp+" --tenant "+seed.Tenant) {
				t.Errorf("got %+v, want a blocking failure that names the fix", r)
			}
		}
	}
	if !found {
		t.Errorf("no ServicePrincipalRegistered rule for SharePoint in %v", rules)
	}
}

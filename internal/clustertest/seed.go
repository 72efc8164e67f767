package clustertest

import (
	"context"
	"fmt"
	"path"

	"github.com/customerkey/customerkey/client"
)

// The applications of the workloads, as the nodes' default configuration
// names them.
const (
	ExchangeApp   = client.ExchangeApp
	SharePointApp = "00000003-0000-0ff1-ce00-000000000000"
)

// Tenant is a tenant set up in the vault and onboarded on the cluster.
type Tenant struct {
	Name  string
	ID    string
	Admin string // a global admin's token
	// KeyURIs are the seed's two customer keys (versionless), one per
	// vault; Vaults and Subscriptions name them for onboarding and sites.
	KeyURIs       [2]string
	Vaults        [2]string
	Subscriptions [2]string
}

// SeedTenant sets up Contoso through node 1: the vault's seed tenant
// (vaulttest.Seed: two premium vaults in two regions and subscriptions,
// one key in each) with the SharePoint workload granted as well as
// Exchange; the service tenant with the E5 plan, its global admin, and
// onboarding for EXO and SPO (Prepare, then Enable; cso@contoso.com is
// the authorised officer).
func (c *Cluster) SeedTenant(ctx context.Context) (Tenant, error) {
	seed, err := c.Vault.SeedTenant()
	if err != nil {
		return Tenant{}, fmt.Errorf("vault seed: %w", err)
	}
	c.Seed = seed
	t := Tenant{Name: "Contoso", ID: seed.Tenant, KeyURIs: seed.KeyURIs}
	v := c.Vault.Client
	if err := v.Do(ctx, "POST", "/tenants/Contoso/principals", map[string]any{"name": SharePointApp}, nil); err != nil {
		return t, fmt.Errorf("vault: SharePoint principal: %w", err)
	}
	for i, vault := range seed.Vaults {
		t.Vaults[i], t.Subscriptions[i] = vault.Name, vault.SubscriptionID
		if err := v.Do(ctx, "PUT", "/vaults/"+vault.Name+"/accessPolicies/"+SharePointApp,
			map[string]any{"permissions": map[string]any{"keys": []string{"get", "wrapKey", "unwrapKey"}}}, nil); err != nil {
			return t, fmt.Errorf("vault: SharePoint access: %w", err)
		}
	}
	op := c.nodes[0].Client(c.Operator)
	if _, err := op.CreateTenant(ctx, client.CreateTenantRequest{Name: t.Name, ID: t.ID}); err != nil {
		return t, err
	}
	if _, err := op.SetPlans(ctx, t.Name, []string{"E5"}); err != nil {
		return t, err
	}
	tok, err := op.CreateToken(ctx, t.Name, client.CreateTokenRequest{Subject: "admin@contoso.com", Role: "global-admin", ValidFor: "24h"})
	if err != nil {
		return t, err
	}
	t.Admin = tok.Token
	admin := c.nodes[0].Client(t.Admin)
	for _, step := range []struct{ scenario, mode string }{{"EXO", "Prepare"}, {"EXO", "Enable"}, {"SPO", "Enable"}} {
		res, err := admin.NewOnboardingRequest(ctx, t.Name, client.OnboardingRequest{
			Scenario: step.scenario, Mode: step.mode, Subscriptions: t.Subscriptions, Vaults: t.Vaults,
			Keys: [2]string{path.Base(seed.KeyURIs[0]), path.Base(seed.KeyURIs[1])}, Officers: []string{"cso@contoso.com"},
		})
		if err != nil {
			return t, fmt.Errorf("onboarding %s %s: %w", step.scenario, step.mode, err)
		}
		if step.mode == "Enable" && res.EnablementResult != "Success" {
			return t, fmt.Errorf("onboarding %s: %s: %+v", step.scenario, res.EnablementResult, res.ValidationResult)
		}
	}
	return t, nil
}

// KeyVersion is the current version of the seed's key in vault i (0 or 1).
func (c *Cluster) KeyVersion(ctx context.Context, i int) (string, error) {
	k, err := c.Seed.Keys[i].GetKey(ctx, "key", "", nil)
	if err != nil {
		return "", err
	}
	return k.Key.KID.Version(), nil
}

// RemoveAccess removes app's access policy on both of the seed's vaults
// (the tenant revoking the service, SPEC R5).
func (c *Cluster) RemoveAccess(ctx context.Context, app string) error {
	for _, vault := range c.Seed.Vaults {
		if err := c.Vault.Client.Do(ctx, "DELETE", "/vaults/"+vault.Name+"/accessPolicies/"+app, nil, nil); err != nil {
			return fmt.Errorf("vault %s: remove %s: %w", vault.Name, app, err)
		}
	}
	return nil
}

// HasEvents reports whether the nodes push events through PostgreSQL
// (SPEC S2, branch s2: internal/events over LISTEN/NOTIFY): a session of
// the cluster's database whose last statement was a LISTEN (the session
// that waits for notifications). Tests and the bench run what needs S2
// only then.
func (c *Cluster) HasEvents() bool {
	var n int
	if err := c.DB.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ~* '^\s*LISTEN\s'`).Scan(&n); err != nil {
		return false
	}
	return n > 0
}

// GrantAccess gives app get, wrapKey and unwrapKey on both of the seed's
// vaults again (after RemoveAccess).
func (c *Cluster) GrantAccess(ctx context.Context, app string) error {
	for _, vault := range c.Seed.Vaults {
		if err := c.Vault.Client.Do(ctx, "PUT", "/vaults/"+vault.Name+"/accessPolicies/"+app,
			map[string]any{"permissions": map[string]any{"keys": []string{"get", "wrapKey", "unwrapKey"}}}, nil); err != nil {
			return fmt.Errorf("vault %s: grant %s: %w", vault.Name, app, err)
		}
	}
	return nil
}

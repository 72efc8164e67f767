package onboarding

import (
	"context"
	"errors"
	"net/url"

	"github.com/customerkey/customerkey/vaultclient"
)

// VaultDirectory reads Azure facts from the built-in vault's management API.
type VaultDirectory struct{ C *vaultclient.Client }

func notFound(err error) error {
	var ve *vaultclient.Error
	if errors.As(err, &ve) && ve.Status == 404 {
		return ErrNotFound
	}
	return err
}

func (d VaultDirectory) Subscription(ctx context.Context, id string) (Subscription, error) {
	var s vaultclient.Subscription
	if err := d.C.Do(ctx, "GET", "/subscriptions/"+id, nil, &s); err != nil {
		return Subscription{}, notFound(err)
	}
	out := Subscription{ID: s.ID, TenantID: s.TenantID, Kind: s.Kind, State: s.State, Retention: "NotRegistered"}
	for _, f := range s.Features {
		if f.Name == "mandatoryRetentionPeriodEnabled" {
			out.Retention = f.State
		}
	}
	return out, nil
}

func (d VaultDirectory) Vault(ctx context.Context, name string) (Vault, error) {
	var v vaultclient.Vault
	if err := d.C.Do(ctx, "GET", "/vaults/"+name, nil, &v); err != nil {
		return Vault{}, notFound(err)
	}
	return Vault{Name: v.Name, URI: v.URI, SubscriptionID: v.SubscriptionID, Region: v.Region, SoftDelete: v.SoftDeleteEnabled, RetentionDays: v.SoftDeleteRetentionInDays}, nil
}

func (d VaultDirectory) RegisterRetention(ctx context.Context, id string) error {
	return d.C.Do(ctx, "POST", "/subscriptions/"+id+"/providers/Microsoft.Resources/features/mandatoryRetentionPeriodEnabled/register", nil, nil)
}

func (d VaultDirectory) ServicePrincipal(ctx context.Context, tenant, appID string) error {
	var p vaultclient.Principal
	return notFound(d.C.Do(ctx, "GET", "/tenants/"+url.PathEscape(tenant)+"/principals/"+url.PathEscape(appID), nil, &p))
}

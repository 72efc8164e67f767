package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/vaultclient"
)

func (a *app) vaultCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "The built-in key vault: the Azure side of the set-up",
		Long: `Commands for the built-in key vault, one for each Azure step of the seed
"Set up Customer Key" page: subscriptions, the mandatory retention period
feature, principals, vaults, access policies and roles, and keys.`,
	}
	cmd.AddCommand(a.vaultServerCmd(), a.tenantCmd(), a.subscriptionCmd(), a.featureCmd(), a.providerCmd(), a.principalCmd(),
		a.vaultCreateCmd(), a.vaultShowCmd(), a.vaultListCmd(), a.vaultUpdateCmd(), a.vaultDeleteCmd(), a.vaultRecoverCmd(), a.vaultPurgeCmd(),
		a.accessPolicyCmd(), a.roleCmd(), a.keyCmd(), a.logCmd(), a.tokenCmd(), a.faultCmd())
	return cmd
}

// call runs a management request and prints the answer: as JSON with -o
// json, else through show.
func call[T any](ctx context.Context, a *app, method, path string, in any, show func(T)) error {
	c, err := a.mgmt(ctx)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.Do(ctx, method, path, in, &raw); err != nil {
		return err
	}
	if a.output == "json" {
		if len(raw) == 0 {
			return nil
		}
		return a.printJSON(raw)
	}
	var v T
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
	}
	show(v)
	return nil
}

func ts(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func esc(s string) string { return url.PathEscape(s) }

// ---- tenants ----

func (a *app) tenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Tenants (directories) known to the vault"}
	var id string
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a tenant", Args: cobra.ExactArgs(1),
		Example: `  ck vault tenant create Contoso`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/tenants", map[string]string{"name": args[0], "id": id}, func(x vaultclient.Tenant) { a.showTenants(x) })
		},
	}
	create.Flags().StringVar(&id, "id", "", "tenant ID (a GUID; default: a new one)")
	list := &cobra.Command{Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd.Context(), a, "GET", "/tenants", nil, func(l vaultclient.List[vaultclient.Tenant]) { a.showTenants(l.Value...) })
		}}
	show := &cobra.Command{Use: "show ID-or-NAME", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "GET", "/tenants/"+esc(args[0]), nil, func(x vaultclient.Tenant) { a.showTenants(x) })
		}}
	cmd.AddCommand(create, list, show)
	return cmd
}

func (a *app) showTenants(ts ...vaultclient.Tenant) {
	var rows [][]string
	for _, t := range ts {
		rows = append(rows, []string{t.Name, t.ID})
	}
	a.table([]string{"NAME", "ID"}, rows)
}

// ---- subscriptions ----

func (a *app) subscriptionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "subscription", Short: "Subscriptions: paid or trial, owned by a tenant"}
	var tenant, owner, id string
	var trial bool
	create := &cobra.Command{
		Use: "create NAME --tenant T --owner UPN [--trial]", Short: "Create a subscription", Args: cobra.ExactArgs(1),
		Example: `  ck vault subscription create CK1 --tenant Contoso --owner admin@contoso.com
  ck vault subscription create Try --tenant Contoso --owner admin@contoso.com --trial`,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := "paid"
			if trial {
				kind = "trial"
			}
			return call(cmd.Context(), a, "POST", "/subscriptions", map[string]string{"name": args[0], "tenant": tenant, "owner": owner, "kind": kind, "id": id}, func(x vaultclient.Subscription) { a.showSubscriptions(x) })
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "owning tenant (ID or name)")
	create.Flags().StringVar(&owner, "owner", "", "UPN of the user who administers it (default: the --as user)")
	create.Flags().BoolVar(&trial, "trial", false, "a trial subscription (Customer Key refuses these)")
	create.Flags().StringVar(&id, "id", "", "subscription ID (a GUID; default: a new one; only with the vault server's admin token)")
	create.MarkFlagRequired("tenant")
	var listTenant string
	list := &cobra.Command{Use: "list [--tenant T]", Short: "List subscriptions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd.Context(), a, "GET", "/subscriptions?tenant="+url.QueryEscape(listTenant), nil, func(l vaultclient.List[vaultclient.Subscription]) { a.showSubscriptions(l.Value...) })
		}}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's subscriptions")
	show := &cobra.Command{Use: "show ID-or-NAME", Short: "Show a subscription and its features", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "GET", "/subscriptions/"+esc(args[0]), nil, func(x vaultclient.Subscription) { a.showSubscriptions(x) })
		}}
	cancel := &cobra.Command{Use: "cancel ID-or-NAME", Short: "Cancel a subscription (refused while the mandatory retention period feature is registered)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/subscriptions/"+esc(args[0])+"/cancel", nil, func(x vaultclient.Subscription) { a.showSubscriptions(x) })
		}}
	cmd.AddCommand(create, list, show, cancel)
	return cmd
}

func (a *app) showSubscriptions(subs ...vaultclient.Subscription) {
	var rows [][]string
	for _, s := range subs {
		retention := "NotRegistered"
		for _, f := range s.Features {
			if f.Name == "mandatoryRetentionPeriodEnabled" {
				retention = f.State
			}
		}
		rows = append(rows, []string{s.Name, s.ID, s.Kind, s.State, s.Owner, retention})
	}
	a.table([]string{"NAME", "ID", "KIND", "STATE", "OWNER", "MANDATORY RETENTION"}, rows)
}

// ---- features and providers ----

func (a *app) featureCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "feature", Short: "Preview features (Register-/Get-AzProviderFeature)"}
	var sub, ns string
	var wait bool
	path := func(name string) string {
		return "/subscriptions/" + esc(sub) + "/providers/" + esc(ns) + "/features/" + esc(name)
	}
	register := &cobra.Command{
		Use: "register FEATURE --subscription S [--wait]", Short: "Register a feature (Register-AzProviderFeature)", Args: cobra.ExactArgs(1),
		Example: `  ck vault feature register mandatoryRetentionPeriodEnabled --subscription CK1 --wait`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.mgmt(cmd.Context())
			if err != nil {
				return err
			}
			var f vaultclient.Feature
			if err := c.Do(cmd.Context(), "POST", path(args[0])+"/register", nil, &f); err != nil {
				return err
			}
			for wait && f.State != "Registered" {
				printf(a.stderr, "%s is %s...\n", f.Name, f.State)
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(500 * time.Millisecond):
				}
				if err := c.Do(cmd.Context(), "GET", path(args[0]), nil, &f); err != nil {
					return err
				}
			}
			return a.showFeature(f)
		},
	}
	show := &cobra.Command{
		Use: "show FEATURE --subscription S", Short: "Show a feature's state (Get-AzProviderFeature)", Args: cobra.ExactArgs(1),
		Example: `  ck vault feature show mandatoryRetentionPeriodEnabled --subscription CK1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.mgmt(cmd.Context())
			if err != nil {
				return err
			}
			var f vaultclient.Feature
			if err := c.Do(cmd.Context(), "GET", path(args[0]), nil, &f); err != nil {
				return err
			}
			return a.showFeature(f)
		},
	}
	for _, c := range []*cobra.Command{register, show} {
		c.Flags().StringVar(&sub, "subscription", "", "subscription ID or name")
		c.Flags().StringVar(&ns, "namespace", "Microsoft.Resources", "provider namespace")
		c.MarkFlagRequired("subscription")
	}
	register.Flags().BoolVar(&wait, "wait", false, "wait until the feature is Registered")
	cmd.AddCommand(register, show)
	return cmd
}

func (a *app) showFeature(f vaultclient.Feature) error {
	if a.output == "json" {
		return a.printJSON(f)
	}
	a.table([]string{"FEATURE", "PROVIDER", "STATE"}, [][]string{{f.Name, f.Namespace, f.State}})
	return nil
}

func (a *app) providerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "provider", Short: "Resource providers (Register-AzResourceProvider)"}
	var sub string
	register := &cobra.Command{
		Use: "register NAMESPACE --subscription S", Short: "Register a resource provider", Args: cobra.ExactArgs(1),
		Example: `  ck vault provider register Microsoft.KeyVault --subscription CK1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/subscriptions/"+esc(sub)+"/providers/"+esc(args[0])+"/register", nil, func(p vaultclient.Provider) { a.showProviders(p) })
		},
	}
	list := &cobra.Command{
		Use: "list --subscription S", Short: "List resource providers and their state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "GET", "/subscriptions/"+esc(sub)+"/providers", nil, func(l vaultclient.List[vaultclient.Provider]) { a.showProviders(l.Value...) })
		},
	}
	for _, c := range []*cobra.Command{register, list} {
		c.Flags().StringVar(&sub, "subscription", "", "subscription ID or name")
		c.MarkFlagRequired("subscription")
	}
	cmd.AddCommand(register, list)
	return cmd
}

func (a *app) showProviders(ps ...vaultclient.Provider) {
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{p.Namespace, p.RegistrationState})
	}
	a.table([]string{"NAMESPACE", "STATE"}, rows)
}

// ---- principals ----

func (a *app) principalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "principal", Short: "Users (UPN) and service principals (application ID) of a tenant"}
	var tenant, display string
	var yes bool
	create := &cobra.Command{
		Use: "create UPN-or-APPID --tenant T", Short: "Register a user or a service principal (New-AzADServicePrincipal)", Args: cobra.ExactArgs(1),
		Example: `  ck vault principal create admin@contoso.com --tenant Contoso
  ck vault principal create 00000002-0000-0ff1-ce00-000000000000 --tenant Contoso --display-name "Office 365 Exchange Online"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/tenants/"+esc(tenant)+"/principals", map[string]string{"name": args[0], "displayName": display}, func(x vaultclient.Principal) { a.showPrincipals(x) })
		},
	}
	create.Flags().StringVar(&display, "display-name", "", "display name")
	show := &cobra.Command{Use: "show UPN-or-APPID [--tenant T]", Short: "Show a principal (Get-AzADServicePrincipal)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := tenant
			if t == "" {
				t = "common"
			}
			return call(cmd.Context(), a, "GET", "/tenants/"+esc(t)+"/principals/"+esc(args[0]), nil, func(x vaultclient.Principal) { a.showPrincipals(x) })
		}}
	list := &cobra.Command{Use: "list --tenant T", Short: "List a tenant's principals", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd.Context(), a, "GET", "/tenants/"+esc(tenant)+"/principals", nil, func(l vaultclient.List[vaultclient.Principal]) { a.showPrincipals(l.Value...) })
		}}
	remove := &cobra.Command{Use: "delete UPN-or-APPID --tenant T --yes", Short: "Remove a user or a service principal from the tenant's directory (Remove-AzADServicePrincipal); it gets no new token",
		Long: `Remove a user or a service principal from the tenant's directory. The
issuer gives it no token from then on; a token it was given lasts until it
expires, as in Entra ID. Deleting the Customer Key service's application
(M365DataAtRestEncryption, Exchange Online) cuts the service off from the
tenant's keys as removing its access policies does: the service counts the
directory's refusal as the customer's (a revocation), not as an outage.`,
		Args:    cobra.ExactArgs(1),
		Example: `  ck vault principal delete 00000002-0000-0ff1-ce00-000000000000 --tenant Contoso --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting %s from tenant %s takes away every access it has to the tenant's vaults (create it again to give them back); run again with --yes to confirm", args[0], tenant)
			}
			return call(cmd.Context(), a, "DELETE", "/tenants/"+esc(tenant)+"/principals/"+esc(args[0]), nil, func(map[string]string) {
				fmt.Fprintf(a.stdout, "Principal %s deleted from tenant %s.\n", args[0], tenant)
			})
		}}
	remove.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	for _, c := range []*cobra.Command{create, show, list, remove} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant ID or name")
	}
	create.MarkFlagRequired("tenant")
	list.MarkFlagRequired("tenant")
	remove.MarkFlagRequired("tenant")
	cmd.AddCommand(create, show, list, remove)
	return cmd
}

func (a *app) showPrincipals(ps ...vaultclient.Principal) {
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{p.Name, p.Kind, p.DisplayName, p.TenantID})
	}
	a.table([]string{"NAME", "KIND", "DISPLAY NAME", "TENANT"}, rows)
}

// ---- vaults ----

func (a *app) vaultCreateCmd() *cobra.Command {
	var sub, region, sku, model string
	var days int
	var purgeProtection bool
	cmd := &cobra.Command{
		Use:   "create NAME --subscription S --region R [--sku premium]",
		Short: "Create a key vault (soft delete always on)",
		Args:  cobra.ExactArgs(1),
		Example: `  ck vault create ContosoEXOAKV01 --subscription CK1 --region eastus --sku premium
  ck vault create ContosoEXOAKV02 --subscription CK2 --region westus --sku premium --purge-protection`,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0], "subscription": sub, "region": region, "sku": sku, "retentionDays": days, "purgeProtection": purgeProtection, "permissionModel": model}
			return call(cmd.Context(), a, "POST", "/vaults", body, a.showVault)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sub, "subscription", "", "subscription ID or name")
	f.StringVar(&region, "region", "", "region (eastus or westus under ck dev)")
	f.StringVar(&sku, "sku", "standard", "standard (software keys) or premium (HSM-protected keys)")
	f.IntVar(&days, "retention-days", 90, "soft-delete retention, 7-90 days; set once")
	f.BoolVar(&purgeProtection, "purge-protection", false, "turn on purge protection (can never be turned off)")
	f.StringVar(&model, "permission-model", "accessPolicy", "accessPolicy or rbac")
	cmd.MarkFlagRequired("subscription")
	cmd.MarkFlagRequired("region")
	return cmd
}

func (a *app) showVault(v vaultclient.Vault) {
	a.fields("Vault Name", v.Name, "Vault URI", v.URI, "Subscription", v.SubscriptionID, "Tenant", v.TenantID, "Location", v.Region,
		"SKU", v.SKU, "Soft Delete Enabled?", strconv.FormatBool(v.SoftDeleteEnabled),
		"Soft Delete Retention Period (days)", strconv.Itoa(v.SoftDeleteRetentionInDays),
		"Purge Protection Enabled?", strconv.FormatBool(v.PurgeProtectionEnabled), "Permission Model", v.PermissionModel,
		"Key Recovery Level", v.RecoveryLevel, "Created", ts(&v.Created))
	if v.DeletedDate != nil {
		a.fields("Deleted", ts(v.DeletedDate), "Scheduled Purge", ts(v.ScheduledPurgeDate))
	}
	if len(v.AccessPolicies) > 0 {
		fmt.Fprintln(a.stdout, "Access Policies:")
		var rows [][]string
		for _, p := range v.AccessPolicies {
			rows = append(rows, []string{"  " + p.Principal, strings.Join(p.Permissions["keys"], ",")})
		}
		a.table([]string{"  PRINCIPAL", "KEY PERMISSIONS"}, rows)
	}
	if len(v.RoleAssignments) > 0 {
		fmt.Fprintln(a.stdout, "Role Assignments:")
		var rows [][]string
		for _, r := range v.RoleAssignments {
			rows = append(rows, []string{"  " + r.Principal, r.Role, r.ID})
		}
		a.table([]string{"  PRINCIPAL", "ROLE", "ASSIGNMENT ID"}, rows)
	}
	if len(v.MigratedAssignments) > 0 {
		fmt.Fprintf(a.stdout, "Migrated %d access policies to role assignments.\n", len(v.MigratedAssignments))
	}
}

func (a *app) vaultShowCmd() *cobra.Command {
	return &cobra.Command{
		Use: "show NAME", Short: "Show a vault: soft delete, retention, permissions (Get-AzKeyVault)", Args: cobra.ExactArgs(1),
		Example: `  ck vault show ContosoEXOAKV01`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "GET", "/vaults/"+esc(args[0]), nil, a.showVault)
		},
	}
}

func (a *app) vaultListCmd() *cobra.Command {
	var deleted bool
	cmd := &cobra.Command{
		Use: "list [--deleted]", Short: "List vaults", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/vaults"
			if deleted {
				path = "/deletedvaults"
			}
			return call(cmd.Context(), a, "GET", path, nil, func(l vaultclient.List[vaultclient.Vault]) {
				var rows [][]string
				for _, v := range l.Value {
					rows = append(rows, []string{v.Name, v.Region, v.SKU, v.SubscriptionID, v.PermissionModel, v.RecoveryLevel, v.URI})
				}
				a.table([]string{"NAME", "REGION", "SKU", "SUBSCRIPTION", "PERMISSIONS", "RECOVERY LEVEL", "URI"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&deleted, "deleted", false, "list soft-deleted vaults")
	return cmd
}

func (a *app) vaultUpdateCmd() *cobra.Command {
	var purgeProtection, migrate bool
	var model string
	cmd := &cobra.Command{
		Use:   "update NAME [--purge-protection] [--permission-model rbac [--migrate-access-policies]]",
		Short: "Turn on purge protection, or switch the permission model",
		Args:  cobra.ExactArgs(1),
		Example: `  ck vault update ContosoEXOAKV01 --purge-protection
  ck vault update ContosoEXOAKV01 --permission-model rbac --migrate-access-policies`,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("purge-protection") {
				body["purgeProtection"] = purgeProtection
			}
			if model != "" {
				body["permissionModel"] = model
				body["migrateAccessPolicies"] = migrate
			}
			if len(body) == 0 {
				return fmt.Errorf("nothing to update: give --purge-protection or --permission-model")
			}
			return call(cmd.Context(), a, "PATCH", "/vaults/"+esc(args[0]), body, a.showVault)
		},
	}
	cmd.Flags().BoolVar(&purgeProtection, "purge-protection", false, "turn on purge protection (it can never be turned off)")
	cmd.Flags().StringVar(&model, "permission-model", "", "accessPolicy or rbac")
	cmd.Flags().BoolVar(&migrate, "migrate-access-policies", false, "when moving to rbac, give each access-policy principal the narrowest role covering its permissions (refused, changing nothing, if a role would allow more than a policy)")
	return cmd
}

func (a *app) vaultDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use: "delete NAME", Short: "Soft-delete a vault (recoverable for its retention period)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "DELETE", "/vaults/"+esc(args[0]), nil, func(v vaultclient.Vault) {
				printf(a.stdout, "Vault %s deleted; recoverable until %s (ck vault recover %s).\n", v.Name, ts(v.ScheduledPurgeDate), v.Name)
			})
		},
	}
}

func (a *app) vaultRecoverCmd() *cobra.Command {
	return &cobra.Command{
		Use: "recover NAME", Short: "Recover a soft-deleted vault", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/deletedvaults/"+esc(args[0])+"/recover", nil, a.showVault)
		},
	}
}

func (a *app) vaultPurgeCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use: "purge NAME --yes", Short: "Permanently destroy a soft-deleted vault and every key in it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("purging vault %s destroys its keys and every piece of data they protect, for good; run again with --yes to confirm", args[0])
			}
			return call(cmd.Context(), a, "DELETE", "/deletedvaults/"+esc(args[0]), nil, func(map[string]string) {
				fmt.Fprintf(a.stdout, "Vault %s purged.\n", args[0])
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the purge")
	return cmd
}

// ---- access policies and roles ----

func (a *app) accessPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "access-policy", Short: "Legacy access policies (Set-/Remove-AzKeyVaultAccessPolicy)"}
	var upn, spn string
	var perms []string
	who := func() (string, error) {
		if (upn == "") == (spn == "") {
			return "", fmt.Errorf("give exactly one of --upn (a user) or --spn (a service principal's application ID)")
		}
		return upn + spn, nil
	}
	set := &cobra.Command{
		Use: "set VAULT (--upn U | --spn APPID) --key-permissions P,...", Short: "Grant key permissions to a principal (replaces its previous ones)", Args: cobra.ExactArgs(1),
		Example: `  ck vault access-policy set ContosoEXOAKV01 --upn admin@contoso.com --key-permissions backup,create,get,import,list,restore
  ck vault access-policy set ContosoEXOAKV01 --spn 00000002-0000-0ff1-ce00-000000000000 --key-permissions get,wrapKey,unwrapKey`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := who()
			if err != nil {
				return err
			}
			body := map[string]any{"permissions": map[string][]string{"keys": perms}}
			return call(cmd.Context(), a, "PUT", "/vaults/"+esc(args[0])+"/accessPolicies/"+esc(p), body, func(ap vaultclient.AccessPolicy) {
				a.table([]string{"PRINCIPAL", "KEY PERMISSIONS"}, [][]string{{ap.Principal, strings.Join(ap.Permissions["keys"], ",")}})
			})
		},
	}
	set.Flags().StringSliceVar(&perms, "key-permissions", nil, "key permissions: get, list, create, import, update, delete, recover, backup, restore, purge, wrapKey, unwrapKey, encrypt, decrypt, sign, verify, rotate, all")
	set.MarkFlagRequired("key-permissions")
	remove := &cobra.Command{
		Use: "remove VAULT (--upn U | --spn APPID)", Short: "Remove a principal's access policy; effective on its next request", Args: cobra.ExactArgs(1),
		Example: `  ck vault access-policy remove ContosoEXOAKV01 --spn 00000002-0000-0ff1-ce00-000000000000`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := who()
			if err != nil {
				return err
			}
			return call(cmd.Context(), a, "DELETE", "/vaults/"+esc(args[0])+"/accessPolicies/"+esc(p), nil, func(any) {
				fmt.Fprintf(a.stdout, "Removed the access policy of %s on %s.\n", p, args[0])
			})
		},
	}
	for _, c := range []*cobra.Command{set, remove} {
		c.Flags().StringVar(&upn, "upn", "", "user principal name")
		c.Flags().StringVar(&spn, "spn", "", "service principal application ID")
	}
	cmd.AddCommand(set, remove)
	return cmd
}

func (a *app) roleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "RBAC role assignments on a vault"}
	var role, assignee string
	assign := &cobra.Command{
		Use: "assign VAULT --role ROLE --assignee UPN-or-APPID", Short: "Assign a role on a vault", Args: cobra.ExactArgs(1),
		Example: `  ck vault role assign ContosoEXOAKV01 --role "Key Vault Crypto Service Encryption User" --assignee 00000002-0000-0ff1-ce00-000000000000
  ck vault role assign ContosoEXOAKV01 --role Contributor --assignee contributor@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), a, "POST", "/vaults/"+esc(args[0])+"/roleAssignments", map[string]string{"principal": assignee, "role": role}, func(r vaultclient.RoleAssignment) {
				a.table([]string{"PRINCIPAL", "ROLE", "ASSIGNMENT ID"}, [][]string{{r.Principal, r.Role, r.ID}})
			})
		},
	}
	remove := &cobra.Command{
		Use: "remove VAULT --role ROLE --assignee UPN-or-APPID", Short: "Remove a role assignment; effective on the principal's next request", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.mgmt(cmd.Context())
			if err != nil {
				return err
			}
			var v vaultclient.Vault
			if err := c.Do(cmd.Context(), "GET", "/vaults/"+esc(args[0]), nil, &v); err != nil {
				return err
			}
			for _, r := range v.RoleAssignments {
				if strings.EqualFold(r.Principal, assignee) && (strings.EqualFold(r.Role, role) || strings.EqualFold(r.RoleID, role)) {
					if err := c.Do(cmd.Context(), "DELETE", "/vaults/"+esc(args[0])+"/roleAssignments/"+r.ID, nil, nil); err != nil {
						return err
					}
					printf(a.stdout, "Removed role %q of %s on %s.\n", r.Role, r.Principal, v.Name)
					return nil
				}
			}
			return fmt.Errorf("%s has no role %q on vault %s", assignee, role, v.Name)
		},
	}
	for _, c := range []*cobra.Command{assign, remove} {
		c.Flags().StringVar(&role, "role", "", `role name or ID, e.g. "Key Vault Crypto Service Encryption User"`)
		c.Flags().StringVar(&assignee, "assignee", "", "principal: UPN or application ID")
		c.MarkFlagRequired("role")
		c.MarkFlagRequired("assignee")
	}
	cmd.AddCommand(assign, remove)
	return cmd
}

// ---- log and token ----

func (a *app) logCmd() *cobra.Command {
	var vaultName, since string
	var limit int
	cmd := &cobra.Command{
		Use: "log [--vault V] [--since T]", Short: "Read the vault operation log (Key Vault logging)", Args: cobra.NoArgs,
		Example: `  ck vault log --vault ContosoEXOAKV01 --since 2026-11-22T00:00:00Z`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if vaultName != "" {
				q.Set("vault", vaultName)
			}
			from, err := sinceArg(since)
			if err != nil {
				return err
			}
			if !from.IsZero() {
				q.Set("since", from.Format(time.RFC3339Nano))
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return call(cmd.Context(), a, "GET", "/log?"+q.Encode(), nil, func(l vaultclient.List[vaultclient.Op]) {
				var rows [][]string
				for _, op := range l.Value {
					rows = append(rows, []string{op.Time.Format(time.RFC3339), op.Principal, op.Operation, op.Vault, op.Key, op.Version, strconv.Itoa(op.Status), op.Code})
				}
				a.table([]string{"TIME", "PRINCIPAL", "OPERATION", "VAULT", "KEY", "VERSION", "STATUS", "CODE"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&vaultName, "vault", "", "only this vault")
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after this time (RFC 3339, or a duration like 1h)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many entries (default 10000)")
	return cmd
}

func (a *app) tokenCmd() *cobra.Command {
	var tenant, region string
	cmd := &cobra.Command{
		Use: "token --as PRINCIPAL [--tenant T] [--region R]", Short: "Print an access token for a principal (dev issuer)", Args: cobra.NoArgs,
		Example: `  ck vault token --as admin@contoso.com
  curl --cacert ck-data/ca.pem -H "Authorization: Bearer $(ck vault token --as admin@contoso.com)" \
    "https://contosoekv01.localhost:8443/keys?api-version=2025-07-01"`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.principal()
			if err != nil {
				return err
			}
			c, err := a.admin()
			if err != nil {
				return err
			}
			scope := ""
			if region != "" {
				for _, r := range a.cfg.Regions {
					if r.Name == region {
						scope = r.URL
					}
				}
				if scope == "" {
					return fmt.Errorf("region %q is not in the connection file", region)
				}
			}
			tok, err := c.Token(cmd.Context(), p, tenant, scope)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(tok)
			}
			fmt.Fprintln(a.stdout, tok.AccessToken)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant of the principal (needed only if its name is in several tenants)")
	cmd.Flags().StringVar(&region, "region", "", "region whose vaults the token is for (default: the management region)")
	return cmd
}

// ---- fault drills ----

func (a *app) faultCmd() *cobra.Command {
	var delay, dur time.Duration
	cmd := &cobra.Command{
		Use:   "fault [REGION outage|slow|throttled|failing|off]",
		Short: "Drill a vault region failing: refuse connections, slow down, throttle or fail (ck dev, or ck vault server --drill)",
		Long: `Switch a vault region into a failure mode, to drill how the service behaves
when a tenant's vault is down, slow, throttled or failing. Without arguments,
show every region's mode. Drills exist only under "ck dev" or a vault server
started with --drill.`,
		Example: `  ck vault fault eastus outage            # connections refused
  ck vault fault westus slow --delay 3s   # every keys request waits 3s
  ck vault fault eastus throttled --for 1m
  ck vault fault eastus off
  ck vault fault                          # show`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			show := func(l vaultclient.List[vaultclient.Fault]) {
				var rows [][]string
				for _, f := range l.Value {
					d := ""
					if f.DelayMS > 0 {
						d = (time.Duration(f.DelayMS) * time.Millisecond).String()
					}
					rows = append(rows, []string{f.Region, f.Mode, d, ts(f.Until)})
				}
				a.table([]string{"REGION", "MODE", "DELAY", "UNTIL"}, rows)
			}
			switch len(args) {
			case 0:
				return call(cmd.Context(), a, "GET", "/faults", nil, show)
			case 1:
				return fmt.Errorf("give a mode: outage, slow, throttled, failing or off")
			}
			body := map[string]any{"mode": args[1], "delayMs": delay.Milliseconds(), "forMs": dur.Milliseconds()}
			return call(cmd.Context(), a, "PUT", "/faults/"+esc(args[0]), body, func(f vaultclient.Fault) {
				show(vaultclient.List[vaultclient.Fault]{Value: []vaultclient.Fault{f}})
			})
		},
	}
	cmd.Flags().DurationVar(&delay, "delay", 2*time.Second, "added latency for slow")
	cmd.Flags().DurationVar(&dur, "for", 0, "switch back to off after this long (default: until switched off)")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/api"
)

type depView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Kind        string    `json:"kind"`
	AzureKeyIDs []string  `json:"azureKeyIDs"`
	WrappedWith []string  `json:"wrappedWith"`
	Enabled     bool      `json:"enabled"`
	Created     time.Time `json:"created"`
}

// tenantArg is --tenant, or the tenant of the caller's token.
func (a *app) tenantArg(ctx context.Context, tenant string) (string, error) {
	if tenant != "" {
		return tenant, nil
	}
	c, err := a.service()
	if err != nil {
		return "", err
	}
	var me struct{ Tenant string }
	if err := c.Do(ctx, "GET", "/v1/me", nil, &me); err != nil {
		return "", err
	}
	if me.Tenant == "" {
		return "", fmt.Errorf("the operator's token belongs to no tenant: give --tenant, or act with a tenant admin's token (--token-file)")
	}
	return me.Tenant, nil
}

func (a *app) showDEP(d depView) {
	a.fields("Name", d.Name, "Id", d.ID, "Description", d.Description, "AzureKeyIDs", strings.Join(d.AzureKeyIDs, ", "),
		"Wrapped with", strings.Join(d.WrappedWith, ", "), "Enabled", strconv.FormatBool(d.Enabled), "Created", ts(&d.Created))
}

// depCmd is `ck dep` (mailbox DEPs) or `ck mdep` (the multi-workload
// DEP): the same commands on another collection.
func (a *app) depCmd(use, collection, noun string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: "Data encryption policies (New-/Get-/Set-" + noun + ")"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	path := func(ctx context.Context, rest string) (string, error) {
		t, err := a.tenantArg(ctx, tenant)
		if err != nil {
			return "", err
		}
		return "/v1/tenants/" + esc(t) + "/" + collection + rest, nil
	}
	var keys []string
	var description string
	newCmd := &cobra.Command{
		Use:   "new NAME --key URI1 --key URI2 [--description D]",
		Short: "Create a DEP on two customer keys in two vaults (New-" + noun + ")",
		Args:  cobra.ExactArgs(1),
		Example: `  ck dep new Contoso-EXO-DEP-1 --description "Mailboxes in the US" \
      --key https://contosoexoakv01.localhost:8443/keys/ContosoEXOKey1 \
      --key https://contosoexoakv02.localhost:8444/keys/ContosoEXOKey2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), "")
			if err != nil {
				return err
			}
			body := map[string]any{"name": args[0], "description": description, "azureKeyIDs": keys}
			return svcCall(cmd.Context(), a, "POST", p, body, a.showDEP)
		},
	}
	newCmd.Flags().StringArrayVar(&keys, "key", nil, "a customer key URI; give it twice")
	newCmd.Flags().StringVar(&description, "description", "", "what the DEP is for")
	list := &cobra.Command{Use: "list", Short: "List DEPs (Get-" + noun + ")", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path(cmd.Context(), "")
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", p, nil, func(l struct{ Value []depView }) {
				var rows [][]string
				for _, d := range l.Value {
					rows = append(rows, []string{d.Name, d.ID, strconv.FormatBool(d.Enabled), strings.Join(d.AzureKeyIDs, " ")})
				}
				a.table([]string{"NAME", "ID", "ENABLED", "AZURE KEY IDS"}, rows)
			})
		}}
	show := &cobra.Command{Use: "show NAME-or-GUID", Short: "Show a DEP (Get-" + noun + " -Identity)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), "/"+esc(args[0]))
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", p, nil, a.showDEP)
		}}
	var enabled, refresh, purge bool
	var reason, contact string
	set := &cobra.Command{Use: "set NAME-or-GUID [--enabled=false] [--description D] [--refresh] [--purge-request --reason R --contact C]", Short: "Change a DEP (Set-" + noun + ")", Args: cobra.ExactArgs(1),
		Example: "  ck " + use + " set Contoso-DEP-1 --enabled=false\n  ck vault key add ContosoEXOAKV01 ContosoEXOKey1   # roll: a new key version\n  ck " + use + " set Contoso-DEP-1 --refresh             # then use it\n" +
			"  ck " + use + " set Contoso-DEP-1 --purge-request --reason \"Leaving the service\" --contact cso@contoso.com   # after removing the workload's wrap/unwrap rights",
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if purge {
				body["permanentDataPurgeRequested"], body["permanentDataPurgeReason"], body["permanentDataPurgeContact"] = true, reason, contact
			}
			if cmd.Flags().Changed("enabled") {
				body["enabled"] = enabled
			}
			if cmd.Flags().Changed("description") {
				body["description"] = description
			}
			if refresh {
				body["refresh"] = true
			}
			p, err := path(cmd.Context(), "/"+esc(args[0]))
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "PATCH", p, body, a.showDEP)
		}}
	set.Flags().BoolVar(&enabled, "enabled", true, "enable or disable the DEP")
	set.Flags().StringVar(&description, "description", "", "new description")
	set.Flags().BoolVar(&refresh, "refresh", false, "after rolling a customer key: re-wrap the DEP key with the current version of both keys (-Refresh)")
	set.Flags().BoolVar(&purge, "purge-request", false, "request the permanent data purge of the DEP's mailboxes (-PermanentDataPurgeRequested; mailbox DEPs only)")
	set.Flags().StringVar(&reason, "reason", "", "with --purge-request: why (-PermanentDataPurgeReason)")
	set.Flags().StringVar(&contact, "contact", "", "with --purge-request: who to contact (-PermanentDataPurgeContact)")
	var revoked bool
	health := &cobra.Command{Use: "health [NAME-or-GUID] [--revoked]", Short: "Check DEPs' health now: each customer key is asked to unwrap the DEP key (R5)", Args: cobra.MaximumNArgs(1),
		Long: `Asks each customer key of the DEP (of every DEP without a name) to unwrap
the DEP key now. healthy: both keys answer; degraded: one fails and the
other serves; unhealthy: both fail, with the cause.

After removing the workload's access to the keys, send --revoked: the
service drops the DEP key from its caches at once instead of at cache
expiry, and the check shows the revocation.`,
		Example: "  ck dep health\n  ck dep health Contoso-EXO-DEP-1 --revoked",
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			if len(args) == 1 {
				names = args
			} else {
				p, err := path(cmd.Context(), "")
				if err != nil {
					return err
				}
				c, err := a.service()
				if err != nil {
					return err
				}
				var l struct{ Value []depView }
				if err := c.Do(cmd.Context(), "GET", p, nil, &l); err != nil {
					return err
				}
				for _, d := range l.Value {
					names = append(names, d.ID)
				}
			}
			c, err := a.service()
			if err != nil {
				return err
			}
			var all []api.DEPHealth
			for _, name := range names {
				method, rest := "GET", "/"+esc(name)+"/health"
				if revoked {
					method, rest = "POST", "/"+esc(name)+"/revocation"
				}
				p, err := path(cmd.Context(), rest)
				if err != nil {
					return err
				}
				var h api.DEPHealth
				if err := c.Do(cmd.Context(), method, p, nil, &h); err != nil {
					return err
				}
				all = append(all, h)
			}
			if a.output == "json" {
				return a.printJSON(all)
			}
			var rows [][]string
			for _, h := range all {
				for i, k := range h.Keys {
					name, state, cause := "", "", ""
					if i == 0 {
						name, state, cause = h.Name, strings.ToUpper(h.State), h.Cause
					}
					answer := "ok"
					if !k.OK {
						answer = k.Error
					}
					rows = append(rows, []string{name, state, k.KeyID, answer, cause})
				}
			}
			a.table([]string{"DEP", "STATE", "KEY", "ANSWER", "CAUSE"}, rows)
			return nil
		}}
	health.Flags().BoolVar(&revoked, "revoked", false, "signal that access to the keys was removed: evict the DEP key from the service's caches now")
	cmd.AddCommand(newCmd, list, show, set, health)
	if use == "mdep" {
		cmd.AddCommand(a.mdepAssignCmds(&tenant)...)
	} else {
		cmd.AddCommand(a.purgeCmd(path))
	}
	return cmd
}

func (a *app) mdepAssignCmds(tenant *string) []*cobra.Command {
	path := func(ctx context.Context) (string, error) {
		t, err := a.tenantArg(ctx, *tenant)
		if err != nil {
			return "", err
		}
		return "/v1/tenants/" + esc(t) + "/m365DataAtRestEncryptionPolicyAssignment", nil
	}
	show := func(v struct {
		DataEncryptionPolicy   string    `json:"dataEncryptionPolicy"`
		DataEncryptionPolicyID string    `json:"dataEncryptionPolicyID"`
		Assigned               time.Time `json:"assigned"`
	}) {
		if v.DataEncryptionPolicy == "" {
			a.fields("DataEncryptionPolicy", "(none: service-managed keys)")
			return
		}
		a.fields("DataEncryptionPolicy", v.DataEncryptionPolicy, "DataEncryptionPolicyID", v.DataEncryptionPolicyID, "Assigned", ts(&v.Assigned))
	}
	assign := &cobra.Command{Use: "assign NAME", Short: "Assign a multi-workload DEP to the tenant (Set-M365DataAtRestEncryptionPolicyAssignment); to roll back to service-managed keys, ask the operator (ck operator rollback)", Args: cobra.ExactArgs(1),
		Example: "  ck mdep assign Contoso-M365-DEP-1",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "PUT", p, map[string]string{"dataEncryptionPolicy": args[0]}, show)
		}}
	get := &cobra.Command{Use: "assignment", Short: "Show the tenant's multi-workload DEP (Get-M365DataAtRestEncryptionPolicyAssignment)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", p, nil, show)
		}}
	return []*cobra.Command{assign, get}
}

package main

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// tenantClient is the service client and the tenant to act on: --tenant,
// or the tenant of the caller's token.
func (a *app) tenantClient(ctx context.Context, tenant string) (*client.Client, string, error) {
	c, err := a.service()
	if err != nil || tenant != "" {
		return c, tenant, err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return nil, "", err
	}
	if me.Tenant == "" {
		return nil, "", errors.New("the operator's token belongs to no tenant: give --tenant, or act with a tenant admin's token (--token-file)")
	}
	return c, me.Tenant, nil
}

func (a *app) showDEP(d client.DEP) {
	a.fields("Name", d.Name, "Id", d.ID, "Description", d.Description, "AzureKeyIDs", strings.Join(d.AzureKeyIDs, ", "),
		"Wrapped with", strings.Join(d.WrappedWith, ", "), "Enabled", strconv.FormatBool(d.Enabled), "Created", ts(&d.Created))
}

func (a *app) showDEPs(l client.List[client.DEP]) {
	var rows [][]string
	for _, d := range l.Value {
		rows = append(rows, []string{d.Name, d.ID, strconv.FormatBool(d.Enabled), strings.Join(d.AzureKeyIDs, " ")})
	}
	a.table([]string{"NAME", "ID", "ENABLED", "AZURE KEY IDS"}, rows)
}

// depCmd is `ck dep` (mailbox DEPs) or `ck mdep` (the multi-workload
// DEP): the same commands on another kind.
func (a *app) depCmd(use string, kind client.DEPKind, noun string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: "Data encryption policies (New-/Get-/Set-" + noun + ")"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	var keys []string
	var description string
	newCmd := &cobra.Command{
		Use:   "new NAME --key URI1 --key URI2 [--description D]",
		Short: "Create a DEP on two customer keys in two vaults (New-" + noun + ")",
		Args:  cobra.ExactArgs(1),
		Example: `  ck ` + use + ` new Contoso-EXO-DEP-1 --description "Mailboxes in the US" \
      --key https://contosoexoakv01.localhost:8443/keys/ContosoEXOKey1 \
      --key https://contosoexoakv02.localhost:8444/keys/ContosoEXOKey2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			d, err := c.NewDEP(cmd.Context(), t, kind, client.NewDEPRequest{Name: args[0], Description: description, AzureKeyIDs: keys})
			return out(a, d, err, a.showDEP)
		},
	}
	newCmd.Flags().StringArrayVar(&keys, "key", nil, "a customer key URI; give it twice")
	newCmd.Flags().StringVar(&description, "description", "", "what the DEP is for")
	var pg *paging
	list := &cobra.Command{Use: "list", Short: "List DEPs (Get-" + noun + "), by name", Args: cobra.NoArgs,
		Example: pageExample("ck " + use + " list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.DEP], error) {
				return c.DEPsPage(ctx, t, kind, p)
			})
			return out(a, l, err, a.showDEPs)
		}}
	pg = pageFlags(list)
	show := &cobra.Command{Use: "show NAME-or-GUID", Short: "Show a DEP (Get-" + noun + " -Identity)", Args: cobra.ExactArgs(1),
		Example: "  ck " + use + " show Contoso-DEP-1\n  ck Get-" + noun + " Contoso-DEP-1   # the cmdlet's form: a name or GUID shows that DEP, none lists them all",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			d, err := c.DEP(cmd.Context(), t, kind, args[0])
			return out(a, d, err, a.showDEP)
		}}
	var enabled, refresh, purge bool
	var reason, contact string
	set := &cobra.Command{Use: "set NAME-or-GUID [--enabled=false] [--description D] [--refresh] [--purge-request --reason R --contact C]", Short: "Change a DEP (Set-" + noun + ")", Args: cobra.ExactArgs(1),
		Example: "  ck " + use + " set Contoso-DEP-1 --enabled=false\n  ck vault key add ContosoEXOAKV01 ContosoEXOKey1   # roll: a new key version\n  ck " + use + " set Contoso-DEP-1 --refresh             # then use it\n" +
			"  ck " + use + " set Contoso-DEP-1 --purge-request --reason \"Leaving the service\" --contact cso@contoso.com   # after removing the workload's wrap/unwrap rights",
		RunE: func(cmd *cobra.Command, args []string) error {
			var req client.SetDEPRequest
			if purge {
				req.Purge, req.Reason, req.Contact = true, reason, contact
			}
			if cmd.Flags().Changed("enabled") {
				req.Enabled = &enabled
			}
			if cmd.Flags().Changed("description") {
				req.Description = &description
			}
			req.Refresh = refresh
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			d, err := c.SetDEP(cmd.Context(), t, kind, args[0], req)
			return out(a, d, err, a.showDEP)
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

After removing the workload's access to the keys, send --revoked: the DEP
is revoked and the service drops its key from its caches at once instead
of at cache expiry. While revoked, nothing is served with the
availability key (not even in an outage of both vaults); the revocation
clears when a customer key unwraps again (restore access, then check).`,
		Example: "  ck " + use + " health\n  ck " + use + " health Contoso-EXO-DEP-1 --revoked",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			names := args
			if len(args) == 0 {
				ds, err := c.DEPs(cmd.Context(), t, kind)
				if err != nil {
					return err
				}
				for _, d := range ds {
					names = append(names, d.ID)
				}
			}
			all := []client.DEPHealth{}
			for _, name := range names {
				check := c.DEPHealth
				if revoked {
					check = c.SignalRevocation
				}
				h, err := check(cmd.Context(), t, kind, name)
				if err != nil {
					return err
				}
				all = append(all, h)
			}
			return out(a, all, nil, a.showHealth)
		}}
	health.Flags().BoolVar(&revoked, "revoked", false, "signal that access to the keys was removed: evict the DEP key from the service's caches now")
	cmd.AddCommand(newCmd, list, show, set, health)
	if kind == client.MultiWorkloadDEPs {
		cmd.AddCommand(a.mdepAssignCmds(&tenant)...)
	} else {
		cmd.AddCommand(a.purgeCmd(&tenant))
	}
	return cmd
}

func (a *app) showHealth(all []client.DEPHealth) {
	var rows [][]string
	for _, h := range all {
		for i, k := range h.Keys {
			name, state, cause := "", "", ""
			if i == 0 {
				name, state, cause = h.Name, strings.ToUpper(h.State), h.Cause
				if h.Revoked != nil {
					state, cause = "REVOKED", "since "+ts(&h.Revoked.Since)+": "+h.Revoked.Cause
				}
			}
			answer := "ok"
			if !k.OK {
				answer = k.Error
			}
			rows = append(rows, []string{name, state, k.KeyID, answer, cause})
		}
	}
	a.table([]string{"DEP", "STATE", "KEY", "ANSWER", "CAUSE"}, rows)
}

func (a *app) mdepAssignCmds(tenant *string) []*cobra.Command {
	show := func(v client.Assignment) {
		if v.DataEncryptionPolicy == "" {
			a.fields("DataEncryptionPolicy", "(none: service-managed keys)")
			return
		}
		a.fields("DataEncryptionPolicy", v.DataEncryptionPolicy, "DataEncryptionPolicyID", v.DataEncryptionPolicyID, "Assigned", ts(&v.Assigned))
	}
	assign := &cobra.Command{Use: "assign NAME", Short: "Assign a multi-workload DEP to the tenant (Set-M365DataAtRestEncryptionPolicyAssignment); to roll back to service-managed keys, ask the operator (ck operator rollback)", Args: cobra.ExactArgs(1),
		Example: "  ck mdep assign Contoso-M365-DEP-1",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			v, err := c.AssignMDEP(cmd.Context(), t, args[0])
			return out(a, v, err, show)
		}}
	get := &cobra.Command{Use: "assignment", Short: "Show the tenant's multi-workload DEP (Get-M365DataAtRestEncryptionPolicyAssignment)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			v, err := c.MDEPAssignment(cmd.Context(), t)
			return out(a, v, err, show)
		}}
	return []*cobra.Command{assign, get}
}

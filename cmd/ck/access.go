package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) showAccessRequest(r client.AccessRequest) {
	state := r.State
	if r.Expired && (r.State == "Pending" || r.State == "Approved") {
		state += " (expired)"
	}
	a.fields("Id", r.ID, "Action", r.Action, "DEP", r.DEPName+" ("+r.DEP+")", "Target", r.TargetName, "Reason", r.Reason,
		"Requested by", r.RequestedBy, "Requested", ts(&r.Requested), "Expires", ts(&r.Expires), "State", state,
		"Decided by", r.DecidedBy, "Decided", ts(r.Decided), "Used by", r.UsedBy, "Used", ts(r.Used))
}

func (a *app) showAccessRequests(l client.List[client.AccessRequest]) {
	var rows [][]string
	for _, r := range l.Value {
		state := r.State
		if r.Expired && (r.State == "Pending" || r.State == "Approved") {
			state += " (expired)"
		}
		rows = append(rows, []string{r.ID, r.Action, r.DEPName, r.TargetName, state, r.RequestedBy, ts(&r.Expires), r.Reason})
	}
	a.table([]string{"ID", "ACTION", "DEP", "TARGET", "STATE", "REQUESTED BY", "EXPIRES", "REASON"}, rows)
}

// newAccessRequestCmd makes an access request: `ck operator request` (the
// operator asks) and `ck access-request new` (a tenant's global admin
// grants one itself).
func (a *app) newAccessRequestCmd(use string, operator bool) *cobra.Command {
	var tenant, action, dep, to, geo, reason, validFor string
	var keys []string
	short := "Ask a tenant for access: one action on its data, on one DEP or geo and target, until a time (T5); Pending until a global admin of the tenant decides"
	example := `  ck operator request --tenant Contoso --action recover --dep Contoso-EXO-DEP-1 --to Contoso-EXO-DEP-2 --reason "ticket 4711: both keys deleted, asked by cso@contoso.com" --for 4h
  ck operator request --tenant Contoso --action recover-geo --geo NAM --key https://v3.localhost:8443/keys/k3/0123... --key https://v4.localhost:8444/keys/k4/4567... --reason "ticket 4712"
  ck operator request --tenant Contoso --action rollback --dep Contoso-M365-DEP-1 --reason "incident 4713: leaving Customer Key, contact cso@contoso.com"`
	if !operator {
		short = "Make an access request as the tenant's global admin: it is approved as made (T2: e.g. the recovery of a DEP whose keys you lost)"
		example = `  ck access-request new --action recover --dep Contoso-EXO-DEP-1 --to Contoso-EXO-DEP-2 --reason "we deleted both keys of DEP-1" --token-file admin.token`
	}
	cmd := &cobra.Command{Use: use + " --action recover|recover-geo|rollback (--dep DEP [--to DEP] | --geo G --key URI --key URI) --reason R [--for 8h]",
		Short: short, Example: example, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if action == "" || reason == "" || dep == "" && geo == "" {
				return errors.New("--action, --reason and --dep (or --geo) are required")
			}
			if operator && tenant == "" {
				return errors.New("--tenant is required: the tenant asked")
			}
			if geo != "" {
				if dep != "" {
					return errors.New("give --dep or --geo, not both")
				}
				dep = geo
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			r, err := c.NewAccessRequest(cmd.Context(), t, client.NewAccessRequest{Action: action, DEP: dep, To: to, Keys: keys, Reason: reason, ValidFor: validFor})
			if err == nil && r.State == "Pending" && a.output != "json" {
				fmt.Fprintf(a.stderr, "asked; a global admin of the tenant decides: ck access-request approve %s\n", r.ID)
			}
			return out(a, r, err, a.showAccessRequest)
		}}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant (ID or name; default: the tenant of your token)")
	cmd.Flags().StringVar(&action, "action", "", "recover (a mailbox DEP), recover-geo (a geo's site DEP) or rollback (a multi-workload DEP)")
	cmd.Flags().StringVar(&dep, "dep", "", "recover, rollback: the DEP (name or GUID)")
	cmd.Flags().StringVar(&to, "to", "", "recover: the DEP, on new keys, to move the mailboxes to")
	cmd.Flags().StringVar(&geo, "geo", "", "recover-geo: the geo")
	cmd.Flags().StringArrayVar(&keys, "key", nil, "recover-geo: a new key URI with its version; give it twice (primary, secondary)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the tenant to decide: ticket, who asked, what happened")
	cmd.Flags().StringVar(&validFor, "for", "", "how long it may be approved and used, 15m to 168h (default 8h)")
	return cmd
}

func (a *app) accessRequestCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "access-request", Short: "A tenant's access requests: the operator's asks to act on the tenant's data, which its global admin approves or denies (T5)",
		Long: `Like Microsoft's Customer Lockbox: the service operator acts on a tenant's
data (key-loss recovery, rollback) only with the tenant's consent. The
operator asks (ck operator request); a global admin of the tenant lists,
approves or denies; an approved request lets the operator run that one
action, on that DEP or geo and target, once, until it expires. A global
admin may also make a request itself (ck access-request new), approved as
made. Every step is in the tenant's audit log (ck audit list).`}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	var pg *paging
	list := &cobra.Command{Use: "list", Short: "List the tenant's access requests, newest first", Args: cobra.NoArgs,
		Example: "  ck access-request list --token-file admin.token\n" + pageExample("ck access-request list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.AccessRequest], error) {
				return c.AccessRequestsPage(ctx, t, p)
			})
			return out(a, l, err, a.showAccessRequests)
		}}
	pg = pageFlags(list)
	show := &cobra.Command{Use: "show ID", Short: "Show one access request", Args: cobra.ExactArgs(1),
		Example: `  ck access-request show 3f2a... --token-file admin.token`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			r, err := c.AccessRequest(cmd.Context(), t, args[0])
			return out(a, r, err, a.showAccessRequest)
		}}
	decide := func(verb, short, example string, do func(*client.Client, *cobra.Command, string, string) (client.AccessRequest, error)) *cobra.Command {
		return &cobra.Command{Use: verb + " ID", Short: short, Args: cobra.ExactArgs(1),
			Example: example,
			RunE: func(cmd *cobra.Command, args []string) error {
				c, t, err := a.tenantClient(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				r, err := do(c, cmd, t, args[0])
				return out(a, r, err, a.showAccessRequest)
			}}
	}
	approve := decide("approve", "Approve a pending access request (the tenant's global admin): the operator may run that action once, until it expires",
		"  ck access-request approve 3f2a... --token-file admin.token",
		func(c *client.Client, cmd *cobra.Command, t, id string) (client.AccessRequest, error) {
			return c.ApproveAccessRequest(cmd.Context(), t, id)
		})
	deny := decide("deny", "Deny a pending access request (the tenant's global admin)",
		"  ck access-request deny 3f2a... --token-file admin.token",
		func(c *client.Client, cmd *cobra.Command, t, id string) (client.AccessRequest, error) {
			return c.DenyAccessRequest(cmd.Context(), t, id)
		})
	cmd.AddCommand(list, show, approve, deny, a.newAccessRequestCmd("new", false))
	return cmd
}

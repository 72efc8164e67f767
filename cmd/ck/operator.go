package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) operatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "The service operator's actions on a tenant's data, each with an access request the tenant approved (T5)",
		Long: `The operator never acts on a tenant's data on its own word. It asks the
tenant for access (ck operator request), a global admin of the tenant
approves or denies it (ck access-request approve|deny), and the operator's
action then runs with the approved request (--request ID): only that
action, on that DEP or geo and target, once, before the request expires.
Every step is in the tenant's audit log. Reading content is no action a
request grants.`}
	var tenant, to, request, geo, mdep string
	var keys []string
	// started waits for the job an operator action queued, then prints it.
	started := func(cmd *cobra.Command, start func(*client.Client) (client.Job, error)) error {
		c, err := a.service()
		if err != nil {
			return err
		}
		j, err := start(c)
		if err != nil {
			return err
		}
		j, err = a.waitJob(cmd.Context(), c, tenant, j.ID)
		return out(a, j, err, a.showJob)
	}
	recover := &cobra.Command{Use: "recover (DEP --to NEWDEP | --geo G --key URI1 --key URI2) --tenant T --request ID",
		Short: "Key-loss recovery: move every container of a DEP whose two customer keys are lost to new keys, through the availability key (R3)",
		Long: `When a tenant has lost both customer keys of a DEP (deleted and purged, or
otherwise gone), the service can still read the DEP key with its
availability key. With an access request the tenant approved for exactly
this recovery (--request), this moves every container of that DEP to new
keys: only the container keys are re-wrapped, in a background job whose
progress is shown. The request is used up.

Mailbox DEPs: the mailboxes move to another DEP the tenant created on new
keys (--to); the lost DEP is disabled. Sites: the geo's sites move to a new
site DEP on the two new key URIs (--geo, --key twice, each with its
version); the geo is Rolling until done.

Refused while either customer key still answers. The availability key's use
is recorded in the tenant's audit log with the request and its reason.`,
		Example: `  ck operator request --tenant Contoso --action recover --dep Contoso-EXO-DEP-1 --to Contoso-EXO-DEP-2 --reason "ticket 4711, asked by cso@contoso.com"
  ck access-request approve ID --token-file admin.token      # the tenant's global admin
  ck operator recover Contoso-EXO-DEP-1 --to Contoso-EXO-DEP-2 --tenant Contoso --request ID
  ck operator recover --geo NAM --key https://v3.localhost:8443/keys/k3/0123... --key https://v4.localhost:8444/keys/k4/4567... --tenant Contoso --request ID`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" || request == "" {
				return errors.New("--tenant and --request are required: the tenant, and the access request it approved (ck operator request, then ck access-request approve)")
			}
			switch {
			case geo != "" && len(args) == 0 && len(keys) == 2:
				fmt.Fprintf(a.stderr, "recovering the sites of geo %s to new keys...\n", strings.ToUpper(geo))
				return started(cmd, func(c *client.Client) (client.Job, error) {
					return c.RecoverSPODEP(cmd.Context(), tenant, geo, client.RecoverSPODEPRequest{PrimaryKeyURI: keys[0], SecondaryKeyURI: keys[1], Request: request})
				})
			case geo == "" && len(args) == 1 && to != "":
				fmt.Fprintf(a.stderr, "recovering the mailboxes of %s to %s...\n", args[0], to)
				return started(cmd, func(c *client.Client) (client.Job, error) {
					return c.RecoverDEP(cmd.Context(), tenant, args[0], client.RecoverDEPRequest{To: to, Request: request})
				})
			}
			return errors.New("give a mailbox DEP and --to NEWDEP, or --geo G with --key twice (the new primary and secondary key URIs, with versions)")
		}}
	recover.Flags().StringVar(&tenant, "tenant", "", "the tenant (ID or name)")
	recover.Flags().StringVar(&to, "to", "", "mailbox DEPs: the tenant's DEP on new keys")
	recover.Flags().StringVar(&geo, "geo", "", "sites: the geo whose site DEP's keys are lost")
	recover.Flags().StringArrayVar(&keys, "key", nil, "sites: a new key URI with its version; give it twice (primary, secondary)")
	recover.Flags().StringVar(&request, "request", "", "the ID of the access request the tenant approved for this recovery")

	rollback := &cobra.Command{Use: "rollback --mdep NAME --tenant T --request ID",
		Short: "Roll back a tenant from its multi-workload DEP to service-managed keys (R4)",
		Long: `With an access request the tenant approved for this rollback (--request;
its reason names the incident, a contact and the reason for leaving),
unassigns the multi-workload DEP and re-wraps every workload container
under service-managed keys in a background job. The tenant must keep its
vaults and keys, with the workload's permissions, until the job is done:
the containers are opened with the customer keys, never with the
availability key.

Mailboxes roll back without the operator (ck mailbox set ID --dep '');
sites cannot roll back.`,
		Example: `  ck operator request --tenant Contoso --action rollback --dep Contoso-M365-DEP-1 --reason "incident 4713: leaving Customer Key, contact cso@contoso.com"
  ck operator rollback --mdep Contoso-M365-DEP-1 --tenant Contoso --request ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || request == "" || mdep == "" {
				return errors.New("--mdep, --tenant and --request are required: the multi-workload DEP, the tenant, and the access request it approved")
			}
			fmt.Fprintf(a.stderr, "rolling back %s to service-managed keys...\n", mdep)
			return started(cmd, func(c *client.Client) (client.Job, error) {
				return c.RollbackMDEP(cmd.Context(), tenant, mdep, client.RollbackRequest{Request: request})
			})
		}}
	rollback.Flags().StringVar(&tenant, "tenant", "", "the tenant (ID or name)")
	rollback.Flags().StringVar(&mdep, "mdep", "", "the multi-workload DEP")
	rollback.Flags().StringVar(&request, "request", "", "the ID of the access request the tenant approved for this rollback")

	ask := a.newAccessRequestCmd("request", true)
	cmd.AddCommand(ask, recover, rollback)
	return cmd
}

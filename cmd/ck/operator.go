package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/api"
)

func (a *app) operatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "The service operator's lifecycle actions, run on a tenant's request"}
	var tenant, to, reason string
	recover := &cobra.Command{Use: "recover DEP --to NEWDEP --tenant T --reason R", Short: "Key-loss recovery: move every mailbox of a DEP whose two customer keys are lost to a DEP on new keys (R3)",
		Long: `When a tenant has lost both customer keys of a mailbox DEP (deleted and
purged, or otherwise gone), the service can still read the DEP key with its
availability key. On the tenant's request, this moves every mailbox of that
DEP to another DEP the tenant created on new keys: only the mailbox keys are
re-wrapped. The lost DEP is disabled. Refused while either customer key still
answers. The availability key's use is recorded in the tenant's audit log
with the reason.`,
		Example: `  ck operator recover Contoso-EXO-DEP-1 --to Contoso-EXO-DEP-2 --tenant Contoso --reason "ticket 4711, asked by cso@contoso.com"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" || to == "" || reason == "" {
				return errors.New("--tenant, --to and --reason are required: the tenant, the DEP on new keys, and the tenant's request (ticket, who asked)")
			}
			fmt.Fprintf(a.stderr, "recovering the mailboxes of %s to %s...\n", args[0], to)
			return svcCall(cmd.Context(), a, "POST", "/v1/tenants/"+esc(tenant)+"/dataEncryptionPolicies/"+esc(args[0])+"/recover",
				map[string]string{"to": to, "reason": reason}, func(r api.RecoveryResult) {
					fmt.Fprintf(a.stdout, "Moved %d mailboxes from %s (now disabled) to %s.\n", r.Mailboxes, r.From, r.To)
				})
		}}
	recover.Flags().StringVar(&tenant, "tenant", "", "the tenant (ID or name)")
	recover.Flags().StringVar(&to, "to", "", "the tenant's DEP on new keys")
	recover.Flags().StringVar(&reason, "reason", "", "the tenant's request: ticket and who asked")
	cmd.AddCommand(recover)
	return cmd
}

package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// service returns a client of the Customer Key service: with --token (or
// $CK_TOKEN) if given, else the operator's token from the connection file.
func (a *app) service() (*client.Client, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	token := a.token
	if token == "" {
		token = cfg.ServiceToken
	}
	return client.New(client.Config{URL: cfg.ServiceURL, Token: token, CAFile: cfg.CAFile})
}

// out prints v as JSON (-o json) or through show, unless err.
func out[T any](a *app, v T, err error, show func(T)) error {
	if err != nil {
		return err
	}
	if a.output == "json" {
		return a.printJSON(v)
	}
	show(v)
	return nil
}

func (a *app) serviceTenantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Tenants of the Customer Key service and their admins' tokens",
	}
	showTenants := func(ts ...client.Tenant) {
		var rows [][]string
		for _, t := range ts {
			rows = append(rows, []string{t.Name, t.ID, ts0(t)})
		}
		a.table([]string{"NAME", "ID", "CREATED"}, rows)
	}
	var id string
	create := &cobra.Command{
		Use: "create NAME [--id GUID]", Short: "Create a tenant (operator)", Args: cobra.ExactArgs(1),
		Example: `  ck tenant create Contoso
  ck tenant create Contoso --id 7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f   # its directory ID`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(cmd.Context(), client.CreateTenantRequest{Name: args[0], ID: id})
			return out(a, t, err, func(t client.Tenant) { showTenants(t) })
		},
	}
	create.Flags().StringVar(&id, "id", "", "the tenant's directory ID (default: a new GUID)")
	var pg *paging
	list := &cobra.Command{Use: "list", Short: "List tenants (the operator sees all)", Args: cobra.NoArgs,
		Example: pageExample("ck tenant list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, c.TenantsPage)
			return out(a, l, err, func(l client.List[client.Tenant]) { showTenants(l.Value...) })
		}}
	pg = pageFlags(list)
	show := &cobra.Command{Use: "show ID-or-NAME", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			t, err := c.Tenant(cmd.Context(), args[0])
			return out(a, t, err, func(t client.Tenant) { showTenants(t) })
		}}
	var subject, role, validFor, outFile string
	token := &cobra.Command{
		Use: "token TENANT --subject UPN --role ROLE", Short: "Issue an API token for one of a tenant's admins; list and revoke the tenant's tokens",
		Long: `Issues a token for one of a tenant's admins. The tenant's global admin
issues tokens of every role; the operator issues only the tenant's first
global admin's token, while the tenant never had one (T5). That admin
should then issue itself a new token and revoke the first (ck tenant token
revoke), so that no token the operator saw stays in use.

A token lives 7 days unless --valid-for says otherwise (at most 90 days).
"ck tenant token list" shows the tenant's tokens without their secrets;
"ck tenant token revoke ID" revokes one: it is refused from the next
request on.`,
		Args: cobra.ExactArgs(1),
		Example: `  ck tenant token Contoso --subject admin@contoso.com --role global-admin --out admin.token     # the operator: the first global admin
  ck tenant token Contoso --subject exo@contoso.com --role exchange-admin --out exo.token --token-file admin.token
  ck tenant token list --token-file admin.token
  ck tenant token revoke 3f9c0a1b2c3d4e5f --token-file admin.token`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), args[0], client.CreateTokenRequest{Subject: subject, Role: role, ValidFor: validFor})
			if err != nil {
				return err
			}
			if outFile != "" {
				// A new 0600 file, never an existing one's looser mode nor a
				// symbolic link's target.
				if err := writeFileAtomic(outFile, []byte(t.Token+"\n"), 0o600); err != nil {
					return err
				}
				t.Token = "(written to " + outFile + ")"
			}
			if a.output == "json" {
				return a.printJSON(t)
			}
			a.fields("Token", t.Token, "Id", t.ID, "Subject", printable(t.Subject), "Role", t.Role, "Tenant", t.Tenant, "Expires", ts(&t.Expires))
			return nil
		},
	}
	token.Flags().StringVar(&subject, "subject", "", "the admin's UPN")
	token.Flags().StringVar(&role, "role", "global-admin", "global-admin, exchange-admin, sharepoint-admin or compliance-admin")
	token.Flags().StringVar(&validFor, "valid-for", "", "lifetime, 1h to 2160h, e.g. 24h (default 168h: 7 days)")
	token.Flags().StringVar(&outFile, "out", "", "write the token to this file (a new file of mode 0600, replacing any there) instead of printing it")
	showTokens := func(toks ...client.TokenInfo) {
		var rows [][]string
		for _, t := range toks {
			rows = append(rows, []string{t.ID, printable(t.Subject), t.Role, ts0c(t.Created), ts0c(t.Expires), ts(t.Revoked), ts(t.LastUsed)})
		}
		a.table([]string{"ID", "SUBJECT", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LAST USED"}, rows)
	}
	var tokTenant string
	var tpg *paging
	tokList := &cobra.Command{Use: "list [--tenant T]", Short: "List the tenant's tokens, without their secrets (the tenant's global admin)", Args: cobra.NoArgs,
		Example: "  ck tenant token list --token-file admin.token\n" + pageExample("ck tenant token list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tokTenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, tpg, func(ctx context.Context, p client.Page) (client.List[client.TokenInfo], error) {
				return c.TokensPage(ctx, t, p)
			})
			return out(a, l, err, func(l client.List[client.TokenInfo]) { showTokens(l.Value...) })
		}}
	tpg = pageFlags(tokList)
	tokRevoke := &cobra.Command{Use: "revoke ID [--tenant T]", Short: "Revoke one of the tenant's tokens (the tenant's global admin): refused from the next request on", Args: cobra.ExactArgs(1),
		Example: `  ck tenant token revoke 3f9c0a1b2c3d4e5f --token-file admin.token`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tokTenant)
			if err != nil {
				return err
			}
			r, err := c.RevokeToken(cmd.Context(), t, args[0])
			return out(a, r, err, func(r client.TokenInfo) { showTokens(r) })
		}}
	for _, c := range []*cobra.Command{tokList, tokRevoke} {
		c.Flags().StringVar(&tokTenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	}
	token.AddCommand(tokList, tokRevoke)
	token.MarkFlagRequired("subject")
	whoami := &cobra.Command{Use: "whoami", Short: "Show whose token this is", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			m, err := c.Me(cmd.Context())
			return out(a, m, err, func(m client.Me) {
				a.fields("Subject", m.Subject, "Role", m.Role, "Tenant", m.Tenant)
			})
		}}
	cmd.AddCommand(create, list, show, token, whoami, a.plansCmd(), a.licenceCmd())
	return cmd
}

func ts0(t client.Tenant) string { return ts(&t.Created) }

func ts0c(t time.Time) string { return ts(&t) }

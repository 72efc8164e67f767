package main

import (
	"fmt"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// consoleLink is what ck console open prints with -o json.
type consoleLink struct {
	URL     string    `json:"url"`
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
	Issued  bool      `json:"issued" doc:"a short-lived token was issued for the link"`
}

func (a *app) consoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "console", Short: "The web console for tenant admins, served at /console/ on the service's listener"}
	var validFor time.Duration
	var reuse, noBrowser bool
	open := &cobra.Command{
		Use:   "open",
		Short: "Print (and open in a browser) a sign-in link to the web console",
		Long: `Print a sign-in link to the web console of the service in the connection
file, and open it with xdg-open when there is one (never with --no-browser).

The token travels in the link's fragment (#token=...), which a browser
never sends to a server; the console keeps it in the tab's session storage
and calls the service's REST API with it, so the console can do exactly
what the token's role may. A global admin's link carries a new token of the
same subject and role that expires after --valid-for (default 1h, the
shortest the service issues); any other admin's link carries the token
given (--token-file), which expires when it does.`,
		Example: `  ck console open --token-file admin.token
  ck console open --token-file exo.token --no-browser -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.service()
			if err != nil {
				return err
			}
			me, err := c.Me(ctx)
			if err != nil {
				return err
			}
			if me.Tenant == "" {
				return fmt.Errorf("the operator's token opens no console: the console is for tenant admins; give a tenant admin's token (--token-file FILE, from ck tenant token)")
			}
			cfg, _ := a.config()
			link := consoleLink{Subject: me.Subject, Role: me.Role, Expires: me.Expires}
			token := a.token
			if me.Role == "global-admin" && !reuse {
				tok, err := c.CreateToken(ctx, me.Tenant, client.CreateTokenRequest{Subject: me.Subject, Role: me.Role, ValidFor: validFor.String()})
				if err != nil {
					return err
				}
				token, link.Expires, link.Issued = tok.Token, tok.Expires, true
			}
			link.URL = client.ConsoleSignInLink(cfg.ServiceURL, token)
			if a.output == "json" {
				if err := a.printJSON(link); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(a.stdout, link.URL)
				fmt.Fprintf(a.stderr, "Sign-in link for %s (%s), valid until %s. Anyone holding it acts as you until then.\n", me.Subject, me.Role, link.Expires.Local().Format(time.RFC3339))
			}
			if noBrowser {
				return nil
			}
			if xdg, err := exec.LookPath("xdg-open"); err == nil {
				if err := exec.Command(xdg, link.URL).Start(); err != nil {
					fmt.Fprintln(a.stderr, "xdg-open:", err, "(open the link yourself)")
				}
			}
			return nil
		},
	}
	open.Flags().DurationVar(&validFor, "valid-for", time.Hour, "lifetime of the token a global admin's link carries (1h to 2160h)")
	open.Flags().BoolVar(&reuse, "reuse-token", false, "a global admin's link carries the given token instead of a new short-lived one")
	open.Flags().BoolVar(&noBrowser, "no-browser", false, "only print the link")
	cmd.AddCommand(open)
	return cmd
}

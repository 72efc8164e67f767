package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) showSPO(l client.List[client.SPODEP]) {
	var rows [][]string
	for _, v := range l.Value {
		rows = append(rows, []string{v.Geo, v.State, fmt.Sprintf("%.0f%% (%d/%d)", v.PercentComplete, v.Done, v.Sites), v.PrimaryKeyURI, v.SecondaryKeyURI})
	}
	a.table([]string{"GEO", "STATE", "SITES DONE", "PRIMARY KEY", "SECONDARY KEY"}, rows)
}

func (a *app) spoCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "spo", Short: "SharePoint and OneDrive: site DEPs per geo"}
	dep := &cobra.Command{Use: "dep", Short: "Site DEPs (Register-/Get-SPODataEncryptionPolicy)"}
	var tenant, geo string
	var keys [2][3]string
	var wait bool
	dep.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	// waitRegistered polls a geo until it is Registered, showing progress.
	waitRegistered := func(ctx context.Context, c *client.Client, t, geo string) error {
		last := ""
		for {
			l, err := c.SPODEPs(ctx, t, geo)
			if err != nil {
				return err
			}
			if len(l) == 1 {
				v := l[0]
				line := fmt.Sprintf("%s %s: %.0f%% of sites (%d/%d)", v.Geo, v.State, v.PercentComplete, v.Done, v.Sites)
				if line != last {
					fmt.Fprintln(a.stderr, printable(line))
					last = line
				}
				if v.State == "Registered" {
					return nil
				}
			}
			if err := pause(ctx, pollEvery); err != nil {
				return err
			}
		}
	}
	// showGeo waits for the geo if --wait, then shows it.
	showGeo := func(ctx context.Context, c *client.Client, t, geo string) error {
		if wait && geo != "" {
			if err := waitRegistered(ctx, c, t, strings.ToUpper(geo)); err != nil {
				return err
			}
		}
		l, err := c.SPODEPs(ctx, t, geo)
		return out(a, client.List[client.SPODEP]{Value: l}, err, a.showSPO)
	}
	register := &cobra.Command{
		Use:   "register --geo G --primary-vault V --primary-key K --primary-version VER --secondary-vault ... --secondary-key ... --secondary-version ... [--wait]",
		Short: "Register a geo's site DEP; its sites are wrapped in the background (Register-SPODataEncryptionPolicy)",
		Args:  cobra.NoArgs,
		Example: `  ck spo dep register --geo NAM --primary-vault ContosoSPOAKV01 --primary-key ContosoSPOKey1 --primary-version 78deebed173b48e48f55abf87ed4cf71 \
      --secondary-vault ContosoSPOAKV02 --secondary-key ContosoSPOKey2 --secondary-version ... --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			if _, err := c.RegisterSPODEP(cmd.Context(), t, client.RegisterSPODEPRequest{Geo: geo, PrimaryVault: keys[0][0], PrimaryKey: keys[0][1], PrimaryVersion: keys[0][2],
				SecondaryVault: keys[1][0], SecondaryKey: keys[1][1], SecondaryVersion: keys[1][2]}); err != nil {
				return err
			}
			return showGeo(cmd.Context(), c, t, geo)
		},
	}
	f := register.Flags()
	f.StringVar(&geo, "geo", "", "the geo, e.g. NAM")
	for i, side := range []string{"primary", "secondary"} {
		f.StringVar(&keys[i][0], side+"-vault", "", side+" vault name")
		f.StringVar(&keys[i][1], side+"-key", "", side+" key name")
		f.StringVar(&keys[i][2], side+"-version", "", side+" key version (32 hex)")
	}
	f.BoolVar(&wait, "wait", false, "wait until every site of the geo is wrapped, showing progress")
	show := &cobra.Command{Use: "show [--geo G] [--wait]", Short: "Show each geo's keys, state and % of sites done (Get-SPODataEncryptionPolicy)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return showGeo(cmd.Context(), c, t, geo)
		}}
	show.Flags().StringVar(&geo, "geo", "", "one geo")
	show.Flags().BoolVar(&wait, "wait", false, "with --geo: wait until the geo is Registered")
	var keyType, vaultName, keyName, version string
	var purge bool
	update := &cobra.Command{
		Use:   "update --geo G --key-type Primary|Secondary --vault V --key K --version VER [--wait]",
		Short: "Roll a geo's primary or secondary key (Update-SPODataEncryptionPolicy); the geo is Rolling while its sites are re-wrapped",
		Long: `After a new key version in the vault (ck vault key add), or to move to
another key or vault: the geo gets a new site DEP on the new key and the
other, unchanged one; every site of the geo is re-wrapped to it in a
background job (only the site keys). The geo is Rolling, with the % of
sites done, until it is Registered again; one roll per geo at a time.
Sites stay readable throughout.

Purging site DEPs isn't supported (--purge-request is refused).`,
		Example: `  ck vault key add ContosoSPOAKV01 ContosoSPOKey1
  ck spo dep update --geo NAM --key-type Primary --vault ContosoSPOAKV01 --key ContosoSPOKey1 --version 1f2e... --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if geo == "" {
				return fmt.Errorf("--geo is required")
			}
			req := client.UpdateSPODEPRequest{KeyType: keyType, VaultName: vaultName, KeyName: keyName, KeyVersion: version}
			if purge {
				req = client.UpdateSPODEPRequest{PermanentDataPurgeRequested: true}
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			if _, err := c.UpdateSPODEP(cmd.Context(), t, geo, req); err != nil {
				return err
			}
			return showGeo(cmd.Context(), c, t, geo)
		},
	}
	uf := update.Flags()
	uf.StringVar(&geo, "geo", "", "the geo, e.g. NAM")
	uf.StringVar(&keyType, "key-type", "", "Primary or Secondary")
	uf.StringVar(&vaultName, "vault", "", "the new key's vault")
	uf.StringVar(&keyName, "key", "", "the new key's name")
	uf.StringVar(&version, "version", "", "the new key's version (32 hex)")
	uf.BoolVar(&wait, "wait", false, "wait until every site of the geo is re-wrapped, showing progress")
	uf.BoolVar(&purge, "purge-request", false, "request a data purge (not supported for sites: refused)")
	var revoked bool
	health := &cobra.Command{Use: "health --geo G [--revoked]", Short: "Check a geo's site DEPs now: each customer key is asked to unwrap the TIK (R5)", Args: cobra.NoArgs,
		Long: `Asks each customer key of the geo's site DEP (both site DEPs while a roll
runs) to unwrap the TIK now, and shows whether the geo is revoked.

After removing the SharePoint workload's access to the keys, send
--revoked: the site DEPs are revoked and their keys leave the service's
caches at once, instead of at cache expiry. Sites never fall back to the
availability key; the revocation clears when a customer key unwraps again.`,
		Example: "  ck spo dep health --geo NAM\n  ck spo dep health --geo NAM --revoked",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if geo == "" {
				return fmt.Errorf("--geo is required")
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			check := c.SPODEPHealth
			if revoked {
				check = c.SignalSPORevocation
			}
			hs, err := check(cmd.Context(), t, geo)
			return out(a, hs, err, a.showHealth)
		}}
	health.Flags().StringVar(&geo, "geo", "", "the geo, e.g. NAM")
	health.Flags().BoolVar(&revoked, "revoked", false, "signal that access to the keys was removed: revoke the geo's site DEPs now")
	dep.AddCommand(register, show, update, health)
	cmd.AddCommand(dep)
	return cmd
}

func (a *app) siteCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "site", Short: "Sites in geos, and their files"}
	var tenant, geo, data, file, outFile string
	var version int
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	create := &cobra.Command{Use: "create NAME --geo G", Short: "Create a site", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			s, err := c.NewSite(cmd.Context(), t, client.NewSiteRequest{Name: args[0], Geo: geo})
			return out(a, s, err, func(s client.SiteInfo) {
				a.fields("Site", s.Name, "Geo", s.Geo, "Keys", s.Kind)
			})
		}}
	create.Flags().StringVar(&geo, "geo", "NAM", "the site's geo")
	fileCmd := &cobra.Command{Use: "file", Short: "A site's files, with versions"}
	put := &cobra.Command{Use: "put SITE FILE (--data TEXT | --file F)", Short: "Write a new version of a file", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			content, err := contentArg(data, file)
			if err != nil {
				return err
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			info, err := c.PutFile(cmd.Context(), t, args[0], args[1], content)
			return out(a, info, err, func(info client.ItemInfo) {
				a.table([]string{"FILE", "VERSION", "SEALED BYTES"}, [][]string{{info.ID, strconv.FormatUint(uint64(info.Version), 10), strconv.FormatInt(info.Size, 10)}})
			})
		}}
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&file, "file", "", "content from this file")
	get := &cobra.Command{Use: "get SITE FILE [--version N] [--out F]", Short: "Read a file (the latest version by default)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			content, err := c.File(cmd.Context(), t, args[0], args[1], version)
			return a.writeContent(content, err, outFile)
		}}
	get.Flags().IntVar(&version, "version", 0, "a version number (default: the latest)")
	get.Flags().StringVar(&outFile, "out", "", "write the content to this file")
	var pg *paging
	list := &cobra.Command{Use: "list SITE", Short: "List a site's file versions", Args: cobra.ExactArgs(1),
		Example: pageExample("ck site file list finance"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.ItemInfo], error) {
				return c.FilesPage(ctx, t, args[0], p)
			})
			return out(a, l, err, func(l client.List[client.ItemInfo]) {
				var rows [][]string
				for _, f := range l.Value {
					rows = append(rows, []string{f.ID, strconv.FormatUint(uint64(f.Version), 10), strconv.FormatInt(f.Size, 10)})
				}
				a.table([]string{"FILE", "VERSION", "SEALED BYTES"}, rows)
			})
		}}
	pg = pageFlags(list)
	del := a.deleteCmd("delete SITE FILE", "Delete a file with all its versions", &tenant, func(ctx context.Context, c *client.Client, t, site, file string) error {
		return c.DeleteFile(ctx, t, site, file)
	})
	fileCmd.AddCommand(put, get, list, del)
	cmd.AddCommand(create, fileCmd)
	return cmd
}

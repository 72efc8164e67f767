package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type spoView struct {
	Geo             string  `json:"geo"`
	State           string  `json:"state"`
	PercentComplete float64 `json:"percentComplete"`
	PrimaryKeyURI   string  `json:"primaryKeyURI"`
	SecondaryKeyURI string  `json:"secondaryKeyURI"`
	Sites, Done     int
}

func (a *app) showSPO(l struct{ Value []spoView }) {
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
	base := func(ctx context.Context) (string, error) {
		t, err := a.tenantArg(ctx, tenant)
		if err != nil {
			return "", err
		}
		return "/v1/tenants/" + esc(t) + "/spoDataEncryptionPolicies", nil
	}
	// waitRegistered polls a geo until it is Registered, showing progress.
	waitRegistered := func(ctx context.Context, path, geo string) error {
		c, err := a.service()
		if err != nil {
			return err
		}
		last := ""
		for {
			var l struct{ Value []spoView }
			if err := c.Do(ctx, "GET", path+"?geo="+esc(geo), nil, &l); err != nil {
				return err
			}
			if len(l.Value) == 1 {
				v := l.Value[0]
				line := fmt.Sprintf("%s %s: %.0f%% of sites (%d/%d)", v.Geo, v.State, v.PercentComplete, v.Done, v.Sites)
				if line != last {
					fmt.Fprintln(a.stderr, line)
					last = line
				}
				if v.State == "Registered" {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	register := &cobra.Command{
		Use:   "register --geo G --primary-vault V --primary-key K --primary-version VER --secondary-vault ... --secondary-key ... --secondary-version ... [--wait]",
		Short: "Register a geo's site DEP; its sites are wrapped in the background (Register-SPODataEncryptionPolicy)",
		Args:  cobra.NoArgs,
		Example: `  ck spo dep register --geo NAM --primary-vault ContosoSPOAKV01 --primary-key ContosoSPOKey1 --primary-version 78deebed173b48e48f55abf87ed4cf71 \
      --secondary-vault ContosoSPOAKV02 --secondary-key ContosoSPOKey2 --secondary-version ... --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := base(cmd.Context())
			if err != nil {
				return err
			}
			body := map[string]string{"geo": geo, "primaryVaultName": keys[0][0], "primaryKeyName": keys[0][1], "primaryKeyVersion": keys[0][2],
				"secondaryVaultName": keys[1][0], "secondaryKeyName": keys[1][1], "secondaryKeyVersion": keys[1][2]}
			c, err := a.service()
			if err != nil {
				return err
			}
			var v spoView
			if err := c.Do(cmd.Context(), "POST", path, body, &v); err != nil {
				return err
			}
			if wait {
				if err := waitRegistered(cmd.Context(), path, strings.ToUpper(geo)); err != nil {
					return err
				}
			}
			return svcCall(cmd.Context(), a, "GET", path+"?geo="+esc(geo), nil, a.showSPO)
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
			path, err := base(cmd.Context())
			if err != nil {
				return err
			}
			if wait && geo != "" {
				if err := waitRegistered(cmd.Context(), path, strings.ToUpper(geo)); err != nil {
					return err
				}
			}
			q := ""
			if geo != "" {
				q = "?geo=" + esc(geo)
			}
			return svcCall(cmd.Context(), a, "GET", path+q, nil, a.showSPO)
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
			path, err := base(cmd.Context())
			if err != nil {
				return err
			}
			if geo == "" {
				return fmt.Errorf("--geo is required")
			}
			body := map[string]any{"keyType": keyType, "vaultName": vaultName, "keyName": keyName, "keyVersion": version}
			if purge {
				body = map[string]any{"permanentDataPurgeRequested": true}
			}
			c, err := a.service()
			if err != nil {
				return err
			}
			var v spoView
			if err := c.Do(cmd.Context(), "PATCH", path+"/"+esc(geo), body, &v); err != nil {
				return err
			}
			if wait {
				if err := waitRegistered(cmd.Context(), path, strings.ToUpper(geo)); err != nil {
					return err
				}
			}
			return svcCall(cmd.Context(), a, "GET", path+"?geo="+esc(geo), nil, a.showSPO)
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
	dep.AddCommand(register, show, update)
	cmd.AddCommand(dep)
	return cmd
}

func (a *app) siteCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "site", Short: "Sites in geos, and their files"}
	var tenant, geo, data, file, out string
	var version int
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	base := func(ctx context.Context) (string, error) {
		t, err := a.tenantArg(ctx, tenant)
		if err != nil {
			return "", err
		}
		return "/v1/tenants/" + esc(t) + "/sites", nil
	}
	create := &cobra.Command{Use: "create NAME --geo G", Short: "Create a site", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "POST", b, map[string]string{"name": args[0], "geo": geo}, func(s struct{ Name, Geo, Keys string }) {
				a.fields("Site", s.Name, "Geo", s.Geo, "Keys", s.Keys)
			})
		}}
	create.Flags().StringVar(&geo, "geo", "NAM", "the site's geo")
	fileCmd := &cobra.Command{Use: "file", Short: "A site's files, with versions"}
	put := &cobra.Command{Use: "put SITE FILE (--data TEXT | --file F)", Short: "Write a new version of a file", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			info, err := a.putRaw(cmd.Context(), b+"/"+esc(args[0])+"/files/"+esc(args[1]), data, file)
			if err != nil {
				return err
			}
			a.table([]string{"FILE", "VERSION", "SEALED BYTES"}, [][]string{{info.ID, strconv.Itoa(info.Version), strconv.Itoa(info.Size)}})
			return nil
		}}
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&file, "file", "", "content from this file")
	get := &cobra.Command{Use: "get SITE FILE [--version N] [--out F]", Short: "Read a file (the latest version by default)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return a.getRaw(cmd.Context(), b+"/"+esc(args[0])+"/files/"+esc(args[1])+"?version="+strconv.Itoa(version), out)
		}}
	get.Flags().IntVar(&version, "version", 0, "a version number (default: the latest)")
	get.Flags().StringVar(&out, "out", "", "write the content to this file")
	list := &cobra.Command{Use: "list SITE", Short: "List a site's file versions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", b+"/"+esc(args[0])+"/files", nil, func(l struct {
				Value []struct {
					ID            string
					Version, Size int
				}
			}) {
				var rows [][]string
				for _, f := range l.Value {
					rows = append(rows, []string{f.ID, strconv.Itoa(f.Version), strconv.Itoa(f.Size)})
				}
				a.table([]string{"FILE", "VERSION", "SEALED BYTES"}, rows)
			})
		}}
	del := a.deleteCmd("delete SITE FILE", "Delete a file with all its versions", func(ctx context.Context, site, file string) (string, error) {
		b, err := base(ctx)
		return b + "/" + esc(site) + "/files/" + esc(file), err
	})
	fileCmd.AddCommand(put, get, list, del)
	cmd.AddCommand(create, fileCmd)
	return cmd
}

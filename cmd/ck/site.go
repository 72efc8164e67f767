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
	var resume, rng string
	var partSize int64
	var progress bool
	put := &cobra.Command{Use: "put SITE FILE (--data TEXT | --file PATH)", Short: "Write a new version of a file, streamed from disk", Args: cobra.ExactArgs(2),
		Long: `Write a new version of a file. The file is streamed: it is never held in
memory, by the CLI or by the service, whatever its size (up to the service's
limit, 250 GB by default). Its SHA-256 goes with it and the service stores
it only if the bytes it received have it.

A file larger than a part (--part-size, 8 MiB by default) is sent as a
resumable upload, in parts:
a dropped connection costs one part, sent again from where the upload
stands. If the command itself is stopped, the upload is kept for a day: run the same
command with --resume ID (the ID is printed) to send only what is missing.
Progress is shown on stderr when it is a terminal (or with --progress).`,
		Example: `  ck site file put finance deck.pptx --file ./deck.pptx
  ck site file put finance video.mp4 --file ./video.mp4 --part-size 33554432
  ck site file put finance video.mp4 --file ./video.mp4 --resume 5f0c...e1
  tar c ./reports | ck site file put finance reports.tar --file -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data != "" && file != "" || data == "" && file == "" {
				return fmt.Errorf("give --file PATH (- for stdin) or --data TEXT")
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			var info client.ItemInfo
			if data != "" {
				info, err = c.PutFile(cmd.Context(), t, args[0], args[1], []byte(data))
			} else {
				info, err = a.putFile(cmd.Context(), c, t, args[0], args[1], file, resume, partSize, progress)
			}
			return out(a, info, err, func(info client.ItemInfo) {
				a.table([]string{"FILE", "VERSION", "SIZE"}, [][]string{{info.ID, strconv.FormatUint(uint64(info.Version), 10), strconv.FormatInt(info.Size, 10)}})
			})
		}}
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&file, "file", "", "content from this file (- for stdin)")
	put.Flags().StringVar(&resume, "resume", "", "go on with the upload of this ID (printed when one stops)")
	put.Flags().Int64Var(&partSize, "part-size", 8<<20, "bytes per part of a resumable upload (a multiple of 65536)")
	transferFlags(put, &progress)
	get := &cobra.Command{Use: "get SITE FILE [--version N] [--range FIRST-LAST] [--out PATH]", Short: "Read a file (the latest version by default), streamed", Args: cobra.ExactArgs(2),
		Long: `Read a file, streamed to stdout or to --out PATH. A whole file is checked
against the SHA-256 the service sealed with it; with --out it appears at
PATH only once checked. --range reads only some bytes (the service opens
only the chunks that hold them).`,
		Example: `  ck site file get finance deck.pptx --out ./deck.pptx
  ck site file get finance deck.pptx --version 2 --out ./deck-v2.pptx
  ck site file get finance video.mp4 --range 0-1048575 --out ./head.bin
  ck site file get finance log.txt --range -4096`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRange(rng)
			if err != nil {
				return err
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return a.getFile(cmd.Context(), c, t, args[0], args[1], version, r, outFile, progress)
		}}
	get.Flags().IntVar(&version, "version", 0, "a version number (default: the latest)")
	get.Flags().StringVar(&outFile, "out", "", "write the content to this file")
	get.Flags().StringVar(&rng, "range", "", "only these bytes: FIRST-LAST, FIRST- or -COUNT")
	transferFlags(get, &progress)
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
				a.table([]string{"FILE", "VERSION", "SIZE"}, rows)
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

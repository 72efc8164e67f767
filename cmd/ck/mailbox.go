package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) showStats(s client.Statistics) {
	pairs := []string{"Identity", s.Identity, "Kind", s.Kind, "IsEncrypted", strconv.FormatBool(s.IsEncrypted),
		"DataEncryptionPolicyID", s.DataEncryptionPolicyID, "ItemCount", strconv.Itoa(s.ItemCount)}
	if s.Pending != "" {
		pairs = append(pairs, "Pending", "re-wrapping under DEP "+s.Pending)
	}
	a.fields(pairs...)
}

// mailboxCmd is `ck mailbox`, or `ck mailuser` for mail users.
func (a *app) mailboxCmd(use, kind string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: "Mailboxes (" + kind + "): their DEP, statistics and items"}
	var tenant, dep string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	create := &cobra.Command{Use: "create UPN [--dep NAME]", Short: "Create a " + kind + " on a DEP, or on service-managed keys", Args: cobra.ExactArgs(1),
		Long: `Creates the mailbox. On a customer DEP (--dep), its user needs a licence
that includes Customer Key (ck tenant licence TENANT UPN --plan E5).`,
		Example: "  ck tenant licence Contoso alice@contoso.com --plan E5\n  ck " + use + " create alice@contoso.com --dep Contoso-EXO-DEP-1",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			st, err := c.NewMailbox(cmd.Context(), t, client.NewMailboxRequest{ID: args[0], Kind: kind, DataEncryptionPolicy: dep})
			return out(a, st, err, a.showStats)
		}}
	create.Flags().StringVar(&dep, "dep", "", "a mailbox DEP (default: service-managed keys)")
	var noWait bool
	set := &cobra.Command{Use: "set UPN --dep NAME [--no-wait]", Short: "Assign a DEP (Set-Mailbox / Set-MailUser -DataEncryptionPolicy); --dep '' for service-managed keys", Args: cobra.ExactArgs(1),
		Long: `Assigns the DEP; the mailbox key is re-wrapped under it in the background
(only the key: the content is not touched), and Get-MailboxStatistics shows
the new DEP once that is done. Waits for it with a progress line unless
--no-wait; then ck job list, or ck mailbox stats, tell when it is done.`,
		Example: "  ck " + use + " set alice@contoso.com --dep Contoso-EXO-DEP-1\n  ck " + use + " set alice@contoso.com --dep ''   # back to service-managed keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("dep") {
				return fmt.Errorf("give --dep NAME, or --dep '' for service-managed keys")
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			res, err := c.SetMailbox(cmd.Context(), t, args[0], dep)
			if err != nil {
				return err
			}
			if noWait {
				return out(a, res, nil, func(res client.SetMailboxResult) {
					a.showStats(res.Statistics)
					if res.Job != nil {
						printf(a.stdout, "Re-wrap under the new DEP queued: ck job show %s --wait\n", res.Job.ID)
					}
				})
			}
			if res.Job != nil {
				if err := a.waitReassigned(cmd.Context(), c, t, args[0], res.Job.ID); err != nil {
					return err
				}
			}
			st, err := c.MailboxStatistics(cmd.Context(), t, args[0])
			return out(a, st, err, a.showStats)
		}}
	set.Flags().StringVar(&dep, "dep", "", "a mailbox DEP's name or GUID; '' for none")
	set.Flags().BoolVar(&noWait, "no-wait", false, "return once the re-wrap is queued")
	stats := &cobra.Command{Use: "stats UPN", Short: "IsEncrypted and DataEncryptionPolicyID (Get-MailboxStatistics)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			st, err := c.MailboxStatistics(cmd.Context(), t, args[0])
			return out(a, st, err, a.showStats)
		}}
	cmd.AddCommand(create, set, stats, a.itemCmd(&tenant))
	return cmd
}

// waitReassigned polls a mailbox until its assignment is no longer
// pending, showing the progress of the job that re-wraps it.
func (a *app) waitReassigned(ctx context.Context, c *client.Client, tenant, mailbox, job string) error {
	last := ""
	for {
		st, err := c.MailboxStatistics(ctx, tenant, mailbox)
		if err != nil {
			return err
		}
		if st.Pending == "" {
			return nil
		}
		j, err := c.Job(ctx, tenant, job)
		if err != nil {
			return err
		}
		if j.State == client.JobFailed {
			return fmt.Errorf("the re-wrap job %s failed: %s", j.ID, j.Error)
		}
		line := fmt.Sprintf("re-wrapping %s under DEP %s: %s, %d of %d mailboxes done", st.Identity, st.Pending, j.State, j.Done, j.Total)
		if j.Error != "" {
			line += " (retrying after: " + j.Error + ")"
		}
		if line != last {
			fmt.Fprintln(a.stderr, printable(line))
			last = line
		}
		if err := pause(ctx, pollEvery/2); err != nil {
			return err
		}
	}
}

func (a *app) showItems(l client.List[client.ItemInfo]) {
	var rows [][]string
	for _, it := range l.Value {
		rows = append(rows, []string{it.ID, it.Kind, strconv.FormatUint(uint64(it.Version), 10), strconv.FormatInt(it.Size, 10)})
	}
	a.table([]string{"ITEM", "KIND", "VERSION", "SIZE"}, rows)
}

func (a *app) itemCmd(tenant *string) *cobra.Command {
	cmd := &cobra.Command{Use: "item", Short: "A mailbox's items: sealed on write, opened through the tenant's keys on read"}
	var file, data, kind, outFile string
	put := &cobra.Command{Use: "put UPN ITEM (--file F | --data TEXT) [--kind message|attachment|calendar]", Short: "Write an item (a new version)", Args: cobra.ExactArgs(2),
		Example: `  ck mailbox item put alice@contoso.com msg-1 --data "Quarterly numbers"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			content, err := contentArg(data, file)
			if err != nil {
				return err
			}
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			info, err := c.PutItem(cmd.Context(), t, args[0], args[1], kind, content)
			return out(a, info, err, func(info client.ItemInfo) { a.showItems(client.List[client.ItemInfo]{Value: []client.ItemInfo{info}}) })
		}}
	put.Flags().StringVar(&file, "file", "", "content from this file")
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&kind, "kind", "message", "message, attachment or calendar")
	get := &cobra.Command{Use: "get UPN ITEM [--out F]", Short: "Read an item (to stdout, or --out)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			f, err := c.OpenItem(cmd.Context(), t, args[0], args[1])
			return a.download(f, err, nil, outFile, false)
		}}
	get.Flags().StringVar(&outFile, "out", "", "write the content to this file")
	var pg, spg *paging
	list := &cobra.Command{Use: "list UPN", Short: "List a mailbox's items (no content), by ID", Args: cobra.ExactArgs(1),
		Example: pageExample("ck mailbox item list alice@contoso.com"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.ItemInfo], error) {
				return c.ItemsPage(ctx, t, args[0], p)
			})
			return out(a, l, err, a.showItems)
		}}
	pg = pageFlags(list)
	search := &cobra.Command{Use: "search UPN WORD", Short: "The IDs of a mailbox's items that hold a word (any case), by ID, from the service-built index", Args: cobra.ExactArgs(2),
		Example: "  ck mailbox item search alice@contoso.com quarterly\n" + pageExample("ck mailbox item search alice@contoso.com board"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, spg, func(ctx context.Context, p client.Page) (client.List[string], error) {
				return c.SearchPage(ctx, t, args[0], args[1], p)
			})
			return out(a, l, err, func(l client.SearchResult) {
				for _, id := range l.Value {
					printf(a.stdout, "%s\n", id)
				}
			})
		}}
	spg = pageFlags(search)
	reindex := &cobra.Command{Use: "reindex UPN", Short: "Rebuild a mailbox's search index (service-initiated: it may use the availability key)", Args: cobra.ExactArgs(1),
		Example: "  ck mailbox item reindex alice@contoso.com",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			r, err := c.Reindex(cmd.Context(), t, args[0])
			return out(a, r, err, func(r client.ReindexResult) {
				printf(a.stdout, "indexed %d items, %d words\n", r.Indexed, r.Words)
			})
		}}
	del := a.deleteCmd("delete UPN ITEM", "Delete an item", tenant, func(ctx context.Context, c *client.Client, t, mailbox, item string) error {
		return c.DeleteItem(ctx, t, mailbox, item)
	})
	cmd.AddCommand(put, get, list, search, reindex, del)
	return cmd
}

// contentArg is the content of --data or --file.
func contentArg(data, file string) ([]byte, error) {
	if data != "" && file != "" {
		return nil, fmt.Errorf("give --file or --data, not both")
	}
	if file != "" {
		return os.ReadFile(file)
	}
	return []byte(data), nil
}

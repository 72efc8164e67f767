package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) recordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Multi-workload records: sealed under the tenant's multi-workload DEP (or service-managed keys)"}
	var tenant, data, file, outFile string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	put := &cobra.Command{Use: "put WORKLOAD RECORD (--data TEXT | --file F)", Short: "Write a record (a new version)", Args: cobra.ExactArgs(2),
		Example: `  ck record put teams chat-1 --data "Launch on Monday"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			content, err := contentArg(data, file)
			if err != nil {
				return err
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			info, err := c.PutRecord(cmd.Context(), t, args[0], args[1], content)
			return out(a, info, err, func(info client.RecordInfo) {
				a.table([]string{"WORKLOAD", "RECORD", "VERSION", "SIZE"}, [][]string{{args[0], info.ID, strconv.FormatUint(uint64(info.Version), 10), strconv.FormatInt(info.Size, 10)}})
			})
		}}
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&file, "file", "", "content from this file")
	get := &cobra.Command{Use: "get WORKLOAD RECORD [--out F]", Short: "Read a record", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			f, err := c.OpenRecord(cmd.Context(), t, args[0], args[1])
			return a.download(f, err, nil, outFile, false)
		}}
	get.Flags().StringVar(&outFile, "out", "", "write the content to this file")
	var pg *paging
	list := &cobra.Command{Use: "list WORKLOAD", Short: "List a workload's records (no content)", Args: cobra.ExactArgs(1),
		Example: pageExample("ck record list teams"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.RecordInfo], error) {
				return c.RecordsPage(ctx, t, args[0], p)
			})
			return out(a, l, err, func(l client.List[client.RecordInfo]) {
				var rows [][]string
				for _, r := range l.Value {
					rows = append(rows, []string{r.ID, strconv.FormatUint(uint64(r.Version), 10), strconv.FormatInt(r.Size, 10)})
				}
				a.table([]string{"RECORD", "VERSION", "SIZE"}, rows)
			})
		}}
	pg = pageFlags(list)
	del := a.deleteCmd("delete WORKLOAD RECORD", "Delete a record", &tenant, func(ctx context.Context, c *client.Client, t, workload, record string) error {
		return c.DeleteRecord(ctx, t, workload, record)
	})
	cmd.AddCommand(put, get, list, del)
	return cmd
}

// deleteCmd is the delete command of a container's contents (items,
// files, records): del deletes NAME from CONTAINER of tenant t.
func (a *app) deleteCmd(use, short string, tenant *string, del func(ctx context.Context, c *client.Client, t, container, name string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			if err := del(cmd.Context(), c, t, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted %s from %s.\n", args[1], args[0])
			return nil
		}}
}

package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func (a *app) recordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Multi-workload records: sealed under the tenant's multi-workload DEP (or service-managed keys)"}
	var tenant, data, file, out string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	path := func(ctx context.Context, workload, record string) (string, error) {
		t, err := a.tenantArg(ctx, tenant)
		if err != nil {
			return "", err
		}
		p := "/v1/tenants/" + esc(t) + "/records/" + esc(workload)
		if record != "" {
			p += "/" + esc(record)
		}
		return p, nil
	}
	put := &cobra.Command{Use: "put WORKLOAD RECORD (--data TEXT | --file F)", Short: "Write a record (a new version)", Args: cobra.ExactArgs(2),
		Example: `  ck record put teams chat-1 --data "Launch on Monday"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			info, err := a.putRaw(cmd.Context(), p, data, file)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(info)
			}
			a.table([]string{"WORKLOAD", "RECORD", "VERSION", "SEALED BYTES"}, [][]string{{args[0], info.ID, strconv.Itoa(info.Version), strconv.Itoa(info.Size)}})
			return nil
		}}
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&file, "file", "", "content from this file")
	get := &cobra.Command{Use: "get WORKLOAD RECORD [--out F]", Short: "Read a record", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.getRaw(cmd.Context(), p, out)
		}}
	get.Flags().StringVar(&out, "out", "", "write the content to this file")
	list := &cobra.Command{Use: "list WORKLOAD", Short: "List a workload's records (no content)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), args[0], "")
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", p, nil, func(l struct {
				Value []struct {
					ID            string
					Version, Size int
				}
			}) {
				var rows [][]string
				for _, r := range l.Value {
					rows = append(rows, []string{r.ID, strconv.Itoa(r.Version), strconv.Itoa(r.Size)})
				}
				a.table([]string{"RECORD", "VERSION", "SEALED BYTES"}, rows)
			})
		}}
	del := a.deleteCmd("delete WORKLOAD RECORD", "Delete a record", path)
	cmd.AddCommand(put, get, list, del)
	return cmd
}

// deleteCmd is the delete command of a container's contents (items,
// files, records): path gives the API path of NAME in CONTAINER.
func (a *app) deleteCmd(use, short string, path func(ctx context.Context, container, name string) (string, error)) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			c, err := a.service()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "DELETE", p, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted %s from %s.\n", args[1], args[0])
			return nil
		}}
}

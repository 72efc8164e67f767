package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/api"
)

type statsView struct {
	Identity               string `json:"identity"`
	Kind                   string `json:"kind"`
	IsEncrypted            bool   `json:"isEncrypted"`
	DataEncryptionPolicyID string `json:"dataEncryptionPolicyID"`
	Pending                string `json:"pendingDataEncryptionPolicyID"`
	ItemCount              int    `json:"itemCount"`
}

func (a *app) showStats(s statsView) {
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
	base := func(ctx context.Context) (string, error) {
		t, err := a.tenantArg(ctx, tenant)
		if err != nil {
			return "", err
		}
		return "/v1/tenants/" + esc(t) + "/mailboxes", nil
	}
	create := &cobra.Command{Use: "create UPN [--dep NAME]", Short: "Create a " + kind + " on a DEP, or on service-managed keys", Args: cobra.ExactArgs(1),
		Example: "  ck " + use + " create alice@contoso.com --dep Contoso-EXO-DEP-1",
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "POST", b, map[string]string{"id": args[0], "kind": kind, "dataEncryptionPolicy": dep}, a.showStats)
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
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			c, err := a.service()
			if err != nil {
				return err
			}
			var res struct{ Job *api.Job }
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "PATCH", b+"/"+esc(args[0]), map[string]string{"dataEncryptionPolicy": dep}, &raw); err != nil {
				return err
			}
			json.Unmarshal(raw, &res)
			if res.Job != nil && !noWait {
				t, err := a.tenantArg(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				if err := a.waitReassigned(cmd.Context(), b+"/"+esc(args[0]), "/v1/tenants/"+esc(t)+"/jobs/"+esc(res.Job.ID)); err != nil {
					return err
				}
			}
			if noWait {
				if a.output == "json" {
					return a.printJSON(raw)
				}
				var st statsView
				json.Unmarshal(raw, &st)
				a.showStats(st)
				if res.Job != nil {
					fmt.Fprintf(a.stdout, "Re-wrap under the new DEP queued: ck job show %s --wait\n", res.Job.ID)
				}
				return nil
			}
			return svcCall(cmd.Context(), a, "GET", b+"/"+esc(args[0])+"/statistics", nil, a.showStats)
		}}
	set.Flags().StringVar(&dep, "dep", "", "a mailbox DEP's name or GUID; '' for none")
	set.Flags().BoolVar(&noWait, "no-wait", false, "return once the re-wrap is queued")
	stats := &cobra.Command{Use: "stats UPN", Short: "IsEncrypted and DataEncryptionPolicyID (Get-MailboxStatistics)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", b+"/"+esc(args[0])+"/statistics", nil, a.showStats)
		}}
	cmd.AddCommand(create, set, stats, a.itemCmd(base))
	return cmd
}

// waitReassigned polls a mailbox until its assignment is no longer
// pending, showing the progress of the job that re-wraps it.
func (a *app) waitReassigned(ctx context.Context, mailbox, jobPath string) error {
	c, err := a.service()
	if err != nil {
		return err
	}
	last := ""
	for {
		var st api.Statistics
		if err := c.Do(ctx, "GET", mailbox+"/statistics", nil, &st); err != nil {
			return err
		}
		if st.Pending == "" {
			return nil
		}
		var j api.Job
		if err := c.Do(ctx, "GET", jobPath, nil, &j); err != nil {
			return err
		}
		if j.State == "failed" {
			return fmt.Errorf("the re-wrap job %s failed: %s", j.ID, j.Error)
		}
		line := fmt.Sprintf("re-wrapping %s under DEP %s: %s, %d of %d mailboxes done", st.Identity, st.Pending, j.State, j.Done, j.Total)
		if j.Error != "" {
			line += " (retrying after: " + j.Error + ")"
		}
		if line != last {
			fmt.Fprintln(a.stderr, line)
			last = line
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (a *app) itemCmd(base func(context.Context) (string, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "item", Short: "A mailbox's items: sealed on write, opened through the tenant's keys on read"}
	var file, data, kind, out string
	put := &cobra.Command{Use: "put UPN ITEM (--file F | --data TEXT) [--kind message|attachment|calendar]", Short: "Write an item (a new version)", Args: cobra.ExactArgs(2),
		Example: `  ck mailbox item put alice@contoso.com msg-1 --data "Quarterly numbers"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			info, err := a.putRaw(cmd.Context(), b+"/"+esc(args[0])+"/items/"+esc(args[1])+"?kind="+url.QueryEscape(kind), data, file)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(info)
			}
			a.table([]string{"ITEM", "KIND", "VERSION", "SEALED BYTES"}, [][]string{{info.ID, info.Kind, strconv.Itoa(info.Version), strconv.Itoa(info.Size)}})
			return nil
		}}
	put.Flags().StringVar(&file, "file", "", "content from this file")
	put.Flags().StringVar(&data, "data", "", "content given inline")
	put.Flags().StringVar(&kind, "kind", "message", "message, attachment or calendar")
	get := &cobra.Command{Use: "get UPN ITEM [--out F]", Short: "Read an item (to stdout, or --out)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return a.getRaw(cmd.Context(), b+"/"+esc(args[0])+"/items/"+esc(args[1]), out)
		}}
	get.Flags().StringVar(&out, "out", "", "write the content to this file")
	list := &cobra.Command{Use: "list UPN", Short: "List a mailbox's items (no content)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := base(cmd.Context())
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", b+"/"+esc(args[0])+"/items", nil, func(l struct {
				Value []struct {
					ID, Kind      string
					Version, Size int
				}
			}) {
				var rows [][]string
				for _, it := range l.Value {
					rows = append(rows, []string{it.ID, it.Kind, strconv.Itoa(it.Version), strconv.Itoa(it.Size)})
				}
				a.table([]string{"ITEM", "KIND", "VERSION", "SEALED BYTES"}, rows)
			})
		}}
	del := a.deleteCmd("delete UPN ITEM", "Delete an item", func(ctx context.Context, mailbox, item string) (string, error) {
		b, err := base(ctx)
		return b + "/" + esc(mailbox) + "/items/" + esc(item), err
	})
	cmd.AddCommand(put, get, list, del)
	return cmd
}

// rawInfo is the answer to a raw write (item, record or file version).
type rawInfo struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	Size    int    `json:"size"`
}

// putRaw writes --data or --file content to path.
func (a *app) putRaw(ctx context.Context, path, data, file string) (rawInfo, error) {
	var info rawInfo
	if data != "" && file != "" {
		return info, fmt.Errorf("give --file or --data, not both")
	}
	body := []byte(data)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return info, err
		}
		body = b
	}
	c, err := a.service()
	if err != nil {
		return info, err
	}
	return info, c.DoRaw(ctx, "PUT", path, body, &info)
}

// getRaw reads content from path to stdout, or to out.
func (a *app) getRaw(ctx context.Context, path, out string) error {
	c, err := a.service()
	if err != nil {
		return err
	}
	content, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	if out != "" {
		return os.WriteFile(out, content, 0o600)
	}
	_, err = a.stdout.Write(content)
	return err
}

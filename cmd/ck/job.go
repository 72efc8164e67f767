package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// pollEvery is how often the waiting commands ask again.
const pollEvery = 200 * time.Millisecond

// pause waits d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (a *app) showJobs(l client.List[client.Job]) {
	var rows [][]string
	for _, j := range l.Value {
		rows = append(rows, []string{j.ID, j.Kind, j.Target, j.State, fmt.Sprintf("%.0f%% (%d/%d)", j.PercentComplete, j.Done, j.Total), strconv.Itoa(j.Attempts), j.Error})
	}
	a.table([]string{"ID", "KIND", "TARGET", "STATE", "PROGRESS", "ATTEMPTS", "ERROR"}, rows)
}

func (a *app) showJob(j client.Job) { a.showJobs(client.List[client.Job]{Value: []client.Job{j}}) }

// waitJob waits until a job succeeds (nil) or fails (its error), printing
// its progress to stderr as it changes.
func (a *app) waitJob(ctx context.Context, c *client.Client, tenant, id string) (client.Job, error) {
	last := ""
	return c.WaitJob(ctx, tenant, id, func(j client.Job) {
		line := fmt.Sprintf("%s %s: %s %.0f%% (%d/%d)", j.Kind, j.Target, j.State, j.PercentComplete, j.Done, j.Total)
		if j.Error != "" {
			line += " (retrying after: " + j.Error + ")"
		}
		if line != last {
			fmt.Fprintln(a.stderr, printable(line))
			last = line
		}
	})
}

func (a *app) jobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Background jobs: re-wraps, rolls, recoveries, rollbacks and purges, with progress",
		Long: `Long operations run as durable jobs: stored in the service's database,
leased by one service process at a time, and resumed by another (or by the
same one after a restart) if that process dies.`}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	var pg *paging
	list := &cobra.Command{Use: "list", Short: "List the tenant's jobs, newest first", Args: cobra.NoArgs,
		Example: pageExample("ck job list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.Job], error) {
				return c.JobsPage(ctx, t, p)
			})
			return out(a, l, err, a.showJobs)
		}}
	pg = pageFlags(list)
	var wait bool
	show := &cobra.Command{Use: "show ID [--wait]", Short: "Show a job and its progress", Args: cobra.ExactArgs(1),
		Example: "  ck job show 6f1c... --wait",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			if wait {
				if _, err := a.waitJob(cmd.Context(), c, t, args[0]); err != nil {
					return err
				}
			}
			j, err := c.Job(cmd.Context(), t, args[0])
			return out(a, j, err, a.showJob)
		}}
	show.Flags().BoolVar(&wait, "wait", false, "wait until the job is done, showing progress")
	cmd.AddCommand(list, show)
	return cmd
}

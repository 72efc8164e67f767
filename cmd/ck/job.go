package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/api"
)

func (a *app) showJobs(js ...api.Job) {
	var rows [][]string
	for _, j := range js {
		rows = append(rows, []string{j.ID, j.Kind, j.Target, j.State, fmt.Sprintf("%.0f%% (%d/%d)", j.PercentComplete, j.Done, j.Total), strconv.Itoa(j.Attempts), j.Error})
	}
	a.table([]string{"ID", "KIND", "TARGET", "STATE", "PROGRESS", "ATTEMPTS", "ERROR"}, rows)
}

// waitJob polls a job until it succeeds (nil) or fails (its error),
// printing its progress to stderr as it changes.
func (a *app) waitJob(ctx context.Context, tenant, id string) (api.Job, error) {
	c, err := a.service()
	if err != nil {
		return api.Job{}, err
	}
	last := ""
	for {
		var j api.Job
		if err := c.Do(ctx, "GET", "/v1/tenants/"+esc(tenant)+"/jobs/"+esc(id), nil, &j); err != nil {
			return j, err
		}
		line := fmt.Sprintf("%s %s: %s %.0f%% (%d/%d)", j.Kind, j.Target, j.State, j.PercentComplete, j.Done, j.Total)
		if j.Error != "" {
			line += " (retrying after: " + j.Error + ")"
		}
		if line != last {
			fmt.Fprintln(a.stderr, line)
			last = line
		}
		switch j.State {
		case "succeeded":
			return j, nil
		case "failed":
			return j, fmt.Errorf("job %s failed: %s", j.ID, j.Error)
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (a *app) jobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Background jobs: re-wraps, rolls, recoveries, rollbacks and purges, with progress",
		Long: `Long operations run as durable jobs: stored in the service's database,
leased by one service process at a time, and resumed by another (or by the
same one after a restart) if that process dies.`}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	list := &cobra.Command{Use: "list", Short: "List the tenant's jobs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.tenantArg(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return svcCall(cmd.Context(), a, "GET", "/v1/tenants/"+esc(t)+"/jobs", nil, func(l struct{ Value []api.Job }) { a.showJobs(l.Value...) })
		}}
	var wait bool
	show := &cobra.Command{Use: "show ID [--wait]", Short: "Show a job and its progress", Args: cobra.ExactArgs(1),
		Example: "  ck job show 6f1c... --wait",
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.tenantArg(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			if wait {
				if _, err := a.waitJob(cmd.Context(), t, args[0]); err != nil {
					return err
				}
			}
			return svcCall(cmd.Context(), a, "GET", "/v1/tenants/"+esc(t)+"/jobs/"+esc(args[0]), nil, func(j api.Job) { a.showJobs(j) })
		}}
	show.Flags().BoolVar(&wait, "wait", false, "wait until the job is done, showing progress")
	cmd.AddCommand(list, show)
	return cmd
}

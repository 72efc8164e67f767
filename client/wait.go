package client

import (
	"context"
	"fmt"
	"time"
)

// pollEvery is how often the waiting calls ask again.
const pollEvery = 200 * time.Millisecond

// JobError is the error of a job that failed for good.
type JobError struct{ Job Job }

func (e *JobError) Error() string { return fmt.Sprintf("job %s failed: %s", e.Job.ID, e.Job.Error) }

// WaitJob polls a job until it succeeds (nil) or fails (a *JobError), or
// ctx is done. progress, if not nil, sees the job each time it is read.
func (c *Client) WaitJob(ctx context.Context, tenant, id string, progress func(Job)) (Job, error) {
	for {
		j, err := c.Job(ctx, tenant, id)
		if err != nil {
			return j, err
		}
		if progress != nil {
			progress(j)
		}
		switch j.State {
		case JobSucceeded:
			return j, nil
		case JobFailed:
			return j, &JobError{Job: j}
		}
		if err := sleep(ctx); err != nil {
			return j, err
		}
	}
}

// AuditLog reads a tenant's whole audit log, page by page; progress, if
// not nil, sees the number of records read after each page.
func (c *Client) AuditLog(ctx context.Context, tenant string, progress func(n int)) ([]AuditRecord, error) {
	var all []AuditRecord
	p := Page{PageSize: MaxPageSize}
	for {
		page, err := c.Audit(ctx, tenant, p)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		if progress != nil {
			progress(len(all))
		}
		if page.NextCursor == "" {
			return all, nil
		}
		p.Cursor = page.NextCursor
	}
}

func sleep(ctx context.Context) error {
	t := time.NewTimer(pollEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package api

import (
	"context"

	"github.com/customerkey/customerkey/client"

	"github.com/customerkey/customerkey/internal/store"
)

func jobJSON(j store.Job) client.Job {
	out := client.Job{ID: j.ID, Kind: j.Kind, Target: j.Target, State: j.State, Done: j.Done, Total: j.Total, Attempts: j.Attempts, Error: j.Error, Created: j.Created, Updated: j.Updated}
	switch {
	case j.State == store.JobSucceeded:
		out.PercentComplete = 100
	case j.Total > 0:
		out.PercentComplete = float64(j.Done) * 100 / float64(j.Total)
	}
	return out
}

func jobOut(j store.Job, err error) (*body[client.Job], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.Job]{jobJSON(j)}, nil
}

func (s *Server) listJobs(ctx context.Context, in *struct {
	TenantPath
	PageQuery
}) (*body[client.List[client.Job]], error) {
	return paged(in.PageQuery, "jobs", func(before store.PageKey, limit int) ([]store.Job, error) {
		return s.life.Jobs(ctx, tenantOf(ctx), before, limit)
	}, func(j store.Job) store.PageKey { return store.PageKey{Time: j.Created, ID: j.ID} }, jobJSON)
}

func (s *Server) getJob(ctx context.Context, in *struct {
	TenantPath
	Job string `path:"job"`
}) (*body[client.Job], error) {
	return jobOut(s.life.Job(ctx, tenantOf(ctx), in.Job))
}

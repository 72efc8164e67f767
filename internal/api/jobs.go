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
	Limit int `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many (default 100)"`
}) (*body[client.List[client.Job]], error) {
	js, err := s.life.Jobs(ctx, tenantOf(ctx), in.Limit)
	if err != nil {
		return nil, err
	}
	out := client.List[client.Job]{Value: []client.Job{}}
	for _, j := range js {
		out.Value = append(out.Value, jobJSON(j))
	}
	return &body[client.List[client.Job]]{out}, nil
}

func (s *Server) getJob(ctx context.Context, in *struct {
	TenantPath
	Job string `path:"job"`
}) (*body[client.Job], error) {
	return jobOut(s.life.Job(ctx, tenantOf(ctx), in.Job))
}

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Kinds of background job. Each handler is idempotent: it works out what
// is left from the data, so a job killed at any point resumes (SPEC R2).
const (
	jobSites       = "rewrap-sites"       // register, roll or recover a geo's site DEP
	jobRecover     = "recover"            // key-loss recovery of a mailbox DEP (R3)
	jobRollback    = "rollback-mdep"      // multi-workload data back to service-managed keys (R4)
	jobPurge       = "purge"              // the data purge path's last step (R6)
	jobReassociate = "reassociate-mdep"   // workload containers to a newly assigned MDEP (R2)
	jobReassign    = "reassign-mailboxes" // mailboxes to the DEPs assigned to them (Set-Mailbox, D3)
)

// Job is a background job as the API shows it.
type Job struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind" enum:"rewrap-sites,recover,rollback-mdep,purge,reassociate-mdep,reassign-mailboxes"`
	Target          string    `json:"target" doc:"What it works on: a geo or a DEP"`
	State           string    `json:"state" enum:"queued,running,succeeded,failed"`
	PercentComplete float64   `json:"percentComplete"`
	Done            int       `json:"done"`
	Total           int       `json:"total"`
	Attempts        int       `json:"attempts"`
	Error           string    `json:"error,omitempty" doc:"The last failure; a queued job with an error will be retried"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
}

func jobJSON(j store.Job) Job {
	out := Job{ID: j.ID, Kind: j.Kind, Target: j.Target, State: j.State, Done: j.Done, Total: j.Total, Attempts: j.Attempts, Error: j.Error, Created: j.Created, Updated: j.Updated}
	switch {
	case j.State == store.JobSucceeded:
		out.PercentComplete = 100
	case j.Total > 0:
		out.PercentComplete = float64(j.Done) * 100 / float64(j.Total)
	}
	return out
}

type jobOutput struct{ Body Job }

func (s *Server) jobRoutes() {
	s.jobs.Handle(jobSites, s.rewrapSites)
	s.jobs.Handle(jobRecover, s.recoverDEP)
	s.jobs.Handle(jobRollback, s.rollbackMDEP)
	s.jobs.Handle(jobPurge, s.purgeDEP)
	s.jobs.Handle(jobReassociate, s.reassociateMDEP)
	s.jobs.Handle(jobReassign, s.reassignMailboxes)

	register(s, huma.Operation{OperationID: "list-jobs", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/jobs",
		Summary: "The tenant's background jobs (re-wraps, rolls, recoveries, purges), newest first, with progress", Tags: []string{"jobs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many (default 100)"`
		}) (*struct {
			Body struct {
				Value []Job `json:"value"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, append(tenant.Roles, tenant.RoleOperator)...)
			if err != nil {
				return nil, err
			}
			limit := in.Limit
			if limit == 0 {
				limit = 100
			}
			js, err := s.cfg.Store.ListJobs(ctx, t.ID, limit)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Value []Job `json:"value"`
				}
			}{}
			out.Body.Value = []Job{}
			for _, j := range js {
				out.Body.Value = append(out.Body.Value, jobJSON(j))
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-job", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/jobs/{job}",
		Summary: "One background job, with its progress", Tags: []string{"jobs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Job    string `path:"job"`
		}) (*jobOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, append(tenant.Roles, tenant.RoleOperator)...)
			if err != nil {
				return nil, err
			}
			j, err := s.cfg.Store.Job(ctx, t.ID, in.Job)
			if errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "Job.Exists", "list the tenant's jobs (ck job list)", "tenant %s has no job %q", t.Name, in.Job)
			}
			if err != nil {
				return nil, err
			}
			return &jobOutput{Body: jobJSON(j)}, nil
		})
}

// enqueue queues a job on target, refusing a second one while the first
// is queued or running.
func (s *Server) enqueue(ctx context.Context, t store.ServiceTenant, kind, target string, args any) (store.Job, error) {
	j, err := s.jobs.Enqueue(ctx, t.ID, kind, target, args)
	if errors.Is(err, store.ErrConflict) {
		return j, problem(409, "Job.OnePerTarget", "wait for the running job to finish (ck job list)", "%s already has a job queued or running", target)
	}
	return j, err
}

// RunJobs runs the service's background jobs until ctx is done: jobs of
// this process and those a crashed process left behind, once their
// leases run out. Serve calls it; tests that serve Handler call it.
func (s *Server) RunJobs(ctx context.Context) {
	s.resumePurges(ctx)
	done := make(chan struct{})
	go func() { s.sweepPending(ctx, 2*time.Second); close(done) }()
	s.jobs.Run(ctx)
	<-done
}

// jobTenant loads a job's tenant.
func (s *Server) jobTenant(ctx context.Context, x *jobs.Run, args any) (store.ServiceTenant, error) {
	if err := x.Args(args); err != nil {
		return store.ServiceTenant{}, jobs.Permanent(err)
	}
	t, err := s.cfg.Store.ServiceTenant(ctx, x.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		return t, jobs.Permanent(err)
	}
	return t, err
}

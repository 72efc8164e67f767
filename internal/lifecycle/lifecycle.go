// Package lifecycle is the work that moves tenant data between keys: the
// background jobs (on internal/jobs) that re-wrap containers when a
// mailbox is assigned another DEP, a geo's key is registered, rolled or
// recovered, a multi-workload DEP is assigned or rolled back, a lost DEP
// is recovered through its availability key, and a DEP is purged; and the
// operations that start them.
//
// Every handler is idempotent: it works out what is left from the data,
// each step is one conditional write, so a job killed at any point resumes
// on any process (SPEC R2). Only keys are re-wrapped, never content (K7).
package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
	"golang.org/x/time/rate"
)

// Kinds of background job.
const (
	JobSites       = "rewrap-sites"       // register, roll or recover a geo's site DEP
	JobRecover     = "recover"            // key-loss recovery of a mailbox DEP (R3)
	JobRollback    = "rollback-mdep"      // multi-workload data back to service-managed keys (R4)
	JobPurge       = "purge"              // the data purge path's last step (R6)
	JobReassociate = "reassociate-mdep"   // workload containers to a newly assigned MDEP (R2)
	JobReassign    = "reassign-mailboxes" // mailboxes to the DEPs assigned to them (Set-Mailbox, D3)
)

// Store is the slice of the store this package uses.
type Store interface {
	ServiceTenant(ctx context.Context, idOrName string) (store.ServiceTenant, error)
	ListServiceTenants(ctx context.Context) ([]store.ServiceTenant, error)
	ActiveJob(ctx context.Context, tenant, target string) (store.Job, error)
	Job(ctx context.Context, tenant, id string) (store.Job, error)
	ListJobsOn(ctx context.Context, tenant, target string, limit int) ([]store.Job, error)
	ListJobsBefore(ctx context.Context, tenant string, before store.PageKey, limit int) ([]store.Job, error)
	SiteRegistration(ctx context.Context, tenant, geo string) (store.SiteRegistration, error)
	PutSiteRegistration(ctx context.Context, r store.SiteRegistration) error
	Purge(ctx context.Context, tenant, dep string) (store.Purge, error)
	UpdatePurge(ctx context.Context, p store.Purge, prev store.Purge) error
	AvailabilityKey(ctx context.Context, id string) (store.AvailabilityKey, error)
	Mailbox(ctx context.Context, tenant, id string) (store.Mailbox, error)
}

// Config configures the lifecycle.
type Config struct {
	Store      Store
	DEPs       *dep.Service
	Containers *workload.Service
	Jobs       *jobs.Runner
	Audit      *audit.Log
	Access     *access.Service // the tenant's consent to the operator's actions (T5)
	// RevocationProbe is how often every cached DEP key is checked with
	// its customer keys (S3; default 60s; negative: never).
	RevocationProbe time.Duration
	// RewrapRate bounds how many containers one job re-wraps per second
	// (0: no bound).
	RewrapRate float64
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service starts and runs the lifecycle's jobs.
type Service struct {
	st     Store
	deps   *dep.Service
	boxes  *workload.Service
	jobs   *jobs.Runner
	audit  *audit.Log
	access *access.Service
	now    func() time.Time
	log    *slog.Logger
	probe  time.Duration
	rate   float64 // containers re-wrapped per second by one job; 0: no bound
}

// New returns the lifecycle and registers its job handlers.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, deps: cfg.DEPs, boxes: cfg.Containers, jobs: cfg.Jobs, audit: cfg.Audit, access: cfg.Access, now: cfg.Now, log: cfg.Logger, probe: cfg.RevocationProbe, rate: cfg.RewrapRate}
	if s.probe == 0 {
		s.probe = time.Minute
	}
	s.jobs.Handle(JobSites, s.rewrapSites)
	s.jobs.Handle(JobRecover, s.recoverDEP)
	s.jobs.Handle(JobRollback, s.rollbackMDEP)
	s.jobs.Handle(JobPurge, s.purgeDEP)
	s.jobs.Handle(JobReassociate, s.reassociateMDEP)
	s.jobs.Handle(JobReassign, s.reassignMailboxes)
	return s
}

// Run runs the background jobs until ctx is done: jobs of this process
// and those a crashed process left behind, once their leases run out;
// and the revocation probe of the cached DEP keys (S3).
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.every(ctx, time.Hour, s.resumePurges) })
	wg.Go(func() { s.sweepPending(ctx, 2*time.Second) })
	wg.Go(func() { s.cleanUploads(ctx, 10*time.Minute, UploadExpiry) })
	if s.probe > 0 {
		wg.Go(func() { s.deps.WatchRevocations(ctx, s.probe) })
	}
	s.jobs.Run(ctx)
	wg.Wait()
}

// every runs f at once and then every interval until ctx is done.
func (s *Service) every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// UploadExpiry is how long an upload waits for its next part before the
// cleanup deletes it with what it stored (a write cut off by a crash
// included).
const UploadExpiry = 24 * time.Hour

// cleanUploads deletes, every interval, the uploads without a part for
// longer than expiry, with their chunks. Every node runs it; deleting an
// upload twice is harmless.
func (s *Service) cleanUploads(ctx context.Context, interval, expiry time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if n, err := s.boxes.CleanUploads(ctx, s.now().Add(-expiry)); err != nil && ctx.Err() == nil {
			s.log.Error("lifecycle: cleanup of abandoned uploads", "err", err)
		} else if n > 0 {
			s.log.Info("lifecycle: deleted abandoned uploads with their chunks", "uploads", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Job returns one of the tenant's jobs.
func (s *Service) Job(ctx context.Context, t store.ServiceTenant, id string) (store.Job, error) {
	j, err := s.st.Job(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, rule.NotFound(client.RuleJobExists, "list the tenant's jobs (ck job list)", "tenant %s has no job %q", t.Name, id)
	}
	return j, err
}

// Jobs returns one page of the tenant's jobs, newest first: at most limit
// older than before (creation time and ID; zero: the newest).
func (s *Service) Jobs(ctx context.Context, t store.ServiceTenant, before store.PageKey, limit int) ([]store.Job, error) {
	return s.st.ListJobsBefore(ctx, t.ID, before, limit)
}

// enqueue queues a job on target, refusing a second one while the first
// is queued or running.
func (s *Service) enqueue(ctx context.Context, t store.ServiceTenant, kind, target string, args any) (store.Job, error) {
	j, err := s.jobs.Enqueue(ctx, t.ID, kind, target, args)
	if errors.Is(err, store.ErrConflict) {
		return j, errJobOnTarget(target)
	}
	return j, err
}

func errJobOnTarget(target string) error {
	return rule.Conflict(client.RuleJobOnePerTarget, "wait for the running job to finish (ck job list)", "%s already has a job queued or running", target)
}

// requireNoJob refuses an operation whose job could not be queued: the
// target has one queued or running. An operation that spends something
// before it queues its job (an access request, T5) asks first, so the
// tenant's approval is not used up by a refusal.
func (s *Service) requireNoJob(ctx context.Context, t store.ServiceTenant, target string) error {
	_, err := s.st.ActiveJob(ctx, t.ID, target)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return errJobOnTarget(target)
}

// jobTenant reads a job's arguments and loads its tenant.
func (s *Service) jobTenant(ctx context.Context, x *jobs.Run, args any) (store.ServiceTenant, error) {
	if err := x.Args(args); err != nil {
		return store.ServiceTenant{}, jobs.Permanent(err)
	}
	t, err := s.st.ServiceTenant(ctx, x.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		return t, jobs.Permanent(err)
	}
	return t, err
}

// allowed checks an operator action on a tenant's data against the
// access request the tenant approved (T5); use spends the request once
// every other check has passed. The returned reason names the request
// (audit reasons of the keys used).
func (s *Service) allowed(ctx context.Context, t store.ServiceTenant, id string, sc access.Scope) (store.AccessRequest, error) {
	return s.access.Check(ctx, t, id, sc)
}

func (s *Service) use(ctx context.Context, t store.ServiceTenant, r store.AccessRequest) (string, error) {
	r, err := s.access.Use(ctx, t, r)
	if err != nil {
		return "", err
	}
	return access.Reason(r), nil
}

// pacer spaces one job's re-wraps to the configured rate, so that a roll
// of many containers does not take the database and the cores from the
// data plane. Wait returns at once when no rate is set.
func (s *Service) pacer() *rate.Limiter {
	if s.rate <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(s.rate), 1)
}

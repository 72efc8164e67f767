package service

import (
	"crypto/ed25519"
	"errors"
	"log/slog"
	"time"

	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/console"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/lifecycle"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/workload"
)

// Parts are what the service's domain is built from: the store, the
// workloads that reach customer keys, the vault directory onboarding
// reads, the signing key and the settings of jobs and purges.
type Parts struct {
	Store store.Store
	// Workloads by DEP kind: the service principal, key client and
	// keyring that reach customer keys for that kind.
	Workloads      map[dep.Kind]dep.Workload
	Azure          onboarding.Azure
	Signer         ed25519.PrivateKey
	PurgeApprovals int           // distinct officers who approve a purge (default 1)
	JobLease       time.Duration // how long a dead process holds its jobs (default 30 s)
	RewrapRate     float64       // containers a job re-wraps per second (0: no bound)
	// RevocationProbe: how often cached DEP keys are checked with their
	// customer keys (S3; default 60 s; negative: never).
	RevocationProbe time.Duration
	// Events carries cache invalidations to the other nodes and from
	// them (nil: one node alone, nothing to tell).
	Events events.Bus
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics are the node's metrics (nil: none counted, /metrics 503).
	Metrics *Metrics
	// Ready are the dependencies /readyz asks.
	Ready []api.ReadyCheck
	// Blobs keeps the sealed chunks of large items (nil: the store's own
	// database, so every node over one database sees them).
	Blobs blob.Store
	// Limits are the largest contents the API takes (zero: defaults).
	Limits api.Limits
}

// NewAPI builds the domain services (tenants, onboarding, DEPs,
// containers, access requests, lifecycle with its jobs, audit) from parts, and the API over
// them. New uses it; so do tests that need the API without a whole process.
func NewAPI(p Parts) (*api.Server, error) {
	if p.Store == nil {
		return nil, errors.New("service: no store")
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	st, now, log := p.Store, p.Now, p.Logger
	tenants := tenant.New(st, now, log)
	auditLog := audit.New(st, now, log)
	deps := dep.New(dep.Config{Store: st, Workloads: p.Workloads, Azure: p.Azure, Signer: p.Signer, PurgeApprovals: p.PurgeApprovals, Events: p.Events, Now: now, Logger: log})
	if p.Events != nil {
		tenants.UseEvents(p.Events)
		p.Events.Subscribe(func(e events.Event) {
			deps.OnEvent(e)
			tenants.OnEvent(e)
		})
	}
	if p.Blobs == nil {
		db, ok := st.(interface{ Blobs() *sqlstore.Blobs })
		if !ok {
			return nil, errors.New("service: no blob store")
		}
		p.Blobs = db.Blobs()
	}
	boxes := workload.New(workload.Config{Store: st, Blobs: p.Blobs, DEPs: deps, Licences: tenants, Tokens: tenants, Now: now, Logger: log,
		Streams: workload.Streams{Node: p.Limits.Streams, Tenant: p.Limits.TenantStreams}})
	jc := jobs.Config{Store: st, Logger: log, Now: now, Lease: p.JobLease}
	ac := api.Config{Ready: p.Ready, Console: console.Handler()}
	if m := p.Metrics; m != nil {
		jc.Observe, ac.Metrics, ac.Gatherer = m.Job, m.API, m.Registry
	}
	runner := jobs.New(jc)
	consent := access.New(access.Config{Store: st, DEPs: deps, Audit: auditLog, Now: now, Logger: log})
	life := lifecycle.New(lifecycle.Config{Store: st, DEPs: deps, Containers: boxes, Jobs: runner, Audit: auditLog, Access: consent, RevocationProbe: p.RevocationProbe, RewrapRate: p.RewrapRate, Now: now, Logger: log})
	scenarioKind := map[string]dep.Kind{onboarding.EXO: dep.Mailbox, onboarding.SPO: dep.Site, onboarding.MDEP: dep.MDEP}
	requests := onboarding.NewRequests(onboarding.Config{Store: st, Azure: p.Azure, Now: now, Logger: log,
		Workload: func(scenario string) (string, kms.Client, bool) {
			w, ok := p.Workloads[scenarioKind[scenario]]
			return w.App, w.KMS, ok
		}})
	ac.Tenants, ac.Onboarding, ac.DEPs, ac.Containers, ac.Lifecycle, ac.Access, ac.Audit = tenants, requests, deps, boxes, life, consent, auditLog
	ac.Signer, ac.Logger, ac.Now, ac.Limits = p.Signer, log, now, p.Limits
	return api.New(ac)
}

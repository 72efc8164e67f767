// Package jobs runs the service's long operations as durable jobs: stored
// in the service's database (store.Jobs), claimed under a lease that the
// runner renews while the handler works, and claimed again by any runner
// once the lease runs out, so that a job survives a crash of the process
// at any point and resumes.
//
// Handlers must be idempotent: they work out what is left from the data
// itself (for example, the sites not yet on the new key), never from a
// counter of what was done, and every step they take is atomic in the
// store. Progress is what the handler reports.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/store"
)

// Handler does a job. It returns nil when the job is done, a Permanent
// error when retrying cannot help, and any other error to be retried.
type Handler func(ctx context.Context, r *Run) error

// Config configures a Runner.
type Config struct {
	Store  store.Jobs
	Logger *slog.Logger
	Now    func() time.Time
	// Lease is how long a claim lasts without renewal (default 30 s): the
	// time after a crash until another runner resumes the job.
	Lease time.Duration
	// Poll is how often an idle runner looks for work (default 1 s);
	// Enqueue in the same process wakes it at once.
	Poll time.Duration
	// Workers is how many jobs run at once (default 2).
	Workers int
	// MaxAttempts before a failing job is given up (default 10).
	MaxAttempts int
	// Observe, if set, hears of each run of a job: "started" as it
	// starts, then how it ended: "done", "failed", "retry",
	// "interrupted" or "lost" (another runner took the lease). The
	// service counts them (its /metrics).
	Observe func(kind, event string)
}

// Runner claims and runs jobs.
type Runner struct {
	cfg      Config
	owner    string
	handlers map[string]Handler
	wake     chan struct{}
}

// New returns a runner; register handlers, then call Run.
func New(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return &Runner{cfg: cfg, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)), handlers: map[string]Handler{}, wake: make(chan struct{}, 1)}
}

// Handle registers the handler of a kind of job.
func (r *Runner) Handle(kind string, h Handler) { r.handlers[kind] = h }

// Enqueue stores a job; store.ErrConflict if the tenant already has a
// queued or running job on target.
func (r *Runner) Enqueue(ctx context.Context, tenant, kind, target string, args any) (store.Job, error) {
	if _, ok := r.handlers[kind]; !ok {
		return store.Job{}, fmt.Errorf("jobs: no handler for %q", kind)
	}
	data, err := json.Marshal(args)
	if err != nil {
		return store.Job{}, err
	}
	now := r.cfg.Now().UTC()
	j := store.Job{ID: uuid.NewString(), Tenant: tenant, Kind: kind, Target: target, Args: data, State: store.JobQueued, Created: now, Updated: now, Until: now}
	if err := r.cfg.Store.CreateJob(ctx, j); err != nil {
		return store.Job{}, err
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return j, nil
}

// Again enqueues a job, or, if the tenant already has one active on
// target, has that job run once more after it succeeds: for a change the
// active job may already have looked past (it applies whatever is current
// when it runs, so the arguments of the active job stay).
func (r *Runner) Again(ctx context.Context, tenant, kind, target string, args any) error {
	for {
		_, err := r.Enqueue(ctx, tenant, kind, target, args)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		// Active: mark it; if it finished meanwhile, enqueue again.
		if err := r.cfg.Store.AgainJob(ctx, tenant, target); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// Run claims and runs jobs until ctx is done, then waits for running
// handlers to stop (they get ctx's cancellation) and puts their jobs
// back in the queue.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx)
		}()
	}
	wg.Wait()
}

func (r *Runner) work(ctx context.Context) {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		now := r.cfg.Now().UTC()
		j, err := r.cfg.Store.ClaimJob(ctx, r.owner, now, now.Add(r.cfg.Lease))
		if err == nil {
			r.run(ctx, j)
			continue // there may be more
		}
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			r.cfg.Logger.Error("jobs: claim", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Run is a claimed job as its handler sees it.
type Run struct {
	store.Job
	r    *Runner
	mu   sync.Mutex
	last time.Time
	lost context.CancelFunc
}

// Args decodes the job's arguments into v.
func (x *Run) Args(v any) error { return json.Unmarshal(x.Job.Args, v) }

// ErrLeaseLost means another runner took the job over (this one was too
// slow to renew its lease); the handler must stop.
var ErrLeaseLost = errors.New("jobs: lease lost")

// Progress records done of total and renews the lease (written at most
// every 200 ms, and always when done reaches total).
func (x *Run) Progress(ctx context.Context, done, total int) error {
	x.mu.Lock()
	x.Done, x.Total = done, total
	due := done >= total || time.Since(x.last) >= 200*time.Millisecond
	x.mu.Unlock()
	if !due {
		return nil
	}
	return x.renew(ctx)
}

func (x *Run) renew(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := x.r.cfg.Now().UTC()
	err := x.r.cfg.Store.UpdateJob(context.WithoutCancel(ctx), x.ID, x.r.owner, x.Done, x.Total, now.Add(x.r.cfg.Lease), now)
	if errors.Is(err, store.ErrConflict) {
		x.lost()
		return ErrLeaseLost
	}
	if err == nil {
		x.last = time.Now()
	}
	return err
}

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks an error that retrying cannot fix: the job fails.
func Permanent(err error) error { return permanent{err} }

func (r *Runner) run(ctx context.Context, j store.Job) {
	log := r.cfg.Logger.With("job", j.ID, "kind", j.Kind, "tenant", j.Tenant, "target", j.Target, "attempt", j.Attempts)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x := &Run{Job: j, r: r, last: time.Now(), lost: cancel}
	// Renew the lease while the handler works, even if it reports nothing.
	beat := make(chan struct{})
	go func() {
		t := time.NewTicker(r.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-beat:
				return
			case <-t.C:
				if err := x.renew(hctx); err != nil && !errors.Is(err, ErrLeaseLost) {
					log.Warn("jobs: renew lease", "err", err)
				}
			}
		}
	}()
	r.observe(j.Kind, "started")
	err := r.call(hctx, x)
	close(beat)
	event := "done"
	defer func() { r.observe(j.Kind, event) }()
	now := r.cfg.Now().UTC()
	state, until, msg := store.JobSucceeded, now, ""
	var p permanent
	switch {
	case err == nil:
		log.Info("jobs: done", "done", x.Done, "total", x.Total)
	case errors.Is(err, ErrLeaseLost) || (hctx.Err() != nil && ctx.Err() == nil):
		log.Warn("jobs: lease lost; another runner has the job")
		event = "lost"
		return
	case ctx.Err() != nil:
		state, msg, event = store.JobQueued, "interrupted: the service stopped", "interrupted" // resumed by the next runner at once
		log.Info("jobs: interrupted", "done", x.Done, "total", x.Total)
	case errors.As(err, &p) || j.Attempts >= r.cfg.MaxAttempts:
		state, msg, event = store.JobFailed, err.Error(), "failed"
		log.Error("jobs: failed", "err", err)
	default:
		backoff := min(time.Second<<min(j.Attempts, 6), time.Minute)
		state, until, msg, event = store.JobQueued, now.Add(backoff), err.Error(), "retry"
		log.Warn("jobs: will retry", "in", backoff.String(), "err", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := r.cfg.Store.FinishJob(context.WithoutCancel(ctx), j.ID, r.owner, state, msg, until, now); err != nil {
		log.Warn("jobs: finish", "err", err)
	}
}

func (r *Runner) observe(kind, event string) {
	if r.cfg.Observe != nil {
		r.cfg.Observe(kind, event)
	}
}

// call runs the handler, turning a panic into a permanent failure.
func (r *Runner) call(ctx context.Context, x *Run) (err error) {
	h, ok := r.handlers[x.Kind]
	if !ok {
		return Permanent(fmt.Errorf("no handler for jobs of kind %q in this version of the service", x.Kind))
	}
	defer func() {
		if v := recover(); v != nil {
			r.cfg.Logger.Error("jobs: handler panicked", "job", x.ID, "panic", v)
			err = Permanent(fmt.Errorf("internal error (the service log has the details)"))
		}
	}()
	return h(ctx, x)
}

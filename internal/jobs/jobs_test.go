package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*sqlstore.DB, *clock, *jobs.Runner, context.Context) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Now().UTC()}
	r := jobs.New(jobs.Config{Store: st, Now: c.Now, Poll: 10 * time.Millisecond, Lease: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return st, c, r, ctx
}

// wait polls a job until it reaches state.
func wait(t *testing.T, st store.Jobs, tenant, id, state string) store.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := st.Job(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s), want %s", id, j.State, j.Error, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunRetryFail(t *testing.T) {
	st, c, r, ctx := setup(t)
	var calls atomic.Int32
	r.Handle("count", func(ctx context.Context, x *jobs.Run) error {
		var args struct{ N int }
		if err := x.Args(&args); err != nil {
			return jobs.Permanent(err)
		}
		for i := 1; i <= args.N; i++ {
			if err := x.Progress(ctx, i, args.N); err != nil {
				return err
			}
		}
		return nil
	})
	r.Handle("flaky", func(ctx context.Context, x *jobs.Run) error {
		if calls.Add(1) == 1 {
			return errors.New("vault unreachable")
		}
		return nil
	})
	r.Handle("broken", func(ctx context.Context, x *jobs.Run) error { return jobs.Permanent(errors.New("DEP is gone")) })
	r.Handle("panics", func(ctx context.Context, x *jobs.Run) error { panic("bug") })
	go r.Run(ctx)

	a, err := r.Enqueue(ctx, "t1", "count", "a", map[string]int{"N": 5})
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, st, "t1", a.ID, store.JobSucceeded); j.Done != 5 || j.Total != 5 {
		t.Fatalf("progress %d/%d, want 5/5", j.Done, j.Total)
	}
	if _, err := r.Enqueue(ctx, "t1", "nobody", "x", nil); err == nil {
		t.Fatal("a job kind with no handler was queued")
	}

	f, _ := r.Enqueue(ctx, "t1", "flaky", "f", nil)
	j := wait(t, st, "t1", f.ID, store.JobQueued)
	for j.Attempts == 0 {
		j = wait(t, st, "t1", f.ID, store.JobQueued)
	}
	if j.Error != "vault unreachable" || !j.Until.After(c.Now()) {
		t.Fatalf("after a failure: %+v, want a retry later with the error", j)
	}
	c.Add(time.Minute) // the retry is due
	if j := wait(t, st, "t1", f.ID, store.JobSucceeded); j.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", j.Attempts)
	}

	b, _ := r.Enqueue(ctx, "t1", "broken", "b", nil)
	if j := wait(t, st, "t1", b.ID, store.JobFailed); j.Error != "DEP is gone" || j.Attempts != 1 {
		t.Fatalf("permanent failure: %+v", j)
	}
	p, _ := r.Enqueue(ctx, "t1", "panics", "p", nil)
	if j := wait(t, st, "t1", p.ID, store.JobFailed); j.Error == "" {
		t.Fatalf("a panic: %+v", j)
	}
}

// A job claimed by a runner that died is resumed once its lease runs
// out, and not before.
func TestResumeAfterCrash(t *testing.T) {
	st, c, r, ctx := setup(t)
	var ran atomic.Int32
	r.Handle("work", func(ctx context.Context, x *jobs.Run) error { ran.Add(1); return nil })
	j, err := r.Enqueue(ctx, "t1", "work", "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimJob(ctx, "dead-runner", c.Now(), c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	go r.Run(ctx)
	time.Sleep(100 * time.Millisecond)
	if ran.Load() != 0 {
		t.Fatal("a job under another runner's lease ran")
	}
	c.Add(2 * time.Minute)
	if j := wait(t, st, "t1", j.ID, store.JobSucceeded); j.Attempts != 2 || ran.Load() != 1 {
		t.Fatalf("resumed job: attempts %d, ran %d", j.Attempts, ran.Load())
	}
}

// A runner that loses its lease stops: its handler sees ErrLeaseLost.
func TestLeaseLost(t *testing.T) {
	st, c, r, ctx := setup(t)
	got := make(chan error, 1)
	started := make(chan struct{})
	r.Handle("slow", func(ctx context.Context, x *jobs.Run) error {
		close(started)
		<-time.After(50 * time.Millisecond)
		c.Add(2 * time.Minute) // the lease ran out meanwhile ...
		if _, err := st.ClaimJob(ctx, "other-runner", c.Now(), c.Now().Add(time.Minute)); err != nil {
			got <- err
			return err
		}
		err := x.Progress(ctx, 1, 1) // ... and another runner took it
		got <- err
		return err
	})
	j, _ := r.Enqueue(ctx, "t1", "slow", "s", nil)
	go r.Run(ctx)
	<-started
	if err := <-got; !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("progress after losing the lease: %v, want ErrLeaseLost", err)
	}
	time.Sleep(50 * time.Millisecond)
	if j, _ := st.Job(ctx, "t1", j.ID); j.State != store.JobRunning || j.Owner != "other-runner" {
		t.Fatalf("the loser changed the job: %+v", j)
	}
}

package workload

import (
	"context"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// SetRebuildBudget sets the postings a build holds in memory, for a test;
// the returned func restores it.
func SetRebuildBudget(n int) func() {
	old := rebuildBudget
	rebuildBudget = n
	return func() { rebuildBudget = old }
}

// SetIndexDelay sets the pause between a write and its catch-up, for a
// test (an hour: every catch-up is a search's); the returned func
// restores it.
func SetIndexDelay(d time.Duration) func() {
	old := indexDelay.Swap(int64(d))
	return func() { indexDelay.Store(old) }
}

// SetBatchBudget sets the posting changes one catch-up batch may hold,
// for a test; the returned func restores it.
func SetBatchBudget(n int) func() {
	old := batchBudget
	batchBudget = n
	return func() { batchBudget = old }
}

// PendingMarks counts the items of a mailbox marked for its search
// index and not yet indexed.
func (s *Service) PendingMarks(ctx context.Context, t store.ServiceTenant, upn string) (int, error) {
	m, err := s.Mailbox(ctx, t, upn)
	if err != nil {
		return 0, err
	}
	heads, err := s.st.ListItemHeadsAfter(ctx, t.ID, indexRow(m), "p:", 10000)
	n := 0
	for _, h := range heads {
		if strings.HasPrefix(h.ID, "p:") {
			n++
		}
	}
	return n, err
}

// IndexPeak is the most catch-ups with work that ran at once in s, and
// IndexWorkers the bound.
func (s *Service) IndexPeak() int { return int(s.index.peak.Load()) }

func IndexWorkers() int { return indexWorkers() }

// HoldIndex holds a mailbox's index lock as a reindex does while it
// builds; the returned func lets go of it.
func (s *Service) HoldIndex(t store.ServiceTenant, m store.Mailbox) func() {
	return s.index.locks.lock(t.ID + "/" + m.ID)
}

// HoldStreams takes every transfer slot tenant may have on s; the
// returned func gives them back.
func (s *Service) HoldStreams(tenant string) func() {
	var held []func()
	for {
		done, err := s.streams.take(tenant)
		if err != nil {
			break
		}
		held = append(held, done)
	}
	return func() {
		for _, done := range held {
			done()
		}
	}
}

// CopyThrough is copyThrough, for tests.
var CopyThrough = copyThrough

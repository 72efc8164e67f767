package workload

import (
	"context"
	"strings"

	"github.com/customerkey/customerkey/internal/store"
)

// SetRebuildBudget sets the postings a build holds in memory, for a test;
// the returned func restores it.
func SetRebuildBudget(n int) func() {
	old := rebuildBudget
	rebuildBudget = n
	return func() { rebuildBudget = old }
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

package workload

import (
	"context"

	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// openMailboxItem is Open of a mailbox's item: the mailbox and the item
// in one query (a read of a 4 KiB item paid two before). As open does,
// the container's kind is checked (T3) and its key unwrapped before the
// item is looked at, so a revoked DEP refuses whether the item exists or
// not.
func (s *Service) openMailboxItem(ctx context.Context, t store.ServiceTenant, r Ref, id string) (*Content, error) {
	sp := spaces[r.Space]
	m, it, err := s.st.MailboxItem(ctx, t.ID, r.id(), id)
	if m, err = s.ofKind(t, r, m, err); err != nil {
		return nil, err
	}
	ck, g, err := s.keyGuarded(ctx, t, r, m, "read "+sp.item)
	if err != nil {
		return nil, err
	}
	defer ck.Destroy()
	if it.ID == "" {
		return nil, rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q", sp.container, r.Name, sp.item, id)
	}
	c, err := s.openContent(ck, t, m, it)
	if err != nil {
		return nil, err
	}
	c.guard = g
	return c, nil
}

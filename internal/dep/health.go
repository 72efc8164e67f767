package dep

import (
	"context"

	"github.com/customerkey/customerkey/internal/store"
)

// Healths returns every customer DEP of a tenant (mailbox, multi-workload
// and site DEPs) with its health as this node's keyring last saw it and
// its revocation state, without asking any vault: an overview that costs
// no unwrap. A DEP nobody used or checked since the process started is
// unknown; Probe asks its keys now. Keys stay empty: no key was asked.
func (s *Service) Healths(ctx context.Context, t store.ServiceTenant) ([]Health, error) {
	var out []Health
	for _, k := range []Kind{Mailbox, MDEP, Site} {
		ds, err := s.List(ctx, t, k)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			w, kd, err := s.Ring(d)
			if err != nil {
				return nil, err
			}
			last := w.Ring.Health(d.ID)
			h := Health{DEP: d, State: last.State, Cause: last.Cause, Since: last.Since, Revoked: kd.Revoked}
			if r, ok := w.Ring.Revocation(d.ID); ok {
				h.Revoked = r
			}
			out = append(out, h)
		}
	}
	return out, nil
}

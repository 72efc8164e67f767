package workload

import (
	"testing"

	"github.com/customerkey/customerkey/internal/rule"
)

// TestStreamSlots: a tenant at its share is refused while another
// tenant is admitted; the node's bound refuses every tenant; a slot given
// back (once, however often release is called) admits the next.
func TestStreamSlots(t *testing.T) {
	l := newStreamSlots(Streams{Node: 3, Tenant: 2})
	take := func(tenant string, want rule.Kind, ok bool) func() {
		t.Helper()
		release, err := l.take(tenant)
		if ok != (err == nil) {
			t.Fatalf("take for %s: %v, want admitted %v", tenant, err, ok)
		}
		if e, isRule := rule.As(err); err != nil && (!isRule || e.Kind != want) {
			t.Fatalf("take for %s: %v, want kind %s", tenant, err, want)
		}
		return release
	}
	a1 := take("a", 0, true)
	take("a", 0, true)
	take("a", rule.KindBusy, false) // a's share
	b1 := take("b", 0, true)        // b is not held up by a
	take("b", rule.KindUnavailable, false)
	b1()
	b1() // again: gives back nothing more
	take("c", 0, true)
	take("c", rule.KindUnavailable, false) // the node's bound again: b's second release freed no second slot
	a1()
	take("a", 0, true)
	if d := newStreamSlots(Streams{}); d.limits.Node != DefaultStreams || d.limits.Tenant != DefaultTenantStreams {
		t.Errorf("defaults: %+v", d.limits)
	}
	if d := newStreamSlots(Streams{Node: 10}); d.limits.Tenant != 10 {
		t.Errorf("a tenant's default share on a node of 10: %d, want 10", d.limits.Tenant)
	}
}

// TestStreamSlotsReserve: an eighth of a node's transfers is kept for
// tenants that have none open: tenants at their share cannot fill it,
// and a tenant that comes next is admitted.
func TestStreamSlotsReserve(t *testing.T) {
	l := newStreamSlots(Streams{Node: 16, Tenant: 8}) // 2 kept
	for tenant, n := range map[string]int{"a": 8, "b": 6} {
		for i := range n {
			if _, err := l.take(tenant); err != nil {
				t.Fatalf("%s's transfer %d: %v", tenant, i+1, err)
			}
		}
	}
	if _, err := l.take("b"); !isKind(err, rule.KindBusy) { // 14 open: the rest is kept
		t.Fatalf("b's 7th transfer with 14 of 16 open: %v, want busy", err)
	}
	for _, tenant := range []string{"c", "d"} {
		if _, err := l.take(tenant); err != nil {
			t.Fatalf("%s's first transfer from the reserve: %v", tenant, err)
		}
	}
	if _, err := l.take("e"); !isKind(err, rule.KindUnavailable) {
		t.Fatalf("a transfer on a full node: %v, want unavailable", err)
	}
}

func isKind(err error, k rule.Kind) bool {
	e, ok := rule.As(err)
	return ok && e.Kind == k
}

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
}

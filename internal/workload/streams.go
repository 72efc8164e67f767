package workload

import (
	"sync"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
)

// Default bounds on the content streams a node runs at once (Streams).
const (
	DefaultStreams       = 256
	DefaultTenantStreams = 64
)

// Streams bounds the content streams a node runs at once: reads of
// chunked content, writes (until their first chunk is in, and to the end
// if there is more) and upload parts. Each holds a batch of chunks in
// memory (about 4.5 MiB while its client reads slowly or not at all), a
// write its first chunk (64 KiB) for as long as its client takes to send
// it, so without a bound a few callers who stop reading or sending could
// take the node's memory; and one tenant may take only its share, so
// that another's reads still find room. Reads of small items (one chunk
// or less) are not counted: they are answered at once.
//
// An eighth of the node's transfers is kept for tenants that have none
// open: tenants at their share fill the rest, and a tenant that comes
// next still has room.
type Streams struct {
	// Node is the most the node runs (0: DefaultStreams); Tenant the most
	// one tenant runs on it (0: DefaultTenantStreams; never more than
	// Node).
	Node, Tenant int
}

// streamSlots counts the streams open, by tenant.
type streamSlots struct {
	limits Streams
	mu     sync.Mutex
	open   int
	by     map[string]int
}

func newStreamSlots(l Streams) *streamSlots {
	if l.Node <= 0 {
		l.Node = DefaultStreams
	}
	if l.Tenant <= 0 {
		l.Tenant = DefaultTenantStreams
	}
	l.Tenant = min(l.Tenant, l.Node)
	return &streamSlots{limits: l, by: map[string]int{}}
}

// take admits one stream of tenant, or refuses it: the tenant's share
// taken (429: its own streams must finish first) or the node's (503:
// another node, or a moment later, may serve it). The release it returns
// may be called more than once.
func (l *streamSlots) take(tenant string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.by[tenant] >= l.limits.Tenant:
		return nil, rule.New(rule.KindBusy, client.RuleContentStreams, "let some of the tenant's transfers finish, then retry (Retry-After); the operator sets the share (limits.tenantStreams)",
			"the tenant's share of transfers of content on this node (%d at once) is taken", l.limits.Tenant)
	case l.open >= l.limits.Node:
		return nil, rule.Unavailable(client.RuleContentStreamsNode, "retry shortly (Retry-After), or on another node; the operator sets the bound (limits.streams)",
			"all %d transfers of content this node runs at once are taken", l.limits.Node)
	case l.by[tenant] > 0 && l.open >= l.limits.Node-l.limits.Node/8:
		return nil, rule.New(rule.KindBusy, client.RuleContentStreams, "let some of the tenant's transfers finish, then retry (Retry-After)",
			"this node keeps its last %d transfers of content for tenants that have none open; this tenant has %d", l.limits.Node/8, l.by[tenant])
	}
	l.open++
	l.by[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.by[tenant]--; l.by[tenant] == 0 {
				delete(l.by, tenant)
			}
		})
	}, nil
}

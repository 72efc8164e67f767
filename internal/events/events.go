// Package events carries cache invalidations across the nodes of one
// service (SPEC S2): whatever changes what may be read (a DEP revoked or
// its revocation cleared, a DEP disabled or purged, a token revoked,
// containers moved, a vault's access changed) is published as an Event,
// and every node's caches act on it within a second.
//
// Every event is recorded in the store with a sequence number. A Bus
// delivers each recorded event once, in sequence order, to every
// subscriber of every node, the publishing node included: it reads the
// events after the last one it delivered whenever it is woken, and at
// least every Interval (1 s by default). What wakes it is the only
// difference between the two implementations:
//
//   - NewPostgres: a dedicated connection LISTENs on the store's channel
//     (the store NOTIFYs it in the transaction that records the event)
//     and reconnects when it is lost; the periodic sequence check covers
//     what a lost connection missed.
//   - NewLocal: the publisher wakes its own process (SQLite: one process).
//
// So a node acts on an event within milliseconds when notified and within
// Interval when not. A node starts at the last recorded event: its caches
// are empty, so there is nothing older to act on.
package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// Kind is what an event says changed.
type Kind string

// Kinds of event, and what every node does on each.
const (
	// DEPRevoked: the DEP is revoked (the tenant's signal, or both
	// customer keys refused): drop its key, refuse it (T1).
	DEPRevoked Kind = "dep.revoked"
	// DEPCleared: a customer key unwrapped the revoked DEP again.
	DEPCleared Kind = "dep.cleared"
	// DEPChanged: the DEP was disabled, deleted, or its purge requested
	// or done: drop its key and any record of it.
	DEPChanged Kind = "dep.changed"
	// TokenRevoked: the token (Ref: its ID) is refused from now on.
	TokenRevoked Kind = "token.revoked"
	// ContainersMoved: containers changed DEP (re-assignment, roll,
	// recovery, rollback): drop any mapping of containers or DEPs.
	ContainersMoved Kind = "containers.moved"
	// VaultAccess: a built-in vault's record, access policies, role
	// assignments or keys changed: drop the vault's snapshot.
	VaultAccess Kind = "vault.access"
)

// Event is one change. Seq is assigned when it is recorded.
type Event struct {
	Seq    int64
	Kind   Kind
	Tenant string
	Ref    string // a DEP ID, a token ID, a vault name
	Detail string // e.g. a revocation's cause
	Node   string // the publishing node
	At     time.Time
}

// Bus publishes events to every node and delivers them to subscribers.
type Bus interface {
	// Publish records e and wakes every node. It returns once e is
	// recorded: the publisher acts on its own change itself, at once.
	Publish(ctx context.Context, e Event) error
	// Subscribe calls fn with every event from now on, in order, one at a
	// time; fn must be quick (drop a cache entry). stop ends it.
	Subscribe(fn func(Event)) (stop func())
}

// Shared is a bus whose nodes are separate processes over one database
// (PostgreSQL): what another node changed is known here only once its
// event is read, a few milliseconds after the other node answered. A
// cache that must honour another node's change on the very next request
// (the built-in vault's snapshot, SPEC V5) compares Head, one read of the
// store, with the last sequence it observed.
type Shared interface {
	Bus
	// Head is the sequence of the last recorded event.
	Head(ctx context.Context) (int64, error)
}

// Store is the slice of the store a Bus uses.
type Store interface {
	AppendEvent(ctx context.Context, e store.Event) (int64, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error)
	LastEventSeq(ctx context.Context) (int64, error)
	PruneEvents(ctx context.Context, before time.Time) error
}

// Defaults.
const (
	DefaultInterval = time.Second
	// Retention is how long recorded events are kept: a node that was
	// away longer starts afresh anyway (its caches are gone).
	Retention  = 24 * time.Hour
	pruneEvery = time.Hour
	batch      = 500
)

// Config configures a Bus.
type Config struct {
	Store Store
	// Node names this node in the events it publishes (for logs).
	Node string
	// Interval is the periodic sequence check (default 1 s).
	Interval time.Duration
	Logger   *slog.Logger
	// Count, if set, counts events by kind and direction: "published" by
	// this node, "received" from another (the node's metrics).
	Count func(kind, direction string)
}

// hub is the one implementation behind both buses: it records, and
// delivers what follows the last delivered sequence when woken.
type hub struct {
	cfg  Config
	wake chan struct{}
	stop context.CancelFunc
	done sync.WaitGroup

	mu   sync.Mutex
	subs map[int]func(Event)
	next int

	runMu sync.Mutex // one catch-up at a time
	last  int64      // the last delivered sequence
}

func newHub(ctx context.Context, cfg Config) (*hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("events: no store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	last, err := cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return nil, err
	}
	h := &hub{cfg: cfg, wake: make(chan struct{}, 1), subs: map[int]func(Event){}, last: last}
	return h, nil
}

// start runs the delivery loop until Close.
func (h *hub) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done.Go(func() { h.loop(ctx) })
}

func (h *hub) loop(ctx context.Context) {
	tick := time.NewTicker(h.cfg.Interval)
	defer tick.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		case <-prune.C:
			if err := h.cfg.Store.PruneEvents(ctx, time.Now().Add(-Retention)); err != nil && ctx.Err() == nil {
				h.cfg.Logger.Warn("events: pruning old events", "err", err)
			}
			continue
		}
		h.catchUp(ctx)
	}
}

// Wake asks for a catch-up now (a notification arrived).
func (h *hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// catchUp delivers every recorded event after the last delivered one.
func (h *hub) catchUp(ctx context.Context) {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	for {
		evs, err := h.cfg.Store.EventsAfter(ctx, h.last, batch)
		if err != nil {
			if ctx.Err() == nil {
				h.cfg.Logger.Warn("events: reading events; retrying at the next check", "after", h.last, "err", err)
			}
			return
		}
		for _, se := range evs {
			e := Event{Seq: se.Seq, Kind: Kind(se.Kind), Tenant: se.Tenant, Ref: se.Ref, Detail: se.Detail, Node: se.Node, At: se.At}
			h.mu.Lock()
			fns := make([]func(Event), 0, len(h.subs))
			for _, fn := range h.subs {
				fns = append(fns, fn)
			}
			h.mu.Unlock()
			for _, fn := range fns {
				fn(e)
			}
			if h.cfg.Count != nil && e.Node != h.cfg.Node {
				h.cfg.Count(string(e.Kind), "received")
			}
			h.last = se.Seq
		}
		if len(evs) < batch {
			return
		}
	}
}

func (h *hub) Publish(ctx context.Context, e Event) error {
	if e.Node == "" {
		e.Node = h.cfg.Node
	}
	_, err := h.cfg.Store.AppendEvent(ctx, store.Event{Kind: string(e.Kind), Tenant: e.Tenant, Ref: e.Ref, Detail: e.Detail, Node: e.Node, At: e.At})
	if err != nil {
		return err
	}
	if h.cfg.Count != nil {
		h.cfg.Count(string(e.Kind), "published")
	}
	h.Wake()
	return nil
}

func (h *hub) Subscribe(fn func(Event)) (stop func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// Sync waits until the bus has delivered every event recorded before the
// call (tests, and a node that wants to act on everything known now).
func (h *hub) Sync(ctx context.Context) error {
	target, err := h.cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	for {
		h.runMu.Lock()
		last := h.last
		h.runMu.Unlock()
		if last >= target {
			return nil
		}
		h.Wake()
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *hub) close() {
	if h.stop != nil {
		h.stop()
	}
	h.done.Wait()
}

// Local is the in-process bus (SQLite: one process serves).
type Local struct{ *hub }

// NewLocal returns an in-process bus over cfg.Store; Close stops it.
func NewLocal(ctx context.Context, cfg Config) (*Local, error) {
	h, err := newHub(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h.start()
	return &Local{h}, nil
}

// Close stops delivering.
func (l *Local) Close() error { l.close(); return nil }

// retryFor bounds how long Tell goes on trying to record an event, and
// maxRetrying how many events it tries at once (beyond, it gives up at
// once and says so: the database has been away long, and the probe's
// reconcile and the caches' expiry are what is left).
var (
	retryFor    = 10 * time.Minute
	maxRetrying = int64(1000)
	retrying    atomic.Int64
)

// Tell publishes e on bus for a change already made (stored, acted on
// here). If it cannot be recorded now (the database away for a moment),
// it is tried again in the background, waiting longer each time, until it
// is recorded or retryFor has passed: the change is stored, and without
// its event the other nodes' caches would go on with the old state (no
// later sequence check can find an event never recorded). Each outcome is
// logged with what.
func Tell(ctx context.Context, bus Bus, e Event, log *slog.Logger, what string) {
	if bus == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := bus.Publish(ctx, e)
	if err == nil {
		return
	}
	if retrying.Add(1) > maxRetrying {
		retrying.Add(-1)
		log.Error("events: "+what+" not recorded for the other nodes, and too many are being tried again already: they act on it only at their next probe or when their caches expire", "kind", e.Kind, "tenant", e.Tenant, "ref", e.Ref, "err", err)
		return
	}
	log.Error("events: "+what+" not yet recorded for the other nodes; trying again", "kind", e.Kind, "tenant", e.Tenant, "ref", e.Ref, "err", err)
	go func() {
		defer retrying.Add(-1)
		wait, deadline := 100*time.Millisecond, time.Now().Add(retryFor)
		for {
			time.Sleep(wait)
			err := bus.Publish(ctx, e)
			if err == nil {
				log.Info("events: "+what+" recorded for the other nodes after a retry", "kind", e.Kind, "tenant", e.Tenant, "ref", e.Ref)
				return
			}
			if time.Now().After(deadline) {
				log.Error("events: "+what+" never recorded for the other nodes: they act on it only when their caches expire", "kind", e.Kind, "tenant", e.Tenant, "ref", e.Ref, "err", err)
				return
			}
			wait = min(2*wait, 5*time.Second)
		}
	}()
}

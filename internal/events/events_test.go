package events_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

var ctx = context.Background()

// node is one node's bus as the suite sees it.
type node interface {
	events.Bus
	Sync(ctx context.Context) error
	Close() error
}

// recorder collects what a subscriber got.
type recorder struct {
	mu  sync.Mutex
	got []events.Event
}

func (r *recorder) add(e events.Event) { r.mu.Lock(); r.got = append(r.got, e); r.mu.Unlock() }

func (r *recorder) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.got...)
}

// waitFor waits until r holds n events, at most d.
func (r *recorder) waitFor(t *testing.T, n int, d time.Duration) []events.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := r.events()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events within %v, want %d: %+v", len(got), d, n, got)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// conformance runs the behaviour every Bus has. open returns two nodes
// over one database; within is how soon the second must see an event of
// the first.
func conformance(t *testing.T, open func(t *testing.T) (a, b node), within time.Duration) {
	t.Run("DeliversToEveryNodeInOrder", func(t *testing.T) {
		a, b := open(t)
		var ra, rb recorder
		defer a.Subscribe(ra.add)()
		defer b.Subscribe(rb.add)()
		start := time.Now()
		if err := a.Publish(ctx, events.Event{Kind: events.DEPRevoked, Tenant: "t1", Ref: "dep1", Detail: "signal"}); err != nil {
			t.Fatal(err)
		}
		got := rb.waitFor(t, 1, within)
		t.Logf("delivered to the other node in %v", time.Since(start))
		if e := got[0]; e.Kind != events.DEPRevoked || e.Tenant != "t1" || e.Ref != "dep1" || e.Detail != "signal" || e.Seq == 0 || e.Node == "" || e.At.IsZero() {
			t.Fatalf("event = %+v", e)
		}
		ra.waitFor(t, 1, within) // the publisher's own subscribers too
		for i := range 20 {
			pub := a
			if i%2 == 1 {
				pub = b
			}
			if err := pub.Publish(ctx, events.Event{Kind: events.TokenRevoked, Ref: string(rune('a' + i))}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range []*recorder{&ra, &rb} {
			got := r.waitFor(t, 21, within)
			for i := 1; i < len(got); i++ {
				if got[i].Seq <= got[i-1].Seq {
					t.Fatalf("seq %d after %d: want increasing, each once", got[i].Seq, got[i-1].Seq)
				}
			}
			if len(got) != 21 {
				t.Fatalf("got %d events, want 21", len(got))
			}
		}
	})
	t.Run("StopAndSync", func(t *testing.T) {
		a, b := open(t)
		var r recorder
		stop := b.Subscribe(r.add)
		if err := a.Publish(ctx, events.Event{Kind: events.DEPChanged, Ref: "d"}); err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		if err := b.Sync(sctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if n := len(r.events()); n != 1 {
			t.Fatalf("after Sync: %d events, want 1", n)
		}
		stop()
		if err := a.Publish(ctx, events.Event{Kind: events.DEPChanged, Ref: "d"}); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(sctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if n := len(r.events()); n != 1 {
			t.Fatalf("after stop: %d events, want still 1", n)
		}
	})
	t.Run("NewNodeStartsAtTheEnd", func(t *testing.T) {
		a, b := open(t)
		_ = b
		if err := a.Publish(ctx, events.Event{Kind: events.DEPChanged, Ref: "old"}); err != nil {
			t.Fatal(err)
		}
		// a third node opened now does not replay history
		c := reopen(t, a)
		var r recorder
		defer c.Subscribe(r.add)()
		if err := a.Publish(ctx, events.Event{Kind: events.DEPChanged, Ref: "new"}); err != nil {
			t.Fatal(err)
		}
		r.waitFor(t, 1, within)
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.events(); len(got) != 1 || got[0].Ref != "new" {
			t.Fatalf("a new node got %+v, want only the event after it started", got)
		}
	})
}

// reopen opens one more node like n (registered by the test's opener).
var reopeners sync.Map // node -> func(t) node

func reopen(t *testing.T, n node) node {
	f, _ := reopeners.Load(n)
	return f.(func(*testing.T) node)(t)
}

func TestLocal(t *testing.T) {
	// One process: the second "node" is a second bus over the same file,
	// reached by the periodic sequence check; the first gets its own
	// events at once.
	conformance(t, func(t *testing.T) (node, node) {
		st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ck.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var open func(t *testing.T) node
		open = func(t *testing.T) node {
			b, err := events.NewLocal(ctx, events.Config{Store: st, Node: "n", Interval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			reopeners.Store(node(b), open)
			return b
		}
		return open(t), open(t)
	}, 2*time.Second)
}

func postgresURL(t *testing.T) string {
	url := os.Getenv("CK_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CK_TEST_POSTGRES_URL not set: skipping the PostgreSQL events tests")
	}
	return url
}

// schemaURL makes a fresh schema, dropped when t ends, and returns the
// URL of a store in it.
func schemaURL(t *testing.T, url string) string {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "ck_events_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func openPostgres(t *testing.T, url string, interval time.Duration) *events.Postgres {
	st, err := sqlstore.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := events.NewPostgres(ctx, url, events.Config{Store: st, Node: "pg", Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for b.ListenerPID() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bus did not LISTEN within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return b
}

func TestPostgres(t *testing.T) {
	base := postgresURL(t)
	// An hour between sequence checks: only NOTIFY can deliver in time.
	conformance(t, func(t *testing.T) (node, node) {
		url := schemaURL(t, base)
		var open func(t *testing.T) node
		open = func(t *testing.T) node {
			b := openPostgres(t, url, time.Hour)
			reopeners.Store(node(b), open)
			return b
		}
		return open(t), open(t)
	}, 2*time.Second)
}

// A LISTEN connection killed by the server: the node still converges,
// by the sequence check and by listening again.
func TestPostgresLostConnection(t *testing.T) {
	base := postgresURL(t)
	url := schemaURL(t, base)
	a := openPostgres(t, url, time.Hour)
	b := openPostgres(t, url, 200*time.Millisecond)
	var r recorder
	defer b.Subscribe(r.add)()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	pid := b.ListenerPID()
	var ok bool
	if err := admin.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", int64(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	start := time.Now()
	if err := a.Publish(ctx, events.Event{Kind: events.DEPRevoked, Ref: "dep1"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 1, 5*time.Second)
	t.Logf("converged %v after the LISTEN connection was terminated", time.Since(start))
	// It listens again, under a new backend.
	deadline := time.Now().Add(5 * time.Second)
	for p := b.ListenerPID(); p == 0 || p == pid; p = b.ListenerPID() {
		if time.Now().After(deadline) {
			t.Fatal("the bus did not LISTEN again within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

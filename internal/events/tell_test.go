package events_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/logtest"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// awayStore fails to record events while away is above zero (the
// database away for a moment), counting down with each try.
type awayStore struct {
	*sqlstore.DB
	away atomic.Int64
}

func (s *awayStore) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	if s.away.Add(-1) >= 0 {
		return 0, errors.New("connection refused")
	}
	return s.DB.AppendEvent(ctx, e)
}

// TestTell (S2): a change made while its event cannot be recorded (a DEP
// revoked, a vault's access removed, then the database away for a
// moment) still reaches the other nodes: Tell tries again until it is
// recorded. Published once, the event was lost, and no sequence check
// could find it; and a change whose event is never recorded says so.
func TestTell(t *testing.T) {
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	flaky := &awayStore{DB: st}
	bus := func(s events.Store) *events.Local {
		b, err := events.NewLocal(ctx, events.Config{Store: s, Node: "n", Interval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, b := bus(flaky), bus(st)
	var got recorder
	defer b.Subscribe(got.add)()
	var logs logtest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	flaky.away.Store(3)
	events.Tell(ctx, a, events.Event{Kind: events.DEPRevoked, Tenant: "t1", Ref: "dep1"}, log, "a DEP's change")
	if e := got.waitFor(t, 1, 10*time.Second); e[0].Ref != "dep1" {
		t.Fatalf("the other node got %+v", e)
	}
	if !strings.Contains(logs.String(), "recorded for the other nodes after a retry") {
		t.Errorf("logs: %s", logs.String())
	}

	defer events.SetRetryFor(300 * time.Millisecond)()
	flaky.away.Store(1 << 40)
	events.Tell(ctx, a, events.Event{Kind: events.VaultAccess, Ref: "v"}, log, "a vault access change")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "never recorded for the other nodes") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the event given up: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

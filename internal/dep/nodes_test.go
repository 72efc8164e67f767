package dep_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
)

// lateKMS holds back the answer of one unwrap once armed: the vault has
// answered, the answer reaches the node late (a loaded node, the network).
type lateKMS struct {
	kms.Client
	armed    atomic.Bool
	answered chan struct{}
	release  chan struct{}
}

func (l *lateKMS) Directory(ctx context.Context, uri string) (string, error) {
	return l.Client.(kms.DirectoryReader).Directory(ctx, uri)
}

func (l *lateKMS) Unwrap(ctx context.Context, uri string, wrapped []byte) ([]byte, error) {
	b, err := l.Client.Unwrap(ctx, uri, wrapped)
	if l.armed.CompareAndSwap(true, false) {
		l.answered <- struct{}{}
		<-l.release
	}
	return b, err
}

// TestRevocationStandsAcrossNodes (T1, S2): an unwrap that began on node
// A before node B saw both keys refuse, and whose answer reached A after
// B stored the revocation, does not clear it. It did: A dated the clear
// when the answer arrived, later than B's revocation, and a read on A
// with the revoked record (joining that unwrap) cleared the stored
// revocation for every node; in the outage that followed, the
// availability key served the revoked DEP on both nodes.
func TestRevocationStandsAcrossNodes(t *testing.T) {
	bus := &countBus{} // the test delivers the events, as NOTIFY would a little later
	late := &lateKMS{answered: make(chan struct{}), release: make(chan struct{})}
	e := deptest.StartWith(t, deptest.Options{Events: bus, KMS: func(c kms.Client) kms.Client { late.Client = c; return late }})
	nodeA, ctx, seed, v := e.DEPs, e.Ctx, e.Seed, e.Vault
	nodeB := e.Node(t, deptest.Options{Events: bus})
	d, err := nodeA.Create(ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	read := keyring.Request{Initiator: keyring.User, Reason: "read"}

	// Node A asks; the vault unwraps; the answer is late.
	late.armed.Store(true)
	first := make(chan error, 1)
	go func() { _, err := nodeA.Key(ctx, d, read); first <- err }()
	<-late.answered
	// The tenant removes the workload's access; node B's read is refused
	// by both keys: revoked, stored, told.
	removeUnwrap(t, v, seed)
	if _, err := nodeB.Key(ctx, d, read); err == nil {
		t.Fatal("node B read the DEP with the access removed")
	}
	revoked, err := v.Store.DEPByID(ctx, d.Tenant, d.ID)
	if err != nil || revoked.Revoked.IsZero() {
		t.Fatalf("node B's revocation not stored: %+v, %v", revoked, err)
	}
	// A read on node A with the record as it is now joins A's unwrap.
	second := make(chan error, 1)
	go func() { _, err := nodeA.Key(ctx, revoked, read); second <- err }()
	time.Sleep(100 * time.Millisecond)
	close(late.release)
	if err := <-first; err != nil {
		t.Fatalf("node A's read begun before the revocation: %v", err)
	}
	<-second // served from the unwrap begun before: either answer is fair
	bus.mu.Lock()
	evs := append(bus.ev[:0:0], bus.ev...)
	bus.mu.Unlock()
	for _, ev := range evs {
		nodeA.OnEvent(ev)
		nodeB.OnEvent(ev)
	}
	if got, err := v.Store.DEPByID(ctx, d.Tenant, d.ID); err != nil || got.Revoked.IsZero() {
		t.Fatalf("the stored revocation (%s) was cleared by an unwrap begun before it: %v (events %v)", revoked.Revoked, err, evs)
	}
	// The vaults fail: after a revocation, an outage gets a refusal.
	for _, r := range []string{"eastus", "westus"} {
		if err := v.Fault(r, "failing", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]*dep.Service{"A": nodeA, "B": nodeB} {
		now, err := v.Store.DEPByID(ctx, d.Tenant, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Key(ctx, now, read); err == nil {
			t.Errorf("node %s served the revoked DEP in an outage (the availability key)", name)
		}
	}
}

// TestRevocationWithoutItsEvent (T1, S2, S3): node A stores a revocation
// and its event is never recorded (A gone between the two); node B holds
// the DEP's key in its cache and the vaults are then down, so B's probe
// unwraps tell nothing. B's probe reads the records of the DEPs it holds
// and drops the key. Before, B served reads from its cache until the key
// expired (24 h).
func TestRevocationWithoutItsEvent(t *testing.T) {
	e := deptest.StartWith(t, deptest.Options{Events: &countBus{}}) // nothing delivered
	nodeA, ctx, seed, v := e.DEPs, e.Ctx, e.Seed, e.Vault
	nodeB := e.Node(t, deptest.Options{Events: &countBus{}})
	d, err := nodeA.Create(ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	read := keyring.Request{Initiator: keyring.User, Reason: "read"}
	if _, err := nodeB.Key(ctx, d, read); err != nil {
		t.Fatal(err)
	}
	if _, ok := nodeB.Cached(d.ID); !ok {
		t.Fatal("node B does not hold the DEP's key after a read")
	}
	removeUnwrap(t, v, seed)
	if _, err := nodeA.Key(ctx, d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	for _, r := range []string{"eastus", "westus"} {
		if err := v.Fault(r, "failing", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := nodeB.Cached(d.ID); !ok {
		t.Fatal("node B dropped the key before its probe: the test shows nothing")
	}
	nodeB.ProbeRevocations(ctx)
	if _, ok := nodeB.Cached(d.ID); ok {
		t.Fatal("node B still serves the revoked DEP from its cache after its probe")
	}
	now, err := v.Store.DEPByID(ctx, d.Tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.Key(ctx, now, read); err == nil {
		t.Fatal("node B served the revoked DEP in an outage")
	}
}

// TestStaleRevocationAfterAClear (S2, K3): a dep.revoked whose publish
// was retried (events.Tell) and recorded after a newer dep.cleared does
// not revoke the DEP again: a customer key answered after it. It did, on
// every node, and the next failed read stored it again; in the outage
// that followed, a DEP whose keys last answered was refused.
func TestStaleRevocationAfterAClear(t *testing.T) {
	bus := &countBus{}
	e := deptest.StartWith(t, deptest.Options{Events: bus})
	nodeA, ctx, seed, v := e.DEPs, e.Ctx, e.Seed, e.Vault
	nodeB := e.Node(t, deptest.Options{Events: bus})
	d, err := nodeA.Create(ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	read := keyring.Request{Initiator: keyring.User, Reason: "read"}
	removeUnwrap(t, v, seed)
	if _, err := nodeA.Key(ctx, d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	revoked, err := v.Store.DEPByID(ctx, d.Tenant, d.ID)
	if err != nil || revoked.Revoked.IsZero() {
		t.Fatalf("revocation not stored: %v", err)
	}
	bus.mu.Lock()
	stale := bus.ev // A's publish "failed": Tell records it later
	bus.ev = nil
	bus.mu.Unlock()
	// The tenant gives access back; node B's read unwraps and clears.
	grantUnwrap(t, v, seed)
	if _, err := nodeB.Key(ctx, revoked, read); err != nil {
		t.Fatalf("node B with access given back: %v", err)
	}
	if now, _ := v.Store.DEPByID(ctx, d.Tenant, d.ID); !now.Revoked.IsZero() {
		t.Fatal("node B's unwrap did not clear the revocation")
	}
	bus.mu.Lock()
	evs := append(bus.ev[:0:0], bus.ev...)
	bus.mu.Unlock()
	for _, ev := range append(evs, stale...) { // the clear, then the stale revocation
		nodeA.OnEvent(ev)
		nodeB.OnEvent(ev)
	}
	for _, r := range []string{"eastus", "westus"} {
		if err := v.Fault(r, "failing", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]*dep.Service{"A": nodeA, "B": nodeB} {
		now, _ := v.Store.DEPByID(ctx, d.Tenant, d.ID)
		if _, err := n.Key(ctx, now, read); err != nil {
			t.Errorf("node %s refuses in an outage a DEP whose keys last answered: %v", name, err)
		}
	}
	if after, _ := v.Store.DEPByID(ctx, d.Tenant, d.ID); !after.Revoked.IsZero() {
		t.Errorf("the stale revocation was stored again (%s)", after.Revoked)
	}
}

// TestRevokedAgainAfterAClear (T1, S2): a DEP revoked, cleared when access
// came back, then revoked again is revoked again on every node. The new
// revocation was dated with the first one's time (the record the keyring
// had cached with its key), so the other nodes took it for the revocation
// their clear had answered: they ignored its event and their probe cleared
// it from the store; the availability key then served the DEP in an outage.
func TestRevokedAgainAfterAClear(t *testing.T) {
	bus := &countBus{}
	e := deptest.StartWith(t, deptest.Options{Events: bus})
	nodeA, ctx, seed, v := e.DEPs, e.Ctx, e.Seed, e.Vault
	nodeB := e.Node(t, deptest.Options{Events: bus})
	deliver := func() {
		bus.mu.Lock()
		evs := bus.ev
		bus.ev = nil
		bus.mu.Unlock()
		for _, ev := range evs {
			nodeA.OnEvent(ev)
			nodeB.OnEvent(ev)
		}
	}
	d, err := nodeA.Create(ctx, e.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: seed.KeyURIs[:]})
	if err != nil {
		t.Fatal(err)
	}
	now := func() store.DEP {
		t.Helper()
		r, err := v.Store.DEPByID(ctx, d.Tenant, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	read := keyring.Request{Initiator: keyring.User, Reason: "read"}
	// Revoked, told; access back; both nodes read (and cache) the key,
	// node A with the revoked record: cleared, told.
	removeUnwrap(t, v, seed)
	if _, err := nodeA.Key(ctx, d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	deliver()
	first := now()
	if first.Revoked.IsZero() {
		t.Fatal("the first revocation was not stored")
	}
	grantUnwrap(t, v, seed)
	for _, n := range []*dep.Service{nodeA, nodeB} {
		if _, err := n.Key(ctx, first, read); err != nil {
			t.Fatalf("a read with access back: %v", err)
		}
	}
	deliver()
	if !now().Revoked.IsZero() {
		t.Fatal("the first revocation was not cleared")
	}
	// Revoked again: node A's probe finds both keys refusing; node B then
	// probes too (the vaults still answer, refusing).
	time.Sleep(5 * time.Millisecond) // another millisecond than the first revocation's
	removeUnwrap(t, v, seed)
	nodeA.ProbeRevocations(ctx)
	second := now()
	if second.Revoked.IsZero() {
		t.Fatal("node A's probe did not store the second revocation")
	}
	if second.Revoked.Equal(first.Revoked) {
		t.Errorf("the second revocation carries the first one's time (%s)", first.Revoked)
	}
	deliver()
	nodeB.ProbeRevocations(ctx)
	deliver()
	if now().Revoked.IsZero() {
		t.Fatal("the second revocation was cleared from the store")
	}
	for _, r := range []string{"eastus", "westus"} {
		if err := v.Fault(r, "failing", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]*dep.Service{"A": nodeA, "B": nodeB} {
		if _, err := n.Key(ctx, now(), read); err == nil {
			t.Errorf("node %s served the revoked DEP in an outage", name)
		}
	}
}

package dep_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/events"
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

// nodes is two DEP services over one store and vault (deptest), node A
// reaching the vault through wrapA if given, both telling bus, whose
// events the test delivers (as NOTIFY would, a little later); and DEP-1.
type nodes struct {
	*deptest.Env
	a, b *dep.Service
	bus  *countBus
	d    store.DEP
}

var read = keyring.Request{Initiator: keyring.User, Reason: "read"}

func startNodes(t *testing.T, wrapA func(kms.Client) kms.Client) *nodes {
	t.Helper()
	n := &nodes{bus: &countBus{}}
	n.Env = deptest.StartWith(t, deptest.Options{Events: n.bus, KMS: wrapA})
	n.a, n.b = n.DEPs, n.Node(t, deptest.Options{Events: n.bus})
	var err error
	if n.d, err = n.a.Create(n.Ctx, n.Tenant, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: n.Seed.KeyURIs[:]}); err != nil {
		t.Fatal(err)
	}
	return n
}

// take is the events told so far, which no node has yet.
func (n *nodes) take() []events.Event {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	evs := n.bus.ev
	n.bus.ev = nil
	return evs
}

// deliver gives evs to both nodes, in order.
func (n *nodes) deliver(evs []events.Event) {
	for _, ev := range evs {
		n.a.OnEvent(ev)
		n.b.OnEvent(ev)
	}
}

// record is DEP-1's record as stored now.
func (n *nodes) record(t *testing.T) store.DEP {
	t.Helper()
	r, err := n.Vault.Store.DEPByID(n.Ctx, n.d.Tenant, n.d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// outage fails both vault regions.
func (n *nodes) outage(t *testing.T) {
	t.Helper()
	for _, r := range []string{"eastus", "westus"} {
		if err := n.Vault.Fault(r, "failing", 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

// serves reports, for each node, whether a read of DEP-1 with its record
// as stored now gets the key.
func (n *nodes) serves(t *testing.T) map[string]error {
	t.Helper()
	out := map[string]error{}
	for name, s := range map[string]*dep.Service{"A": n.a, "B": n.b} {
		_, out[name] = s.Key(n.Ctx, n.record(t), read)
	}
	return out
}

// revokedOnA removes the workload's access; node A's read is refused by
// both keys: revoked, stored, told to both nodes. It returns the record.
func (n *nodes) revokedOnA(t *testing.T) store.DEP {
	t.Helper()
	removeUnwrap(t, n.Vault, n.Seed)
	if _, err := n.a.Key(n.Ctx, n.d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	n.deliver(n.take())
	first := n.record(t)
	if first.Revoked.IsZero() {
		t.Fatal("the first revocation was not stored")
	}
	return first
}

// TestRevocationStandsAcrossNodes (T1, S2): an unwrap that began on node
// A before node B saw both keys refuse, and whose answer reached A after
// B stored the revocation, does not clear it. It did: A dated the clear
// when the answer arrived, later than B's revocation, and a read on A
// with the revoked record (joining that unwrap) cleared the stored
// revocation for every node; in the outage that followed, the
// availability key served the revoked DEP on both nodes.
func TestRevocationStandsAcrossNodes(t *testing.T) {
	late := &lateKMS{answered: make(chan struct{}), release: make(chan struct{})}
	n := startNodes(t, func(c kms.Client) kms.Client { late.Client = c; return late })
	ctx := n.Ctx

	// Node A asks; the vault unwraps; the answer is late.
	late.armed.Store(true)
	first := make(chan error, 1)
	go func() { _, err := n.a.Key(ctx, n.d, read); first <- err }()
	<-late.answered
	// The tenant removes the workload's access; node B's read is refused
	// by both keys: revoked, stored, told.
	removeUnwrap(t, n.Vault, n.Seed)
	if _, err := n.b.Key(ctx, n.d, read); err == nil {
		t.Fatal("node B read the DEP with the access removed")
	}
	revoked := n.record(t)
	if revoked.Revoked.IsZero() {
		t.Fatal("node B's revocation not stored")
	}
	// A read on node A with the record as it is now joins A's unwrap.
	second := make(chan error, 1)
	go func() { _, err := n.a.Key(ctx, revoked, read); second <- err }()
	time.Sleep(100 * time.Millisecond)
	close(late.release)
	if err := <-first; err != nil {
		t.Fatalf("node A's read begun before the revocation: %v", err)
	}
	<-second // served from the unwrap begun before: either answer is fair
	evs := n.take()
	n.deliver(evs)
	if n.record(t).Revoked.IsZero() {
		t.Fatalf("the stored revocation (%s) was cleared by an unwrap begun before it (events %v)", revoked.Revoked, evs)
	}
	// The vaults fail: after a revocation, an outage gets a refusal.
	n.outage(t)
	for name, err := range n.serves(t) {
		if err == nil {
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
	n := startNodes(t, nil) // no event is delivered
	ctx := n.Ctx
	if _, err := n.b.Key(ctx, n.d, read); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.b.Cached(n.d.ID); !ok {
		t.Fatal("node B does not hold the DEP's key after a read")
	}
	removeUnwrap(t, n.Vault, n.Seed)
	if _, err := n.a.Key(ctx, n.d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	n.outage(t)
	if _, ok := n.b.Cached(n.d.ID); !ok {
		t.Fatal("node B dropped the key before its probe: the test shows nothing")
	}
	n.b.ProbeRevocations(ctx)
	if _, ok := n.b.Cached(n.d.ID); ok {
		t.Fatal("node B still serves the revoked DEP from its cache after its probe")
	}
	if err := n.serves(t)["B"]; err == nil {
		t.Fatal("node B served the revoked DEP in an outage")
	}
}

// TestStaleRevocationAfterAClear (S2, K3): a dep.revoked whose publish
// was retried (events.Tell) and recorded after a newer dep.cleared does
// not revoke the DEP again: a customer key answered after it. It did, on
// every node, and the next failed read stored it again; in the outage
// that followed, a DEP whose keys last answered was refused.
func TestStaleRevocationAfterAClear(t *testing.T) {
	n := startNodes(t, nil)
	ctx := n.Ctx
	removeUnwrap(t, n.Vault, n.Seed)
	if _, err := n.a.Key(ctx, n.d, read); err == nil {
		t.Fatal("node A read the DEP with the access removed")
	}
	revoked := n.record(t)
	if revoked.Revoked.IsZero() {
		t.Fatal("revocation not stored")
	}
	stale := n.take() // A's publish "failed": Tell records it later
	// The tenant gives access back; node B's read unwraps and clears.
	grantUnwrap(t, n.Vault, n.Seed)
	if _, err := n.b.Key(ctx, revoked, read); err != nil {
		t.Fatalf("node B with access given back: %v", err)
	}
	if !n.record(t).Revoked.IsZero() {
		t.Fatal("node B's unwrap did not clear the revocation")
	}
	n.deliver(append(n.take(), stale...)) // the clear, then the stale revocation
	n.outage(t)
	for name, err := range n.serves(t) {
		if err != nil {
			t.Errorf("node %s refuses in an outage a DEP whose keys last answered: %v", name, err)
		}
	}
	if after := n.record(t); !after.Revoked.IsZero() {
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
	n := startNodes(t, nil)
	ctx := n.Ctx
	// Revoked, told; access back; both nodes read (and cache) the key,
	// node A with the revoked record: cleared, told.
	first := n.revokedOnA(t)
	grantUnwrap(t, n.Vault, n.Seed)
	for _, s := range []*dep.Service{n.a, n.b} {
		if _, err := s.Key(ctx, first, read); err != nil {
			t.Fatalf("a read with access back: %v", err)
		}
	}
	n.deliver(n.take())
	if !n.record(t).Revoked.IsZero() {
		t.Fatal("the first revocation was not cleared")
	}
	// Revoked again: node A's probe finds both keys refusing; node B then
	// probes too (the vaults still answer, refusing).
	time.Sleep(5 * time.Millisecond) // another millisecond than the first revocation's
	removeUnwrap(t, n.Vault, n.Seed)
	n.a.ProbeRevocations(ctx)
	second := n.record(t)
	if second.Revoked.IsZero() {
		t.Fatal("node A's probe did not store the second revocation")
	}
	if second.Revoked.Equal(first.Revoked) {
		t.Errorf("the second revocation carries the first one's time (%s)", first.Revoked)
	}
	n.deliver(n.take())
	n.b.ProbeRevocations(ctx)
	n.deliver(n.take())
	if n.record(t).Revoked.IsZero() {
		t.Fatal("the second revocation was cleared from the store")
	}
	n.outage(t)
	for name, err := range n.serves(t) {
		if err == nil {
			t.Errorf("node %s served the revoked DEP in an outage", name)
		}
	}
}

// TestRevokedAgainOnALaggingNode (T1, S2): a DEP revoked, cleared on
// node B when access came back, then revoked again through node A (the
// tenant's signal, or a read both keys refuse) before B's clear reached
// A. A still held the first revocation, so the new one was stored and
// told with the first one's time: B took it for the one its clear had
// answered and kept the key, A cleared on B's late event, and B's probe
// erased the new revocation from the store; in the outage that followed,
// both nodes served the DEP (found by an attacker review).
func TestRevokedAgainOnALaggingNode(t *testing.T) {
	// The third: A's refusal comes on a request whose record was read
	// before B's clear (it still says revoked). A kept the revocation it
	// held and stored and told nothing, then cleared on B's late event
	// (found by a review of the first fix).
	for _, how := range []string{"signal", "refused read", "refused read, its record from before the clear"} {
		t.Run(how, func(t *testing.T) {
			n := startNodes(t, nil)
			ctx := n.Ctx
			first := n.revokedOnA(t)
			// Access back: node B reads, clears, tells; A has not heard.
			grantUnwrap(t, n.Vault, n.Seed)
			time.Sleep(5 * time.Millisecond) // another millisecond than the first revocation's
			if _, err := n.b.Key(ctx, first, read); err != nil {
				t.Fatalf("node B with access back: %v", err)
			}
			cleared := n.take()
			// Access removed again, and the revocation goes through A.
			removeUnwrap(t, n.Vault, n.Seed)
			switch how {
			case "signal":
				if _, err := n.a.Probe(ctx, n.Tenant, dep.Mailbox, "DEP-1", true); err != nil {
					t.Fatal(err)
				}
			case "refused read":
				if _, err := n.a.Key(ctx, n.record(t), read); err == nil {
					t.Fatal("node A read the DEP with the access removed again")
				}
			default:
				if _, err := n.a.Key(ctx, first, read); err == nil {
					t.Fatal("node A read the DEP with the access removed again")
				}
			}
			second := n.record(t)
			if second.Revoked.IsZero() {
				t.Fatal("the second revocation was not stored")
			}
			if !second.Revoked.After(first.Revoked) {
				t.Errorf("the second revocation is dated %s, not after the first (%s)", second.Revoked, first.Revoked)
			}
			n.deliver(append(cleared, n.take()...)) // in the order they were recorded
			n.outage(t)
			n.b.ProbeRevocations(ctx)
			if n.record(t).Revoked.IsZero() {
				t.Error("the second revocation was erased from the store")
			}
			for name, err := range n.serves(t) {
				if err == nil {
					t.Errorf("node %s served the revoked DEP in an outage", name)
				}
			}
		})
	}
}

// TestRefusedWithAnOlderRecordKeepsTheRevocation (T1, S2): the tenant's
// signal on node A is stored; a request on A whose record was read before
// the signal is refused too. That is the same revocation, not a new one:
// when access comes back and node B clears it, A clears too, and in an
// outage after that both serve. Taken for a new one (as a first fix did),
// A held a revocation no clear answered and refused in the outage.
func TestRefusedWithAnOlderRecordKeepsTheRevocation(t *testing.T) {
	n := startNodes(t, nil)
	ctx := n.Ctx
	removeUnwrap(t, n.Vault, n.Seed)
	if _, err := n.a.Probe(ctx, n.Tenant, dep.Mailbox, "DEP-1", true); err != nil {
		t.Fatal(err)
	}
	n.deliver(n.take())
	signalled := n.record(t)
	if signalled.Revoked.IsZero() {
		t.Fatal("the signal was not stored")
	}
	if _, err := n.a.Key(ctx, n.d, read); err == nil { // the record read before the signal
		t.Fatal("node A read the DEP with the access removed")
	}
	if r := n.record(t); !r.Revoked.Equal(signalled.Revoked) || r.RevokedCause != signalled.RevokedCause {
		t.Fatalf("the refusal changed the stored revocation: %s %q, was %s %q", r.Revoked, r.RevokedCause, signalled.Revoked, signalled.RevokedCause)
	}
	grantUnwrap(t, n.Vault, n.Seed)
	if _, err := n.b.Key(ctx, signalled, read); err != nil {
		t.Fatalf("node B with access back: %v", err)
	}
	n.deliver(n.take())
	n.outage(t)
	for name, err := range n.serves(t) {
		if err != nil {
			t.Errorf("node %s refuses in an outage a DEP whose keys last answered: %v", name, err)
		}
	}
}

// TestRevocationHeardIsNoRefusal (T1, S2): news of a revocation from
// another node (a repeated signal's dep.revoked) is not a refusal seen
// here. Taken for one, node A, still holding the revocation when node B
// cleared it and the vaults then went down, stored a new revocation for
// every node: a refusal in the outage of a DEP whose keys last answered.
func TestRevocationHeardIsNoRefusal(t *testing.T) {
	n := startNodes(t, nil)
	ctx := n.Ctx
	first := n.revokedOnA(t)
	if _, err := n.b.Probe(ctx, n.Tenant, dep.Mailbox, "DEP-1", true); err != nil { // told again
		t.Fatal(err)
	}
	n.deliver(n.take())
	grantUnwrap(t, n.Vault, n.Seed)
	if _, err := n.b.Key(ctx, first, read); err != nil {
		t.Fatalf("node B with access back: %v", err)
	}
	cleared := n.take()
	n.outage(t)
	if _, err := n.a.Key(ctx, n.record(t), read); err == nil {
		t.Fatal("node A, still holding the revocation, served the DEP")
	}
	if r := n.record(t); !r.Revoked.IsZero() {
		t.Fatalf("node A stored a revocation no key refused: %s (%s)", r.Revoked, r.RevokedCause)
	}
	n.deliver(append(cleared, n.take()...))
	for name, err := range n.serves(t) {
		if err != nil {
			t.Errorf("node %s refuses in an outage a DEP whose keys last answered: %v", name, err)
		}
	}
}

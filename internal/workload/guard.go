package workload

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Content streams for as long as its reader or writer takes (the API
// allows a day), with keys opened when it began. A revocation meanwhile
// must stop it, not only the requests after it (SPEC T1, T6, K6). So a
// stream asks between chunks, at most once every recheckEvery, whether
// a new request would still be served now:
//
//   - the caller's token is still valid (Tokens.Recheck: the token as
//     authentication reads it, from a cache trusted for a second);
//   - the container's DEP is not revoked on this node (dep.CheckRevoked:
//     in memory; the tenant's signal and the refusals seen on any node
//     reach every node's keyrings within a second, S2);
//   - nothing dropped the DEP's key since the stream began (dep.Epoch: in
//     memory). If something did (the DEP disabled, deleted, retired by a
//     roll, or its purge requested), the container and its key are asked
//     for again as a new request would ask (Key: the keyring's cache, or
//     the customer keys once for every waiter), and a refusal stops it.
//
// A stream stopped returns the refusal: a read's answer is cut short of
// its Content-Length (its status is already sent), a write stores
// nothing. Neither costs a store or vault call per chunk.
const recheckEvery = time.Second

// Tokens re-checks the caller of a stream of content (T6).
type Tokens interface {
	// Recheck fails once caller may no longer act: its token revoked or
	// expired since it authenticated the request.
	Recheck(ctx context.Context, caller store.APIToken) error
}

// guard is what one stream of content on container m asks before its
// next chunk. It is used by one goroutine (the stream's).
type guard struct {
	s      *Service
	t      store.ServiceTenant
	r      Ref
	m      store.Mailbox
	caller store.APIToken
	why    string
	epoch  uint64 // dep.Epoch of m's DEP, from before its key was asked
	last   time.Time
}

// keyGuarded is Key for a user's request whose content may stream for
// long: the key, and the guard that the stream asks as it goes.
func (s *Service) keyGuarded(ctx context.Context, t store.ServiceTenant, r Ref, m store.Mailbox, why string) (*envelope.Key, *guard, error) {
	caller := tenant.Caller(ctx)
	epoch := s.deps.Epoch(m.DEP) // before the key: what drops it after is seen
	ck, err := s.Key(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: why + " in " + m.ID + " by " + tenant.Actor(caller)})
	if err != nil {
		return nil, nil, err
	}
	return ck, &guard{s: s, t: t, r: r, m: m, caller: caller, why: why, epoch: epoch, last: time.Now()}, nil
}

// check says whether the stream may go on (nil) or why not. It asks at
// most once every recheckEvery; between, it answers at once. The pace is
// the real clock's, not s.now: a clock held still (in tests) must not
// turn the checks off.
func (g *guard) check(ctx context.Context) error {
	if g == nil || time.Since(g.last) < recheckEvery {
		return nil
	}
	g.last = time.Now()
	err := g.recheck(ctx)
	if err != nil && ctx.Err() == nil {
		g.s.log.Warn("workload: a stream of content stopped: it may no longer be served", "tenant", g.t.ID, "container", g.m.ID, "dep", g.m.DEP, "token", g.caller.ID, "why", g.why, "err", err)
	}
	return err
}

func (g *guard) recheck(ctx context.Context) error {
	if g.s.toks != nil {
		if err := g.s.toks.Recheck(ctx, g.caller); stops(err) {
			return err
		} else if err != nil {
			g.s.log.Warn("workload: a stream's token could not be checked again; asked again in a second", "tenant", g.t.ID, "token", g.caller.ID, "err", err)
		}
	}
	// A revoked DEP, or a key dropped since: the container (a roll may
	// have moved it off that DEP) and its key again, as a new request
	// would have them.
	if g.s.deps.CheckRevoked(g.m.DEP) == nil && g.s.deps.Epoch(g.m.DEP) == g.epoch {
		return nil
	}
	m, err := g.s.st.Mailbox(ctx, g.t.ID, g.m.ID)
	if errors.Is(err, store.ErrNotFound) {
		sp := spaces[g.r.Space]
		return rule.NotFound(sp.existsRule, sp.listFix, "%s %s was deleted while its content was streamed", sp.container, g.r.Name)
	} else if err != nil {
		g.s.log.Warn("workload: a stream's container could not be read again; asked again in a second", "tenant", g.t.ID, "container", g.m.ID, "err", err)
		return nil
	}
	epoch := g.s.deps.Epoch(m.DEP)
	if err := g.s.deps.CheckRevoked(m.DEP); err != nil {
		return err
	}
	ck, err := g.s.Key(ctx, g.t, m, keyring.Request{Initiator: keyring.User, Reason: g.why + " in " + m.ID + " by " + g.caller.Subject + " (still streaming)"})
	if stops(err) {
		return err
	} else if err != nil { // the vaults not answering: an outage does not stop what the key already opened
		g.s.log.Warn("workload: a stream's key could not be asked for again; asked again in a second", "tenant", g.t.ID, "container", m.ID, "err", err)
		return nil
	}
	ck.Destroy()
	g.m, g.epoch = m, epoch
	return nil
}

// stops says whether err refuses what a stream does (a token revoked or
// expired, a DEP revoked, refused, gone or deleted), as opposed to a part
// of the service or a vault not answering for a moment, which the next
// check asks again.
func stops(err error) bool {
	e, ok := rule.As(err)
	if !ok {
		return false
	}
	switch e.Kind {
	case rule.KindUnauthenticated, rule.KindRefused, rule.KindNotFound, rule.KindGone:
		return true
	}
	return false
}

// guardedReader is a write's body: before each read, its guard is asked.
type guardedReader struct {
	ctx context.Context
	r   io.Reader
	g   *guard
}

func (r guardedReader) Read(p []byte) (int, error) {
	if err := r.g.check(r.ctx); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

package events

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/customerkey/customerkey/internal/store"
)

// Postgres is the bus of nodes sharing one PostgreSQL database: a
// dedicated connection LISTENs on store.EventsChannel and wakes the
// catch-up on every notification; it reconnects when lost (after a
// catch-up, so what it missed meanwhile is delivered), and the periodic
// sequence check delivers events even while it is down.
type Postgres struct {
	*hub
	url string

	pidMu sync.Mutex
	pid   uint32
}

// reconnectDelay is the pause between attempts to LISTEN again.
const reconnectDelay = 500 * time.Millisecond

// NewPostgres returns the bus over cfg.Store, listening through its own
// connection to url (the store's URL); Close stops it.
func NewPostgres(ctx context.Context, url string, cfg Config) (*Postgres, error) {
	h, err := newHub(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &Postgres{hub: h, url: url}
	h.start()
	lctx, cancel := context.WithCancel(context.Background())
	stopHub := h.stop
	h.stop = func() { cancel(); stopHub() }
	h.done.Go(func() { p.listen(lctx) })
	return p, nil
}

// listen keeps a LISTEN connection until ctx is done.
func (p *Postgres) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		p.cfg.Logger.Warn("events: the LISTEN connection was lost; the sequence check covers until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(reconnectDelay):
		}
	}
}

func (p *Postgres) listenOnce(ctx context.Context) error {
	cc, err := pgx.ParseConfig(p.url)
	if err != nil {
		return err
	}
	cc.RuntimeParams["application_name"] = "ck-events"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{store.EventsChannel}.Sanitize()); err != nil {
		return err
	}
	p.pidMu.Lock()
	p.pid = conn.PgConn().PID()
	p.pidMu.Unlock()
	p.Wake() // whatever was published while not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			p.pidMu.Lock()
			p.pid = 0
			p.pidMu.Unlock()
			return err
		}
		p.Wake()
	}
}

// Head is the sequence of the last recorded event (events.Shared).
func (p *Postgres) Head(ctx context.Context) (int64, error) { return p.cfg.Store.LastEventSeq(ctx) }

var _ Shared = (*Postgres)(nil)

// ListenerPID is the server process ID of the LISTEN connection (0 while
// not connected): tests terminate it to prove the bus survives.
func (p *Postgres) ListenerPID() uint32 {
	p.pidMu.Lock()
	defer p.pidMu.Unlock()
	return p.pid
}

// Close stops listening and delivering.
func (p *Postgres) Close() error { p.close(); return nil }

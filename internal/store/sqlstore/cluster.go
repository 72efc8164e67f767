package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"github.com/customerkey/customerkey/internal/store"
)

// RecordClusterSecret inserts the value unless one is stored, then reads
// what is stored: two nodes starting at once agree on the first.
func (s *DB) RecordClusterSecret(ctx context.Context, name, value string) (string, error) {
	if _, err := s.exec(ctx, `INSERT INTO svc_cluster_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", err
	}
	var got string
	if err := s.queryRow(ctx, `SELECT value FROM svc_cluster_secrets WHERE name = ?`, name).Scan(&got); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("%w: cluster secret %s vanished", store.ErrConflict, name)
		}
		return "", err
	}
	return got, nil
}

func (s *DB) ReplaceClusterSecret(ctx context.Context, name, old, value string) error {
	return changed(s.exec(ctx, `UPDATE svc_cluster_secrets SET value = ? WHERE name = ? AND value = ?`, value, name, old))("cluster secret " + name + " changed meanwhile")
}

// Ping runs a query: the database answers (the service's /readyz).
func (s *DB) Ping(ctx context.Context) error {
	var one int
	return s.queryRow(ctx, `SELECT 1`).Scan(&one)
}

// Lock: one waiter per process (namedLocks), and on PostgreSQL a
// session advisory lock on a connection of its own, until unlock (a
// transaction held open would do, but a server's
// idle_in_transaction_session_timeout would end it, and the lock, in the
// middle of the work). The server lets go of it when the connection
// ends: a node that dies holds nothing.
func (s *DB) Lock(ctx context.Context, name string) (func(), error) {
	local, err := s.locks.lock(ctx, name)
	if err != nil || s.d != postgres {
		return local, err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		local()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	// Advisory locks are the database's: the schema in the key keeps
	// deployments in other schemas of it apart.
	const key = `hashtext(current_schema() || ':customerkey:' || $1)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`, name); err != nil {
		drop(conn) // the wait cancelled: whether the lock came with it, the connection goes
		local()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(`+key+`)`, name); err != nil {
				drop(conn)
			} else {
				conn.Close()
			}
			local()
		})
	}, nil
}

// drop closes a connection for good (not back to the pool), and so ends
// its session and whatever session locks it held.
func drop(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn }) // ErrBadConn: database/sql discards the connection
	c.Close()
}

// namedLocks are SQLite's locks: a channel of one per name.
type namedLocks struct{ m sync.Map }

func (l *namedLocks) lock(ctx context.Context, name string) (func(), error) {
	v, _ := l.m.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("lock %s: %w", name, ctx.Err())
	}
}

package sqlstore

import (
	"context"
	"database/sql"
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

// Lock: on PostgreSQL a transaction-level advisory lock in a transaction
// held open until unlock (or ctx ends: database/sql rolls back, and the
// server lets go of the lock, as it does when the node's connection
// dies). On SQLite, one process's: a lock per name of this database.
func (s *DB) Lock(ctx context.Context, name string) (func(), error) {
	if s.d != postgres {
		return s.locks.lock(ctx, name)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	// Advisory locks are the database's: the schema in the key keeps
	// deployments in other schemas of it apart.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':customerkey:' || $1))`, name); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { tx.Rollback() }, nil
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

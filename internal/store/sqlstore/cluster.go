package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func (s *DB) CreateAvailabilityKey(ctx context.Context, k store.AvailabilityKey) error {
	_, err := s.exec(ctx, `INSERT INTO availability_keys (id, tenant, dep, sealed, created, destroyed_at, destroyed_by, reason) VALUES (?, ?, ?, ?, ?, NULL, '', '')`,
		k.ID, k.Tenant, k.DEP, k.Sealed, ms(k.Created))
	return err
}

func (s *DB) AvailabilityKey(ctx context.Context, id string) (store.AvailabilityKey, error) {
	var k store.AvailabilityKey
	var created int64
	var destroyed sql.NullInt64
	err := s.queryRow(ctx, `SELECT id, tenant, dep, sealed, created, destroyed_at, destroyed_by, reason FROM availability_keys WHERE id = ?`, id).
		Scan(&k.ID, &k.Tenant, &k.DEP, &k.Sealed, &created, &destroyed, &k.DestroyedBy, &k.Reason)
	k.Created, k.DestroyedAt = fromMS(created), fromNull(destroyed)
	return k, s.mapErr(err)
}

func (s *DB) DestroyAvailabilityKey(ctx context.Context, id string, at time.Time, by, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var destroyed sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT destroyed_at FROM availability_keys WHERE id = ?`), id).Scan(&destroyed); err != nil {
			return err
		}
		if destroyed.Valid {
			return fmt.Errorf("%w: availability key %s was destroyed already", store.ErrConflict, id)
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE availability_keys SET sealed = NULL, destroyed_at = ?, destroyed_by = ?, reason = ? WHERE id = ?`), ms(at), by, reason, id)
		return err
	})
}

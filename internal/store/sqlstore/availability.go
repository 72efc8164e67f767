package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func (s *DB) CreateAvailabilityKey(ctx context.Context, k store.AvailabilityKey) error {
	_, err := s.exec(ctx, `INSERT INTO availability_keys (id, tenant, dep, sealed, kek_version, created, destroyed_at, destroyed_by, reason) VALUES (?, ?, ?, ?, ?, ?, NULL, '', '')`,
		k.ID, k.Tenant, k.DEP, k.Sealed, int64(k.KEKVersion), ms(k.Created))
	return err
}

const avkColumns = `id, tenant, dep, sealed, kek_version, created, destroyed_at, destroyed_by, reason`

func scanAvailabilityKey(sc scanner) (store.AvailabilityKey, error) {
	var k store.AvailabilityKey
	var created, version int64
	var destroyed sql.NullInt64
	err := sc.Scan(&k.ID, &k.Tenant, &k.DEP, &k.Sealed, &version, &created, &destroyed, &k.DestroyedBy, &k.Reason)
	k.KEKVersion, k.Created, k.DestroyedAt = uint32(version), fromMS(created), fromNull(destroyed)
	return k, err
}

func (s *DB) AvailabilityKey(ctx context.Context, id string) (store.AvailabilityKey, error) {
	k, err := scanAvailabilityKey(s.queryRow(ctx, `SELECT `+avkColumns+` FROM availability_keys WHERE id = ?`, id))
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

func (s *DB) AvailabilityKeysSealedUnder(ctx context.Context, max uint32, after string, limit int) ([]store.AvailabilityKey, error) {
	st, err := s.rstmt(ctx, s.q(`SELECT `+avkColumns+` FROM availability_keys WHERE id > ? AND destroyed_at IS NULL AND kek_version <= ? ORDER BY id LIMIT ?`))
	if err != nil {
		return nil, s.mapErr(err)
	}
	rows, err := st.QueryContext(ctx, after, int64(max), limit)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []store.AvailabilityKey
	for rows.Next() {
		k, err := scanAvailabilityKey(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, k)
	}
	return out, s.mapErr(rows.Err())
}

func (s *DB) ResealAvailabilityKeys(ctx context.Context, rs []store.Reseal) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := tx.PrepareContext(ctx, s.q(`UPDATE availability_keys SET sealed = ?, kek_version = ? WHERE id = ? AND kek_version = ? AND destroyed_at IS NULL`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			res, err := st.ExecContext(ctx, r.Sealed, int64(r.To), r.ID, int64(r.From))
			if err != nil {
				return err
			}
			if c, _ := res.RowsAffected(); c == 1 {
				n++
			}
		}
		return nil
	})
	return n, err
}

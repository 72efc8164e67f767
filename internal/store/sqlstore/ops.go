package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func (s *DB) AppendOps(ctx context.Context, ops []store.Op) error {
	st, err := s.stmt(ctx, s.q(`INSERT INTO ops (time, principal, tenant, operation, vault, key_name, version, status, code, client_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		ins := tx.StmtContext(ctx, st)
		for _, op := range ops {
			if _, err := ins.ExecContext(ctx, op.Time.UnixNano(), op.Principal, op.Tenant, op.Operation, strings.ToLower(op.Vault), op.Key, op.Version, op.Status, op.Code, op.ClientIP); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *DB) ListOps(ctx context.Context, f store.OpFilter) ([]store.Op, error) {
	q := `SELECT id, time, principal, tenant, operation, vault, key_name, version, status, code, client_ip FROM ops WHERE id > ?`
	args := []any{f.AfterID}
	if f.Vault != "" {
		q += ` AND vault = ?`
		args = append(args, strings.ToLower(f.Vault))
	}
	if f.Vaults != nil {
		if len(f.Vaults) == 0 {
			return nil, nil
		}
		q += ` AND (` + strings.Repeat(`(vault = ? AND time >= ?) OR `, len(f.Vaults)-1) + `(vault = ? AND time >= ?))`
		for _, v := range f.Vaults {
			args = append(args, strings.ToLower(v.Name), v.Since.UnixNano())
		}
	}
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.Since.UnixNano())
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	return list(ctx, s, func(r scanner) (store.Op, error) {
		var op store.Op
		var t int64
		err := r.Scan(&op.ID, &t, &op.Principal, &op.Tenant, &op.Operation, &op.Vault, &op.Key, &op.Version, &op.Status, &op.Code, &op.ClientIP)
		op.Time = fromNanos(t)
		return op, err
	}, q, args...)
}

// pruneScan bounds the batches PruneOps reads past entries stamped ahead,
// looking for older ones appended after them.
const pruneScan = 16

func (s *DB) PruneOps(ctx context.Context, before, ahead time.Time, limit int) (int, error) {
	// In the order appended, by ID (an index scan; a time index would
	// cost every append a write), up to the first entry still within
	// the retention: an entry stamped after ahead (a node whose clock ran
	// fast) is passed over, and goes with the older ones after it.
	limit = max(limit, 1)
	type entry struct{ id, time int64 }
	var last int64 // the last entry older than before: the prune ends there
	after := int64(-1 << 63)
scan:
	for range pruneScan {
		batch, err := list(ctx, s, func(r scanner) (entry, error) {
			var e entry
			return e, r.Scan(&e.id, &e.time)
		}, `SELECT id, time FROM ops WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
		if err != nil {
			return 0, err
		}
		for _, e := range batch {
			switch {
			case e.time < before.UnixNano():
				last = e.id
			case e.time > ahead.UnixNano(): // passed over
			default:
				break scan // within the retention: the prune ends before it
			}
		}
		if len(batch) < limit || last == batch[len(batch)-1].id {
			break // the log's end, or a whole limit to delete
		}
		after = batch[len(batch)-1].id
	}
	if last == 0 {
		return 0, nil
	}
	res, err := s.exec(ctx, `DELETE FROM ops WHERE id IN (SELECT id FROM ops WHERE id <= ? ORDER BY id LIMIT ?)`, last, limit)
	if err != nil {
		return 0, err
	}
	deleted, err := res.RowsAffected()
	return int(deleted), err
}

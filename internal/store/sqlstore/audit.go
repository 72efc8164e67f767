package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/customerkey/customerkey/internal/store"
)

const auditColumns = `tenant, seq, time, actor, action, target, key_id, reason, outcome, prev, hash`

func (s *DB) AppendAudit(ctx context.Context, tenant string, seal func(last store.AuditRecord) store.AuditRecord) (store.AuditRecord, error) {
	// SQLite has one writer; on PostgreSQL two appends to one chain can
	// read the same last record, and the loser retries on the primary key.
	for attempt := 0; ; attempt++ {
		var rec store.AuditRecord
		err := s.tx(ctx, func(tx *sql.Tx) error {
			last, err := scanAudit(tx.QueryRowContext(ctx, s.q(`SELECT `+auditColumns+` FROM svc_audit WHERE tenant = ? ORDER BY seq DESC LIMIT 1`), tenant))
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			rec = seal(last)
			if rec.Tenant != tenant || rec.Seq != last.Seq+1 {
				return fmt.Errorf("audit: record %s/%d does not follow %s/%d", rec.Tenant, rec.Seq, tenant, last.Seq)
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO svc_audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				rec.Tenant, rec.Seq, rec.Time.UnixNano(), rec.Actor, rec.Action, rec.Target, rec.KeyID, rec.Reason, rec.Outcome, rec.Prev, rec.Hash)
			return err
		})
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			continue
		}
		return rec, err
	}
}

func (s *DB) ListAudit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	return list(ctx, s, scanAudit, `SELECT `+auditColumns+` FROM svc_audit WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`, tenant, after, limit)
}

func scanAudit(r scanner) (store.AuditRecord, error) {
	var a store.AuditRecord
	var t int64
	err := r.Scan(&a.Tenant, &a.Seq, &t, &a.Actor, &a.Action, &a.Target, &a.KeyID, &a.Reason, &a.Outcome, &a.Prev, &a.Hash)
	if err != nil {
		return store.AuditRecord{}, err
	}
	a.Time = fromNanos(t)
	return a, nil
}

func (s *DB) LastAudit(ctx context.Context, tenant string) (store.AuditRecord, error) {
	r, err := scanAudit(s.queryRow(ctx, `SELECT `+auditColumns+` FROM svc_audit WHERE tenant = ? ORDER BY seq DESC LIMIT 1`, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditRecord{}, nil
	}
	return r, s.mapErr(err)
}

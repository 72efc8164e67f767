package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// eventsLock is the advisory lock that makes PostgreSQL events commit in
// sequence order: without it, a transaction holding seq 5 could commit
// after one holding seq 6 was read, and a reader past 6 would never see 5.
// Events are rare (admin actions), so the lock costs nothing that shows.
const eventsLock = 0x636b6576 // "ckev"

// AppendEvent records e; on PostgreSQL it also notifies EventsChannel with
// the sequence number, in the same transaction (delivered on commit).
func (s *DB) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	var seq int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.d == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, eventsLock); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO svc_events (kind, tenant, ref, detail, node, at, recorded) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`),
			e.Kind, e.Tenant, e.Ref, e.Detail, e.Node, ms(e.At), ms(time.Now())).Scan(&seq)
		if err != nil {
			return err
		}
		if s.d == postgres {
			_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, store.EventsChannel, strconv.FormatInt(seq, 10))
		}
		return err
	})
	return seq, err
}

// EventsAfter returns up to limit events after seq, in order.
func (s *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	st, err := s.rstmt(ctx, s.q(`SELECT seq, kind, tenant, ref, detail, node, at FROM svc_events WHERE seq > ? ORDER BY seq LIMIT ?`))
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var at int64
		if err := rows.Scan(&e.Seq, &e.Kind, &e.Tenant, &e.Ref, &e.Detail, &e.Node, &at); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastEventSeq is the highest sequence recorded (0 if none).
func (s *DB) LastEventSeq(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := s.queryRow(ctx, `SELECT MAX(seq) FROM svc_events`).Scan(&seq)
	return seq.Int64, err
}

// PruneEvents deletes events recorded before t (whenever what they tell
// happened).
func (s *DB) PruneEvents(ctx context.Context, before time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM svc_events WHERE recorded < ?`, ms(before))
	return err
}

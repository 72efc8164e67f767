package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

const uploadCols = `tenant, id, container, item, kind, version, blob, header, size, received, written, state, want_sha256, by_subject, created, updated`

func scanUpload(r scanner) (store.Upload, error) {
	var u store.Upload
	var created, updated int64
	err := r.Scan(&u.Tenant, &u.ID, &u.Container, &u.Item, &u.Kind, &u.Version, &u.Blob, &u.Header, &u.Size, &u.Received, &u.Written, &u.State, &u.WantSHA256, &u.By, &created, &updated)
	u.Created, u.Updated = fromMS(created), fromMS(updated)
	return u, err
}

func (s *DB) CreateUpload(ctx context.Context, u store.Upload) error {
	_, err := s.exec(ctx, `INSERT INTO svc_uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Tenant, u.ID, strings.ToLower(u.Container), u.Item, u.Kind, u.Version, u.Blob, u.Header, u.Size, u.Received, u.Written, u.State, u.WantSHA256, u.By, ms(u.Created), ms(u.Updated))
	return err
}

func (s *DB) Upload(ctx context.Context, tenant, id string) (store.Upload, error) {
	u, err := scanUpload(s.queryRow(ctx, `SELECT `+uploadCols+` FROM svc_uploads WHERE tenant = ? AND id = ?`, tenant, id))
	return u, s.mapErr(err)
}

func (s *DB) ClaimUpload(ctx context.Context, tenant, id string, from, upTo int64, claim string, until, now time.Time) (store.Upload, error) {
	var u store.Upload
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = scanUpload(tx.QueryRowContext(ctx, s.q(`SELECT `+uploadCols+` FROM svc_uploads WHERE tenant = ? AND id = ?`), tenant, id)); err != nil {
			return err
		}
		err = mustAffect(tx.ExecContext(ctx, s.q(`UPDATE svc_uploads SET claim = ?, claim_until = ?, written = CASE WHEN written > ? THEN written ELSE ? END
			WHERE tenant = ? AND id = ? AND received = ? AND (claim = '' OR claim_until < ?)`), claim, ms(until), upTo, upTo, tenant, id, from, ms(now)))
		if err == store.ErrNotFound {
			return store.ErrConflict
		}
		return err
	})
	return u, err
}

func (s *DB) RenewClaim(ctx context.Context, tenant, id, claim string, until time.Time) error {
	err := mustAffect(s.exec(ctx, `UPDATE svc_uploads SET claim_until = ?, updated = ? WHERE tenant = ? AND id = ? AND claim = ?`, ms(until), ms(time.Now()), tenant, id, claim))
	if err == store.ErrNotFound {
		return store.ErrConflict
	}
	return err
}

func (s *DB) AdvanceUpload(ctx context.Context, u store.Upload, claim string) error {
	err := mustAffect(s.exec(ctx, `UPDATE svc_uploads SET received = ?, state = ?, updated = ?, claim = '', claim_until = 0 WHERE tenant = ? AND id = ? AND claim = ?`,
		u.Received, u.State, ms(u.Updated), u.Tenant, u.ID, claim))
	if err == store.ErrNotFound {
		return store.ErrConflict
	}
	return err
}

// CommitUpload writes the item and deletes the upload in one transaction.
// An item that already has a newer version is left as it is (ErrConflict):
// of two uploads of one item, the later version stands whatever order
// they finish in.
func (s *DB) CommitUpload(ctx context.Context, it store.Item, upload, claim string) (string, error) {
	var replaced string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, s.q(`DELETE FROM svc_uploads WHERE tenant = ? AND id = ? AND claim = ?`), it.Tenant, upload, claim)); err != nil {
			return err
		}
		if err := s.atKeyVersion(ctx, tx, it); err != nil {
			return err
		}
		// The version replaced, read so that no other write of the item
		// can land before this one's: SQLite's write transaction holds the
		// database already; on PostgreSQL a lock on the item's name (a row
		// lock would miss an item not yet written).
		if s.d == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, it.Tenant+"/"+strings.ToLower(it.Mailbox)+"/"+it.ID); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, s.q(`SELECT blob FROM items WHERE tenant = ? AND mailbox = ? AND id = ?`), it.Tenant, strings.ToLower(it.Mailbox), it.ID).Scan(&replaced)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		err = mustAffect(tx.ExecContext(ctx, s.q(putItem+` WHERE items.version < excluded.version`), itemArgs(it)...))
		if err == store.ErrNotFound {
			return store.ErrConflict
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return replaced, nil
}

func (s *DB) DeleteUpload(ctx context.Context, tenant, id, claim string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM svc_uploads WHERE tenant = ? AND id = ? AND claim = ?`, tenant, id, claim))
}

func (s *DB) StaleUploads(ctx context.Context, before time.Time, limit int) ([]store.Upload, error) {
	// A part still writing holds a live claim (renewed as it goes): not stale.
	return list(ctx, s, scanUpload, `SELECT `+uploadCols+` FROM svc_uploads WHERE updated < ? AND claim_until < ? ORDER BY updated LIMIT ?`, ms(before), ms(time.Now()), limit)
}

func (s *DB) CountUploads(ctx context.Context, tenant string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM svc_uploads WHERE tenant = ?`, tenant).Scan(&n)
	return n, err
}

func (s *DB) UploadVersions(ctx context.Context, tenant, container, item string) ([]uint32, error) {
	return list(ctx, s, func(r scanner) (uint32, error) {
		var v uint32
		return v, r.Scan(&v)
	}, `SELECT version FROM svc_uploads WHERE tenant = ? AND container = ? AND item = ? ORDER BY version`, tenant, strings.ToLower(container), item)
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/customerkey/customerkey/internal/store"
)

// Keyset pages (SPEC D9): each listing pages by its whole sort key, with
// an index that holds it (migration 0023), so a page deep in a listing
// costs what the first one does and rows written meanwhile move no row
// from one page to another. Row values ((a, b) > (?, ?)) read the same
// in SQLite and PostgreSQL.

// pageLimit bounds what one page query may return (0: 1000). The API
// asks for one row more than a page holds, to know whether another
// follows.
func pageLimit(limit int) int {
	if limit <= 0 {
		return 1000
	}
	return min(limit, 10000)
}

func (s *DB) ListItemHeadsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]store.Item, error) {
	size := "length(sealed)"
	if s.d == postgres {
		size = "octet_length(sealed)"
	}
	return list(ctx, s, scanItemHead, `SELECT tenant, mailbox, id, kind, version, `+size+`, created, blob, content_size FROM items WHERE tenant = ? AND mailbox = ? AND id > ? ORDER BY id LIMIT ?`,
		tenant, strings.ToLower(mailbox), after, pageLimit(limit))
}

func (s *DB) ItemsAfter(ctx context.Context, tenant, mailbox, after string, limit int) ([]store.Item, error) {
	return list(ctx, s, scanItem, `SELECT `+itemCols+` FROM items WHERE tenant = ? AND mailbox = ? AND id > ? ORDER BY id LIMIT ?`,
		tenant, strings.ToLower(mailbox), after, pageLimit(limit))
}

// WriteItems' statements (txQueries, with keyVersionOf).
const (
	deleteItemAt  = `DELETE FROM items WHERE tenant = ? AND mailbox = ? AND id = ? AND version = ?`
	insertItemNew = `INSERT INTO items (` + itemCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, mailbox, id) DO NOTHING`
	updateItemAt  = `UPDATE items SET kind = ?, version = ?, sealed = ?, created = ?, blob = ?, summary = ?, content_size = ? WHERE tenant = ? AND mailbox = ? AND id = ? AND version = ?`
)

func (s *DB) WriteItems(ctx context.Context, ws []store.ItemWrite) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, w := range ws {
			it := w.Item
			if err := s.atKeyVersion(ctx, tx, it); err != nil {
				return err
			}
			var res sql.Result
			var err error
			switch {
			case w.Put:
				if _, err = s.txExec(ctx, tx, putItem, itemArgs(it)...); err != nil {
					return err
				}
				continue
			case w.Delete:
				res, err = s.txExec(ctx, tx, deleteItemAt, it.Tenant, strings.ToLower(it.Mailbox), it.ID, w.Prev)
			case w.Prev == 0:
				res, err = s.txExec(ctx, tx, insertItemNew, itemArgs(it)...)
			default:
				res, err = s.txExec(ctx, tx, updateItemAt, it.Kind, it.Version, it.Sealed, ms(it.Created), it.Blob, it.Summary, it.ContentSize, it.Tenant, strings.ToLower(it.Mailbox), it.ID, w.Prev)
			}
			if err := changed(res, err)("item " + it.ID + " is not at version " + strconv.FormatUint(uint64(w.Prev), 10)); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyVersionOf reads a container's key version for atKeyVersion; on
// PostgreSQL it locks the row against a move (which updates it).
func keyVersionOf(d dialect) string {
	if d == postgres {
		return `SELECT key_version FROM mailboxes WHERE tenant = ? AND id = ? FOR SHARE`
	}
	return `SELECT key_version FROM mailboxes WHERE tenant = ? AND id = ?`
}

// atKeyVersion checks, in tx, that it's container is at the key version
// it is sealed under (store.Item.KeyVersion; zero: no condition). On
// PostgreSQL the row is locked against a move until tx ends.
func (s *DB) atKeyVersion(ctx context.Context, tx *sql.Tx, it store.Item) error {
	if it.KeyVersion == 0 {
		return nil
	}
	var v int
	if err := s.txQueryRow(ctx, tx, keyVersionOf(s.d), it.Tenant, strings.ToLower(it.Mailbox)).Scan(&v); err != nil {
		return err // sql.ErrNoRows: ErrNotFound, the container is gone
	}
	if v != it.KeyVersion {
		return fmt.Errorf("%w: container %s is at key version %d, item %s is sealed under %d", store.ErrConflict, it.Mailbox, v, it.ID, it.KeyVersion)
	}
	return nil
}

func (s *DB) ListServiceTenantsAfter(ctx context.Context, after store.PageKey, limit int) ([]store.ServiceTenant, error) {
	return list(ctx, s, scanServiceTenant, `SELECT id, name, created FROM svc_tenants WHERE lname > ? ORDER BY lname LIMIT ?`, strings.ToLower(after.ID), pageLimit(limit))
}

func (s *DB) ListTokensAfter(ctx context.Context, tenant string, after store.PageKey, limit int) ([]store.APIToken, error) {
	if after.IsZero() {
		return list(ctx, s, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant = ? ORDER BY created, id LIMIT ?`, tenant, pageLimit(limit))
	}
	return list(ctx, s, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant = ? AND (created, id) > (?, ?) ORDER BY created, id LIMIT ?`, tenant, ms(after.Time), after.ID, pageLimit(limit))
}

func (s *DB) ListOnboardingRequestsAfter(ctx context.Context, tenant string, after store.PageKey, limit int) ([]store.OnboardingRequest, error) {
	const cols = `SELECT id, tenant, scenario, created, body FROM onboarding_requests WHERE tenant = ?`
	if after.IsZero() {
		return list(ctx, s, scanOnboardingRequest, cols+` ORDER BY created, id LIMIT ?`, tenant, pageLimit(limit))
	}
	return list(ctx, s, scanOnboardingRequest, cols+` AND (created, id) > (?, ?) ORDER BY created, id LIMIT ?`, tenant, ms(after.Time), after.ID, pageLimit(limit))
}

func (s *DB) ListJobsBefore(ctx context.Context, tenant string, before store.PageKey, limit int) ([]store.Job, error) {
	if before.IsZero() {
		return list(ctx, s, scanJob, `SELECT `+jobCols+` FROM svc_jobs WHERE tenant = ? ORDER BY created DESC, id DESC LIMIT ?`, tenant, pageLimit(limit))
	}
	return list(ctx, s, scanJob, `SELECT `+jobCols+` FROM svc_jobs WHERE tenant = ? AND (created, id) < (?, ?) ORDER BY created DESC, id DESC LIMIT ?`, tenant, ms(before.Time), before.ID, pageLimit(limit))
}

func (s *DB) ListAccessRequestsBefore(ctx context.Context, tenant string, before store.PageKey, limit int) ([]store.AccessRequest, error) {
	if before.IsZero() {
		return list(ctx, s, scanAccessRequest, `SELECT `+accessCols+` FROM svc_access_requests WHERE tenant = ? ORDER BY requested DESC, id DESC LIMIT ?`, tenant, pageLimit(limit))
	}
	return list(ctx, s, scanAccessRequest, `SELECT `+accessCols+` FROM svc_access_requests WHERE tenant = ? AND (requested, id) < (?, ?) ORDER BY requested DESC, id DESC LIMIT ?`, tenant, ms(before.Time), before.ID, pageLimit(limit))
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

const mailboxCols = `tenant, id, kind, dep, container_key, key_version, created, updated, target_dep, prior_keys`

func scanMailbox(r scanner) (store.Mailbox, error) {
	var m store.Mailbox
	var created, updated int64
	err := r.Scan(&m.Tenant, &m.ID, &m.Kind, &m.DEP, &m.ContainerKey, &m.KeyVersion, &created, &updated, &m.Target, &m.PriorKeys)
	m.Created, m.Updated = fromMS(created), fromMS(updated)
	return m, err
}

func (s *DB) CreateMailbox(ctx context.Context, m store.Mailbox) error {
	_, err := s.exec(ctx, `INSERT INTO mailboxes (`+mailboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Tenant, strings.ToLower(m.ID), m.Kind, m.DEP, m.ContainerKey, m.KeyVersion, ms(m.Created), ms(m.Updated), m.Target, m.PriorKeys)
	return err
}

func (s *DB) Mailbox(ctx context.Context, tenant, id string) (store.Mailbox, error) {
	m, err := scanMailbox(s.queryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant = ? AND id = ?`, tenant, strings.ToLower(id)))
	return m, s.mapErr(err)
}

func (s *DB) ListMailboxes(ctx context.Context, tenant string) ([]store.Mailbox, error) {
	return list(ctx, s, scanMailbox, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant = ? ORDER BY id`, tenant)
}

func (s *DB) ContainersOnDEP(ctx context.Context, tenant, dep string) ([]store.Mailbox, error) {
	return list(ctx, s, scanMailbox, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant = ? AND dep = ? ORDER BY id`, tenant, dep)
}

func (s *DB) ContainersOfKind(ctx context.Context, tenant, kind string) ([]store.Mailbox, error) {
	return list(ctx, s, scanMailbox, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant = ? AND kind = ? ORDER BY id`, tenant, kind)
}

func (s *DB) UpdateMailbox(ctx context.Context, m store.Mailbox, prevDEP string, prevKeyVersion int) error {
	// Reaching the assigned DEP ends the assignment's wait.
	res, err := s.exec(ctx, `UPDATE mailboxes SET dep = ?, container_key = ?, key_version = ?, prior_keys = ?, updated = ?, target_dep = CASE WHEN target_dep = ? THEN '' ELSE target_dep END
		WHERE tenant = ? AND id = ? AND dep = ? AND key_version = ?`,
		m.DEP, m.ContainerKey, m.KeyVersion, m.PriorKeys, ms(m.Updated), m.DEP, m.Tenant, strings.ToLower(m.ID), prevDEP, prevKeyVersion)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Mailbox(ctx, m.Tenant, m.ID); err != nil {
			return err
		}
		return fmt.Errorf("%w: mailbox %s is no longer on DEP %s at key version %d", store.ErrConflict, m.ID, prevDEP, prevKeyVersion)
	}
	return nil
}

func (s *DB) SetMailboxTarget(ctx context.Context, tenant, id, dep string) (bool, error) {
	st, err := s.stmt(ctx, s.q(`UPDATE mailboxes SET target_dep = CASE WHEN dep = ? THEN '' ELSE ? END WHERE tenant = ? AND id = ? RETURNING target_dep`))
	if err != nil {
		return false, err
	}
	var target string
	err = st.QueryRowContext(ctx, dep, dep, tenant, strings.ToLower(id)).Scan(&target)
	return target != "", s.mapErr(err)
}

func (s *DB) TenantsWithPendingMailboxes(ctx context.Context) ([]string, error) {
	return list(ctx, s, func(r scanner) (string, error) {
		var t string
		return t, r.Scan(&t)
	}, `SELECT DISTINCT tenant FROM mailboxes WHERE target_dep <> ''`)
}

func (s *DB) PendingMailboxes(ctx context.Context, tenant string, limit int) ([]store.Mailbox, error) {
	return list(ctx, s, scanMailbox, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant = ? AND target_dep <> '' ORDER BY id LIMIT ?`, tenant, limit)
}

func (s *DB) CountItems(ctx context.Context, tenant, mailbox string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM items WHERE tenant = ? AND mailbox = ?`, tenant, strings.ToLower(mailbox)).Scan(&n)
	return n, s.mapErr(err)
}

const itemCols = `tenant, mailbox, id, kind, version, sealed, created, blob, summary, content_size`

func scanItem(r scanner) (store.Item, error) {
	var it store.Item
	var created int64
	err := r.Scan(&it.Tenant, &it.Mailbox, &it.ID, &it.Kind, &it.Version, &it.Sealed, &created, &it.Blob, &it.Summary, &it.ContentSize)
	it.Created, it.Size = fromMS(created), len(it.Sealed)
	return it, err
}

func scanItemHead(r scanner) (store.Item, error) {
	var it store.Item
	var created int64
	err := r.Scan(&it.Tenant, &it.Mailbox, &it.ID, &it.Kind, &it.Version, &it.Size, &created, &it.Blob, &it.ContentSize)
	it.Created = fromMS(created)
	return it, err
}

// ItemHeadsWithPrefix reads no content: the size comes from the
// database. The range is on the ID's bytes: SQLite compares them so
// (BINARY), PostgreSQL under COLLATE "C", which an index of its own
// serves (migration 0025); the database's own collation may order
// "FILE@..." apart from each other.
func (s *DB) ItemHeadsWithPrefix(ctx context.Context, tenant, mailbox, prefix string) ([]store.Item, error) {
	size, id := "length(sealed)", "id"
	if s.d == postgres {
		size, id = "octet_length(sealed)", `(id COLLATE "C")`
	}
	q := `SELECT tenant, mailbox, id, kind, version, ` + size + `, created, blob, content_size FROM items WHERE tenant = ? AND mailbox = ? AND ` + id + ` >= ?`
	args := []any{tenant, strings.ToLower(mailbox), prefix}
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND ` + id + ` < ?`
		args = append(args, end)
	}
	return list(ctx, s, scanItemHead, q+` ORDER BY `+id, args...)
}

// prefixEnd is the least string above every string that starts with
// prefix: prefix with its last byte below 0xff raised by one and the rest
// cut. There is none if prefix is all 0xff bytes (or empty).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (s *DB) MailboxItemVersion(ctx context.Context, tenant, mailbox, item string) (store.Mailbox, uint32, string, error) {
	var m store.Mailbox
	var created, updated int64
	var v uint32
	var blob string
	err := s.queryRowToWrite(ctx, `SELECT m.tenant, m.id, m.kind, m.dep, m.container_key, m.key_version, m.created, m.updated, m.target_dep, m.prior_keys, COALESCE(i.version, 0), COALESCE(i.blob, '')
		FROM mailboxes m LEFT JOIN items i ON i.tenant = m.tenant AND i.mailbox = m.id AND i.id = ?
		WHERE m.tenant = ? AND m.id = ?`, item, tenant, strings.ToLower(mailbox)).Scan(&m.Tenant, &m.ID, &m.Kind, &m.DEP, &m.ContainerKey, &m.KeyVersion, &created, &updated, &m.Target, &m.PriorKeys, &v, &blob)
	m.Created, m.Updated = fromMS(created), fromMS(updated)
	return m, v, blob, s.mapErr(err)
}

func (s *DB) MailboxItem(ctx context.Context, tenant, mailbox, item string) (store.Mailbox, store.Item, error) {
	var m store.Mailbox
	var it store.Item
	var created, updated int64
	var iid, ikind, iblob sql.NullString
	var iversion, icreated, isize sql.NullInt64
	err := s.queryRow(ctx, `SELECT m.tenant, m.id, m.kind, m.dep, m.container_key, m.key_version, m.created, m.updated, m.target_dep, m.prior_keys, i.id, i.kind, i.version, i.sealed, i.created,
		i.blob, i.summary, i.content_size
		FROM mailboxes m LEFT JOIN items i ON i.tenant = m.tenant AND i.mailbox = m.id AND i.id = ?
		WHERE m.tenant = ? AND m.id = ?`, item, tenant, strings.ToLower(mailbox)).Scan(&m.Tenant, &m.ID, &m.Kind, &m.DEP, &m.ContainerKey, &m.KeyVersion, &created, &updated, &m.Target, &m.PriorKeys,
		&iid, &ikind, &iversion, &it.Sealed, &icreated, &iblob, &it.Summary, &isize)
	if err != nil {
		return store.Mailbox{}, store.Item{}, s.mapErr(err)
	}
	m.Created, m.Updated = fromMS(created), fromMS(updated)
	if iid.Valid {
		it.Tenant, it.Mailbox, it.ID, it.Kind, it.Version = m.Tenant, m.ID, iid.String, ikind.String, uint32(iversion.Int64)
		it.Created, it.Size = fromMS(icreated.Int64), len(it.Sealed)
		it.Blob, it.ContentSize = iblob.String, isize.Int64
	}
	return m, it, nil
}

func (s *DB) ItemVersion(ctx context.Context, tenant, mailbox, id string) (uint32, time.Time, error) {
	var v uint32
	var created int64
	err := s.queryRow(ctx, `SELECT version, created FROM items WHERE tenant = ? AND mailbox = ? AND id = ?`, tenant, strings.ToLower(mailbox), id).Scan(&v, &created)
	return v, fromMS(created), s.mapErr(err)
}

func (s *DB) PutItem(ctx context.Context, it store.Item) error {
	_, err := s.exec(ctx, putItem, itemArgs(it)...)
	return err
}

const putItem = `INSERT INTO items (` + itemCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, mailbox, id) DO UPDATE SET kind = excluded.kind, version = excluded.version, sealed = excluded.sealed, created = excluded.created,
		blob = excluded.blob, summary = excluded.summary, content_size = excluded.content_size`

func itemArgs(it store.Item) []any {
	return []any{it.Tenant, strings.ToLower(it.Mailbox), it.ID, it.Kind, it.Version, it.Sealed, ms(it.Created), it.Blob, it.Summary, it.ContentSize}
}

func (s *DB) Item(ctx context.Context, tenant, mailbox, id string) (store.Item, error) {
	it, err := scanItem(s.queryRow(ctx, `SELECT `+itemCols+` FROM items WHERE tenant = ? AND mailbox = ? AND id = ?`, tenant, strings.ToLower(mailbox), id))
	return it, s.mapErr(err)
}

func (s *DB) ListItems(ctx context.Context, tenant, mailbox string) ([]store.Item, error) {
	return list(ctx, s, scanItem, `SELECT `+itemCols+` FROM items WHERE tenant = ? AND mailbox = ? ORDER BY id`, tenant, strings.ToLower(mailbox))
}

func (s *DB) DeleteItem(ctx context.Context, tenant, mailbox, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM items WHERE tenant = ? AND mailbox = ? AND id = ?`, tenant, strings.ToLower(mailbox), id))
}

func (s *DB) DeleteMailbox(ctx context.Context, tenant, id string) error {
	id = strings.ToLower(id)
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The mailbox row first, as an item write takes it (atKeyVersion):
		// PostgreSQL would otherwise find the two waiting on each other
		// (this on the items, the write on the mailbox) and abort one.
		if s.d == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM mailboxes WHERE tenant = $1 AND id = $2 FOR UPDATE`, tenant, id); err != nil {
				return err
			}
		}
		// The items, and the mailbox's search index (kept as the items of
		// "~index:" and the mailbox ID, internal/workload).
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM items WHERE tenant = ? AND (mailbox = ? OR mailbox = ?)`), tenant, id, "~index:"+id); err != nil {
			return err
		}
		// Its uploads in progress (their chunks go with the container's blobs).
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM svc_uploads WHERE tenant = ? AND container = ?`), tenant, id); err != nil {
			return err
		}
		// The chunks of its large items' content (svc_blob_chunks, when
		// the database is the blob store: DB.Blobs).
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM svc_blob_chunks WHERE tenant = ? AND container = ?`), tenant, id); err != nil {
			return err
		}
		return mustAffect(tx.ExecContext(ctx, s.q(`DELETE FROM mailboxes WHERE tenant = ? AND id = ?`), tenant, id))
	})
}

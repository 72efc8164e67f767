package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

func scanServiceTenant(r scanner) (store.ServiceTenant, error) {
	var t store.ServiceTenant
	var created int64
	err := r.Scan(&t.ID, &t.Name, &created)
	t.Created = fromMS(created)
	return t, err
}

func (s *DB) CreateServiceTenant(ctx context.Context, t store.ServiceTenant) error {
	_, err := s.exec(ctx, `INSERT INTO svc_tenants (id, name, lname, created) VALUES (?, ?, ?, ?)`, t.ID, t.Name, strings.ToLower(t.Name), ms(t.Created))
	return err
}

func (s *DB) ServiceTenant(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	t, err := scanServiceTenant(s.queryRow(ctx, `SELECT id, name, created FROM svc_tenants WHERE id = ? OR lname = ?`, strings.ToLower(idOrName), strings.ToLower(idOrName)))
	return t, s.mapErr(err)
}

func (s *DB) ListServiceTenants(ctx context.Context) ([]store.ServiceTenant, error) {
	return list(ctx, s, scanServiceTenant, `SELECT id, name, created FROM svc_tenants ORDER BY lname`)
}

const tokenCols = `id, hash, tenant, role, subject, created, expires, revoked, last_used`

func scanToken(r scanner) (store.APIToken, error) {
	var t store.APIToken
	var id sql.NullString
	var created, expires int64
	var revoked, used sql.NullInt64
	err := r.Scan(&id, &t.Hash, &t.Tenant, &t.Role, &t.Subject, &created, &expires, &revoked, &used)
	t.ID, t.Created, t.Expires, t.Revoked, t.LastUsed = id.String, fromMS(created), fromMS(expires), fromNull(revoked), fromNull(used)
	return t, err
}

func (s *DB) CreateToken(ctx context.Context, t store.APIToken) error {
	_, err := s.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Tenant, t.Role, t.Subject, ms(t.Created), ms(t.Expires), msPtr(t.Revoked), msPtr(t.LastUsed))
	return err
}

func (s *DB) Token(ctx context.Context, hash string) (store.APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	return t, s.mapErr(err)
}

func (s *DB) ListTokens(ctx context.Context, tenant string) ([]store.APIToken, error) {
	return list(ctx, s, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant = ? ORDER BY created, id`, tenant)
}

func (s *DB) RevokeToken(ctx context.Context, tenant, id string, at time.Time) (store.APIToken, error) {
	var t store.APIToken
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = scanToken(tx.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE tenant = ? AND id = ?`), tenant, id)); err != nil {
			return s.mapErr(err)
		}
		if t.Revoked != nil {
			return fmt.Errorf("%w: token %s was revoked already", store.ErrConflict, id)
		}
		t.Revoked = &at
		return changed(tx.ExecContext(ctx, s.q(`UPDATE api_tokens SET revoked = ? WHERE tenant = ? AND id = ? AND revoked IS NULL`), ms(at), tenant, id))("token " + id + " was revoked meanwhile")
	})
	return t, err
}

func (s *DB) TouchToken(ctx context.Context, hash string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE api_tokens SET last_used = ? WHERE hash = ?`, ms(at), hash)
	return err
}

const depCols = `id, tenant, kind, name, description, key1, key2, enabled, keys, created, updated, revoked_ms, revoked_cause`

func scanDEP(r scanner) (store.DEP, error) {
	var d store.DEP
	var enabled, created, updated, revoked int64
	err := r.Scan(&d.ID, &d.Tenant, &d.Kind, &d.Name, &d.Description, &d.KeyURIs[0], &d.KeyURIs[1], &enabled, &d.Keys, &created, &updated, &revoked, &d.RevokedCause)
	d.Enabled, d.Created, d.Updated = enabled != 0, fromMS(created), fromMS(updated)
	if revoked != 0 {
		d.Revoked = fromMS(revoked)
	}
	return d, err
}

func (s *DB) CreateDEP(ctx context.Context, d store.DEP, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM deps WHERE tenant = ? AND kind = ?`), d.Tenant, d.Kind).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return fmt.Errorf("%w: tenant %s has %d %s DEPs", store.ErrLimit, d.Tenant, n, d.Kind)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO deps (id, tenant, kind, name, lname, description, key1, key2, enabled, keys, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			d.ID, d.Tenant, d.Kind, d.Name, strings.ToLower(d.Name), d.Description, d.KeyURIs[0], d.KeyURIs[1], b2i(d.Enabled), d.Keys, ms(d.Created), ms(d.Updated))
		return err
	})
}

func (s *DB) DEP(ctx context.Context, tenant, kind, idOrName string) (store.DEP, error) {
	d, err := scanDEP(s.queryRow(ctx, `SELECT `+depCols+` FROM deps WHERE tenant = ? AND kind = ? AND (id = ? OR lname = ?)`, tenant, kind, strings.ToLower(idOrName), strings.ToLower(idOrName)))
	return d, s.mapErr(err)
}

func (s *DB) DEPByID(ctx context.Context, tenant, id string) (store.DEP, error) {
	d, err := scanDEP(s.queryRow(ctx, `SELECT `+depCols+` FROM deps WHERE tenant = ? AND id = ?`, tenant, strings.ToLower(id)))
	return d, s.mapErr(err)
}

func (s *DB) ListDEPs(ctx context.Context, tenant, kind string) ([]store.DEP, error) {
	return list(ctx, s, scanDEP, `SELECT `+depCols+` FROM deps WHERE tenant = ? AND kind = ? ORDER BY lname`, tenant, kind)
}

func (s *DB) UpdateDEP(ctx context.Context, d store.DEP, prev time.Time) error {
	if ms(d.Updated) <= ms(prev) {
		return fmt.Errorf("update DEP %s: updated %s is not after %s", d.ID, d.Updated.UTC().Format(time.RFC3339Nano), prev.UTC().Format(time.RFC3339Nano))
	}
	err := mustAffect(s.exec(ctx, `UPDATE deps SET description = ?, enabled = ?, keys = ?, updated = ? WHERE id = ? AND tenant = ? AND updated = ?`,
		d.Description, b2i(d.Enabled), d.Keys, ms(d.Updated), d.ID, d.Tenant, ms(prev)))
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.DEPByID(ctx, d.Tenant, d.ID); err != nil {
		return err
	}
	return fmt.Errorf("%w: DEP %s was changed by another since it was read", store.ErrConflict, d.ID)
}

func (s *DB) SetDEPRevocation(ctx context.Context, tenant, id string, at time.Time, cause string) error {
	if at.IsZero() {
		return fmt.Errorf("revoke DEP %s: no time given (ClearDEPRevocation clears)", id)
	}
	return mustAffect(s.exec(ctx, `UPDATE deps SET revoked_ms = ?, revoked_cause = ? WHERE id = ? AND tenant = ?`, ms(at), cause, id, tenant))
}

func (s *DB) ClearDEPRevocation(ctx context.Context, tenant, id string, over time.Time) error {
	var m int64
	if !over.IsZero() {
		m = ms(over)
	}
	err := mustAffect(s.exec(ctx, `UPDATE deps SET revoked_ms = 0, revoked_cause = '' WHERE id = ? AND tenant = ? AND revoked_ms IN (0, ?)`, id, tenant, m))
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.DEPByID(ctx, tenant, id); err != nil {
		return err
	}
	return fmt.Errorf("%w: DEP %s holds a revocation other than the one answered (%s)", store.ErrConflict, id, over.UTC().Format(time.RFC3339Nano))
}

func (s *DB) DeleteDEP(ctx context.Context, tenant, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM deps WHERE tenant = ? AND id = ?`, tenant, id))
}

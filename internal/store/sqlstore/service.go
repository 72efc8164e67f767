package sqlstore

import (
	"context"
	"strings"

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

func (s *DB) CreateToken(ctx context.Context, t store.APIToken) error {
	_, err := s.exec(ctx, `INSERT INTO api_tokens (hash, tenant, role, subject, created, expires) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Tenant, t.Role, t.Subject, ms(t.Created), ms(t.Expires))
	return err
}

func (s *DB) Token(ctx context.Context, hash string) (store.APIToken, error) {
	var t store.APIToken
	var created, expires int64
	err := s.queryRow(ctx, `SELECT hash, tenant, role, subject, created, expires FROM api_tokens WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.Tenant, &t.Role, &t.Subject, &created, &expires)
	t.Created, t.Expires = fromMS(created), fromMS(expires)
	return t, s.mapErr(err)
}

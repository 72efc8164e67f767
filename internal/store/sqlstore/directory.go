package sqlstore

import (
	"context"
	"strings"

	"github.com/customerkey/customerkey/internal/store"
)

func (s *DB) CreateTenant(ctx context.Context, t store.Tenant) error {
	_, err := s.exec(ctx, `INSERT INTO tenants (id, name, created) VALUES (?, ?, ?)`, t.ID, t.Name, ms(t.Created))
	return err
}

const tenantCols = `id, name, created`

func scanTenant(r scanner) (store.Tenant, error) {
	var t store.Tenant
	var created int64
	err := r.Scan(&t.ID, &t.Name, &created)
	t.Created = fromMS(created)
	return t, err
}

func (s *DB) Tenant(ctx context.Context, idOrName string) (store.Tenant, error) {
	t, err := scanTenant(s.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ? OR lower(name) = lower(?)`, idOrName, idOrName))
	return t, s.mapErr(err)
}

func (s *DB) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return list(ctx, s, scanTenant, `SELECT `+tenantCols+` FROM tenants ORDER BY name`)
}

const subCols = `id, tenant_id, name, kind, owner, state, created`

func scanSub(r scanner) (store.Subscription, error) {
	var x store.Subscription
	var created int64
	err := r.Scan(&x.ID, &x.TenantID, &x.Name, &x.Kind, &x.Owner, &x.State, &created)
	x.Created = fromMS(created)
	return x, err
}

func (s *DB) CreateSubscription(ctx context.Context, x store.Subscription) error {
	_, err := s.exec(ctx, `INSERT INTO subscriptions (`+subCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.TenantID, x.Name, x.Kind, x.Owner, x.State, ms(x.Created))
	return err
}

func (s *DB) Subscription(ctx context.Context, id string) (store.Subscription, error) {
	x, err := scanSub(s.queryRow(ctx, `SELECT `+subCols+` FROM subscriptions WHERE id = ?`, id))
	return x, s.mapErr(err)
}

func (s *DB) ListSubscriptions(ctx context.Context, tenantID string) ([]store.Subscription, error) {
	if tenantID == "" {
		return list(ctx, s, scanSub, `SELECT `+subCols+` FROM subscriptions ORDER BY created, id`)
	}
	return list(ctx, s, scanSub, `SELECT `+subCols+` FROM subscriptions WHERE tenant_id = ? ORDER BY created, id`, tenantID)
}

func (s *DB) UpdateSubscription(ctx context.Context, x store.Subscription) error {
	return mustAffect(s.exec(ctx, `UPDATE subscriptions SET name = ?, kind = ?, owner = ?, state = ? WHERE id = ?`, x.Name, x.Kind, x.Owner, x.State, x.ID))
}

const featureCols = `subscription_id, namespace, name, requested_at, registered_at`

func scanFeature(r scanner) (store.Feature, error) {
	var f store.Feature
	var req, reg int64
	err := r.Scan(&f.SubscriptionID, &f.Namespace, &f.Name, &req, &reg)
	f.RequestedAt, f.RegisteredAt = fromMS(req), fromMS(reg)
	return f, err
}

func (s *DB) PutFeature(ctx context.Context, f store.Feature) error {
	_, err := s.exec(ctx, `INSERT INTO features (`+featureCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subscription_id, namespace, name) DO UPDATE SET requested_at = excluded.requested_at, registered_at = excluded.registered_at`,
		f.SubscriptionID, f.Namespace, f.Name, ms(f.RequestedAt), ms(f.RegisteredAt))
	return err
}

func (s *DB) Feature(ctx context.Context, sub, ns, name string) (store.Feature, error) {
	f, err := scanFeature(s.queryRow(ctx, `SELECT `+featureCols+` FROM features WHERE subscription_id = ? AND namespace = ? AND name = ?`, sub, ns, name))
	return f, s.mapErr(err)
}

func (s *DB) ListFeatures(ctx context.Context, sub string) ([]store.Feature, error) {
	return list(ctx, s, scanFeature, `SELECT `+featureCols+` FROM features WHERE subscription_id = ? ORDER BY namespace, name`, sub)
}

func scanProvider(r scanner) (store.Provider, error) {
	var p store.Provider
	var upd int64
	err := r.Scan(&p.SubscriptionID, &p.Namespace, &p.State, &upd)
	p.Updated = fromMS(upd)
	return p, err
}

func (s *DB) PutProvider(ctx context.Context, p store.Provider) error {
	_, err := s.exec(ctx, `INSERT INTO providers (subscription_id, namespace, state, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (subscription_id, namespace) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
		p.SubscriptionID, p.Namespace, p.State, ms(p.Updated))
	return err
}

func (s *DB) ListProviders(ctx context.Context, sub string) ([]store.Provider, error) {
	return list(ctx, s, scanProvider, `SELECT subscription_id, namespace, state, updated FROM providers WHERE subscription_id = ? ORDER BY namespace`, sub)
}

const principalCols = `tenant_id, name, kind, display_name, created`

func scanPrincipal(r scanner) (store.Principal, error) {
	var p store.Principal
	var created int64
	err := r.Scan(&p.TenantID, &p.Name, &p.Kind, &p.DisplayName, &created)
	p.Created = fromMS(created)
	return p, err
}

func (s *DB) CreatePrincipal(ctx context.Context, p store.Principal) error {
	_, err := s.exec(ctx, `INSERT INTO principals (tenant_id, lname, name, kind, display_name, created) VALUES (?, ?, ?, ?, ?, ?)`,
		p.TenantID, strings.ToLower(p.Name), p.Name, p.Kind, p.DisplayName, ms(p.Created))
	return err
}

func (s *DB) Principal(ctx context.Context, tenantID, name string) (store.Principal, error) {
	p, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalCols+` FROM principals WHERE tenant_id = ? AND lname = ?`, tenantID, strings.ToLower(name)))
	return p, s.mapErr(err)
}

func (s *DB) ListPrincipals(ctx context.Context, tenantID string) ([]store.Principal, error) {
	if tenantID == "" {
		return list(ctx, s, scanPrincipal, `SELECT `+principalCols+` FROM principals ORDER BY tenant_id, lname`)
	}
	return list(ctx, s, scanPrincipal, `SELECT `+principalCols+` FROM principals WHERE tenant_id = ? ORDER BY lname`, tenantID)
}

func (s *DB) DeletePrincipal(ctx context.Context, tenantID, name string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM principals WHERE tenant_id = ? AND lname = ?`, tenantID, strings.ToLower(name)))
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, s *DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	st, err := s.rstmt(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

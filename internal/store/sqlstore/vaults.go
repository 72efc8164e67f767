package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/customerkey/customerkey/internal/store"
)

const vaultCols = `name, subscription_id, tenant_id, region, sku, retention_days, purge_protection, permission_model, created, deleted_at, purge_at`

func scanVault(r scanner) (store.Vault, error) {
	var v store.Vault
	var pp, created int64
	var del, purge sql.NullInt64
	err := r.Scan(&v.Name, &v.SubscriptionID, &v.TenantID, &v.Region, &v.SKU, &v.RetentionDays, &pp, &v.PermissionModel, &created, &del, &purge)
	v.PurgeProtection = pp != 0
	v.Created = fromMS(created)
	v.DeletedAt, v.PurgeAt = fromNull(del), fromNull(purge)
	return v, err
}

func (s *DB) CreateVault(ctx context.Context, v store.Vault) error {
	_, err := s.exec(ctx, `INSERT INTO vaults (`+vaultCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		strings.ToLower(v.Name), v.SubscriptionID, v.TenantID, v.Region, v.SKU, v.RetentionDays, b2i(v.PurgeProtection), v.PermissionModel, ms(v.Created), msPtr(v.DeletedAt), msPtr(v.PurgeAt))
	return err
}

func (s *DB) Vault(ctx context.Context, name string) (store.Vault, error) {
	v, err := scanVault(s.queryRow(ctx, `SELECT `+vaultCols+` FROM vaults WHERE name = ?`, strings.ToLower(name)))
	return v, s.mapErr(err)
}

func (s *DB) ListVaults(ctx context.Context) ([]store.Vault, error) {
	return list(ctx, s, scanVault, `SELECT `+vaultCols+` FROM vaults ORDER BY name`)
}

func (s *DB) UpdateVault(ctx context.Context, v store.Vault) error {
	return mustAffect(s.exec(ctx, `UPDATE vaults SET purge_protection = ?, permission_model = ?, deleted_at = ?, purge_at = ? WHERE name = ?`,
		b2i(v.PurgeProtection), v.PermissionModel, msPtr(v.DeletedAt), msPtr(v.PurgeAt), strings.ToLower(v.Name)))
}

func (s *DB) PurgeVault(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM key_versions WHERE vault = ?`,
			`DELETE FROM keys WHERE vault = ?`,
			`DELETE FROM access_policies WHERE vault = ?`,
			`DELETE FROM role_assignments WHERE vault = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), name); err != nil {
				return err
			}
		}
		return mustAffect(tx.ExecContext(ctx, s.q(`DELETE FROM vaults WHERE name = ?`), name))
	})
}

func (s *DB) PutAccessPolicy(ctx context.Context, p store.AccessPolicy) error {
	_, err := s.exec(ctx, `INSERT INTO access_policies (vault, principal, permissions, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (vault, principal) DO UPDATE SET permissions = excluded.permissions, updated = excluded.updated`,
		strings.ToLower(p.Vault), strings.ToLower(p.Principal), strings.Join(p.Permissions, ","), ms(p.Updated))
	return err
}

func (s *DB) DeleteAccessPolicy(ctx context.Context, vault, principal string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM access_policies WHERE vault = ? AND principal = ?`, strings.ToLower(vault), strings.ToLower(principal)))
}

func scanPolicy(r scanner) (store.AccessPolicy, error) {
	var p store.AccessPolicy
	var perms string
	var upd int64
	err := r.Scan(&p.Vault, &p.Principal, &perms, &upd)
	if perms != "" {
		p.Permissions = strings.Split(perms, ",")
	}
	p.Updated = fromMS(upd)
	return p, err
}

func (s *DB) AccessPolicies(ctx context.Context, vault string) ([]store.AccessPolicy, error) {
	return list(ctx, s, scanPolicy, `SELECT vault, principal, permissions, updated FROM access_policies WHERE vault = ? ORDER BY principal`, strings.ToLower(vault))
}

func scanRole(r scanner) (store.RoleAssignment, error) {
	var a store.RoleAssignment
	var created int64
	err := r.Scan(&a.ID, &a.Vault, &a.Principal, &a.Role, &created)
	a.Created = fromMS(created)
	return a, err
}

func (s *DB) CreateRoleAssignment(ctx context.Context, a store.RoleAssignment) error {
	_, err := s.exec(ctx, `INSERT INTO role_assignments (id, vault, principal, role, created) VALUES (?, ?, ?, ?, ?)`,
		a.ID, strings.ToLower(a.Vault), strings.ToLower(a.Principal), a.Role, ms(a.Created))
	return err
}

func (s *DB) DeleteRoleAssignment(ctx context.Context, vault, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM role_assignments WHERE vault = ? AND id = ?`, strings.ToLower(vault), id))
}

func (s *DB) RoleAssignments(ctx context.Context, vault string) ([]store.RoleAssignment, error) {
	return list(ctx, s, scanRole, `SELECT id, vault, principal, role, created FROM role_assignments WHERE vault = ? ORDER BY created, id`, strings.ToLower(vault))
}

package sqlstore

import (
	"context"
	"strings"

	"github.com/customerkey/customerkey/internal/store"
)

const siteRegCols = `tenant, geo, dep, state, total, done, started, updated`

func scanSiteReg(r scanner) (store.SiteRegistration, error) {
	var x store.SiteRegistration
	var started, updated int64
	err := r.Scan(&x.Tenant, &x.Geo, &x.DEP, &x.State, &x.Total, &x.Done, &started, &updated)
	x.Started, x.Updated = fromMS(started), fromMS(updated)
	return x, err
}

func (s *DB) PutSiteRegistration(ctx context.Context, x store.SiteRegistration) error {
	_, err := s.exec(ctx, `INSERT INTO site_registrations (`+siteRegCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, geo) DO UPDATE SET dep = excluded.dep, state = excluded.state, total = excluded.total, done = excluded.done, started = excluded.started, updated = excluded.updated`,
		x.Tenant, strings.ToUpper(x.Geo), x.DEP, x.State, x.Total, x.Done, ms(x.Started), ms(x.Updated))
	return err
}

func (s *DB) SiteRegistration(ctx context.Context, tenant, geo string) (store.SiteRegistration, error) {
	x, err := scanSiteReg(s.queryRow(ctx, `SELECT `+siteRegCols+` FROM site_registrations WHERE tenant = ? AND geo = ?`, tenant, strings.ToUpper(geo)))
	return x, s.mapErr(err)
}

func (s *DB) ListSiteRegistrations(ctx context.Context, tenant string) ([]store.SiteRegistration, error) {
	return list(ctx, s, scanSiteReg, `SELECT `+siteRegCols+` FROM site_registrations WHERE tenant = ? ORDER BY geo`, tenant)
}

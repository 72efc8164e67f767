package sqlstore

import (
	"context"
	"database/sql"

	"github.com/customerkey/customerkey/internal/store"
)

const accessCols = `id, tenant, action, dep, dep_name, target, target_name, reason, requested_by, requested, expires, state, decided_by, decided, used_by, used`

func scanAccessRequest(r scanner) (store.AccessRequest, error) {
	var a store.AccessRequest
	var requested, expires int64
	var decided, used sql.NullInt64
	err := r.Scan(&a.ID, &a.Tenant, &a.Action, &a.DEP, &a.DEPName, &a.Target, &a.TargetName, &a.Reason, &a.RequestedBy, &requested, &expires, &a.State, &a.DecidedBy, &decided, &a.UsedBy, &used)
	a.Requested, a.Expires, a.Decided, a.Used = fromMS(requested), fromMS(expires), fromNull(decided), fromNull(used)
	return a, err
}

func (s *DB) CreateAccessRequest(ctx context.Context, a store.AccessRequest) error {
	_, err := s.exec(ctx, `INSERT INTO svc_access_requests (`+accessCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Tenant, a.Action, a.DEP, a.DEPName, a.Target, a.TargetName, a.Reason, a.RequestedBy, ms(a.Requested), ms(a.Expires), a.State, a.DecidedBy, msPtr(a.Decided), a.UsedBy, msPtr(a.Used))
	return err
}

func (s *DB) AccessRequest(ctx context.Context, tenant, id string) (store.AccessRequest, error) {
	a, err := scanAccessRequest(s.queryRow(ctx, `SELECT `+accessCols+` FROM svc_access_requests WHERE tenant = ? AND id = ?`, tenant, id))
	return a, s.mapErr(err)
}

func (s *DB) UpdateAccessRequest(ctx context.Context, a store.AccessRequest, prev string) error {
	return changed(s.exec(ctx, `UPDATE svc_access_requests SET state = ?, decided_by = ?, decided = ?, used_by = ?, used = ? WHERE tenant = ? AND id = ? AND state = ?`,
		a.State, a.DecidedBy, msPtr(a.Decided), a.UsedBy, msPtr(a.Used), a.Tenant, a.ID, prev))("access request " + a.ID + " is no longer " + prev)
}

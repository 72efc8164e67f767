package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

const jobCols = `id, tenant, kind, target, args, state, total, done, attempts, error, owner, until_ms, created, updated`

func scanJob(r scanner) (store.Job, error) {
	var j store.Job
	var until, created, updated int64
	err := r.Scan(&j.ID, &j.Tenant, &j.Kind, &j.Target, &j.Args, &j.State, &j.Total, &j.Done, &j.Attempts, &j.Error, &j.Owner, &until, &created, &updated)
	j.Until, j.Created, j.Updated = fromMS(until), fromMS(created), fromMS(updated)
	return j, err
}

func (s *DB) CreateJob(ctx context.Context, j store.Job) error {
	if j.Args == nil {
		j.Args = []byte("{}")
	}
	_, err := s.exec(ctx, `INSERT INTO svc_jobs (`+jobCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Tenant, j.Kind, j.Target, j.Args, store.JobQueued, j.Total, j.Done, 0, "", "", ms(j.Until), ms(j.Created), ms(j.Created))
	return err
}

// due is the condition of a claimable job (queued and due, or running
// with an expired lease); its two parameters are now.
const due = `((state = 'queued' AND until_ms <= ?) OR (state = 'running' AND until_ms < ?))`

func (s *DB) ClaimJob(ctx context.Context, owner string, now, until time.Time) (store.Job, error) {
	// One statement: on PostgreSQL a concurrent claimer of the same row
	// re-checks the condition after the winner's update and gets no row.
	// The oldest due queued job, else the oldest running one whose lease
	// ran out; each subquery walks svc_jobs_order in creation order.
	st, err := s.stmt(ctx, s.q(`UPDATE svc_jobs SET state = 'running', owner = ?, until_ms = ?, attempts = attempts + 1, updated = ?
		WHERE id = COALESCE(
			(SELECT id FROM svc_jobs WHERE state = 'queued' AND until_ms <= ? ORDER BY state, created, id LIMIT 1),
			(SELECT id FROM svc_jobs WHERE state = 'running' AND until_ms < ? ORDER BY state, created, id LIMIT 1))
		AND `+due+` RETURNING `+jobCols))
	if err != nil {
		return store.Job{}, err
	}
	n := ms(now)
	j, err := scanJob(st.QueryRowContext(ctx, owner, ms(until), n, n, n, n, n))
	return j, s.mapErr(err)
}

func (s *DB) UpdateJob(ctx context.Context, id, owner string, done, total int, until, now time.Time) error {
	return changed(s.exec(ctx, `UPDATE svc_jobs SET done = ?, total = ?, until_ms = ?, updated = ? WHERE id = ? AND owner = ? AND state = 'running'`,
		done, total, ms(until), ms(now), id, owner))(leaseLost)
}

func (s *DB) FinishJob(ctx context.Context, id, owner, state, errMsg string, until, now time.Time) error {
	// A success of a job asked to run again puts it back in the queue.
	return changed(s.exec(ctx, `UPDATE svc_jobs SET state = CASE WHEN again = 1 AND ? = 'succeeded' THEN 'queued' ELSE ? END, again = 0,
		error = ?, until_ms = ?, updated = ? WHERE id = ? AND owner = ? AND state = 'running'`,
		state, state, errMsg, ms(until), ms(now), id, owner))(leaseLost)
}

func (s *DB) AgainJob(ctx context.Context, tenant, target string) error {
	return changed(s.exec(ctx, `UPDATE svc_jobs SET again = 1 WHERE tenant = ? AND target = ? AND state IN ('queued', 'running')`, tenant, target))("no active job on the target")
}

const leaseLost = "the job's lease was lost"

// changed returns a check that maps "no row updated" to ErrConflict
// saying what.
func changed(res interface{ RowsAffected() (int64, error) }, err error) func(what string) error {
	return func(what string) error {
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: %s", store.ErrConflict, what)
		}
		return nil
	}
}

func (s *DB) ActiveJob(ctx context.Context, tenant, target string) (store.Job, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobCols+` FROM svc_jobs WHERE tenant = ? AND target = ? AND state IN ('queued', 'running')`, tenant, target))
	return j, s.mapErr(err)
}

func (s *DB) Job(ctx context.Context, tenant, id string) (store.Job, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobCols+` FROM svc_jobs WHERE tenant = ? AND id = ?`, tenant, id))
	return j, s.mapErr(err)
}

func (s *DB) ListJobsOn(ctx context.Context, tenant, target string, limit int) ([]store.Job, error) {
	return list(ctx, s, scanJob, `SELECT `+jobCols+` FROM svc_jobs WHERE tenant = ? AND target = ? ORDER BY created DESC, id DESC LIMIT ?`, tenant, target, pageLimit(limit))
}

const purgeCols = `tenant, dep, name, reason, contact, requested_by, requested, required, approvals, state, certificate, updated, containers`

func scanPurge(r scanner) (store.Purge, error) {
	var p store.Purge
	var requested, updated int64
	var approvals, containers string
	err := r.Scan(&p.Tenant, &p.DEP, &p.Name, &p.Reason, &p.Contact, &p.RequestedBy, &requested, &p.Required, &approvals, &p.State, &p.Certificate, &updated, &containers)
	if err != nil {
		return p, err
	}
	if containers != "" {
		if err := json.Unmarshal([]byte(containers), &p.Containers); err != nil {
			return p, fmt.Errorf("purge %s: containers: %w", p.DEP, err)
		}
		if p.Containers == nil {
			p.Containers = []string{}
		}
	}
	p.Requested, p.Updated = fromMS(requested), fromMS(updated)
	if err := json.Unmarshal([]byte(approvals), &p.Approvals); err != nil {
		return p, fmt.Errorf("purge %s: approvals: %w", p.DEP, err)
	}
	return p, nil
}

func approvalsJSON(p store.Purge) string {
	if p.Approvals == nil {
		return "[]"
	}
	b, _ := json.Marshal(p.Approvals)
	return string(b)
}

func (s *DB) CreatePurge(ctx context.Context, p store.Purge) error {
	containers := ""
	if p.Containers != nil {
		containers = jsonText(p.Containers)
	}
	_, err := s.exec(ctx, `INSERT INTO svc_purges (`+purgeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Tenant, p.DEP, p.Name, p.Reason, p.Contact, p.RequestedBy, ms(p.Requested), p.Required, approvalsJSON(p), p.State, p.Certificate, ms(p.Updated), containers)
	return err
}

func (s *DB) Purge(ctx context.Context, tenant, dep string) (store.Purge, error) {
	p, err := scanPurge(s.queryRow(ctx, `SELECT `+purgeCols+` FROM svc_purges WHERE tenant = ? AND dep = ?`, tenant, dep))
	return p, s.mapErr(err)
}

func (s *DB) ListPurges(ctx context.Context, tenant string) ([]store.Purge, error) {
	return list(ctx, s, scanPurge, `SELECT `+purgeCols+` FROM svc_purges WHERE tenant = ? ORDER BY requested`, tenant)
}

func (s *DB) UpdatePurge(ctx context.Context, p store.Purge, prev store.Purge) error {
	if ms(p.Updated) <= ms(prev.Updated) {
		return fmt.Errorf("update the purge of DEP %s: updated %s is not after %s", p.DEP, p.Updated.UTC().Format(time.RFC3339Nano), prev.Updated.UTC().Format(time.RFC3339Nano))
	}
	return changed(s.exec(ctx, `UPDATE svc_purges SET approvals = ?, state = ?, certificate = ?, updated = ? WHERE tenant = ? AND dep = ? AND state = ? AND updated = ?`,
		approvalsJSON(p), p.State, p.Certificate, ms(p.Updated), p.Tenant, p.DEP, prev.State, ms(prev.Updated)))("the purge request of DEP " + p.DEP + " is no longer " + prev.State + " as read: it changed meanwhile")
}

const officerKeyCols = `tenant, officer, public_key, registered, registered_by, confirmed, confirmed_by`

func scanOfficerKey(r scanner) (store.OfficerKey, error) {
	var k store.OfficerKey
	var registered, confirmed int64
	err := r.Scan(&k.Tenant, &k.Officer, &k.PublicKey, &registered, &k.RegisteredBy, &confirmed, &k.ConfirmedBy)
	k.Registered = fromMS(registered)
	if confirmed != 0 {
		k.Confirmed = fromMS(confirmed)
	}
	return k, err
}

// PutOfficerKey writes the key only if the tenant has no open purge
// request, in one statement: a purge requested at the same moment on
// SQLite (one writer) is ordered before or after it. (On PostgreSQL the
// approval also refuses a key registered after the request.)
func (s *DB) PutOfficerKey(ctx context.Context, k store.OfficerKey) error {
	// A key registered (again) is not confirmed, whatever k says.
	return changed(s.exec(ctx, `INSERT INTO svc_officer_keys (`+officerKeyCols+`)
		SELECT ?, ?, ?, ?, ?, 0, '' WHERE NOT EXISTS (SELECT 1 FROM svc_purges WHERE tenant = ? AND state IN (?, ?))
		ON CONFLICT (tenant, officer) DO UPDATE SET public_key = excluded.public_key, registered = excluded.registered, registered_by = excluded.registered_by, confirmed = 0, confirmed_by = ''`,
		k.Tenant, k.Officer, k.PublicKey, ms(k.Registered), k.RegisteredBy, k.Tenant, store.PurgeRequested, store.PurgeApproved))("tenant " + k.Tenant + " has an open purge request")
}

func (s *DB) ConfirmOfficerKey(ctx context.Context, tenant, officer string, publicKey []byte, at time.Time, by string) error {
	return mustAffect(s.exec(ctx, `UPDATE svc_officer_keys SET confirmed = ?, confirmed_by = ? WHERE tenant = ? AND officer = ? AND public_key = ?`,
		ms(at), by, tenant, officer, publicKey))
}

func (s *DB) OfficerKey(ctx context.Context, tenant, officer string) (store.OfficerKey, error) {
	k, err := scanOfficerKey(s.queryRow(ctx, `SELECT `+officerKeyCols+` FROM svc_officer_keys WHERE tenant = ? AND officer = ?`, tenant, officer))
	return k, s.mapErr(err)
}

func (s *DB) ListOfficerKeys(ctx context.Context, tenant string) ([]store.OfficerKey, error) {
	return list(ctx, s, scanOfficerKey, `SELECT `+officerKeyCols+` FROM svc_officer_keys WHERE tenant = ? ORDER BY officer`, tenant)
}

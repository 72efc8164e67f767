CREATE TABLE svc_jobs (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  args BYTEA NOT NULL,
  state TEXT NOT NULL,
  total BIGINT NOT NULL,
  done BIGINT NOT NULL,
  attempts BIGINT NOT NULL,
  error TEXT NOT NULL,
  owner TEXT NOT NULL,
  until_ms BIGINT NOT NULL,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);
CREATE INDEX svc_jobs_due ON svc_jobs (state, until_ms);
CREATE INDEX svc_jobs_tenant ON svc_jobs (tenant, created);
CREATE UNIQUE INDEX svc_jobs_active ON svc_jobs (tenant, target) WHERE state IN ('queued', 'running');
CREATE TABLE svc_purges (
  tenant TEXT NOT NULL,
  dep TEXT NOT NULL,
  name TEXT NOT NULL,
  reason TEXT NOT NULL,
  contact TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested BIGINT NOT NULL,
  required BIGINT NOT NULL,
  approvals TEXT NOT NULL,
  state TEXT NOT NULL,
  certificate BYTEA,
  updated BIGINT NOT NULL,
  PRIMARY KEY (tenant, dep)
)

-- Tokens get a public handle (list, revoke: T6), a revocation time and
-- the time of their last use; the handle of an existing token is the
-- start of its hash, as for new ones.
ALTER TABLE api_tokens ADD COLUMN id TEXT;
UPDATE api_tokens SET id = substr(hash, 1, 16);
CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant, created);
ALTER TABLE api_tokens ADD COLUMN revoked INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used INTEGER;

-- Access requests (T5): the tenant's consent to one operator action on
-- its data, like Customer Lockbox.
CREATE TABLE svc_access_requests (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  action TEXT NOT NULL,
  dep TEXT NOT NULL,
  dep_name TEXT NOT NULL,
  target TEXT NOT NULL,
  target_name TEXT NOT NULL,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT NOT NULL,
  decided INTEGER,
  used_by TEXT NOT NULL,
  used INTEGER
);
CREATE INDEX svc_access_requests_tenant ON svc_access_requests (tenant, requested);

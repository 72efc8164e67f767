CREATE TABLE availability_keys (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  dep TEXT NOT NULL UNIQUE,
  sealed BYTEA,
  created BIGINT NOT NULL,
  destroyed_at BIGINT,
  destroyed_by TEXT NOT NULL,
  reason TEXT NOT NULL
);

CREATE TABLE availability_keys (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  dep TEXT NOT NULL UNIQUE,
  sealed BLOB,
  created INTEGER NOT NULL,
  destroyed_at INTEGER,
  destroyed_by TEXT NOT NULL,
  reason TEXT NOT NULL
);

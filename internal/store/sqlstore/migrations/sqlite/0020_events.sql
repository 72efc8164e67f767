-- Events every node's caches act on (SPEC S2): recorded with a sequence
-- so that a node that missed an event catches up by reading what follows
-- the last one it saw. AUTOINCREMENT: a pruned sequence is never reused.
CREATE TABLE svc_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  ref TEXT NOT NULL,
  detail TEXT NOT NULL,
  node TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX svc_events_at ON svc_events (at);

-- Events every node's caches act on (SPEC S2): recorded with a sequence
-- so that a node that missed a NOTIFY catches up by reading what follows
-- the last one it saw.
CREATE TABLE svc_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  ref TEXT NOT NULL,
  detail TEXT NOT NULL,
  node TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX svc_events_at ON svc_events (at);

-- When an event was recorded, apart from when what it tells happened
-- (at): a revocation signalled again days after it began is recorded now
-- with its first time, and was pruned by that time before the other
-- nodes read it. Old events count as recorded when they happened.
ALTER TABLE svc_events ADD COLUMN recorded BIGINT NOT NULL DEFAULT 0;
UPDATE svc_events SET recorded = at;
DROP INDEX svc_events_at; -- pruning went by it
CREATE INDEX svc_events_recorded ON svc_events (recorded);

-- Containers by DEP and by kind within a tenant: the lifecycle's queries
-- (containers on DEP X, containers of kind K) read only what they return.
DROP INDEX IF EXISTS mailboxes_dep;
CREATE INDEX mailboxes_tenant_dep ON mailboxes (tenant, dep);
CREATE INDEX mailboxes_tenant_kind ON mailboxes (tenant, kind);

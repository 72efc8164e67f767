-- Keyset pages (SPEC D9): every listing pages by its sort key
-- (WHERE (created, id) > (?, ?) ORDER BY created, id LIMIT ?), so a page
-- costs the same on the first page as on the thousandth and stays stable
-- while rows are added. Each index below holds a listing's whole sort key
-- (the ones it replaces stopped at the time, so ties were sorted apart).
-- Items page by (tenant, mailbox, id): their primary key.
DROP INDEX svc_jobs_tenant;
CREATE INDEX svc_jobs_tenant_page ON svc_jobs (tenant, created, id);
DROP INDEX api_tokens_tenant;
CREATE INDEX api_tokens_tenant_page ON api_tokens (tenant, created, id);
DROP INDEX svc_access_requests_tenant;
CREATE INDEX svc_access_requests_tenant_page ON svc_access_requests (tenant, requested, id);
DROP INDEX onboarding_requests_tenant;
CREATE INDEX onboarding_requests_tenant_page ON onboarding_requests (tenant, created, id);

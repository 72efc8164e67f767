-- A target's jobs, newest first (ListJobsOn): the resumption of an
-- approved purge asks for its DEP's jobs however many others the tenant
-- ran since.
CREATE INDEX svc_jobs_target ON svc_jobs (tenant, target, created, id);

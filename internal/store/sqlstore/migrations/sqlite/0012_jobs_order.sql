CREATE INDEX svc_jobs_order ON svc_jobs (state, created, id)

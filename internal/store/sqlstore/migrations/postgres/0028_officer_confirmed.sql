-- An officer's key counts only once the service operator confirmed it
-- with the officer, out of band (SPEC T7): the tenant's global admin, who
-- registers keys, could otherwise register one of their own for an
-- officer and sign in the officer's name. Keys registered before are
-- not confirmed.
ALTER TABLE svc_officer_keys ADD COLUMN confirmed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE svc_officer_keys ADD COLUMN confirmed_by TEXT NOT NULL DEFAULT '';

-- Officers sign purges (SPEC T7): each authorised officer's Ed25519
-- public key, registered by the tenant's global admin; a purge approval
-- is the officer's signature over the purge request, checked against it.
CREATE TABLE svc_officer_keys (
  tenant TEXT NOT NULL,
  officer TEXT NOT NULL,
  public_key BYTEA NOT NULL,
  registered BIGINT NOT NULL,
  registered_by TEXT NOT NULL,
  PRIMARY KEY (tenant, officer)
);
-- The containers a purge deletes, fixed when it is requested: what the
-- officers sign. '' for requests stored before (read as "not fixed").
ALTER TABLE svc_purges ADD COLUMN containers TEXT NOT NULL DEFAULT '';

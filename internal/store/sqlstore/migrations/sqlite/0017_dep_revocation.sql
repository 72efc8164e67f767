-- Sticky revocation (SPEC T1): set when both customer keys refuse
-- deliberately or the tenant signals it, cleared only when a customer key
-- unwraps again. While set, the availability key serves nothing for the
-- DEP; stored so that a restart does not forget it.
ALTER TABLE deps ADD COLUMN revoked_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deps ADD COLUMN revoked_cause TEXT NOT NULL DEFAULT '';

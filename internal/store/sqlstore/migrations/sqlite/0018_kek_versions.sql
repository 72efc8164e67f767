-- Availability keys are sealed under a versioned key-encryption key kept
-- outside the database (internal/keystore, SPEC T8). kek_version names the
-- version that sealed the row; 0 is the old service master key, which the
-- service re-seals under the keystore at start (docs/lifecycle.md). A
-- destroyed row keeps the version that last sealed it: the purge's
-- rotation destroys that version.
ALTER TABLE availability_keys ADD COLUMN kek_version BIGINT NOT NULL DEFAULT 0;

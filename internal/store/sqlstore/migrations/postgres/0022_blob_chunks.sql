-- Sealed content of large items (internal/blob, SPEC D8): one row per
-- chunk of ciphertext, never plaintext. A blob is (tenant, container,
-- blob); chunks are numbered from 0. A chunk (64 KiB + 16) lives in the
-- table's TOAST relation; STORAGE EXTERNAL keeps it there without trying
-- to compress ciphertext, which would not shrink.
CREATE TABLE svc_blob_chunks (
  tenant TEXT NOT NULL,
  container TEXT NOT NULL,
  blob TEXT NOT NULL,
  seq BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (tenant, container, blob, seq)
);
ALTER TABLE svc_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Sealed content of large items (internal/blob, SPEC D8): one row per
-- chunk of ciphertext, never plaintext. A blob is (tenant, container,
-- blob); chunks are numbered from 0. With secure_delete on, SQLite
-- overwrites the pages a deleted chunk held.
CREATE TABLE svc_blob_chunks (
  tenant TEXT NOT NULL,
  container TEXT NOT NULL,
  blob TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (tenant, container, blob, seq)
);

-- Large items (SPEC D8): an item whose content is more than one chunk is
-- sealed in the chunked format. Its row keeps the header (sealed), the ID
-- of the blob holding its sealed chunks (internal/blob), the sealed
-- summary (size and SHA-256 under the item key) and the content's size;
-- a one-shot item has blob '' and no summary.
ALTER TABLE items ADD COLUMN blob TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN summary BYTEA;
ALTER TABLE items ADD COLUMN content_size BIGINT NOT NULL DEFAULT -1;

-- An upload in progress: a resumable upload session, or a streamed write
-- until it commits. Its chunks go to blob 'blob' as they come; 'received'
-- bytes are sealed so far and 'state' is the running SHA-256, sealed under
-- the item key. 'written' is how far chunks may have been sealed (a part
-- cut off leaves chunks past 'received'): a retried part must give the
-- same bytes there, or a nonce would seal two plaintexts. One part writes
-- at a time: it holds the claim until 'claim_until' and renews it as it
-- goes. Committing writes the item and deletes the row in one
-- transaction; a row not updated for a while is abandoned, and the
-- cleanup job deletes it with its blob.
CREATE TABLE svc_uploads (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  container TEXT NOT NULL,
  item TEXT NOT NULL,
  kind TEXT NOT NULL,
  version BIGINT NOT NULL,
  blob TEXT NOT NULL,
  header BYTEA NOT NULL,
  size BIGINT NOT NULL,
  received BIGINT NOT NULL,
  written BIGINT NOT NULL DEFAULT 0,
  claim TEXT NOT NULL DEFAULT '',
  claim_until BIGINT NOT NULL DEFAULT 0,
  state BYTEA,
  want_sha256 BYTEA,
  by_subject TEXT NOT NULL,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX svc_uploads_item_version ON svc_uploads (tenant, container, item, version);
CREATE INDEX svc_uploads_updated ON svc_uploads (updated);

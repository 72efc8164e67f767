CREATE TABLE mailboxes (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  dep TEXT NOT NULL,
  container_key BYTEA NOT NULL,
  key_version BIGINT NOT NULL,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX mailboxes_dep ON mailboxes(dep);
CREATE TABLE items (
  tenant TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  version BIGINT NOT NULL,
  sealed BYTEA NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (tenant, mailbox, id)
);

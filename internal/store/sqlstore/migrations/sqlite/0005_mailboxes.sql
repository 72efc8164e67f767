CREATE TABLE mailboxes (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  dep TEXT NOT NULL,
  container_key BLOB NOT NULL,
  key_version INTEGER NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX mailboxes_dep ON mailboxes(dep);
CREATE TABLE items (
  tenant TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  sealed BLOB NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (tenant, mailbox, id)
);

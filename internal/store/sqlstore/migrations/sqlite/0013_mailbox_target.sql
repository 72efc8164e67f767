ALTER TABLE mailboxes ADD COLUMN target_dep TEXT NOT NULL DEFAULT '';
CREATE INDEX mailboxes_pending ON mailboxes (tenant, id) WHERE target_dep <> ''

-- The versions of a site's file are the items FILE@000001, FILE@000002...:
-- a write or a read of the file finds them by a range of IDs in byte
-- order (ItemHeadsWithPrefix), which this index serves whatever the
-- database's collation (under another one, FILE@... need not be
-- contiguous in the primary key).
CREATE INDEX items_id_bytes ON items (tenant, mailbox, (id COLLATE "C"));

-- A container that moves to another DEP gets a new version of its key
-- (SPEC T8: what it holds from then on opens only through the new DEP's
-- key, not through a copy of the database from before the move). Its
-- earlier versions, for the items sealed under them, are kept here, each
-- wrapped under the current one (envelope.PriorKeys; NULL: none).
ALTER TABLE mailboxes ADD COLUMN prior_keys BYTEA;

-- PostgreSQL's 0025 adds an index on item IDs in byte order for a site
-- file's versions (ItemHeadsWithPrefix); SQLite's primary key already
-- orders them so (BINARY collation). Nothing to do: the number is kept so
-- that both databases count their migrations alike.
SELECT 1;

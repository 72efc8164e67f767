-- Nodes over one database share every service secret (SPEC S1). The
-- first node records what identifies each (the signing key's public-key
-- fingerprint, a keystore check value, the operator token's hash: never
-- a secret); a node whose secrets differ refuses to start.
CREATE TABLE svc_cluster_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE svc_tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lname TEXT NOT NULL UNIQUE,
  created BIGINT NOT NULL
);
CREATE TABLE api_tokens (
  hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  role TEXT NOT NULL,
  subject TEXT NOT NULL,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL
);

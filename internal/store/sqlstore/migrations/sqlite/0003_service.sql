CREATE TABLE svc_tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lname TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  role TEXT NOT NULL,
  subject TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
